-- 004: the API's operations as SQL functions, so that each request is one round trip that
-- checks the key, its grant for the listing and does the work in the same statement.
--
-- Every function takes the key's SHA-256 (computed by the service; the key itself never
-- reaches the database) and the listing, and returns (outcome, contact_id, payload):
--   outcome   'forbidden' | 'created' | 'updated' | 'deleted' | 'not_found' | 'duplicate'
--             | 'blacklisted' | 'conflict' | 'invalid' | 'last_contact_point'
--   contact_id the contact concerned (for 'duplicate': the existing one)
--   payload   the contact as the API renders it (json), or for 'blacklisted', 'invalid' and
--             'last_contact_point' the parameter at fault as a json string
-- Tenancy: every statement filters on the listing the key was checked against.

-- True when the key (by hash) is live and granted the listing.
CREATE FUNCTION crm_key_grants(p_key_hash bytea, p_listing_id bigint) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN EXISTS (SELECT 1
                     FROM api_keys k
                     JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = p_listing_id
                    WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL);

-- A contact exactly as the API shows it (field names of the public documentation), as
-- compact JSON in this field order.
CREATE FUNCTION crm_contact_json(c contacts) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT row_to_json(x) FROM (SELECT
        c.contact_id,
        c.unique_id AS contact_unique_id,
        c.first_name AS contact_first_name,
        c.last_name AS contact_last_name,
        c.email AS contact_email,
        c.phone AS contact_phone,
        to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS contact_created_date,
        to_char(c.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS contact_updated_date,
        host(c.ip_address) AS contact_ip_address,
        c.source AS contact_source,
        c.status AS contact_status) x);

-- The contact of the listing that holds this email (case-insensitively) or phone, lowest id first.
CREATE FUNCTION crm_contact_holding(p_listing_id bigint, p_email text, p_phone text) RETURNS bigint
    LANGUAGE sql STABLE
    RETURN (SELECT contact_id FROM contacts
             WHERE listing_id = p_listing_id
               AND (lower(email) = lower(p_email) OR phone = p_phone)
             ORDER BY contact_id LIMIT 1);

