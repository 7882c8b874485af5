-- 010: key scopes (API.md §8).
--
-- A key carries one or more scopes: `read` (GET/HEAD of a listing's contacts, and later the
-- change feed, exports and import status), `write` (POST/PUT/DELETE, imports) and `webhooks`
-- (managing the listing's webhook endpoints). Keys made before this migration get `read` and
-- `write`, which is what every version 1 key could do.
--
-- The scope is checked in the statement that checks the grant, so it costs no round trip:
-- the searches gate on `crm_granted_listing(key, listing, 'read')` and the write functions on
-- `crm_key_grants(key, listing, 'write')`. The grant functions without a scope are dropped,
-- so no statement can check a grant and forget the scope. A key that is refused is told which
-- scope it lacks only when it is granted the listing (`crm_key_access`, asked by the service
-- after a refusal): a key without the grant gets the plain 403 and learns nothing.

CREATE TYPE crm_key_scope AS ENUM ('read', 'write', 'webhooks');

ALTER TABLE api_keys
    ADD COLUMN scopes crm_key_scope[] NOT NULL DEFAULT '{read,write}'
        CONSTRAINT api_keys_scopes_check
        CHECK (cardinality(scopes) >= 1 AND array_position(scopes, NULL) IS NULL);

-- The listing, when the key (by SHA-256) is live, granted it and holds `p_scope`; no row
-- otherwise. Inlinable, like 005's version it replaces.
CREATE FUNCTION crm_granted_listing(p_key_hash bytea, p_listing_id bigint, p_scope crm_key_scope)
    RETURNS SETOF bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
        SELECT g.listing_id
          FROM api_keys k
          JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = p_listing_id
         WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL AND p_scope = ANY (k.scopes)
    $$;

-- The same test as a boolean, for the PL/pgSQL write functions below.
CREATE FUNCTION crm_key_grants(p_key_hash bytea, p_listing_id bigint, p_scope crm_key_scope) RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    AS $$
BEGIN
    RETURN EXISTS (SELECT FROM crm_granted_listing(p_key_hash, p_listing_id, p_scope));
END
$$;

-- The key's scopes when it is live and granted the listing; no row otherwise. Asked only
-- after a refusal, to tell "not granted" (plain 403) from "granted, lacks the scope".
CREATE FUNCTION crm_key_access(p_key_hash bytea, p_listing_id bigint) RETURNS SETOF crm_key_scope[]
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
        SELECT k.scopes
          FROM api_keys k
          JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = p_listing_id
         WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL
    $$;

-- The write functions of 008, unchanged but for the scope their grant check asks for.
-- POST: create a contact (004).
CREATE OR REPLACE FUNCTION crm_api_create(
    p_key_hash bytea, p_listing_id bigint,
    p_first_name text, p_last_name text, p_email text, p_phone text, p_ip inet)
RETURNS TABLE (outcome crm_api_outcome, contact_id bigint, payload json)
LANGUAGE plpgsql AS $$
DECLARE
    c contacts;
    v_column text;
    v_constraint text;
BEGIN
    IF NOT crm_key_grants(p_key_hash, p_listing_id, 'write') THEN
        RETURN QUERY SELECT 'forbidden'::crm_api_outcome, NULL::bigint, NULL::json;
        RETURN;
    END IF;
    INSERT INTO contacts (listing_id, first_name, last_name, email, phone, ip_address)
    VALUES (p_listing_id, p_first_name, p_last_name, p_email, p_phone, p_ip)
    RETURNING * INTO c;
    RETURN QUERY SELECT 'created'::crm_api_outcome, c.contact_id, crm_contact_json(c);
EXCEPTION
    WHEN unique_violation THEN
        -- The other writer has committed (a unique check waits for it), so its row is visible.
        RETURN QUERY SELECT 'duplicate'::crm_api_outcome, crm_contact_holding(p_listing_id, p_email, p_phone), NULL::json;
    WHEN SQLSTATE 'CRMBL' THEN
        GET STACKED DIAGNOSTICS v_column = COLUMN_NAME;
        RETURN QUERY SELECT 'blacklisted'::crm_api_outcome, NULL::bigint, to_json(v_column);
    WHEN check_violation THEN
        GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
        RETURN QUERY SELECT 'invalid'::crm_api_outcome, NULL::bigint, to_json(crm_constraint_parameter(v_constraint));
END
$$;

-- PUT: update the contact given by id, or found by email/phone; create it when there is none.
-- Race-free as 007 explains: the lookup locks what it finds, the insert is ON CONFLICT DO
-- NOTHING and looks again.
CREATE OR REPLACE FUNCTION crm_api_upsert(
    p_key_hash bytea, p_listing_id bigint, p_contact_id bigint,
    p_first_name text, p_last_name text, p_email text, p_phone text, p_ip inet,
    p_set_first_name boolean, p_set_last_name boolean, p_set_email boolean, p_set_phone boolean,
    p_set_ip boolean)
RETURNS TABLE (outcome crm_api_outcome, contact_id bigint, payload json)
LANGUAGE plpgsql AS $$
DECLARE
    c contacts;
    v_target bigint;
    v_matches bigint[];
    v_holder bigint;
    v_column text;
    v_constraint text;
BEGIN
    IF NOT crm_key_grants(p_key_hash, p_listing_id, 'write') THEN
        RETURN QUERY SELECT 'forbidden'::crm_api_outcome, NULL::bigint, NULL::json;
        RETURN;
    END IF;
    LOOP
        -- Find the contact and lock it in one statement.
        IF p_contact_id IS NOT NULL THEN
            SELECT x.contact_id INTO v_target FROM contacts x
             WHERE x.listing_id = p_listing_id AND x.contact_id = p_contact_id FOR UPDATE;
        ELSE
            SELECT array_agg(m.contact_id ORDER BY m.contact_id) INTO v_matches
              FROM (SELECT x.contact_id FROM contacts x
                     WHERE x.listing_id = p_listing_id
                       AND (lower(x.email) = lower(p_email) OR x.phone = p_phone)
                     ORDER BY x.contact_id FOR UPDATE) m;
            IF cardinality(v_matches) > 1 THEN
                RETURN QUERY SELECT 'conflict'::crm_api_outcome, v_matches[1], NULL::json;
                RETURN;
            END IF;
            v_target := v_matches[1];
        END IF;

        BEGIN
            IF v_target IS NOT NULL THEN
                UPDATE contacts x SET
                    first_name = CASE WHEN p_set_first_name THEN p_first_name ELSE x.first_name END,
                    last_name  = CASE WHEN p_set_last_name  THEN p_last_name  ELSE x.last_name  END,
                    email      = CASE WHEN p_set_email      THEN p_email      ELSE x.email      END,
                    phone      = CASE WHEN p_set_phone      THEN p_phone      ELSE x.phone      END,
                    ip_address = CASE WHEN p_set_ip         THEN p_ip         ELSE x.ip_address END
                 WHERE x.listing_id = p_listing_id AND x.contact_id = v_target
                RETURNING * INTO STRICT c;
                RETURN QUERY SELECT 'updated'::crm_api_outcome, c.contact_id, crm_contact_json(c);
                RETURN;
            ELSIF p_email IS NULL AND p_phone IS NULL THEN
                RETURN QUERY SELECT 'not_found'::crm_api_outcome, NULL::bigint, NULL::json;
                RETURN;
            END IF;
            INSERT INTO contacts (listing_id, first_name, last_name, email, phone, ip_address)
            VALUES (p_listing_id, p_first_name, p_last_name, p_email, p_phone, p_ip)
            ON CONFLICT DO NOTHING
            RETURNING * INTO c;
            IF FOUND THEN
                RETURN QUERY SELECT 'created'::crm_api_outcome, c.contact_id, crm_contact_json(c);
                RETURN;
            END IF;
            -- A committed contact holds the email or phone.
            IF p_contact_id IS NOT NULL THEN
                v_holder := crm_contact_holding(p_listing_id, p_email, p_phone);
                IF v_holder IS NOT NULL THEN
                    RETURN QUERY SELECT 'duplicate'::crm_api_outcome, v_holder, NULL::json;
                    RETURN;
                END IF;
            END IF;
            -- Without an id: that contact is the one to update; look again.
        EXCEPTION
            WHEN unique_violation THEN
                -- The UPDATE gave the contact an email or phone that another contact holds.
                RETURN QUERY SELECT 'duplicate'::crm_api_outcome,
                    (SELECT x.contact_id FROM contacts x
                      WHERE x.listing_id = p_listing_id AND x.contact_id IS DISTINCT FROM v_target
                        AND (lower(x.email) = lower(p_email) OR x.phone = p_phone)
                      ORDER BY x.contact_id LIMIT 1),
                    NULL::json;
                RETURN;
            WHEN SQLSTATE 'CRMBL' THEN
                GET STACKED DIAGNOSTICS v_column = COLUMN_NAME;
                RETURN QUERY SELECT 'blacklisted'::crm_api_outcome, NULL::bigint, to_json(v_column);
                RETURN;
            WHEN check_violation THEN
                GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
                IF v_constraint = 'contacts_email_or_phone' THEN
                    -- Clearing the last of email and phone.
                    RETURN QUERY SELECT 'last_contact_point'::crm_api_outcome, v_target,
                        to_json(CASE WHEN p_set_email THEN 'email' ELSE 'phone' END);
                ELSE
                    RETURN QUERY SELECT 'invalid'::crm_api_outcome, v_target, to_json(crm_constraint_parameter(v_constraint));
                END IF;
                RETURN;
        END;
    END LOOP;
END
$$;

-- DELETE: remove the contact that every given identifier matches (004). Rows are deleted, not
-- flagged: the personal data is gone.
CREATE OR REPLACE FUNCTION crm_api_delete(
    p_key_hash bytea, p_listing_id bigint, p_contact_id bigint, p_email text, p_phone text)
RETURNS TABLE (outcome crm_api_outcome, contact_id bigint, payload json)
LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[];
BEGIN
    IF NOT crm_key_grants(p_key_hash, p_listing_id, 'write') THEN
        RETURN QUERY SELECT 'forbidden'::crm_api_outcome, NULL::bigint, NULL::json;
        RETURN;
    END IF;
    WITH deleted AS (
        DELETE FROM contacts x
         WHERE x.listing_id = p_listing_id
           AND (p_contact_id IS NULL OR x.contact_id = p_contact_id)
           AND (p_email IS NULL OR lower(x.email) = lower(p_email))
           AND (p_phone IS NULL OR x.phone = p_phone)
        RETURNING x.contact_id)
    SELECT array_agg(d.contact_id ORDER BY d.contact_id) INTO v_ids FROM deleted d;
    IF v_ids IS NULL THEN
        RETURN QUERY SELECT 'not_found'::crm_api_outcome, NULL::bigint, NULL::json;
    ELSE
        RETURN QUERY SELECT 'deleted'::crm_api_outcome, v_ids[1], to_json(v_ids);
    END IF;
END
$$;

DROP FUNCTION crm_key_grants(bytea, bigint);
DROP FUNCTION crm_granted_listing(bytea, bigint);
