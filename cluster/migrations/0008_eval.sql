-- Eval module: versioned suites, runs (evaluations, benchmarks, sandbox runs) as jobs, each
-- case's result per model, and each sandbox agent's per-episode outcomes.
--
-- Same tenancy rule as 0001: org_id on every row, row-level security enabled and forced.

CREATE TABLE eval_suites (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    version     integer NOT NULL CHECK (version >= 1),
    kind        text NOT NULL CHECK (kind IN ('prompts', 'budget-agent')),
    description text NOT NULL,
    spec        jsonb NOT NULL,
    source      text NOT NULL,
    created_by  uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name, version)
);

CREATE TABLE eval_runs (
    id            uuid PRIMARY KEY,
    org_id        uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('evaluate', 'benchmark', 'sandbox')),
    suite_name    text,
    suite_version integer,
    request       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    stage         text NOT NULL DEFAULT 'queued',
    progress      double precision NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    cases_total   integer NOT NULL DEFAULT 0,
    cases_done    integer NOT NULL DEFAULT 0,
    attempts      integer NOT NULL DEFAULT 0,
    error         text,
    summary       jsonb,
    report        text,
    created_by    uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    heartbeat_at  timestamptz,
    finished_at   timestamptz
);
CREATE INDEX eval_runs_org_idx ON eval_runs (org_id, created_at DESC);

-- One call of one model on one case: what was asked, what came back, what it cost, and every
-- assertion's verdict. Written as each case finishes, so a run that fails keeps what it did.
CREATE TABLE eval_results (
    run_id          uuid NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE,
    org_id          uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    model           text NOT NULL,
    case_index      integer NOT NULL,
    description     text NOT NULL,
    cluster         text NOT NULL,
    prompt_template text NOT NULL,
    prompt_version  integer,
    seed            integer,
    variables       jsonb NOT NULL,
    output          text NOT NULL,
    error           text,
    checks          jsonb NOT NULL,
    scores          jsonb NOT NULL,
    assertions      jsonb NOT NULL,
    generation_id   uuid,
    provider_model  text,
    input_tokens    integer NOT NULL DEFAULT 0,
    output_tokens   integer NOT NULL DEFAULT 0,
    cost_usd        numeric(20, 9) NOT NULL DEFAULT 0,
    latency_ms      double precision,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, model, case_index)
);

-- A sandbox agent's outcome per episode (the reference's too, as agent 'reference'): what the
-- paired comparisons and the gate are computed from.
CREATE TABLE eval_sandbox_episodes (
    run_id                 uuid NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE,
    org_id                 uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    agent                  text NOT NULL,
    draws                  integer[] NOT NULL,
    profit                 double precision[] NOT NULL,
    incremental_kpi        double precision[] NOT NULL,
    spend                  double precision[] NOT NULL,
    attempted_over_budget  double precision[] NOT NULL,
    violations             jsonb NOT NULL,
    PRIMARY KEY (run_id, agent)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['eval_suites', 'eval_runs', 'eval_results',
                             'eval_sandbox_episodes'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (org_id = liftos.current_org_id()) '
            'WITH CHECK (org_id = liftos.current_org_id())', t);
    END LOOP;
END $$;