-- The API parameter a contacts CHECK constraint guards: contacts_first_name_check → first_name.
-- The service validates first, so reaching a CHECK means the two disagree: still a 400.
CREATE FUNCTION crm_constraint_parameter(p_constraint text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN p_constraint = 'contacts_email_or_phone' THEN 'email'
                ELSE regexp_replace(regexp_replace(p_constraint, '^contacts_', ''), '_check$', '') END;

-- POST: create a contact.
CREATE FUNCTION crm_api_create(
    p_key_hash bytea, p_listing_id bigint,
    p_first_name text, p_last_name text, p_email text, p_phone text, p_ip inet)
RETURNS TABLE (outcome text, contact_id bigint, payload json)
LANGUAGE plpgsql AS $$
DECLARE
    c contacts;
    v_column text;
    v_constraint text;
BEGIN
    IF NOT crm_key_grants(p_key_hash, p_listing_id) THEN
        RETURN QUERY SELECT 'forbidden', NULL::bigint, NULL::json;
        RETURN;
    END IF;
    INSERT INTO contacts (listing_id, first_name, last_name, email, phone, ip_address)
    VALUES (p_listing_id, p_first_name, p_last_name, p_email, p_phone, p_ip)
    RETURNING * INTO c;
    RETURN QUERY SELECT 'created', c.contact_id, crm_contact_json(c);
EXCEPTION
    WHEN unique_violation THEN
        -- The other writer has committed (a unique check waits for it), so its row is visible.
        RETURN QUERY SELECT 'duplicate', crm_contact_holding(p_listing_id, p_email, p_phone), NULL::json;
    WHEN SQLSTATE 'CRMBL' THEN
        GET STACKED DIAGNOSTICS v_column = COLUMN_NAME;
        RETURN QUERY SELECT 'blacklisted', NULL::bigint, to_json(v_column);
    WHEN check_violation THEN
        GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
        RETURN QUERY SELECT 'invalid', NULL::bigint, to_json(crm_constraint_parameter(v_constraint));
END
$$;

-- PUT: update the contact given by id, or found by email/phone; create it when there is none.
-- p_set_* say which fields the request gave: given with a NULL value clears the field.
-- p_ip is the address a new contact records; an existing one takes it only when p_set_ip
-- (the request named an ip_address), not merely because another client updated it.
CREATE FUNCTION crm_api_upsert(
    p_key_hash bytea, p_listing_id bigint, p_contact_id bigint,
    p_first_name text, p_last_name text, p_email text, p_phone text, p_ip inet,
    p_set_first_name boolean, p_set_last_name boolean, p_set_email boolean, p_set_phone boolean,
    p_set_ip boolean)
RETURNS TABLE (outcome text, contact_id bigint, payload json)
LANGUAGE plpgsql AS $$
DECLARE
    c contacts;
    v_target bigint;
    v_matches bigint[];
    v_column text;
    v_constraint text;
    v_attempt int := 0;
BEGIN
    IF NOT crm_key_grants(p_key_hash, p_listing_id) THEN
        RETURN QUERY SELECT 'forbidden', NULL::bigint, NULL::json;
        RETURN;
    END IF;
    LOOP
        v_attempt := v_attempt + 1;
        IF p_contact_id IS NOT NULL THEN
            SELECT x.contact_id INTO v_target FROM contacts x
             WHERE x.listing_id = p_listing_id AND x.contact_id = p_contact_id FOR UPDATE;
        ELSE
            SELECT array_agg(x.contact_id ORDER BY x.contact_id) INTO v_matches FROM contacts x
             WHERE x.listing_id = p_listing_id
               AND (lower(x.email) = lower(p_email) OR x.phone = p_phone);
            IF cardinality(v_matches) > 1 THEN
                RETURN QUERY SELECT 'conflict', v_matches[1], NULL::json;
                RETURN;
            END IF;
            v_target := v_matches[1];
            IF v_target IS NOT NULL THEN
                PERFORM 1 FROM contacts x WHERE x.listing_id = p_listing_id AND x.contact_id = v_target FOR UPDATE;
            END IF;
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
                RETURNING * INTO c;
                RETURN QUERY SELECT 'updated', c.contact_id, crm_contact_json(c);
                RETURN;
            ELSIF p_email IS NULL AND p_phone IS NULL THEN
                RETURN QUERY SELECT 'not_found', NULL::bigint, NULL::json;
                RETURN;
            ELSE
                INSERT INTO contacts (listing_id, first_name, last_name, email, phone, ip_address)
                VALUES (p_listing_id, p_first_name, p_last_name, p_email, p_phone, p_ip)
                RETURNING * INTO c;
                RETURN QUERY SELECT 'created', c.contact_id, crm_contact_json(c);
                RETURN;
            END IF;
        EXCEPTION
            WHEN unique_violation THEN
                -- Without an id, a concurrent PUT may have created the contact we meant to
                -- create: look again (it is committed now) and update it. Otherwise the new
                -- email or phone belongs to another contact.
                IF p_contact_id IS NULL AND v_target IS NULL AND v_attempt < 3 THEN
                    CONTINUE;
                END IF;
                RETURN QUERY SELECT 'duplicate',
                    (SELECT x.contact_id FROM contacts x
                      WHERE x.listing_id = p_listing_id AND x.contact_id IS DISTINCT FROM v_target
                        AND (lower(x.email) = lower(p_email) OR x.phone = p_phone)
                      ORDER BY x.contact_id LIMIT 1),
                    NULL::json;
                RETURN;
            WHEN SQLSTATE 'CRMBL' THEN
                GET STACKED DIAGNOSTICS v_column = COLUMN_NAME;
                RETURN QUERY SELECT 'blacklisted', NULL::bigint, to_json(v_column);
                RETURN;
            WHEN check_violation THEN
                GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
                IF v_constraint = 'contacts_email_or_phone' THEN
                    -- Clearing the last of email and phone.
                    RETURN QUERY SELECT 'last_contact_point', v_target,
                        to_json(CASE WHEN p_set_email THEN 'email' ELSE 'phone' END);
                ELSE
                    RETURN QUERY SELECT 'invalid', v_target, to_json(crm_constraint_parameter(v_constraint));
                END IF;
                RETURN;
        END;
    END LOOP;
END
$$;

-- DELETE: remove the contact that every given identifier matches. Rows are deleted, not
-- flagged: the personal data is gone.
CREATE FUNCTION crm_api_delete(
    p_key_hash bytea, p_listing_id bigint, p_contact_id bigint, p_email text, p_phone text)
RETURNS TABLE (outcome text, contact_id bigint, payload json)
LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[];
BEGIN
    IF NOT crm_key_grants(p_key_hash, p_listing_id) THEN
        RETURN QUERY SELECT 'forbidden', NULL::bigint, NULL::json;
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
        RETURN QUERY SELECT 'not_found', NULL::bigint, NULL::json;
    ELSE
        RETURN QUERY SELECT 'deleted', v_ids[1], to_json(v_ids);
    END IF;
END
$$;

-- Escapes LIKE's wildcards so a search term matches literally.
CREATE FUNCTION crm_like_literal(p_term text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN replace(replace(replace(p_term, '\', '\\'), '%', '\%'), '_', '\_');
