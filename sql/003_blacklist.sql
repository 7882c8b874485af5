-- 003: the blacklist: email addresses, email domains and phone numbers that no contact may
-- use, either in every listing (listing_id NULL) or in one.
--
-- The trigger on contacts enforces it for every writer, the API and plain SQL alike, by
-- raising SQLSTATE 'CRMBL' with COLUMN set to `email` or
-- `phone`, which the API reports as the blacklisted parameter.

CREATE TABLE blacklist_entries (
    entry_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    listing_id bigint REFERENCES listings ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('email', 'domain', 'phone')),
    value      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT blacklist_entries_value_check CHECK (
           (kind = 'email'  AND value ~ '^[^@[:space:]]+@[^@[:space:]]+$' AND value = lower(value))
        OR (kind = 'domain' AND value ~ '^[^@[:space:]]+$' AND value = lower(value))
        OR (kind = 'phone'  AND value ~ '^[0-9]{7,15}$'))
);
-- Looked up by (kind, value) for the global scope and one listing at once. The blacklist is a
-- small reference table (replicated, not distributed, in a listing-sharded cluster), so the
-- index leads with what every lookup knows; NULLS NOT DISTINCT makes global entries unique too.
CREATE UNIQUE INDEX blacklist_entries_key ON blacklist_entries (kind, value, listing_id) NULLS NOT DISTINCT;

-- Entries are stored normalized, however they are written: trimmed, emails and domains in
-- lower case, phones as digits only.
CREATE FUNCTION crm_blacklist_normalize() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.value := btrim(NEW.value);
    IF NEW.kind IN ('email', 'domain') THEN
        NEW.value := lower(NEW.value);
    ELSIF NEW.kind = 'phone' THEN
        NEW.value := regexp_replace(NEW.value, '[^0-9]', '', 'g');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER blacklist_entries_normalize BEFORE INSERT OR UPDATE ON blacklist_entries
    FOR EACH ROW EXECUTE FUNCTION crm_blacklist_normalize();

-- Which kind of entry, if any, blocks this email or phone in this listing (global first).
CREATE FUNCTION crm_blacklist_match(p_listing_id bigint, p_kind text, p_value text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT CASE WHEN b.listing_id IS NULL THEN 'global ' ELSE 'listing ' END || b.kind
              FROM blacklist_entries b
             WHERE b.kind = p_kind AND b.value = p_value
               AND (b.listing_id IS NULL OR b.listing_id = p_listing_id)
             ORDER BY b.listing_id NULLS FIRST
             LIMIT 1);

-- Blocks a contact whose new email, email domain or phone is blacklisted.
-- On UPDATE only values that change are checked: a contact created before its address was
-- blacklisted can still have its name corrected.
CREATE FUNCTION crm_contacts_check_blacklist() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    v_match text;
BEGIN
    IF NEW.email IS NOT NULL
       AND (TG_OP = 'INSERT' OR lower(NEW.email) IS DISTINCT FROM lower(OLD.email)) THEN
        v_match := coalesce(
            crm_blacklist_match(NEW.listing_id, 'email', lower(NEW.email)),
            crm_blacklist_match(NEW.listing_id, 'domain', lower(split_part(NEW.email, '@', 2))));
        IF v_match IS NOT NULL THEN
            RAISE EXCEPTION 'email is blacklisted'
                USING ERRCODE = 'CRMBL', COLUMN = 'email', TABLE = 'contacts',
                      DETAIL = 'matched a ' || v_match || ' entry';
        END IF;
    END IF;
    IF NEW.phone IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.phone IS DISTINCT FROM OLD.phone) THEN
        v_match := crm_blacklist_match(NEW.listing_id, 'phone', NEW.phone);
        IF v_match IS NOT NULL THEN
            RAISE EXCEPTION 'phone is blacklisted'
                USING ERRCODE = 'CRMBL', COLUMN = 'phone', TABLE = 'contacts',
                      DETAIL = 'matched a ' || v_match || ' entry';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER contacts_check_blacklist BEFORE INSERT OR UPDATE OF email, phone ON contacts
    FOR EACH ROW EXECUTE FUNCTION crm_contacts_check_blacklist();
