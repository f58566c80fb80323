-- LLM module: providers (keys sealed with the org's data key), their models, templates,
-- generations with their cost, outcomes, daily roll-ups and budgets.
--
-- Same tenancy rule as 0001: org_id on every row, row-level security enabled and forced.
-- Money is numeric(20, 9): nano-dollars, exactly what engine.llm.pricing computes.

CREATE TABLE llm_providers (
    id              uuid PRIMARY KEY,
    org_id          uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind            text NOT NULL
                    CHECK (kind IN ('openai', 'anthropic', 'cohere', 'huggingface', 'local')),
    base_url        text,
    key_nonce       bytea,
    key_ciphertext  bytea,
    key_hint        text,
    created_by      uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name)
);

-- A model as the org names it (its alias: "gpt-4", "claude-3", "command", "custom-model"),
-- the provider's own model id it resolves to, its prices and its fallbacks.
CREATE TABLE llm_models (
    org_id                      uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name                        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    provider_id                 uuid NOT NULL REFERENCES llm_providers (id) ON DELETE CASCADE,
    provider_model              text NOT NULL CHECK (length(provider_model) BETWEEN 1 AND 200),
    input_usd_per_mtok          numeric(20, 9) NOT NULL CHECK (input_usd_per_mtok >= 0),
    output_usd_per_mtok         numeric(20, 9) NOT NULL CHECK (output_usd_per_mtok >= 0),
    cached_input_usd_per_mtok   numeric(20, 9) CHECK (cached_input_usd_per_mtok >= 0),
    cache_write_usd_per_mtok    numeric(20, 9) CHECK (cache_write_usd_per_mtok >= 0),
    usd_per_second              numeric(20, 9) CHECK (usd_per_second >= 0),
    price_source                text NOT NULL,
    fallbacks                   text[] NOT NULL DEFAULT '{}',
    position                    integer NOT NULL,
    PRIMARY KEY (org_id, name)
);

CREATE TABLE llm_templates (
    id                uuid PRIMARY KEY,
    org_id            uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name              text NOT NULL,
    language          text NOT NULL,
    version           integer NOT NULL CHECK (version >= 1),
    purpose           text NOT NULL,
    system_source     text NOT NULL,
    user_source       text NOT NULL,
    variables         jsonb NOT NULL,
    default_platform  text,
    label             text CHECK (label IN ('production', 'staging')),
    created_by        uuid NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name, language, version)
);
-- One version per label and (name, language).
CREATE UNIQUE INDEX llm_templates_label_idx ON llm_templates (org_id, name, language, label)
    WHERE label IS NOT NULL;

CREATE TABLE llm_generations (
    id                   uuid PRIMARY KEY,
    org_id               uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    request_id           text NOT NULL,
    variant              integer NOT NULL DEFAULT 0,
    principal_kind       text NOT NULL,
    principal_id         uuid NOT NULL,
    api_key_id           uuid,
    model                text NOT NULL,
    provider_kind        text NOT NULL,
    provider_model       text NOT NULL,
    template             text NOT NULL,
    template_version     integer,
    template_language    text NOT NULL,
    task                 text NOT NULL,
    platform             text NOT NULL,
    variables            jsonb NOT NULL,
    prompt               jsonb NOT NULL,
    output               text NOT NULL,
    content              jsonb,
    violations           jsonb NOT NULL,
    repaired             boolean NOT NULL,
    cached               boolean NOT NULL,
    simulated            boolean NOT NULL,
    input_tokens         integer NOT NULL,
    output_tokens        integer NOT NULL,
    cached_input_tokens  integer NOT NULL,
    cache_write_tokens   integer NOT NULL,
    reasoning_tokens     integer NOT NULL,
    cost_usd             numeric(20, 9) NOT NULL CHECK (cost_usd >= 0),
    price_source         text NOT NULL,
    latency_ms           double precision NOT NULL,
    ttft_ms              double precision,
    finish_reason        text NOT NULL,
    attempts             integer NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_generations_org_idx ON llm_generations (org_id, created_at DESC);
CREATE INDEX llm_generations_task_idx ON llm_generations (org_id, task, model);

CREATE TABLE llm_outcomes (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    generation_id  uuid NOT NULL REFERENCES llm_generations (id) ON DELETE CASCADE,
    impressions    bigint NOT NULL CHECK (impressions >= 0),
    clicks         bigint NOT NULL CHECK (clicks >= 0),
    conversions    bigint NOT NULL CHECK (conversions >= 0),
    revenue_usd    numeric(20, 9) NOT NULL DEFAULT 0 CHECK (revenue_usd >= 0),
    source         text NOT NULL,
    external_id    text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_outcomes_generation_idx ON llm_outcomes (generation_id);
-- A webhook delivering the same report twice records it once.
CREATE UNIQUE INDEX llm_outcomes_external_idx ON llm_outcomes (org_id, source, external_id)
    WHERE external_id IS NOT NULL;

-- Daily roll-ups per org, API key (the nil uuid for users' tokens), model and template,
-- written in the same transaction as each generation.
CREATE TABLE llm_usage_daily (
    org_id         uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    day            date NOT NULL,
    api_key_id     uuid NOT NULL,
    model          text NOT NULL,
    template       text NOT NULL,
    requests       bigint NOT NULL,
    input_tokens   bigint NOT NULL,
    output_tokens  bigint NOT NULL,
    cost_usd       numeric(20, 9) NOT NULL,
    PRIMARY KEY (org_id, day, api_key_id, model, template)
);

CREATE TABLE llm_budgets (
    org_id      uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    scope       text NOT NULL CHECK (scope IN ('org', 'api_key', 'model')),
    target      text NOT NULL,
    period      text NOT NULL CHECK (period IN ('day', 'month')),
    limit_usd   numeric(20, 9) NOT NULL CHECK (limit_usd >= 0),
    updated_by  uuid NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, scope, target, period)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['llm_providers', 'llm_models', 'llm_templates', 'llm_generations',
                             'llm_outcomes', 'llm_usage_daily', 'llm_budgets'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (org_id = liftos.current_org_id()) '
            'WITH CHECK (org_id = liftos.current_org_id())', t);
    END LOOP;
END $$;
