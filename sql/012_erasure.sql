-- 012: erasure that suppresses (API.md §13).
--
-- `DELETE …&erase=true` suppresses the matched contacts' email and phone in the listing, then
-- deletes them. A suppression is a blacklist entry of the kind `email-sha256` or
-- `phone-sha256` whose value is the SHA-256 (lower-case hex) of the normalized value: the
-- lower-cased email, the phone's digits. The address itself is kept nowhere.
--
-- The blacklist trigger enforces them for every writer, like every other entry: it hashes the
-- row's email and phone and probes for them in the same query as the plain entries, so a
-- later POST, PUT, import or plain INSERT with an erased value is refused (SQLSTATE CRMBL,
-- COLUMN email or phone). Precedence of the entry reported: email, email-sha256, domain,
-- phone, phone-sha256; a global entry before a listing's.
--
-- An erasure is two transactions, suppression first:
--   1. `crm_api_suppress` stores the suppressions of every contact the identifiers match (the
--      rows locked while it reads them) and commits; `not_found` when nothing matches;
--   2. then the service deletes those contacts with `crm_api_delete`.
-- In one transaction, a POST of the same email running meanwhile could pass the blacklist
-- trigger (the suppression not yet committed), wait on the unique email index for the delete,
-- and insert once the delete committed: the erased address back, in clear, beside its
-- suppression. In two, a writer that checked the blacklist before step 1 committed finds the
-- contact still there (a committed, live row: `409 duplicate`, no waiting); one that checks
-- after sees the suppression. A crash between the two leaves the suppression and the contact;
-- the client, answered with an error, erases again (the suppressions are `ON CONFLICT DO
-- NOTHING`).

ALTER TYPE crm_api_outcome ADD VALUE 'suppressed';

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

-- DELETE …&erase=true, its first step: the matched contacts' suppressions (see the top).
CREATE FUNCTION crm_api_suppress(
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
    WITH matched AS (
        SELECT x.contact_id, x.email, x.phone FROM contacts x
         WHERE x.listing_id = p_listing_id
           AND (p_contact_id IS NULL OR x.contact_id = p_contact_id)
           AND (p_email IS NULL OR lower(x.email) = lower(p_email))
           AND (p_phone IS NULL OR x.phone = p_phone)
           FOR UPDATE),
    suppressed AS (
        INSERT INTO blacklist_entries (listing_id, kind, value)
        SELECT p_listing_id, v.kind, v.value
          FROM matched m
         CROSS JOIN LATERAL (VALUES ('email-sha256', crm_suppression_hash(lower(m.email))),
                                    ('phone-sha256', crm_suppression_hash(m.phone))) AS v(kind, value)
         WHERE v.value IS NOT NULL
        ON CONFLICT DO NOTHING)
    SELECT array_agg(m.contact_id ORDER BY m.contact_id) INTO v_ids FROM matched m;
    IF v_ids IS NULL THEN
        RETURN QUERY SELECT 'not_found'::crm_api_outcome, NULL::bigint, NULL::json;
    ELSE
        RETURN QUERY SELECT 'suppressed'::crm_api_outcome, v_ids[1], to_json(v_ids);
    END IF;
END
$$;
