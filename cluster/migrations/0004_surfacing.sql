-- Surfacing module: catalogs and their products, merchant queries, audits and their results.
--
-- Same tenancy rule as 0001: org_id on every row, row-level security enabled and forced.
-- A catalog's products are stored validated and canonical (one row each, the record as JSON),
-- written in the same transaction as the catalog: an upload is stored whole or not at all.

CREATE TABLE surfacing_catalogs (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    format         text NOT NULL,
    product_count  integer NOT NULL CHECK (product_count >= 0),
    content_sha256 text NOT NULL,
    created_by     uuid NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX surfacing_catalogs_org_idx ON surfacing_catalogs (org_id, created_at DESC);

CREATE TABLE surfacing_products (
    catalog_id  uuid NOT NULL REFERENCES surfacing_catalogs (id) ON DELETE CASCADE,
    org_id      uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    product_id  text NOT NULL,
    position    integer NOT NULL,
    record      jsonb NOT NULL,
    PRIMARY KEY (catalog_id, product_id)
);
CREATE INDEX surfacing_products_position_idx ON surfacing_products (catalog_id, position);

-- Site-search queries the merchant supplies, with the products known to be relevant.
CREATE TABLE surfacing_queries (
    id          uuid PRIMARY KEY,
    catalog_id  uuid NOT NULL REFERENCES surfacing_catalogs (id) ON DELETE CASCADE,
    org_id      uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    text        text NOT NULL CHECK (length(text) BETWEEN 1 AND 500),
    relevant    text[],
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX surfacing_queries_catalog_idx ON surfacing_queries (catalog_id);

CREATE TABLE surfacing_audits (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    catalog_id     uuid REFERENCES surfacing_catalogs (id) ON DELETE SET NULL,
    status         text NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    stage          text NOT NULL DEFAULT 'queued',
    progress       double precision NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    products_total integer NOT NULL DEFAULT 0,
    products_done  integer NOT NULL DEFAULT 0,
    attempts       integer NOT NULL DEFAULT 0,
    error          text,
    summary        jsonb,
    created_by     uuid NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    heartbeat_at   timestamptz,
    finished_at    timestamptz
);
CREATE INDEX surfacing_audits_org_idx ON surfacing_audits (org_id, created_at DESC);

-- One row per audited product: what the audit measured and found, with the columns the
-- product listing filters and sorts on.
CREATE TABLE surfacing_audit_products (
    audit_id       uuid NOT NULL REFERENCES surfacing_audits (id) ON DELETE CASCADE,
    org_id         uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    product_id     text NOT NULL,
    position       integer NOT NULL,
    invisible      boolean NOT NULL,
    hard_fail      boolean NOT NULL,
    score          double precision NOT NULL,
    expected_gain  double precision NOT NULL,
    result         jsonb NOT NULL,
    PRIMARY KEY (audit_id, product_id)
);
CREATE INDEX surfacing_audit_products_gain_idx
    ON surfacing_audit_products (audit_id, expected_gain DESC);

-- Large per-audit data: the products' retrieval embeddings (so the seed's analyze can place a
-- new product among them without embedding the catalog again).
CREATE TABLE surfacing_audit_artifacts (
    audit_id      uuid NOT NULL REFERENCES surfacing_audits (id) ON DELETE CASCADE,
    org_id        uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name          text NOT NULL,
    content_type  text NOT NULL,
    content       bytea NOT NULL,
    PRIMARY KEY (audit_id, name)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['surfacing_catalogs', 'surfacing_products', 'surfacing_queries',
                             'surfacing_audits', 'surfacing_audit_products',
                             'surfacing_audit_artifacts'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (org_id = liftos.current_org_id()) '
            'WITH CHECK (org_id = liftos.current_org_id())', t);
    END LOOP;
END $$;
