-- Memory module: per-org memories, their earlier versions, and each org's wrapped content key.
--
-- Same tenancy rule as 0001: org_id on every row, row-level security enabled and forced.
-- PostgreSQL is the source of truth: the dense, keyword and graph indexes are rebuilt from
-- memory_records. Content is stored encrypted (cluster/encryption.py) under the org's data key,
-- itself wrapped by the master key from settings; metadata stays plaintext jsonb because recall
-- filters on it. A delete is soft (deleted_at), so history and index rebuilds stay consistent.

CREATE TABLE memory_data_keys (
    org_id       uuid PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    -- nonce || AES-GCM ciphertext of the 32-byte data key, bound to org_id.
    wrapped_key  bytea NOT NULL,
    -- Which master key wrapped it, so a master-key rotation can re-wrap row by row.
    key_version  integer NOT NULL DEFAULT 1 CHECK (key_version >= 1),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- An identity rather than bigserial: inserting needs no grant on the sequence (as audit_log).
CREATE TABLE memory_records (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id              uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    memory_type         text NOT NULL CHECK (length(memory_type) BETWEEN 1 AND 100),
    version             integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    content_ciphertext  bytea NOT NULL,
    content_nonce       bytea NOT NULL CHECK (length(content_nonce) = 12),
    content_is_json     boolean NOT NULL,
    metadata            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    event_at            timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);
CREATE INDEX memory_records_type_idx ON memory_records (org_id, memory_type);
CREATE INDEX memory_records_created_idx ON memory_records (org_id, created_at);
CREATE INDEX memory_records_org_id_idx ON memory_records (org_id, id);

-- One row per superseded version; the current one lives in memory_records.
CREATE TABLE memory_versions (
    memory_id           bigint NOT NULL REFERENCES memory_records (id) ON DELETE CASCADE,
    org_id              uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    version             integer NOT NULL CHECK (version >= 1),
    content_ciphertext  bytea NOT NULL,
    content_nonce       bytea NOT NULL CHECK (length(content_nonce) = 12),
    content_is_json     boolean NOT NULL,
    metadata            jsonb NOT NULL,
    created_at          timestamptz NOT NULL,
    PRIMARY KEY (memory_id, version)
);
CREATE INDEX memory_versions_org_idx ON memory_versions (org_id, memory_id);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['memory_data_keys', 'memory_records', 'memory_versions'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (org_id = liftos.current_org_id()) '
            'WITH CHECK (org_id = liftos.current_org_id())', t);
    END LOOP;
END $$;
