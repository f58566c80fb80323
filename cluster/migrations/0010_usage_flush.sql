-- Usage counted in Redis first (``api_calls``: one per authenticated request, which must not
-- cost a PostgreSQL transaction each) and moved to billing_usage in batches, each batch under
-- a flush id (cluster/usage_counter.py). The id is recorded here in the same transaction that
-- adds the batch to billing_usage, so a flush retried after a crash between that commit and
-- the deletion of its Redis key adds nothing a second time.
--
-- Same tenancy rule as 0001: org_id on every row, row-level security enabled and forced; the
-- flusher applies a batch one org (one tenant transaction) at a time.

CREATE TABLE billing_usage_flushes (
    flush_id      uuid NOT NULL,
    org_id        uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    meter         text NOT NULL,
    period_start  date NOT NULL,
    quantity      double precision NOT NULL CHECK (quantity >= 0),
    applied_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flush_id, org_id)
);

ALTER TABLE billing_usage_flushes ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_usage_flushes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON billing_usage_flushes
    USING (org_id = liftos.current_org_id()) WITH CHECK (org_id = liftos.current_org_id());
