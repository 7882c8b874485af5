-- 016: bulk import (API.md §12): a staged file applied chunk by chunk, set-based, each row
-- with the outcome it would have had through the API.
--
-- Staging. The service streams the upload, validates and normalizes every row with the
-- single-contact code, and COPYs it into `import_rows` in the transaction that inserts the
-- `import_jobs` row ('queued'): a disconnect leaves nothing, a 202 means every row is on disk.
--
-- Applying. A background worker calls `crm_import_step(chunk)` again and again, each call its
-- own transaction. A call claims the oldest unfinished job (`FOR UPDATE SKIP LOCKED`: processes
-- share the jobs, without leases; a crashed call's transaction rolled back, so its chunk is
-- simply claimed again), applies rows applied_through+1 … applied_through+chunk, records their
-- rejections in `import_errors`, moves applied_through and deletes those staged rows (they
-- hold personal data), all in that one transaction: a crash at any point redoes the chunk from
-- scratch, and no row is ever applied twice. A job whose listing is deleted goes with it.
--
-- The rule. The final table and every row's outcome (with its parameter and contact id) are
-- those of applying the rows one by one, in row order, through `crm_api_create` (mode create)
-- or `crm_api_upsert` (mode upsert). Two rows can only affect each other through a key they
-- share: an email (lower-cased), a phone, or (upsert) a contact that both meet, by id or as
-- the holder of one of their emails or phones (which also covers a contact one row frees an
-- address of and another row wants it). So within a chunk:
--   * a row that shares no key with an earlier row of the chunk is applied set-based, all of
--     them in one statement planned against one snapshot (`crm_import_plan`, then
--     `crm_import_apply_planned`): the holders of each email and phone and the contact to
--     update found by index probes, the blacklist checked per row (email before phone, on an
--     update only the values that change), the last contact point, then the duplicates, in
--     the order the trigger, the CHECKs and the unique indexes would refuse them; then one
--     INSERT for the creates, one UPDATE for the updates (one that would change nothing writes
--     nothing: through the API it records no event either), one INSERT for the rejections;
--   * the few "tangled" rows, which share a key with an earlier row, go next, one by one in
--     row order, through `crm_contact_create` / `crm_contact_upsert`: the API functions'
--     bodies, split off their key check in this migration (the API functions are now that
--     check and a call, with their signatures and results unchanged). At most `p_max_tangled`
--     (1,000) a call: the chunk ends before the next one (updating one contact many times in
--     one transaction gets slower with every version: see crm_import_step).
-- Nothing in the set-based statement may raise for one row, since that would undo the chunk:
-- the plan refuses what the trigger and the constraints would. If it raises anyway (a CHECK
-- the plan leaves to the table, for values the service never stages), or an update finds its
-- contact changed since the plan read it (another writer), the statement is rolled back to a
-- savepoint and the chunk goes one by one: slower, never wrong.
--
-- Two row triggers would redo per row what that statement does for all rows at once: the
-- blacklist check (012) and the change event (013). The import sets the transaction-local
-- `crm.import_checked` to `on` around that one statement, and both triggers return at once
-- while it is on; the statement writes the change events itself (the old values are those the
-- plan read, which the UPDATE requires unchanged). Every other writer, and the import's
-- one-by-one rows, still go through both triggers.
--
-- Measured (PostgreSQL 15, 2 cores shared with other work; `crm_import_step(10000)` called by
-- psql, one autocommit transaction per call; COPY of the staged rows from a CSV file):
--   1,000,000 new contacts, empty listing, empty blacklist  apply 37.5 s (26,600 rows/s),
--                                                           staging COPY 4.0 s
--     the same without the blacklist trigger's skip          61 s
--     without the change-feed trigger's skip                 40 s
--     without either                                         62 s
--   the same with a blacklist of 30,200 entries, 20,000 of them the listing's suppressions
--                                                           46 s (every email and phone hashed)
--   1,000,000 rows of mode create into an empty listing      40 s
--   the same 1,000,000 rows again (updates changing nothing)  11 s
--   1,000,000 updates changing the names                    42 s
--   30,000 new contacts, empty or new listing                1.1 – 1.2 s
--   30,000 rows in pairs (every second row updates the first) 5.2 s (2,000 rows a call,
--                                                           of which 1,000 one by one)
--   10,000 rows updating one contact                         11 s (1.1 s a call of 1,000;
--                                                           in one call: 71 s)
-- The plan costs about 10 µs a row; the rest is the insert (heap, six indexes of which three
-- are trigram GINs, the foreign key) and the change events.

-- Jobs ---------------------------------------------------------------------------------------

