-- Billing: each org's Stripe customer and subscription as last read from Stripe, the webhook
-- events already processed (each event id once), and usage per meter and month.
--
-- Same tenancy rule as 0001: org_id on every row, row-level security enabled and forced.

CREATE TABLE billing_accounts (
    org_id                uuid PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    stripe_customer_id    text UNIQUE,
    subscription_id       text,
    subscription_status   text,
    price_id              text,
    plan                  text NOT NULL DEFAULT 'free',
    current_period_end    timestamptz,
    cancel_at_period_end  boolean NOT NULL DEFAULT false,
    -- A failed payment keeps the plan until then; past it the org falls back to free.
    grace_until           timestamptz,
    -- The subscription's state is applied only when newer than what is stored (Stripe's own
    -- timestamps), so events arriving out of order cannot roll it back.
    synced_at             bigint NOT NULL DEFAULT 0,
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE billing_events (
    event_id     text PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    type         text NOT NULL,
    created      bigint NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per org, meter and month; incremented in the transaction of the metered action.
-- ``reported`` is what Stripe's meter has been sent, so the reporter sends only the rest.
CREATE TABLE billing_usage (
    org_id        uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    meter         text NOT NULL,
    period_start  date NOT NULL,
    quantity      double precision NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    reported      double precision NOT NULL DEFAULT 0 CHECK (reported >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, meter, period_start)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['billing_accounts', 'billing_events', 'billing_usage'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (org_id = liftos.current_org_id()) '
            'WITH CHECK (org_id = liftos.current_org_id())', t);
    END LOOP;
END $$;

-- A webhook arrives without a tenant: which org is this Stripe customer? Answered like the
-- credential lookups of 0001, by a SECURITY DEFINER function over an owner-only policy.
DO $$
BEGIN
    EXECUTE format(
        'CREATE POLICY owner_customer_lookup ON billing_accounts FOR SELECT TO %I USING (true)',
        current_user);
END $$;

CREATE FUNCTION liftos.lookup_billing_customer(p_customer_id text)
    RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT a.org_id FROM billing_accounts a WHERE a.stripe_customer_id = p_customer_id
    $$;

REVOKE ALL ON FUNCTION liftos.lookup_billing_customer(text) FROM PUBLIC;

-- Plan changes a Stripe webhook causes are audited with the system as their actor.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_type_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_type_check
    CHECK (actor_type IN ('user', 'api_key', 'anonymous', 'system'));

-- The usage reporter snapshots what it is about to send (``pending``) before it calls Stripe
-- and moves it to ``reported`` after: a reporter that dies in between resends the same
-- snapshot under the same identifier, which Stripe's meter keeps once.
ALTER TABLE billing_usage ADD COLUMN pending double precision CHECK (pending >= 0);

-- Which orgs have usage Stripe has not been told of (the reporter runs without a tenant).
DO $$
BEGIN
    EXECUTE format(
        'CREATE POLICY owner_usage_lookup ON billing_usage FOR SELECT TO %I USING (true)',
        current_user);
END $$;

CREATE FUNCTION liftos.billing_orgs_to_report()
    RETURNS TABLE (org_id uuid, stripe_customer_id text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT DISTINCT a.org_id, a.stripe_customer_id
        FROM billing_usage u JOIN billing_accounts a ON a.org_id = u.org_id
        WHERE a.stripe_customer_id IS NOT NULL
          AND (u.pending IS NOT NULL OR u.quantity > u.reported)
    $$;

REVOKE ALL ON FUNCTION liftos.billing_orgs_to_report() FROM PUBLIC;
