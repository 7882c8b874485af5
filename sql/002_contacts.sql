-- 002: contacts, one row per contact of a listing.
--
-- * contact_id comes from one sequence, so it is unique across all listings without an index
--   that does not lead with listing_id (which a listing-distributed cluster could not enforce).
-- * unique_id ("l-" + 32 hex digits of a random UUID) is opaque and, with 122 random bits,
--   globally unique for all practical purposes.
-- * Per listing, an email is unique case-insensitively and a phone (digits only) is unique:
--   unique indexes, so concurrent writers cannot race past a check.
-- * The checks mirror the API's validation so that rows written with plain SQL obey it too.

CREATE SEQUENCE contact_id_seq AS bigint;

CREATE TABLE contacts (
    listing_id  bigint NOT NULL REFERENCES listings ON DELETE CASCADE,
    contact_id  bigint NOT NULL DEFAULT nextval('contact_id_seq'),
    unique_id   text NOT NULL DEFAULT 'l-' || upper(replace(gen_random_uuid()::text, '-', '')),
    first_name  text CHECK (char_length(first_name) <= 100 AND first_name !~ '[[:cntrl:]]'),
    last_name   text CHECK (char_length(last_name) <= 100 AND last_name !~ '[[:cntrl:]]'),
    email       text CHECK (char_length(email) <= 254
                            AND email ~ '^[^@[:space:][:cntrl:]]{1,64}@[^@[:space:][:cntrl:]]*\.[^@[:space:][:cntrl:]]*$'),
    phone       text CHECK (phone ~ '^[0-9]{7,15}$'),
    ip_address  inet,
    source      text NOT NULL DEFAULT 'api',
    status      text NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (listing_id, contact_id),
    CONSTRAINT contacts_email_or_phone CHECK (email IS NOT NULL OR phone IS NOT NULL)
);
ALTER SEQUENCE contact_id_seq OWNED BY contacts.contact_id;

CREATE UNIQUE INDEX contacts_listing_email_key ON contacts (listing_id, lower(email));
CREATE UNIQUE INDEX contacts_listing_phone_key ON contacts (listing_id, phone);

-- "first last" as the name search sees it; NULL parts are left out.
CREATE FUNCTION crm_full_name(p_first text, p_last text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN lower(concat_ws(' ', p_first, p_last));

-- Case-insensitive substring search (`lower(column) LIKE '%term%'`) on first, last and full
-- name, through trigrams; btree_gin lets listing_id lead so each search stays in its listing.
CREATE INDEX contacts_first_name_trgm ON contacts USING gin (listing_id, lower(first_name) gin_trgm_ops);
CREATE INDEX contacts_last_name_trgm ON contacts USING gin (listing_id, lower(last_name) gin_trgm_ops);
CREATE INDEX contacts_full_name_trgm ON contacts USING gin (listing_id, crm_full_name(first_name, last_name) gin_trgm_ops);

-- updated_at moves only when a value really changes, so an update with the stored values
-- leaves the contact as it was; a writer that sets updated_at itself keeps its value.
CREATE FUNCTION crm_contacts_touch() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at = OLD.updated_at AND ROW(NEW.*) IS DISTINCT FROM ROW(OLD.*) THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER contacts_touch BEFORE UPDATE ON contacts
    FOR EACH ROW EXECUTE FUNCTION crm_contacts_touch();
