-- 012: erasure that suppresses (API.md §13).
--
-- `DELETE …&erase=true` runs `crm_api_erase`: the delete of crm_api_delete, and in the same
-- statement a listing-scoped suppression of each deleted contact's email and phone, stored as
-- blacklist entries of the kinds `email-sha256` and `phone-sha256` whose value is the SHA-256
-- (lower-case hex) of the normalized value: the lower-cased email, the phone's digits. The
-- address itself is kept nowhere.
--
-- The blacklist trigger enforces them for every writer, like every other entry: it hashes the
-- row's email and phone and probes for them in the same query as the plain entries, so a
-- later POST, PUT, import or plain INSERT with an erased value is refused (SQLSTATE CRMBL,
-- COLUMN email or phone). Precedence of the entry reported: email, email-sha256, domain,
-- phone, phone-sha256; a global entry before a listing's.

ALTER TABLE blacklist_entries DROP CONSTRAINT blacklist_entries_kind_check;
ALTER TABLE blacklist_entries DROP CONSTRAINT blacklist_entries_value_check;
ALTER TABLE blacklist_entries
    ADD CONSTRAINT blacklist_entries_kind_check
        CHECK (kind IN ('email', 'domain', 'phone', 'email-sha256', 'phone-sha256')),
    ADD CONSTRAINT blacklist_entries_value_check CHECK (
           (kind = 'email'  AND value ~ '^[^@[:space:]]+@[^@[:space:]]+$' AND value = lower(value))
        OR (kind = 'domain' AND value ~ '^[^@[:space:]]+$' AND value = lower(value))
        OR (kind = 'phone'  AND value ~ '^[0-9]{7,15}$')
        OR (kind IN ('email-sha256', 'phone-sha256') AND value ~ '^[0-9a-f]{64}$'));

-- The hex SHA-256 a suppression stores for a normalized value.
CREATE FUNCTION crm_suppression_hash(p_value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN encode(sha256(convert_to(p_value, 'UTF8')), 'hex');

-- Entries are stored normalized: hashes in lower case, as before for the others.
CREATE OR REPLACE FUNCTION crm_blacklist_normalize() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.value := btrim(NEW.value);
    IF NEW.kind IN ('email', 'domain', 'email-sha256', 'phone-sha256') THEN
        NEW.value := lower(NEW.value);
    ELSIF NEW.kind = 'phone' THEN
        NEW.value := regexp_replace(NEW.value, '[^0-9]', '', 'g');
    END IF;
    RETURN NEW;
END
$$;

-- 009's trigger, probing for the suppressions' hashes too.
CREATE OR REPLACE FUNCTION crm_contacts_check_blacklist() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    v_email  text;
    v_domain text;
    v_phone  text;
    v_kind   text;
    v_global boolean;
BEGIN
    IF NEW.email IS NOT NULL
       AND (TG_OP = 'INSERT' OR lower(NEW.email) IS DISTINCT FROM lower(OLD.email)) THEN
        v_email := lower(NEW.email);
        v_domain := split_part(v_email, '@', 2);
    END IF;
    IF NEW.phone IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.phone IS DISTINCT FROM OLD.phone) THEN
        v_phone := NEW.phone;
    END IF;
    IF v_email IS NULL AND v_phone IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT b.kind, b.listing_id IS NULL INTO v_kind, v_global
      FROM blacklist_entries b
     WHERE (b.kind = 'email' AND b.value = v_email
            OR b.kind = 'email-sha256' AND b.value = crm_suppression_hash(v_email)
            OR b.kind = 'domain' AND b.value = v_domain
            OR b.kind = 'phone' AND b.value = v_phone
            OR b.kind = 'phone-sha256' AND b.value = crm_suppression_hash(v_phone))
       AND (b.listing_id IS NULL OR b.listing_id = NEW.listing_id)
     ORDER BY array_position(ARRAY['email', 'email-sha256', 'domain', 'phone', 'phone-sha256'], b.kind),
              b.listing_id NULLS FIRST
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% is blacklisted', CASE WHEN v_kind LIKE 'phone%' THEN 'phone' ELSE 'email' END
            USING ERRCODE = 'CRMBL', COLUMN = CASE WHEN v_kind LIKE 'phone%' THEN 'phone' ELSE 'email' END,
                  TABLE = 'contacts',
                  DETAIL = 'matched a ' || CASE WHEN v_global THEN 'global ' ELSE 'listing ' END || v_kind || ' entry';
    END IF;
    RETURN NEW;
END
$$;

-- DELETE …&erase=true: crm_api_delete's delete, and the deleted contacts' email and phone
-- suppressed in the listing, in the same statement. Nothing matched: nothing suppressed.
CREATE FUNCTION crm_api_erase(
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
        RETURNING x.contact_id, x.email, x.phone),
    suppressed AS (
        INSERT INTO blacklist_entries (listing_id, kind, value)
        SELECT p_listing_id, v.kind, v.value
          FROM deleted d
         CROSS JOIN LATERAL (VALUES ('email-sha256', crm_suppression_hash(lower(d.email))),
                                    ('phone-sha256', crm_suppression_hash(d.phone))) AS v(kind, value)
         WHERE v.value IS NOT NULL
        ON CONFLICT DO NOTHING)
    SELECT array_agg(d.contact_id ORDER BY d.contact_id) INTO v_ids FROM deleted d;
    IF v_ids IS NULL THEN
        RETURN QUERY SELECT 'not_found'::crm_api_outcome, NULL::bigint, NULL::json;
    ELSE
        RETURN QUERY SELECT 'deleted'::crm_api_outcome, v_ids[1], to_json(v_ids);
    END IF;
END
$$;
