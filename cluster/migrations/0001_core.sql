-- LiftOS core schema: organisations, users, sessions, API keys, audit log, module registry.
--
-- Tenancy: every table holding tenant data carries org_id and has row-level security ENABLED and
-- FORCED. The application connects as a role that owns nothing and sets the tenant per
-- transaction with set_config('liftos.org_id', ..., true); rows of other orgs are invisible, so a
-- forgotten WHERE clause is a 404, not a leak.

CREATE SCHEMA IF NOT EXISTS liftos;

-- The tenant of the current transaction, or NULL (which matches no row).
CREATE FUNCTION liftos.current_org_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('liftos.org_id', true), '')::uuid $$;

CREATE TABLE orgs (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    plan        text NOT NULL DEFAULT 'free',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    email          text NOT NULL,
    full_name      text NOT NULL DEFAULT '',
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('owner', 'admin', 'analyst', 'viewer')),
    is_active      boolean NOT NULL DEFAULT true,
    created_by     uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);
-- One identity per e-mail address across LiftOS: login is by e-mail alone.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_org_idx ON users (org_id);

-- Rotating refresh tokens. A family is one login; presenting an already-rotated token again means
-- it was stolen, and the whole family is revoked.
CREATE TABLE refresh_tokens (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id    uuid NOT NULL,
    token_hash   text NOT NULL UNIQUE,
    expires_at   timestamptz NOT NULL,
    rotated_at   timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (org_id, family_id);

CREATE TABLE api_keys (
    id              uuid PRIMARY KEY,
    org_id          uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'analyst', 'viewer')),
    display_prefix  text NOT NULL,
    secret_hash     text NOT NULL,
    created_by      uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX api_keys_org_idx ON api_keys (org_id, created_at DESC);

CREATE TABLE modules (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name         text NOT NULL,
    version      text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('python', 'external')),
    manifest     jsonb NOT NULL,
    app_name     text,
    status       text NOT NULL DEFAULT 'ready' CHECK (status IN ('deploying', 'ready', 'failed')),
    status_detail text NOT NULL DEFAULT '',
    created_by   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name)
);

-- Append-only: the application may insert and read, never change or delete (trigger below, and
-- the grants in cluster/state.py give it no UPDATE/DELETE).
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id       uuid NOT NULL,
    actor_type   text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'anonymous')),
    actor_id     uuid,
    action       text NOT NULL,
    target       text NOT NULL,
    status_code  integer NOT NULL,
    result       text NOT NULL CHECK (result IN ('success', 'denied', 'error')),
    request_id   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_org_time_idx ON audit_log (org_id, id DESC);

CREATE FUNCTION liftos.refuse_audit_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION liftos.refuse_audit_change();

-- Row-level security, forced so that even the table owner is subject to it.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'refresh_tokens', 'api_keys', 'modules', 'audit_log'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (org_id = liftos.current_org_id()) '
            'WITH CHECK (org_id = liftos.current_org_id())', t);
    END LOOP;
END $$;

ALTER TABLE orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE orgs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON orgs
    USING (id = liftos.current_org_id()) WITH CHECK (id = liftos.current_org_id());

-- Three questions must be answered before the tenant is known: which user has this e-mail, which
-- org owns this API key, which session does this refresh token belong to. They are answered by
-- SECURITY DEFINER functions that run as the owner role (the role applying this migration); a
-- SELECT-only policy for that role alone lets them see across orgs. The application role never
-- gets that policy, so its own queries stay tenant-bound.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['orgs', 'users', 'api_keys', 'refresh_tokens'] LOOP
        EXECUTE format(
            'CREATE POLICY owner_credential_lookup ON %I FOR SELECT TO %I USING (true)',
            t, current_user);
    END LOOP;
END $$;

CREATE FUNCTION liftos.lookup_login(p_email text)
    RETURNS TABLE (user_id uuid, org_id uuid, password_hash text, role text, is_active boolean,
                   plan text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT u.id, u.org_id, u.password_hash, u.role, u.is_active, o.plan
        FROM users u JOIN orgs o ON o.id = u.org_id
        WHERE lower(u.email) = lower(p_email)
    $$;

CREATE FUNCTION liftos.lookup_api_key(p_key_id uuid)
    RETURNS TABLE (org_id uuid, secret_hash text, role text, revoked boolean, plan text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT k.org_id, k.secret_hash, k.role, k.revoked_at IS NOT NULL, o.plan
        FROM api_keys k JOIN orgs o ON o.id = k.org_id
        WHERE k.id = p_key_id
    $$;

CREATE FUNCTION liftos.lookup_refresh_token(p_token_hash text)
    RETURNS TABLE (token_id uuid, org_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT t.id, t.org_id FROM refresh_tokens t WHERE t.token_hash = p_token_hash
    $$;

REVOKE ALL ON FUNCTION liftos.lookup_login(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION liftos.lookup_api_key(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION liftos.lookup_refresh_token(text) FROM PUBLIC;
