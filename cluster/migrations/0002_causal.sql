-- Causal module: uploaded datasets, fit jobs, fitted models and their artifacts.
--
-- Same tenancy rule as 0001: org_id on every row, row-level security enabled and forced.
-- Datasets are stored in their validated canonical form (Parquet), so a fit reads exactly what
-- the upload validated. A deleted dataset leaves its models (they are results already paid for)
-- and clears their link.

CREATE TABLE causal_datasets (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    source         text NOT NULL,
    frequency      text NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    summary        jsonb NOT NULL,
    content        bytea NOT NULL,
    content_sha256 text NOT NULL,
    created_by     uuid NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX causal_datasets_org_idx ON causal_datasets (org_id, created_at DESC);

CREATE TABLE causal_jobs (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('analyze')),
    dataset_id   uuid REFERENCES causal_datasets (id) ON DELETE SET NULL,
    request      jsonb NOT NULL,
    fingerprint  text NOT NULL,
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    stage        text NOT NULL DEFAULT 'queued',
    progress     double precision NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    attempts     integer NOT NULL DEFAULT 0,
    error        text,
    model_id     uuid,
    created_by   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    heartbeat_at timestamptz,
    finished_at  timestamptz
);
CREATE INDEX causal_jobs_org_idx ON causal_jobs (org_id, created_at DESC);

CREATE TABLE causal_models (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    dataset_id   uuid REFERENCES causal_datasets (id) ON DELETE SET NULL,
    job_id       uuid REFERENCES causal_jobs (id) ON DELETE SET NULL,
    -- What was fitted (dataset content hash + request), so a backfill can skip work already done.
    fingerprint  text NOT NULL,
    request      jsonb NOT NULL,
    spec         jsonb NOT NULL,
    result       jsonb NOT NULL,
    converged    boolean NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX causal_models_org_idx ON causal_models (org_id, created_at DESC);
CREATE INDEX causal_models_fingerprint_idx ON causal_models (org_id, fingerprint);

-- Charts (PNG) and the posterior draws the budget optimiser needs (npz), per model.
CREATE TABLE causal_artifacts (
    model_id      uuid NOT NULL REFERENCES causal_models (id) ON DELETE CASCADE,
    org_id        uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name          text NOT NULL,
    content_type  text NOT NULL,
    content       bytea NOT NULL,
    PRIMARY KEY (model_id, name)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['causal_datasets', 'causal_jobs', 'causal_models',
                             'causal_artifacts'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (org_id = liftos.current_org_id()) '
            'WITH CHECK (org_id = liftos.current_org_id())', t);
    END LOOP;
END $$;
