-- 001: listings (the tenants) and API keys with their listing grants.
--
-- Keys are stored only as SHA-256 hashes (PostgreSQL's built-in sha256()); a short prefix of
-- the key identifies it to people (`crm key list`) without being enough to use it.
-- Every migration runs in one transaction (see Sources/Postgres/Migrator.swift).

CREATE EXTENSION IF NOT EXISTS pg_trgm;    -- trigram indexes for substring search (002)
CREATE EXTENSION IF NOT EXISTS btree_gin;  -- lets those GIN indexes lead with listing_id

CREATE TABLE listings (
    listing_id bigint PRIMARY KEY CHECK (listing_id > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    key_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_hash   bytea NOT NULL CHECK (octet_length(key_hash) = 32),
    key_prefix text NOT NULL CHECK (char_length(key_prefix) BETWEEN 4 AND 16),
    name       text CHECK (char_length(name) <= 200),
    -- Sustained requests per second allowed to this key; NULL means no limit.
    rate_limit integer CHECK (rate_limit > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);

-- Which listings a key may read and write. Keyed by listing first, like every tenant table.
CREATE TABLE api_key_grants (
    listing_id bigint NOT NULL REFERENCES listings ON DELETE CASCADE,
    key_id     bigint NOT NULL REFERENCES api_keys ON DELETE CASCADE,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (listing_id, key_id)
);
CREATE INDEX api_key_grants_key_id_idx ON api_key_grants (key_id);

-- The stored form of a key: its SHA-256 over the UTF-8 bytes.
CREATE FUNCTION crm_hash_api_key(p_key text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN sha256(convert_to(p_key, 'UTF8'));
