-- 005: the same rules, written so PostgreSQL does not re-plan them on every call.
--
-- A LANGUAGE sql function is inlined into the calling statement only when its body is a
-- single expression without a sub-select (scalar functions) or a single SELECT used in FROM
-- (set-returning functions). Otherwise the SQL-function executor parses and plans its body
-- again for every statement that calls it: measured with pgbench (-M prepared, 64 clients)
-- on 100,000 contacts, a GET by email went from 7,000 to 46,000 statements/s with the
-- functions below, and POST/PUT from 3,300 to 4,100 (`bench/pgbench/README.md`).

-- The listing, when the key (by SHA-256) is live and granted it; no row otherwise. Read
-- statements gate on `EXISTS (SELECT FROM crm_granted_listing($1, $2))`: a set-returning SQL
-- function, inlined by the planner into a one-time filter.
CREATE FUNCTION crm_granted_listing(p_key_hash bytea, p_listing_id bigint) RETURNS SETOF bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
        SELECT g.listing_id
          FROM api_keys k
          JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = p_listing_id
         WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL
    $$;

-- The same test as a boolean, for PL/pgSQL callers (crm_api_*): PL/pgSQL keeps the plan of
-- its query for the whole session, where the SQL body of 004 was planned on each call.
CREATE OR REPLACE FUNCTION crm_key_grants(p_key_hash bytea, p_listing_id bigint) RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    AS $$
BEGIN
    RETURN EXISTS (SELECT FROM crm_granted_listing(p_key_hash, p_listing_id));
END
$$;

-- The API's contact fields, in the order and with the names the API shows them.
CREATE TYPE crm_contact_fields AS (
    contact_id           bigint,
    contact_unique_id    text,
    contact_first_name   text,
    contact_last_name    text,
    contact_email        text,
    contact_phone        text,
    contact_created_date text,
    contact_updated_date text,
    contact_ip_address   text,
    contact_source       text,
    contact_status       text
);

-- A contact as compact JSON: byte for byte what 004's version rendered, but a single
-- expression, so the planner inlines it.
CREATE OR REPLACE FUNCTION crm_contact_json(c contacts) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN row_to_json(ROW(
        c.contact_id,
        c.unique_id,
        c.first_name,
        c.last_name,
        c.email,
        c.phone,
        to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
        to_char(c.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
        host(c.ip_address),
        c.source,
        c.status)::crm_contact_fields);
