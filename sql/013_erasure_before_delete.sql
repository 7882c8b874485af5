-- 013: erasure without a window, and stored answers that survive no TRUNCATE.
--
-- 012's crm_api_erase deleted the contact and stored its suppressions in one transaction. A
-- POST of the same email running meanwhile could pass the blacklist trigger (the suppression
-- not yet committed), then wait on the unique email index for the erasure's delete, and
-- insert once the delete committed: the erased address back, in clear, beside its
-- suppression. Now an erasure is two transactions, suppression first:
--   1. `crm_api_suppress` stores the suppressions of every contact the identifiers match (the
--      rows locked while it reads them) and commits; `not_found` when nothing matches;
--   2. then the service deletes those contacts with `crm_api_delete`.
-- A writer that checked the blacklist before step 1 committed finds the contact still there
-- (a committed, live row: `409 duplicate`, no waiting); one that checks after sees the
-- suppression. A crash between the two leaves the suppression and the contact; the client,
-- answered with an error, erases again (the suppressions are `ON CONFLICT DO NOTHING`).
--
-- TRUNCATE fires no DELETE trigger: a statement trigger on TRUNCATE reduces every stored
-- answer to its contact's id, as a delete does (sql/011).
--
-- The Idempotency-Key function relies on READ COMMITTED (PostgreSQL's default, which the
-- service never changes): each of its statements sees what committed before it. Under
-- REPEATABLE READ a replay racing its first request would fail on the primary key (a 500,
-- rolled back: never a second contact).

ALTER TYPE crm_api_outcome ADD VALUE 'suppressed';

DROP FUNCTION crm_api_erase(bytea, bigint, bigint, text, text);

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

CREATE FUNCTION crm_idempotency_forget_truncated() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE idempotency_keys i SET payload = ('{"contact_id":' || i.contact_id || '}')::json
     WHERE i.outcome = 'created';
    RETURN NULL;
END
$$;

CREATE TRIGGER idempotency_keys_forget_truncated AFTER TRUNCATE ON contacts
    FOR EACH STATEMENT EXECUTE FUNCTION crm_idempotency_forget_truncated();