CREATE TABLE import_jobs (
    import_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    listing_id      bigint NOT NULL REFERENCES listings ON DELETE CASCADE,
    mode            text NOT NULL CHECK (mode IN ('upsert', 'create')),
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    -- Data rows staged: row numbers 1 … rows.
    rows            integer NOT NULL DEFAULT 0 CHECK (rows >= 0),
    created         integer NOT NULL DEFAULT 0,
    updated         integer NOT NULL DEFAULT 0,
    rejected        integer NOT NULL DEFAULT 0,
    -- Rows 1 … applied_through are applied (and no longer staged).
    applied_through integer NOT NULL DEFAULT 0 CHECK (applied_through >= 0),
    -- The change events' actor (crm.key_prefix / crm.request_id, as crm_actor sets them).
    key_prefix      text,
    request_id      text,
    -- The uploader's address: what a created contact records when its row gives no
    -- ip_address, as a POST or PUT records the client's (NULL: nothing).
    client_ip       inet,
    -- Idempotency-Key (API.md §9): the uploading key, its Idempotency-Key, and the SHA-256 of
    -- the upload (mode, format, every byte of the file); a retry with the same key and
    -- fingerprint replays the 202, another file is a 422.
    key_id          bigint REFERENCES api_keys ON DELETE SET NULL,
    idempotency_key text CHECK (idempotency_key ~ '^[ -~]{1,255}$'),
    fingerprint     bytea CHECK (octet_length(fingerprint) = 32),
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE UNIQUE INDEX import_jobs_idempotency_key ON import_jobs (key_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The jobs still to run, oldest first (what crm_import_step claims).
CREATE INDEX import_jobs_pending_idx ON import_jobs (import_id) WHERE status IN ('queued', 'running');
-- A listing's jobs (its import list, and the cascade when it is deleted).
CREATE INDEX import_jobs_listing_idx ON import_jobs (listing_id, import_id);

-- The staged rows, written by COPY. Durable: a 202 promises the rows survive a crash.
-- A data column is NULL when the file did not give it, '' when it gave it empty (on upsert
-- that clears the field, as on PUT; on create it is absent, as on POST), else the value as
-- the service validated and normalized it. A row the service refused while staging carries
-- its error (and no data) and is copied to import_errors as is.
CREATE TABLE import_rows (
    import_id       bigint NOT NULL REFERENCES import_jobs ON DELETE CASCADE,
    row_no          integer NOT NULL CHECK (row_no >= 1),   -- 1 = the first data row
    contact_id      bigint,                                 -- the `id` column (upsert only)
    first_name      text,
    last_name       text,
    email           text,
    phone           text,
    -- Checked here, at COPY, so that applying can never fail on a cast.
    ip_address      text CHECK (ip_address = '' OR ip_address::inet IS NOT NULL),
    error_code      text,
    error_parameter text,
    error_message   text,
    PRIMARY KEY (import_id, row_no)
);

-- One row per rejected row. A rejection found while applying has the outcome, parameter and
-- contact id that crm_api_create / crm_api_upsert return for it (the parameter: the payload's
-- string for blacklisted, invalid, last_contact_point); one found while staging has the
-- service's code, parameter and message and no outcome.
CREATE TABLE import_errors (
    import_id  bigint NOT NULL REFERENCES import_jobs ON DELETE CASCADE,
    row_no     integer NOT NULL,
    outcome    crm_api_outcome,
    parameter  text,
    contact_id bigint,
    code       text,
    message    text,
    PRIMARY KEY (import_id, row_no)
);

-- The API's writes without the key check ----------------------------------------------------

-- POST without the key check: crm_api_create's body (008/010), unchanged.
CREATE FUNCTION crm_contact_create(
    p_listing_id bigint, p_first_name text, p_last_name text, p_email text, p_phone text, p_ip inet)
RETURNS TABLE (outcome crm_api_outcome, contact_id bigint, payload json)
LANGUAGE plpgsql AS $$
DECLARE
    c contacts;
    v_column text;
    v_constraint text;
BEGIN
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

-- PUT without the key check: crm_api_upsert's body (007/008/010), unchanged. Race-free as
-- 007 explains: the lookup locks what it finds, the insert is ON CONFLICT DO NOTHING and looks
-- again.
CREATE FUNCTION crm_contact_upsert(
    p_listing_id bigint, p_contact_id bigint,
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

-- POST: the key check, then the write (same signature and results as 010's).
CREATE OR REPLACE FUNCTION crm_api_create(
    p_key_hash bytea, p_listing_id bigint,
    p_first_name text, p_last_name text, p_email text, p_phone text, p_ip inet)
RETURNS TABLE (outcome crm_api_outcome, contact_id bigint, payload json)
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT crm_key_grants(p_key_hash, p_listing_id, 'write') THEN
        RETURN QUERY SELECT 'forbidden'::crm_api_outcome, NULL::bigint, NULL::json;
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM crm_contact_create(p_listing_id, p_first_name, p_last_name, p_email, p_phone, p_ip);
END
$$;

-- PUT: the key check, then the write (same signature and results as 010's).
CREATE OR REPLACE FUNCTION crm_api_upsert(
    p_key_hash bytea, p_listing_id bigint, p_contact_id bigint,
    p_first_name text, p_last_name text, p_email text, p_phone text, p_ip inet,
    p_set_first_name boolean, p_set_last_name boolean, p_set_email boolean, p_set_phone boolean,
    p_set_ip boolean)
RETURNS TABLE (outcome crm_api_outcome, contact_id bigint, payload json)
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT crm_key_grants(p_key_hash, p_listing_id, 'write') THEN
        RETURN QUERY SELECT 'forbidden'::crm_api_outcome, NULL::bigint, NULL::json;
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM crm_contact_upsert(p_listing_id, p_contact_id, p_first_name, p_last_name, p_email,
                                                  p_phone, p_ip, p_set_first_name, p_set_last_name, p_set_email,
                                                  p_set_phone, p_set_ip);
END
$$;

-- Two triggers that leave the import's set-based rows to it ---------------------------------

-- 012's blacklist trigger, which returns at once while the import's set-based statement runs
-- (crm.import_checked on, for that statement only): the plan checked those rows itself.
CREATE OR REPLACE FUNCTION crm_contacts_check_blacklist() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    v_email  text;
    v_domain text;
    v_phone  text;
    v_kind   text;
    v_global boolean;
BEGIN
    IF current_setting('crm.import_checked', true) = 'on' THEN
        RETURN NEW;
    END IF;
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

-- 013's change-feed trigger, which records nothing while the import's set-based statement
-- runs: that statement writes its rows' events itself, in one INSERT (see crm_import_apply_planned).
CREATE OR REPLACE FUNCTION crm_contacts_record_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE v_changed text[];
BEGIN
  IF current_setting('crm.import_checked', true) = 'on' THEN RETURN NULL; END IF;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO contact_changes (listing_id, change_type, contact_id, actor_key_prefix, actor_request_id)
    VALUES (NEW.listing_id, 'contact.created', NEW.contact_id, nullif(current_setting('crm.key_prefix', true), ''), nullif(current_setting('crm.request_id', true), ''));
  ELSIF TG_OP = 'UPDATE' AND NEW.listing_id IS DISTINCT FROM OLD.listing_id THEN
    -- Moved to another listing (plain SQL only): gone from the old one, new in the new one.
    INSERT INTO contact_changes (listing_id, change_type, contact_id, actor_key_prefix, actor_request_id)
    VALUES (OLD.listing_id, 'contact.deleted', OLD.contact_id, nullif(current_setting('crm.key_prefix', true), ''), nullif(current_setting('crm.request_id', true), '')),
           (NEW.listing_id, 'contact.created', NEW.contact_id, nullif(current_setting('crm.key_prefix', true), ''), nullif(current_setting('crm.request_id', true), ''));
  ELSIF TG_OP = 'UPDATE' THEN
    v_changed := array_remove(ARRAY[
               CASE WHEN NEW.contact_id IS DISTINCT FROM OLD.contact_id THEN 'contact_id' END,
               CASE WHEN NEW.unique_id IS DISTINCT FROM OLD.unique_id THEN 'unique_id' END,
               CASE WHEN NEW.first_name IS DISTINCT FROM OLD.first_name THEN 'first_name' END,
               CASE WHEN NEW.last_name IS DISTINCT FROM OLD.last_name THEN 'last_name' END,
               CASE WHEN NEW.email IS DISTINCT FROM OLD.email THEN 'email' END,
               CASE WHEN NEW.phone IS DISTINCT FROM OLD.phone THEN 'phone' END,
               CASE WHEN NEW.ip_address IS DISTINCT FROM OLD.ip_address THEN 'ip_address' END,
               CASE WHEN NEW.source IS DISTINCT FROM OLD.source THEN 'source' END,
               CASE WHEN NEW.status IS DISTINCT FROM OLD.status THEN 'status' END], NULL);
    IF cardinality(v_changed) = 0 THEN RETURN NULL; END IF;
    INSERT INTO contact_changes (listing_id, change_type, contact_id, changed, actor_key_prefix, actor_request_id)
    VALUES (NEW.listing_id, 'contact.updated', NEW.contact_id, v_changed, nullif(current_setting('crm.key_prefix', true), ''), nullif(current_setting('crm.request_id', true), ''));
  ELSE
    INSERT INTO contact_changes (listing_id, change_type, contact_id, actor_key_prefix, actor_request_id)
    VALUES (OLD.listing_id, 'contact.deleted', OLD.contact_id, nullif(current_setting('crm.key_prefix', true), ''), nullif(current_setting('crm.request_id', true), ''));
  END IF;
  RETURN NULL;
END $$;

-- The plan --------------------------------------------------------------------------------

-- What each staged row p_from … p_to of a job does, read against the listing as it is now:
--   tangled      an earlier row of the range has one of the row's keys: the row is applied
--                one by one, after the others (outcome NULL)
--   outcome      else what crm_api_create / crm_api_upsert would answer, with its contact_id
--                and parameter (the payload's string); NULL with code/message for a row the
--                service refused while staging
--   the values   for 'created' the contact's fields; for 'updated' the row's values and
--                set_* flags (applied as crm_contact_upsert does), the contact as the plan saw
--                it (target_*, old_*) and noop (the update changes no stored value).
-- Each check comes in the order the write meets it: on upsert, conflict and not_found first;
-- then the blacklist trigger (email before phone; on an update only values that change),
-- the CHECK constraints, the unique indexes (duplicate: the lowest other holder). Of the
-- CHECKs only contacts_email_or_phone depends on the listing (clearing the last contact
-- point); the others hold for every row the service validated, and a row that fails one
-- anyway makes the write raise, so that the chunk goes one by one (see the top).
-- Written for speed (about 10 µs a row on 2 cores) and for plans that stay linear whatever
-- the statistics say: each contact probe is an index lookup on its own (OFFSET 0 keeps it a
-- nested loop; the listing is a sub-select, so it is estimated as an average listing, not as
-- a new listing the statistics think empty, where a scan of the listing looks as cheap as
-- the unique index), each derived value is computed once per row (OFFSET 0 steps), and the
-- suppression hashes only when the listing has suppressions.
CREATE FUNCTION crm_import_plan(p_import_id bigint, p_listing_id bigint, p_mode text, p_client_ip inet,
                                p_from integer, p_to integer)
RETURNS TABLE (row_no integer, tangled boolean, outcome crm_api_outcome, contact_id bigint, parameter text,
               code text, message text,
               first_name text, last_name text, email text, phone text, ip_address inet,
               set_first_name boolean, set_last_name boolean, set_email boolean, set_phone boolean, set_ip boolean,
               target_listing_id bigint, target_ctid tid, old_first_name text, old_last_name text,
               old_email text, old_phone text, old_ip_address inet, noop boolean)
    LANGUAGE sql STABLE AS $$
    WITH r AS MATERIALIZED (
        -- The rows as the API functions would receive them: '' is NULL, given or not is set_*.
        SELECT s.row_no, s.error_code, s.error_parameter, s.error_message,
               CASE WHEN p_mode = 'upsert' THEN s.contact_id END AS id,
               nullif(s.first_name, '') AS f, nullif(s.last_name, '') AS l,
               nullif(s.email, '') AS e, lower(nullif(s.email, '')) AS le, nullif(s.phone, '') AS p,
               coalesce(nullif(s.ip_address, '')::inet, p_client_ip) AS ip,
               p_mode = 'upsert' AND s.first_name IS NOT NULL AS set_f,
               p_mode = 'upsert' AND s.last_name IS NOT NULL AS set_l,
               p_mode = 'upsert' AND s.email IS NOT NULL AS set_e,
               p_mode = 'upsert' AND s.phone IS NOT NULL AS set_p,
               p_mode = 'upsert' AND nullif(s.ip_address, '') IS NOT NULL AS set_ip
          FROM import_rows s
         WHERE s.import_id = p_import_id AND s.row_no BETWEEN p_from AND p_to),
    h AS MATERIALIZED (
        -- The contacts a row meets: the holders of its email (he) and phone (hp), and on upsert
        -- the contact it would update (t): by id, else the one holder (two: a conflict).
        SELECT r.*, he.contact_id AS he, hp.contact_id AS hp,
               t.contact_id AS t, t.first_name AS t_f, t.last_name AS t_l, t.email AS t_e, t.phone AS t_p,
               t.ip_address AS t_ip, t.listing_id AS t_listing, t.ctid AS t_ctid
          FROM r
          LEFT JOIN LATERAL (SELECT x.contact_id FROM contacts x
                              WHERE x.listing_id = (SELECT p_listing_id) AND lower(x.email) = r.le OFFSET 0) he ON true
          LEFT JOIN LATERAL (SELECT x.contact_id FROM contacts x
                              WHERE x.listing_id = (SELECT p_listing_id) AND x.phone = r.p OFFSET 0) hp ON true
          LEFT JOIN LATERAL (SELECT x.*, x.ctid FROM contacts x
                              WHERE p_mode = 'upsert' AND x.listing_id = (SELECT p_listing_id)
                                AND x.contact_id = coalesce(r.id, he.contact_id, hp.contact_id)
                                AND (r.id IS NOT NULL OR he.contact_id IS NULL OR hp.contact_id IS NULL
                                     OR he.contact_id = hp.contact_id)
                              OFFSET 0) t ON true
         WHERE r.error_code IS NULL),
    -- The keys rows of the range share (an email, a phone, on upsert a contact that rows meet:
    -- each row's contacts counted once), with the first row that has each.
    shared_e AS (SELECT h.le AS k, min(h.row_no) AS first FROM h WHERE h.le IS NOT NULL
                  GROUP BY h.le HAVING count(*) > 1),
    shared_p AS (SELECT h.p AS k, min(h.row_no) AS first FROM h WHERE h.p IS NOT NULL
                  GROUP BY h.p HAVING count(*) > 1),
    shared_c AS (
        SELECT u.c AS k, min(u.row_no) AS first
          FROM (SELECT h.row_no, h.id AS c FROM h WHERE h.id IS NOT NULL
                UNION ALL
                SELECT h.row_no, h.he FROM h WHERE h.he IS DISTINCT FROM h.id
                UNION ALL
                SELECT h.row_no, h.hp FROM h WHERE h.hp IS DISTINCT FROM h.id AND h.hp IS DISTINCT FROM h.he) u
         WHERE p_mode = 'upsert' AND u.c IS NOT NULL
         GROUP BY u.c HAVING count(*) > 1),
    m AS (
        -- Whether the row updates (is_update), and the values the contact would have after it.
        SELECT h.*,
               -- Tangled: an earlier row of the range has one of its keys (hashed look-ups:
               -- the key is shared, and this is not the key's first row).
               (h.le IN (SELECT k FROM shared_e) AND (h.le, h.row_no) NOT IN (SELECT k, first FROM shared_e)
                OR h.p IN (SELECT k FROM shared_p) AND (h.p, h.row_no) NOT IN (SELECT k, first FROM shared_p)
                OR h.id IN (SELECT k FROM shared_c) AND (h.id, h.row_no) NOT IN (SELECT k, first FROM shared_c)
                OR h.he IN (SELECT k FROM shared_c) AND (h.he, h.row_no) NOT IN (SELECT k, first FROM shared_c)
                OR h.hp IN (SELECT k FROM shared_c) AND (h.hp, h.row_no) NOT IN (SELECT k, first FROM shared_c))
               IS TRUE AS tangled,
               -- Whether the blacklist holds the row's email (the address, its domain, its hash)
               -- or phone (the digits, their hash): an index probe each, or one hash of the
               -- blacklist, as the planner finds cheaper. The hashes are computed only when the
               -- listing has suppressions (sha256 costs more than the rest of the plan).
               EXISTS (SELECT FROM blacklist_entries b
                        WHERE b.kind = 'email' AND b.value = h.le AND (b.listing_id IS NULL OR b.listing_id = p_listing_id))
               OR EXISTS (SELECT FROM blacklist_entries b
                           WHERE b.kind = 'domain' AND b.value = split_part(h.le, '@', 2)
                             AND (b.listing_id IS NULL OR b.listing_id = p_listing_id))
               OR EXISTS (SELECT FROM blacklist_entries b
                           WHERE b.kind = 'email-sha256' AND (b.listing_id IS NULL OR b.listing_id = p_listing_id))
                  AND EXISTS (SELECT FROM blacklist_entries b
                               WHERE b.kind = 'email-sha256' AND b.value = crm_suppression_hash(h.le)
                                 AND (b.listing_id IS NULL OR b.listing_id = p_listing_id)) AS email_bl,
               EXISTS (SELECT FROM blacklist_entries b
                        WHERE b.kind = 'phone' AND b.value = h.p AND (b.listing_id IS NULL OR b.listing_id = p_listing_id))
               OR EXISTS (SELECT FROM blacklist_entries b
                           WHERE b.kind = 'phone-sha256' AND (b.listing_id IS NULL OR b.listing_id = p_listing_id))
                  AND EXISTS (SELECT FROM blacklist_entries b
                               WHERE b.kind = 'phone-sha256' AND b.value = crm_suppression_hash(h.p)
                                 AND (b.listing_id IS NULL OR b.listing_id = p_listing_id)) AS phone_bl,
               p_mode = 'upsert' AND h.id IS NULL AND (h.he <> h.hp) IS TRUE AS conflict,
               p_mode = 'upsert' AND h.t IS NULL AND h.e IS NULL AND h.p IS NULL AS not_found,
               h.t IS NOT NULL AS is_update,
               CASE WHEN h.t IS NOT NULL AND NOT h.set_f THEN h.t_f ELSE h.f END AS new_f,
               CASE WHEN h.t IS NOT NULL AND NOT h.set_l THEN h.t_l ELSE h.l END AS new_l,
               CASE WHEN h.t IS NOT NULL AND NOT h.set_e THEN h.t_e ELSE h.e END AS new_e,
               CASE WHEN h.t IS NOT NULL AND NOT h.set_p THEN h.t_p ELSE h.p END AS new_p,
               CASE WHEN h.t IS NOT NULL AND NOT h.set_ip THEN h.t_ip ELSE h.ip END AS new_ip
          FROM h OFFSET 0),
    d AS (
        -- What would refuse the write, each in the order the write meets it.
        SELECT m.*,
               -- The trigger checks what an insert writes and what an update changes.
               CASE WHEN m.email_bl AND m.new_e IS NOT NULL
                         AND (NOT m.is_update OR lower(m.new_e) IS DISTINCT FROM lower(m.t_e)) THEN 'email'
                    WHEN m.phone_bl AND m.new_p IS NOT NULL
                         AND (NOT m.is_update OR m.new_p IS DISTINCT FROM m.t_p) THEN 'phone' END AS blacklisted,
               m.new_e IS NULL AND m.new_p IS NULL AS no_contact_point,
               -- The lowest other contact holding the email or phone the write gives.
               CASE WHEN m.is_update
                    THEN least(CASE WHEN m.he <> m.t THEN m.he END, CASE WHEN m.hp <> m.t THEN m.hp END)
                    ELSE least(m.he, m.hp) END AS holder
          FROM m OFFSET 0)
    SELECT d.row_no, d.tangled,
           CASE WHEN d.tangled THEN NULL
                WHEN d.conflict THEN 'conflict'
                WHEN d.not_found THEN 'not_found'
                WHEN d.blacklisted IS NOT NULL THEN 'blacklisted'
                WHEN d.no_contact_point AND d.is_update THEN 'last_contact_point'
                WHEN d.no_contact_point THEN 'invalid'
                WHEN d.holder IS NOT NULL THEN 'duplicate'
                WHEN d.is_update THEN 'updated'
                ELSE 'created' END::crm_api_outcome,
           CASE WHEN d.tangled OR d.not_found OR d.blacklisted IS NOT NULL THEN NULL
                WHEN d.conflict THEN least(d.he, d.hp)
                WHEN d.no_contact_point OR d.holder IS NULL THEN d.t   -- NULL when creating
                ELSE d.holder END,
           CASE WHEN d.tangled OR d.conflict OR d.not_found THEN NULL
                WHEN d.blacklisted IS NOT NULL THEN d.blacklisted
                WHEN d.no_contact_point AND d.is_update THEN CASE WHEN d.set_e THEN 'email' ELSE 'phone' END
                WHEN d.no_contact_point THEN crm_constraint_parameter('contacts_email_or_phone') END,
           NULL, NULL,
           d.f, d.l, d.e, d.p, d.ip, d.set_f, d.set_l, d.set_e, d.set_p, d.set_ip,
           d.t_listing, d.t_ctid, d.t_f, d.t_l, d.t_e, d.t_p, d.t_ip,
           d.is_update AND (d.new_f, d.new_l, d.new_e, d.new_p, d.new_ip)
                           IS NOT DISTINCT FROM (d.t_f, d.t_l, d.t_e, d.t_p, d.t_ip)
      FROM d
    UNION ALL
    SELECT r.row_no, false, NULL, NULL, r.error_parameter, r.error_code, r.error_message,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
      FROM r WHERE r.error_code IS NOT NULL
$$;

-- The step --------------------------------------------------------------------------------

-- Records what one row's write through crm_contact_create / crm_contact_upsert answered:
-- a rejection goes to import_errors. Returns the outcome.
CREATE FUNCTION crm_import_record(p_import_id bigint, p_row_no integer, p_outcome crm_api_outcome,
                                  p_contact_id bigint, p_payload json) RETURNS crm_api_outcome
    LANGUAGE plpgsql AS $$
BEGIN
    IF p_outcome NOT IN ('created', 'updated') THEN
        INSERT INTO import_errors (import_id, row_no, outcome, parameter, contact_id)
        VALUES (p_import_id, p_row_no, p_outcome,
                CASE WHEN p_outcome IN ('blacklisted', 'invalid', 'last_contact_point') THEN p_payload #>> '{}' END,
                p_contact_id);
    END IF;
    RETURN p_outcome;
END
$$;

-- Applies rows p_from … p_to of the job one by one, in row order (all of them, or only
-- `p_rows`), as the API would; returns (created, updated, rejected).
CREATE FUNCTION crm_import_one_by_one(j import_jobs, p_from integer, p_to integer, p_rows integer[],
                                      OUT created integer, OUT updated integer, OUT rejected integer)
    LANGUAGE plpgsql AS $$
DECLARE
    s import_rows;
    v_outcome crm_api_outcome;
BEGIN
    created := 0; updated := 0; rejected := 0;
    FOR s IN
        SELECT * FROM import_rows x
         WHERE x.import_id = j.import_id AND x.row_no BETWEEN p_from AND p_to
           AND (p_rows IS NULL OR x.row_no = ANY (p_rows))
         ORDER BY x.row_no
    LOOP
        IF s.error_code IS NOT NULL THEN
            INSERT INTO import_errors (import_id, row_no, parameter, code, message)
            VALUES (j.import_id, s.row_no, s.error_parameter, s.error_code, s.error_message);
            v_outcome := NULL;
        ELSIF j.mode = 'create' THEN
            SELECT crm_import_record(j.import_id, s.row_no, c.outcome, c.contact_id, c.payload) INTO v_outcome
              FROM crm_contact_create(j.listing_id, nullif(s.first_name, ''), nullif(s.last_name, ''),
                                      nullif(s.email, ''), nullif(s.phone, ''),
                                      coalesce(nullif(s.ip_address, '')::inet, j.client_ip)) c;
        ELSE
            SELECT crm_import_record(j.import_id, s.row_no, c.outcome, c.contact_id, c.payload) INTO v_outcome
              FROM crm_contact_upsert(j.listing_id, s.contact_id, nullif(s.first_name, ''), nullif(s.last_name, ''),
                                      nullif(s.email, ''), nullif(s.phone, ''),
                                      coalesce(nullif(s.ip_address, '')::inet, j.client_ip),
                                      s.first_name IS NOT NULL, s.last_name IS NOT NULL, s.email IS NOT NULL,
                                      s.phone IS NOT NULL, nullif(s.ip_address, '') IS NOT NULL) c;
        END IF;
        IF v_outcome = 'created' THEN
            created := created + 1;
        ELSIF v_outcome = 'updated' THEN
            updated := updated + 1;
        ELSE
            rejected := rejected + 1;
        END IF;
    END LOOP;
END
$$;

-- Applies the untangled rows of rows p_from … p_to of the job in one statement, planned against
-- one snapshot (crm_import_plan): one INSERT for the creates, one UPDATE for the updates that
-- change something, one INSERT for their change events, one INSERT for the rejections. Runs
-- while crm.import_checked is on (crm_import_step sets it): the blacklist and change-feed
-- triggers leave these rows to it. Returns what it wrote, what the plan expected, and the
-- tangled rows (for one by one).
--
-- The statement is planned afresh at every call (EXECUTE; planning takes about 4 ms), for the
-- table as it is: a plan cached while contacts was nearly empty probed each row's email with
-- a scan of the whole listing, which made the second chunk of a first import take 12 s instead
-- of 0.4 s (measured). Not `SET plan_cache_mode` on the function: that would re-plan every
-- row's trigger and foreign-key queries too (+25 %, measured).
CREATE FUNCTION crm_import_apply_planned(j import_jobs, p_from integer, p_to integer, p_max_tangled integer,
                                         OUT last integer,
                                         OUT created integer, OUT written integer, OUT rejected integer,
                                         OUT events integer, OUT planned_creates integer, OUT planned_writes integer,
                                         OUT noops integer, OUT tangled integer[])
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE $sql$
        WITH planned AS MATERIALIZED (
            SELECT * FROM crm_import_plan($1, $2, $3, $4, $5, $6)),
        cut AS (
            -- The range ends before the tangled row past the budget (rows before it never
            -- depend on it: a row is tangled by the rows before it only).
            SELECT coalesce((SELECT p.row_no - 1 FROM planned p WHERE p.tangled ORDER BY p.row_no OFFSET $7 LIMIT 1),
                            $6) AS last),
        plan AS MATERIALIZED (
            SELECT p.* FROM planned p WHERE p.row_no <= (SELECT c.last FROM cut c)),
        inserted AS (
            INSERT INTO contacts (listing_id, first_name, last_name, email, phone, ip_address)
            SELECT $2, p.first_name, p.last_name, p.email, p.phone, p.ip_address
              FROM plan p WHERE p.outcome = 'created'
             ORDER BY p.row_no
            RETURNING contacts.listing_id, contacts.contact_id),
        changed AS (
            -- As crm_contact_upsert writes it, on the contact as the plan saw it: one that
            -- another writer changed since (or deleted) is not written. Found by its row
            -- address, read in the same snapshot: whatever the statistics say, the join is a
            -- TID probe per row or one pass over contacts, never a pass over the listing per
            -- row (as a join on listing_id can be planned when they think the listing empty).
            UPDATE contacts x SET
                first_name = CASE WHEN p.set_first_name THEN p.first_name ELSE x.first_name END,
                last_name  = CASE WHEN p.set_last_name  THEN p.last_name  ELSE x.last_name  END,
                email      = CASE WHEN p.set_email      THEN p.email      ELSE x.email      END,
                phone      = CASE WHEN p.set_phone      THEN p.phone      ELSE x.phone      END,
                ip_address = CASE WHEN p.set_ip         THEN p.ip_address ELSE x.ip_address END
              FROM plan p
             WHERE p.outcome = 'updated' AND NOT p.noop AND x.ctid = p.target_ctid
               AND x.listing_id = p.target_listing_id AND x.contact_id = p.contact_id
               AND x.first_name IS NOT DISTINCT FROM p.old_first_name AND x.last_name IS NOT DISTINCT FROM p.old_last_name
               AND x.email IS NOT DISTINCT FROM p.old_email AND x.phone IS NOT DISTINCT FROM p.old_phone
               AND x.ip_address IS NOT DISTINCT FROM p.old_ip_address
            RETURNING x.listing_id, x.contact_id, array_remove(ARRAY[
                CASE WHEN x.first_name IS DISTINCT FROM p.old_first_name THEN 'first_name' END,
                CASE WHEN x.last_name IS DISTINCT FROM p.old_last_name THEN 'last_name' END,
                CASE WHEN x.email IS DISTINCT FROM p.old_email THEN 'email' END,
                CASE WHEN x.phone IS DISTINCT FROM p.old_phone THEN 'phone' END,
                CASE WHEN x.ip_address IS DISTINCT FROM p.old_ip_address THEN 'ip_address' END], NULL) AS changed),
        events AS (
            -- The change events 013's trigger would record (it records none for this statement):
            -- the old values are the plan's, which the UPDATE found unchanged.
            INSERT INTO contact_changes (listing_id, change_type, contact_id, changed, actor_key_prefix, actor_request_id)
            SELECT e.listing_id, e.change_type, e.contact_id, e.changed,
                   nullif(current_setting('crm.key_prefix', true), ''), nullif(current_setting('crm.request_id', true), '')
              FROM (SELECT i.listing_id, 'contact.created'::crm_change_type AS change_type, i.contact_id,
                           NULL::text[] AS changed
                      FROM inserted i
                    UNION ALL
                    SELECT c.listing_id, 'contact.updated', c.contact_id, c.changed
                      FROM changed c WHERE cardinality(c.changed) > 0) e
             ORDER BY e.contact_id
            RETURNING 1),
        refused AS (
            INSERT INTO import_errors (import_id, row_no, outcome, parameter, contact_id, code, message)
            SELECT $1, p.row_no, p.outcome, p.parameter, p.contact_id, p.code, p.message
              FROM plan p
             WHERE NOT p.tangled AND (p.outcome IS NULL OR p.outcome NOT IN ('created', 'updated'))
            RETURNING 1)
        SELECT (SELECT c.last FROM cut c),
               (SELECT count(*) FROM inserted), (SELECT count(*) FROM changed), (SELECT count(*) FROM refused),
               (SELECT count(*) FROM events),
               count(*) FILTER (WHERE p.outcome = 'created'),
               count(*) FILTER (WHERE p.outcome = 'updated' AND NOT p.noop),
               count(*) FILTER (WHERE p.outcome = 'updated' AND p.noop),
               array_agg(p.row_no ORDER BY p.row_no) FILTER (WHERE p.tangled)
          FROM plan p
    $sql$
    INTO last, created, written, rejected, events, planned_creates, planned_writes, noops, tangled
    USING j.import_id, j.listing_id, j.mode, j.client_ip, p_from, p_to, p_max_tangled;
END
$$;

-- One step of the oldest unfinished job (see the top): applies its next `p_chunk` rows and
-- returns the job with the rows it processed, or no row when no job is waiting (or every
-- waiting one is being worked on by another transaction). At most `p_max_tangled` rows go one
-- by one in a call: the chunk ends before the next one. One by one, each update of a contact
-- updated earlier in the same transaction reads past all its earlier versions (9,999 rows
-- updating one contact took 71 s in one call); across calls they are committed and pruned.
CREATE FUNCTION crm_import_step(p_chunk integer, p_max_tangled integer DEFAULT 1000)
RETURNS TABLE (import_id bigint, listing_id bigint, status text, applied integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    j import_jobs;
    v_from integer;
    v_to integer;
    v_created integer := 0;
    v_updated integer := 0;
    v_rejected integer := 0;
    a record;
    v_more record;
BEGIN
    IF p_chunk IS NULL OR p_chunk < 1 OR p_max_tangled IS NULL OR p_max_tangled < 1 THEN
        RAISE EXCEPTION 'chunk and max_tangled must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO j FROM import_jobs x
     WHERE x.status IN ('queued', 'running')
     ORDER BY x.import_id
     LIMIT 1
       FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- The change events' actor, as crm_actor sets it for an API write.
    PERFORM set_config('crm.key_prefix', coalesce(j.key_prefix, ''), true),
            set_config('crm.request_id', coalesce(j.request_id, ''), true);
    v_from := j.applied_through + 1;
    v_to := least(j.applied_through::bigint + p_chunk, j.rows)::integer;

    IF v_from <= v_to THEN
        BEGIN
            -- The untangled rows at once. For that one statement the blacklist and change-feed
            -- triggers leave the rows to it (it checked them, it records their events).
            PERFORM set_config('crm.import_checked', 'on', true);
            SELECT * INTO a FROM crm_import_apply_planned(j, v_from, v_to, p_max_tangled);
            PERFORM set_config('crm.import_checked', '', true);
            IF a.written <> a.planned_writes OR a.created <> a.planned_creates OR a.events <> a.created + a.written THEN
                RAISE EXCEPTION 'a contact changed since the plan read it' USING ERRCODE = 'CRMIS';
            END IF;
            v_to := a.last;
            v_created := a.created;
            v_updated := a.written + a.noops;
            v_rejected := a.rejected;
            -- Then the tangled rows, one by one in row order.
            IF a.tangled IS NOT NULL THEN
                SELECT * INTO v_more FROM crm_import_one_by_one(j, v_from, v_to, a.tangled);
                v_created := v_created + v_more.created;
                v_updated := v_updated + v_more.updated;
                v_rejected := v_rejected + v_more.rejected;
            END IF;
        EXCEPTION
            WHEN unique_violation OR check_violation OR SQLSTATE 'CRMBL' OR SQLSTATE 'CRMIS' THEN
                -- Another writer changed what the plan read (or a CHECK the plan leaves to the
                -- table refused a row): everything above is undone, and rows go one by one.
                v_to := least(v_to, v_from + p_max_tangled - 1);
                SELECT * INTO v_more FROM crm_import_one_by_one(j, v_from, v_to, NULL);
                v_created := v_more.created;
                v_updated := v_more.updated;
                v_rejected := v_more.rejected;
        END;
        DELETE FROM import_rows x WHERE x.import_id = j.import_id AND x.row_no BETWEEN v_from AND v_to;
    END IF;

    UPDATE import_jobs x SET
        applied_through = greatest(v_to, x.applied_through),
        created = x.created + v_created,
        updated = x.updated + v_updated,
        rejected = x.rejected + v_rejected,
        status = CASE WHEN v_to >= x.rows THEN 'completed' ELSE 'running' END,
        finished_at = CASE WHEN v_to >= x.rows THEN now() END
     WHERE x.import_id = j.import_id
    RETURNING x.* INTO j;
    IF j.status = 'completed' THEN
        DELETE FROM import_rows x WHERE x.import_id = j.import_id;  -- none left, unless miscounted
    END IF;
    RETURN QUERY SELECT j.import_id, j.listing_id, j.status, greatest(v_to - v_from + 1, 0);
END
$$;
