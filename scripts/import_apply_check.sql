-- import_apply_check.sql: proves sql/016_imports.sql (bulk import applied by crm_import_step).
--
-- Run against a freshly migrated scratch database (sql/001 … 016), as a superuser or owner:
--   psql -X -v ON_ERROR_STOP=1 -f scripts/import_apply_check.sql "postgresql://…/scratch"
-- It stops at the first failed ASSERT and ends with "import_apply_check: all checks passed".
--
-- The method. Listings are seeded alike (the same contacts, in the same order, before the
-- blacklist exists, so one of them holds an address blacklisted later). The same file is
-- staged as an import into one listing and applied with crm_import_step in many small
-- transactions, and applied row by row through crm_api_upsert / crm_api_create (what the
-- service does for PUT / POST) into a reference listing. Then:
--   * every row's outcome in the reference is the hand-written expectation (`expect`);
--   * the import's rejections (outcome, parameter, contact) and counts equal the reference's;
--   * the final contacts equal the reference's, contact ids aside;
--   * the change events equal the reference's (type and changed fields), with the job's actor.
-- The upsert file is applied three times: in chunks of 5 (tangled rows meet across chunks, one
-- call is rolled back midway), in one chunk (every tangled row in the same chunk), and with at
-- most 2 rows one by one a call. The create file in chunks of 7. A third file has rows the
-- plan does not refuse but a CHECK does, so its chunk falls back to one by one. Then: jobs in
-- order, a deleted listing's job, the blacklist trigger and the actor after a step; with
-- dblink (when installed): SKIP LOCKED between two sessions, a step that dies holding a job,
-- and a contact changed by another session between the plan and the write; last, the API
-- functions' key checks.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\pset tuples_only on
\pset format unaligned

-- Listings, keys, seeds, blacklist ------------------------------------------------------

-- 101/106/109 upsert imports, 102 their reference; 104 create import, 105 its reference;
-- 108 fallback import, 107 its reference; 103 holds a contact of another listing; 113 is
-- the reference, without seeds, of the jobs into 110 and 111 at the end.
INSERT INTO listings VALUES (101), (102), (103), (104), (105), (106), (107), (108), (109), (113);
INSERT INTO api_keys (key_hash, key_prefix, name, scopes)
VALUES (crm_hash_api_key('import-check-write'), 'crm_chkw', 'import check', '{read,write}'),
       (crm_hash_api_key('import-check-read'), 'crm_chkr', 'import check, read only', '{read}');
INSERT INTO api_key_grants (listing_id, key_id)
SELECT l, k.key_id FROM unnest(ARRAY[102, 105, 107, 113]) l CROSS JOIN api_keys k WHERE k.key_prefix IN ('crm_chkw', 'crm_chkr');

CREATE TEMP TABLE seed (ref text PRIMARY KEY, n int, first_name text, last_name text, email text, phone text, ip inet);
INSERT INTO seed VALUES
    ('S1', 1, 'Alice', 'A', 'alice@x.com', '15550000011', '10.0.0.1'),
    ('S2', 2, 'Bob', 'B', 'bob@x.com', NULL, '10.0.0.2'),
    ('S3', 3, 'Carol', 'C', NULL, '15550000013', NULL),
    ('S4', 4, 'Dan', 'D', 'dan@x.com', '15550000014', NULL),
    ('S5', 5, 'Eve', 'E', 'eve@x.com', '15550000015', '10.1.1.1'),
    ('S6', 6, 'Frank', 'F', 'frank@x.com', '15550000016', NULL),
    ('S7', 7, 'Grace', 'G', 'grace@x.com', '15550000017', NULL),
    ('S8', 8, 'Leg', 'Acy', 'legacy@spam.example', '15550000018', NULL),   -- blacklisted later
    ('S9', 9, 'Ivy', 'I', 'ivy@x.com', '15550000019', NULL),
    ('S10', 10, 'Jay', 'J', 'jay@x.com', '15550000020', NULL),
    ('S11', 11, 'Kim', 'K', NULL, '15550000021', NULL),
    ('S12', 12, 'Lou', 'L', 'lou@x.com', '15550000022', NULL),
    ('S13', 13, 'Max', 'M', 'max@x.com', '15550000023', NULL),
    ('S14', 14, 'Nia', 'N', 'nia@x.com', '15550000024', NULL),
    ('S15', 15, 'Oz', 'O', 'oz@x.com', '15550000025', NULL),
    ('S16', 16, 'Pat', 'P', 'pat@x.com', '15550000026', NULL),
    ('S17', 17, 'Quinn', 'Q', 'quinn@x.com', '15550000027', NULL),
    ('S18', 18, 'Rae', 'R', 'rae@x.com', '15550000028', NULL),
    ('S19', 19, 'Sam', 'S', 'sam@x.com', '15550000029', NULL),
    ('S20', 20, 'Tia', 'T', 'tia@x.com', NULL, '10.0.0.20');

CREATE TEMP TABLE seeded (listing_id bigint, ref text, contact_id bigint, PRIMARY KEY (listing_id, ref));
DO $$
DECLARE l bigint; s seed; v_id bigint;
BEGIN
    FOREACH l IN ARRAY ARRAY[101, 102, 104, 105, 106, 107, 108, 109] LOOP
        FOR s IN SELECT * FROM seed ORDER BY n LOOP
            INSERT INTO contacts (listing_id, first_name, last_name, email, phone, ip_address)
            VALUES (l, s.first_name, s.last_name, s.email, s.phone, s.ip) RETURNING contact_id INTO v_id;
            INSERT INTO seeded VALUES (l, s.ref, v_id);
        END LOOP;
    END LOOP;
    INSERT INTO contacts (listing_id, first_name, email) VALUES (103, 'Other', 'other@x.com') RETURNING contact_id INTO v_id;
    INSERT INTO seeded VALUES (103, 'OTHER', v_id);
END $$;

-- Global: an address and a domain. Per listing: a phone and two suppressions (012).
INSERT INTO blacklist_entries (listing_id, kind, value) VALUES (NULL, 'email', 'banned@x.com'), (NULL, 'domain', 'SPAM.example');
INSERT INTO blacklist_entries (listing_id, kind, value)
SELECT l, v.kind, v.value FROM unnest(ARRAY[101, 102, 104, 105, 106, 107, 108, 109]) l
 CROSS JOIN (VALUES ('phone', '555-000-0001'),
                    ('email-sha256', crm_suppression_hash('erased@x.com')),
                    ('phone-sha256', crm_suppression_hash('5550000002'))) v(kind, value);

-- The files ------------------------------------------------------------------------------

-- One staged row per line, as the service stages it: NULL = column absent, '' = given empty.
-- id_ref: a seed of the listing, OTHER (listing 103's contact) or a literal id.
-- expect: the reference outcome, [parameter], [contact: a seed, or #n = created by row n].
CREATE TEMP TABLE spec (
    file text, row_no int, id_ref text, first_name text, last_name text, email text, phone text,
    ip_address text, error_code text, error_parameter text, error_message text, expect text,
    PRIMARY KEY (file, row_no));

INSERT INTO spec (file, row_no, id_ref, first_name, last_name, email, phone, ip_address, expect) VALUES
    ('upsert', 1, NULL, 'New', 'One', 'new1@x.com', '15551000001', '192.0.2.1', 'created'),
    ('upsert', 2, NULL, NULL, 'Smith', 'ALICE@x.com', NULL, NULL, 'updated S1'),
    ('upsert', 3, NULL, 'Caroline', NULL, NULL, '15550000013', NULL, 'updated S3'),
    ('upsert', 4, NULL, NULL, NULL, 'bob@x.com', '15550000014', NULL, 'conflict S2'),
    ('upsert', 5, NULL, NULL, NULL, 'banned@x.com', NULL, NULL, 'blacklisted email'),
    ('upsert', 6, NULL, NULL, NULL, 'someone@SPAM.example', NULL, NULL, 'blacklisted email'),
    ('upsert', 7, NULL, NULL, NULL, 'ok7@x.com', '5550000001', NULL, 'blacklisted phone'),
    ('upsert', 8, NULL, NULL, NULL, 'banned@x.com', '5550000001', NULL, 'blacklisted email'),
    ('upsert', 9, NULL, NULL, NULL, 'Erased@x.com', NULL, NULL, 'blacklisted email'),
    ('upsert', 10, NULL, NULL, NULL, NULL, '5550000002', NULL, 'blacklisted phone'),
    ('upsert', 11, 'S5', '', NULL, NULL, NULL, NULL, 'updated S5'),
    ('upsert', 12, '999999999', 'Ghost', NULL, 'ghost@x.com', NULL, NULL, 'created'),
    ('upsert', 13, '999999998', 'Nobody', NULL, NULL, NULL, NULL, 'not_found'),
    ('upsert', 14, 'OTHER', NULL, NULL, 'other@x.com', NULL, NULL, 'created'),
    ('upsert', 15, 'S6', NULL, NULL, 'dan@x.com', NULL, NULL, 'duplicate S4'),
    ('upsert', 16, 'S2', NULL, NULL, '', NULL, NULL, 'last_contact_point email S2'),
    ('upsert', 17, NULL, 'First', NULL, 'dup@x.com', '15551000017', NULL, 'created'),
    ('upsert', 18, NULL, 'Second', NULL, 'DUP@x.com', NULL, NULL, 'updated #17'),
    ('upsert', 19, 'S7', NULL, NULL, 'grace2@x.com', NULL, NULL, 'updated S7'),
    ('upsert', 20, NULL, NULL, NULL, 'grace@x.com', '15551000020', NULL, 'created'),
    ('upsert', 21, 'S4', NULL, NULL, NULL, '15551000021', NULL, 'updated S4'),
    ('upsert', 22, 'S6', NULL, NULL, NULL, '15550000014', NULL, 'updated S6'),
    ('upsert', 23, NULL, NULL, NULL, 'eve@x.com', NULL, '192.168.0.23', 'updated S5'),
    ('upsert', 26, NULL, 'Frank', NULL, 'frank@x.com', NULL, NULL, 'updated S6'),
    ('upsert', 27, NULL, NULL, 'Fixed', 'LEGACY@spam.example', NULL, NULL, 'updated S8'),
    ('upsert', 28, NULL, NULL, NULL, 'chain@x.com', '15551000028', NULL, 'created'),
    ('upsert', 29, NULL, NULL, NULL, 'chain2@x.com', '15551000028', NULL, 'updated #28'),
    ('upsert', 30, NULL, 'Chain', NULL, 'chain@x.com', NULL, NULL, 'created'),
    ('upsert', 31, 'S1', NULL, NULL, NULL, '', NULL, 'updated S1'),
    ('upsert', 32, NULL, NULL, NULL, '', '15550000016', NULL, 'created'),
    ('upsert', 33, NULL, NULL, NULL, 'new1@x.com', '15551000033', NULL, 'updated #1'),
    ('upsert', 34, NULL, NULL, NULL, 'bob@x.com', '15551000034', NULL, 'updated S2'),
    ('upsert', 35, 'S3', NULL, NULL, 'eve@x.com', NULL, NULL, 'duplicate S5'),
    ('upsert', 36, 'S4', NULL, NULL, '', '', NULL, 'last_contact_point email S4'),
    ('upsert', 37, 'S3', NULL, NULL, NULL, '', NULL, 'last_contact_point phone S3'),
    ('upsert', 58, NULL, NULL, 'Newlast', 'ivy@x.com', NULL, '198.51.100.58', 'updated S9'),
    ('upsert', 59, 'S10', NULL, NULL, NULL, '', NULL, 'updated S10'),
    ('upsert', 60, 'S11', NULL, NULL, NULL, '', NULL, 'last_contact_point phone S11'),
    ('upsert', 61, 'S12', NULL, NULL, 'MAX@x.com', NULL, NULL, 'duplicate S13'),
    ('upsert', 62, NULL, NULL, NULL, 'nia@x.com', '15550000025', NULL, 'conflict S14'),
    ('upsert', 63, 'S16', NULL, NULL, 'pat@spam.example', NULL, NULL, 'blacklisted email'),
    ('upsert', 64, 'S16', NULL, NULL, NULL, '5550000001', NULL, 'blacklisted phone'),
    ('upsert', 65, '999999997', NULL, NULL, 'quinn@x.com', NULL, NULL, 'duplicate S17'),
    ('upsert', 66, NULL, NULL, NULL, 'rae@x.com', '', NULL, 'updated S18'),
    ('upsert', 67, NULL, 'Sam', NULL, 'sam@x.com', NULL, NULL, 'updated S19'),
    ('upsert', 68, NULL, NULL, NULL, 'tia@x.com', NULL, '10.0.0.20', 'updated S20'),
    ('upsert', 69, NULL, '', NULL, 'uma@x.com', '', NULL, 'created'),
    ('upsert', 70, '999999996', NULL, NULL, NULL, '15552999996', NULL, 'created'),
    ('upsert', 71, NULL, NULL, NULL, '', '15550000026', NULL, 'updated S16'),
    ('upsert', 72, 'S9', NULL, NULL, 'IVY@x.com', NULL, NULL, 'updated S9'),
    ('upsert', 73, NULL, 'Nia2', NULL, 'nia@x.com', '15550000024', NULL, 'updated S14');
-- Rows refused while staging (no data), and plain new contacts.
INSERT INTO spec (file, row_no, error_code, error_parameter, error_message, expect) VALUES
    ('upsert', 24, 'invalid_parameter', 'email', 'email must be a valid email address.', 'staged invalid_parameter'),
    ('upsert', 25, 'invalid_parameter', NULL, 'the record could not be read.', 'staged invalid_parameter');
INSERT INTO spec (file, row_no, first_name, last_name, email, phone, ip_address, expect)
SELECT 'upsert', g, 'Bulk' || g, 'Row', 'bulk' || g || '@x.com', (15552000000 + g)::text,
       CASE WHEN g % 2 = 0 THEN '2001:db8::' || g END, 'created'
  FROM generate_series(38, 57) g;

INSERT INTO spec (file, row_no, id_ref, first_name, last_name, email, phone, ip_address, expect) VALUES
    ('create', 1, NULL, 'C', 'One', 'c1@x.com', '15553000001', '192.0.2.101', 'created'),
    ('create', 2, NULL, NULL, NULL, 'ALICE@x.com', NULL, NULL, 'duplicate S1'),
    ('create', 3, NULL, NULL, NULL, NULL, '15550000014', NULL, 'duplicate S4'),
    ('create', 4, NULL, NULL, NULL, 'bob@x.com', '15550000013', NULL, 'duplicate S2'),
    ('create', 5, NULL, NULL, NULL, 'banned@x.com', NULL, NULL, 'blacklisted email'),
    ('create', 6, NULL, NULL, NULL, NULL, '5550000001', NULL, 'blacklisted phone'),
    ('create', 7, NULL, NULL, NULL, 'Erased@x.com', '5550000002', NULL, 'blacklisted email'),
    ('create', 8, NULL, 'Eight', NULL, 'c8@x.com', '15553000008', NULL, 'created'),
    ('create', 9, NULL, NULL, NULL, 'C8@x.com', '15553000009', NULL, 'duplicate #8'),
    ('create', 10, NULL, NULL, NULL, 'c10@x.com', '15553000008', NULL, 'duplicate #8'),
    ('create', 11, NULL, '', 'Blank', '', '15553000011', NULL, 'created'),
    ('create', 12, 'S1', NULL, NULL, 'c12@x.com', NULL, NULL, 'created'),
    ('create', 14, NULL, 'NoContact', NULL, NULL, NULL, NULL, 'invalid email'),
    ('create', 15, NULL, NULL, NULL, 'c15@x.com', NULL, NULL, 'created'),
    ('create', 16, NULL, NULL, NULL, 'someone@spam.example', '15550000011', NULL, 'blacklisted email'),
    ('create', 17, NULL, NULL, NULL, 'alice@x.com', '5550000001', NULL, 'blacklisted phone'),
    ('create', 18, NULL, NULL, NULL, 'c8@x.com', NULL, NULL, 'duplicate #8'),
    ('create', 19, NULL, NULL, NULL, 'c19@x.com', '15553000019', '', 'created'),
    ('create', 20, NULL, NULL, NULL, 'c20@x.com', '15553000001', NULL, 'duplicate #1');
INSERT INTO spec (file, row_no, error_code, error_parameter, error_message, expect) VALUES
    ('create', 13, 'invalid_parameter', 'phone', 'phone must have 7 to 15 digits.', 'staged invalid_parameter');
INSERT INTO spec (file, row_no, first_name, email, phone, expect)
SELECT 'create', g, 'Bulk' || g, 'cbulk' || g || '@x.com', (15554000000 + g)::text, 'created'
  FROM generate_series(21, 40) g;

-- Values the service would have refused: the plan leaves them to the CHECKs, which refuse them
-- in the set-based statement, so the chunk goes one by one.
INSERT INTO spec (file, row_no, id_ref, first_name, last_name, email, phone, expect) VALUES
    ('fallback', 1, NULL, 'F', NULL, 'f1@x.com', NULL, 'created'),
    ('fallback', 2, NULL, E'Bad\tName', NULL, 'alice@x.com', NULL, 'invalid first_name S1'),
    ('fallback', 3, NULL, NULL, repeat('x', 101), 'f3@x.com', NULL, 'invalid last_name'),
    ('fallback', 4, NULL, NULL, 'Fallback', 'bob@x.com', NULL, 'updated S2'),
    ('fallback', 5, NULL, NULL, NULL, 'f1@x.com', '15555000005', 'updated #1');

-- Helpers -------------------------------------------------------------------------------

CREATE FUNCTION pg_temp.id_of(p_listing bigint, p_ref text) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_ref ~ '^[0-9]+$' THEN p_ref::bigint
                WHEN p_ref = 'OTHER' THEN (SELECT contact_id FROM seeded WHERE listing_id = 103)
                ELSE (SELECT contact_id FROM seeded WHERE listing_id = p_listing AND ref = p_ref) END
$$;

-- Stages a file as a job (queued), as the service's upload does, and names it. Returns the
-- import id (pg_temp.job(name) finds it again: psql variables do not reach into DO blocks).
CREATE TEMP TABLE jobs (name text PRIMARY KEY, import_id bigint);
CREATE FUNCTION pg_temp.job(p_name text) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT import_id FROM jobs WHERE name = p_name
$$;
CREATE FUNCTION pg_temp.stage(p_name text, p_file text, p_listing bigint, p_mode text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE v_id bigint;
BEGIN
    ASSERT (SELECT max(row_no) = count(*) FROM spec WHERE file = p_file), 'row numbers of ' || p_file || ' are not 1 … n';
    INSERT INTO import_jobs (listing_id, mode, key_prefix, request_id, client_ip)
    VALUES (p_listing, p_mode, 'crm_chkw', 'req-' || p_file || '-' || p_listing, '203.0.113.9')
    RETURNING import_id INTO v_id;
    INSERT INTO import_rows (import_id, row_no, contact_id, first_name, last_name, email, phone, ip_address,
                             error_code, error_parameter, error_message)
    SELECT v_id, s.row_no, pg_temp.id_of(p_listing, s.id_ref), s.first_name, s.last_name, s.email, s.phone,
           s.ip_address, s.error_code, s.error_parameter, s.error_message
      FROM spec s WHERE s.file = p_file;
    UPDATE import_jobs SET rows = (SELECT count(*) FROM spec WHERE file = p_file) WHERE import_id = v_id;
    INSERT INTO jobs VALUES (p_name, v_id);
    RETURN v_id;
END $$;

-- The reference: each row through the API's functions, in row order (what POST / PUT do
-- with the row's values: '' is absent on POST, a cleared field on PUT).
CREATE TEMP TABLE ref (file text, listing_id bigint, row_no int, outcome crm_api_outcome, parameter text,
                       contact_id bigint, code text, PRIMARY KEY (listing_id, row_no));
CREATE FUNCTION pg_temp.replay(p_file text, p_listing bigint, p_mode text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE s spec; r record;
BEGIN
    FOR s IN SELECT * FROM spec WHERE file = p_file ORDER BY row_no LOOP
        IF s.error_code IS NOT NULL THEN
            INSERT INTO ref VALUES (p_file, p_listing, s.row_no, NULL, s.error_parameter, NULL, s.error_code);
            CONTINUE;
        END IF;
        IF p_mode = 'create' THEN
            SELECT * INTO r FROM crm_api_create(crm_hash_api_key('import-check-write'), p_listing,
                nullif(s.first_name, ''), nullif(s.last_name, ''), nullif(s.email, ''), nullif(s.phone, ''),
                coalesce(nullif(s.ip_address, '')::inet, '203.0.113.9'));
        ELSE
            SELECT * INTO r FROM crm_api_upsert(crm_hash_api_key('import-check-write'), p_listing,
                pg_temp.id_of(p_listing, s.id_ref),
                nullif(s.first_name, ''), nullif(s.last_name, ''), nullif(s.email, ''), nullif(s.phone, ''),
                coalesce(nullif(s.ip_address, '')::inet, '203.0.113.9'),
                s.first_name IS NOT NULL, s.last_name IS NOT NULL, s.email IS NOT NULL, s.phone IS NOT NULL,
                nullif(s.ip_address, '') IS NOT NULL);
        END IF;
        INSERT INTO ref VALUES (p_file, p_listing, s.row_no, r.outcome,
            CASE WHEN r.outcome IN ('blacklisted', 'invalid', 'last_contact_point') THEN r.payload #>> '{}' END,
            r.contact_id, NULL);
    END LOOP;
END $$;

-- A contact of a listing named as `expect` names it: its seed, or #n for the row that created it.
CREATE FUNCTION pg_temp.ref_name(p_listing bigint, p_contact bigint) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT ref FROM seeded WHERE listing_id = p_listing AND contact_id = p_contact),
                    (SELECT '#' || row_no FROM ref WHERE listing_id = p_listing AND contact_id = p_contact
                        AND outcome = 'created'),
                    '?' || p_contact)
$$;

-- A contact's identity across listings: its final email and phone (unique in a listing).
CREATE FUNCTION pg_temp.identity(p_listing bigint, p_contact bigint) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(lower(c.email), '-') || '|' || coalesce(c.phone, '-')
      FROM contacts c WHERE c.listing_id = p_listing AND c.contact_id = p_contact
$$;

-- Asserts that import p_import into p_listing ended as the reference p_ref_listing.
CREATE FUNCTION pg_temp.assert_same(p_name text, p_listing bigint, p_ref_listing bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE j import_jobs; p_import bigint := pg_temp.job(p_name); v_diff text; v_n bigint; v_seeds bigint;
BEGIN
    SELECT * INTO j FROM import_jobs WHERE import_id = p_import;
    ASSERT j.status = 'completed' AND j.finished_at IS NOT NULL AND j.applied_through = j.rows,
        format('job %s not completed: %s', p_import, row_to_json(j));
    ASSERT NOT EXISTS (SELECT FROM import_rows WHERE import_id = p_import), 'staged rows left';
    ASSERT j.created = (SELECT count(*) FROM ref WHERE listing_id = p_ref_listing AND outcome = 'created')
       AND j.updated = (SELECT count(*) FROM ref WHERE listing_id = p_ref_listing AND outcome = 'updated')
       AND j.rejected = (SELECT count(*) FROM ref WHERE listing_id = p_ref_listing
                                                     AND outcome IS DISTINCT FROM 'created'
                                                     AND outcome IS DISTINCT FROM 'updated'),
        format('counts %s/%s/%s differ from the reference', j.created, j.updated, j.rejected);
    -- Rejections: the same rows, outcomes, parameters, codes and contacts.
    SELECT string_agg(format('%s', d), '; ') INTO v_diff FROM (
        (SELECT e.row_no, e.outcome, e.parameter, e.code, pg_temp.identity(p_listing, e.contact_id) AS who
           FROM import_errors e WHERE e.import_id = p_import
         EXCEPT ALL
         SELECT r.row_no, r.outcome, r.parameter, r.code, pg_temp.identity(p_ref_listing, r.contact_id)
           FROM ref r WHERE r.listing_id = p_ref_listing AND r.outcome IS DISTINCT FROM 'created'
                        AND r.outcome IS DISTINCT FROM 'updated')
        UNION ALL
        (SELECT r.row_no, r.outcome, r.parameter, r.code, pg_temp.identity(p_ref_listing, r.contact_id)
           FROM ref r WHERE r.listing_id = p_ref_listing AND r.outcome IS DISTINCT FROM 'created'
                        AND r.outcome IS DISTINCT FROM 'updated'
         EXCEPT ALL
         SELECT e.row_no, e.outcome, e.parameter, e.code, pg_temp.identity(p_listing, e.contact_id)
           FROM import_errors e WHERE e.import_id = p_import)) d;
    ASSERT v_diff IS NULL, 'rejections differ from the reference: ' || v_diff;
    -- Staging errors copied as they were.
    ASSERT (SELECT count(*) FROM import_errors e JOIN spec s ON s.row_no = e.row_no
             WHERE e.import_id = p_import AND s.file = (SELECT file FROM ref WHERE listing_id = p_ref_listing LIMIT 1)
               AND s.error_code IS NOT NULL AND e.outcome IS NULL AND e.contact_id IS NULL
               AND e.code = s.error_code AND e.parameter IS NOT DISTINCT FROM s.error_parameter
               AND e.message = s.error_message)
         = (SELECT count(*) FROM ref WHERE listing_id = p_ref_listing AND code IS NOT NULL), 'staging errors';
    -- The final contacts, ids, unique ids and timestamps aside.
    SELECT string_agg(format('%s', d), '; ') INTO v_diff FROM (
        (SELECT first_name, last_name, email, phone, ip_address, source, status FROM contacts WHERE listing_id = p_listing
         EXCEPT ALL
         SELECT first_name, last_name, email, phone, ip_address, source, status FROM contacts WHERE listing_id = p_ref_listing)
        UNION ALL
        (SELECT first_name, last_name, email, phone, ip_address, source, status FROM contacts WHERE listing_id = p_ref_listing
         EXCEPT ALL
         SELECT first_name, last_name, email, phone, ip_address, source, status FROM contacts WHERE listing_id = p_listing)) d;
    ASSERT v_diff IS NULL, 'contacts differ from the reference: ' || v_diff;
    -- The change events: the same types and changed fields; the import's carry the job's actor.
    SELECT string_agg(format('%s', d), '; ') INTO v_diff FROM (
        (SELECT change_type, changed FROM contact_changes WHERE listing_id = p_listing
         EXCEPT ALL SELECT change_type, changed FROM contact_changes WHERE listing_id = p_ref_listing)
        UNION ALL
        (SELECT change_type, changed FROM contact_changes WHERE listing_id = p_ref_listing
         EXCEPT ALL SELECT change_type, changed FROM contact_changes WHERE listing_id = p_listing)) d;
    ASSERT v_diff IS NULL, 'change events differ from the reference: ' || v_diff;
    SELECT count(*) INTO v_n FROM contact_changes
     WHERE listing_id = p_listing AND (actor_key_prefix IS DISTINCT FROM j.key_prefix
                                      OR actor_request_id IS DISTINCT FROM j.request_id);
    SELECT count(*) INTO v_seeds FROM seeded WHERE listing_id = p_listing;
    ASSERT v_n = v_seeds, format('%s events without the job''s actor', v_n - v_seeds);
END $$;

-- The reference listings -----------------------------------------------------------------

SELECT pg_temp.replay('upsert', 102, 'upsert');
SELECT pg_temp.replay('create', 105, 'create');
SELECT pg_temp.replay('fallback', 107, 'upsert');
SELECT pg_temp.replay('create', 113, 'create');

-- Each reference row did what the file's author expects.
DO $$
DECLARE v_diff text;
BEGIN
    SELECT string_agg(format('%s row %s: %s, expected %s', s.file, s.row_no, x.got, s.expect), '; ' ORDER BY s.file, s.row_no)
      INTO v_diff
      FROM spec s
      JOIN ref r ON r.file = s.file AND r.row_no = s.row_no AND r.listing_id <> 113
     CROSS JOIN LATERAL (SELECT CASE
                WHEN r.code IS NOT NULL THEN 'staged ' || r.code
                WHEN r.outcome = 'created' THEN 'created'
                ELSE concat_ws(' ', r.outcome::text, r.parameter,
                               CASE WHEN r.contact_id IS NOT NULL THEN pg_temp.ref_name(r.listing_id, r.contact_id) END)
                END AS got) x
     WHERE x.got IS DISTINCT FROM s.expect;
    ASSERT v_diff IS NULL, v_diff;
    ASSERT (SELECT count(*) FROM ref WHERE listing_id <> 113) = (SELECT count(*) FROM spec), 'a row was not replayed';
END $$;

-- The upsert file in chunks of 5, one call rolled back -----------------------------------

SELECT pg_temp.stage('upsert', 'upsert', 101, 'upsert') AS upsert_job \gset
DO $$
BEGIN
    ASSERT (SELECT status FROM import_jobs WHERE import_id = pg_temp.job('upsert')) = 'queued';
END $$;

SELECT status, applied FROM crm_import_step(5);
CREATE TEMP TABLE after_first AS
SELECT (SELECT count(*) FROM contacts WHERE listing_id = 101) AS contacts,
       (SELECT count(*) FROM contact_changes WHERE listing_id = 101) AS events,
       (SELECT count(*) FROM import_errors WHERE import_id = :upsert_job) AS errors,
       (SELECT row_to_json(j)::text FROM import_jobs j WHERE import_id = :upsert_job) AS job;
DO $$
DECLARE j import_jobs;
BEGIN
    SELECT * INTO j FROM import_jobs WHERE import_id = pg_temp.job('upsert');
    ASSERT j.status = 'running' AND j.applied_through = 5 AND j.finished_at IS NULL, row_to_json(j)::text;
    ASSERT j.created + j.updated + j.rejected = 5;
    ASSERT NOT EXISTS (SELECT FROM import_rows WHERE import_id = j.import_id AND row_no <= 5), 'applied rows still staged';
    ASSERT (SELECT count(*) FROM import_rows WHERE import_id = j.import_id) = j.rows - 5;
END $$;

-- A crash in the middle of a step: its transaction rolls back, nothing of it remains.
BEGIN;
SELECT status, applied FROM crm_import_step(5);
ROLLBACK;
DO $$
BEGIN
    ASSERT (SELECT (SELECT count(*) FROM contacts WHERE listing_id = 101) = a.contacts
               AND (SELECT count(*) FROM contact_changes WHERE listing_id = 101) = a.events
               AND (SELECT count(*) FROM import_errors WHERE import_id = pg_temp.job('upsert')) = a.errors
               AND (SELECT row_to_json(j)::text FROM import_jobs j WHERE import_id = pg_temp.job('upsert')) = a.job
              FROM after_first a), 'a rolled-back step left something';
END $$;

-- The rest, one transaction per call (autocommit), until no job is left.
\o /dev/null
SELECT 'SELECT * FROM crm_import_step(5)' FROM generate_series(1, 20) \gexec
\o
SELECT pg_temp.assert_same('upsert', 101, 102);

-- The same file in one chunk: every tangled row meets its partners in the same call.
SELECT pg_temp.stage('upsert in one chunk', 'upsert', 106, 'upsert');
SELECT status, applied FROM crm_import_step(1000);
SELECT pg_temp.assert_same('upsert in one chunk', 106, 102);

-- And with at most 2 rows one by one per call: a call ends before its third tangled row.
SELECT pg_temp.stage('upsert, 2 tangled a call', 'upsert', 109, 'upsert');
CREATE TEMP TABLE calls AS SELECT 0 AS n, 0 AS applied LIMIT 0;
\o /dev/null
SELECT 'INSERT INTO calls SELECT ' || g || ', applied FROM crm_import_step(1000, 2)' FROM generate_series(1, 40) g \gexec
\o
SELECT pg_temp.assert_same('upsert, 2 tangled a call', 109, 102);
DO $$
BEGIN
    -- More than one call (a one-chunk call would have taken every row), all rows once.
    ASSERT (SELECT count(*) > 3 AND sum(applied) = 73 FROM calls), (SELECT string_agg(applied::text, ',') FROM calls);
END $$;

-- The create file, in chunks of 7 -----------------------------------------------------------

SELECT pg_temp.stage('create', 'create', 104, 'create');
\o /dev/null
SELECT 'SELECT * FROM crm_import_step(7)' FROM generate_series(1, 10) \gexec
\o
SELECT pg_temp.assert_same('create', 104, 105);
DO $$
BEGIN
    -- A row without ip_address records the uploader's address (job.client_ip), as a POST does.
    ASSERT (SELECT ip_address FROM contacts WHERE listing_id = 104 AND email = 'c15@x.com') = '203.0.113.9';
    ASSERT (SELECT ip_address FROM contacts WHERE listing_id = 104 AND email = 'c1@x.com') = '192.0.2.101';
    -- '' on create is absent.
    ASSERT (SELECT first_name IS NULL AND email IS NULL FROM contacts WHERE listing_id = 104 AND phone = '15553000011');
END $$;

-- The fallback file: a CHECK refuses a row inside the set-based statement ------------------

SELECT pg_temp.stage('fallback', 'fallback', 108, 'upsert');
SELECT status, applied FROM crm_import_step(100);
SELECT pg_temp.assert_same('fallback', 108, 107);

-- Explicit outcomes of the upsert import (beyond "as the reference") -----------------------

DO $$
DECLARE v_s5 contacts; v_s6 contacts; v_s8 contacts;
BEGIN
    SELECT * INTO v_s5 FROM contacts WHERE contact_id = pg_temp.id_of(101, 'S5');
    ASSERT v_s5.first_name IS NULL AND v_s5.ip_address = '192.168.0.23', 'S5: first cleared, ip given';
    SELECT * INTO v_s6 FROM contacts WHERE contact_id = pg_temp.id_of(101, 'S6');
    ASSERT v_s6.email = 'frank@x.com' AND v_s6.phone = '15550000014', 'S6 took the phone S4 freed';
    SELECT * INTO v_s8 FROM contacts WHERE contact_id = pg_temp.id_of(101, 'S8');
    ASSERT v_s8.email = 'LEGACY@spam.example' AND v_s8.last_name = 'Fixed', 'unchanged blacklisted address kept';
    ASSERT (SELECT first_name FROM contacts WHERE listing_id = 101 AND lower(email) = 'dup@x.com') = 'Second';
    ASSERT (SELECT count(*) FROM contacts WHERE listing_id = 101 AND email IN ('chain@x.com', 'chain2@x.com')) = 2;
    ASSERT (SELECT ip_address FROM contacts WHERE listing_id = 101 AND email = 'uma@x.com') = '203.0.113.9';
    -- Rows that change nothing record no event (Sam, Tia).
    ASSERT NOT EXISTS (SELECT FROM contact_changes WHERE listing_id = 101 AND change_type = 'contact.updated'
                        AND contact_id IN (pg_temp.id_of(101, 'S19'), pg_temp.id_of(101, 'S20')));
    -- Another listing's contact is untouched.
    ASSERT (SELECT count(*) FROM contacts WHERE listing_id = 103) = 1;
    ASSERT (SELECT count(*) FROM contact_changes WHERE listing_id = 103) = 1;
END $$;

-- Jobs are taken oldest first; a deleted listing's job vanishes --------------------------

INSERT INTO listings VALUES (110), (111), (112);
SELECT pg_temp.stage('a', 'create', 110, 'create');
SELECT pg_temp.stage('b', 'create', 111, 'create');
SELECT pg_temp.stage('c', 'create', 112, 'create');
DELETE FROM listings WHERE listing_id = 112;
DO $$
DECLARE s record;
BEGIN
    ASSERT NOT EXISTS (SELECT FROM import_jobs WHERE import_id = pg_temp.job('c')), 'job of a deleted listing';
    ASSERT NOT EXISTS (SELECT FROM import_rows WHERE import_id = pg_temp.job('c')), 'rows of a deleted listing';
    SELECT * INTO s FROM crm_import_step(10);
    ASSERT s.import_id = pg_temp.job('a') AND s.listing_id = 110 AND s.status = 'running' AND s.applied = 10,
        row_to_json(s)::text;
    -- The blacklist trigger works again once the set-based statement is done, in the same transaction.
    ASSERT current_setting('crm.import_checked', true) IS DISTINCT FROM 'on';
    BEGIN
        INSERT INTO contacts (listing_id, email) VALUES (110, 'banned@x.com');
        ASSERT false, 'a blacklisted address was written after a step';
    EXCEPTION WHEN SQLSTATE 'CRMBL' THEN NULL;
    END;
    -- The actor settings are the job's, for this transaction only.
    ASSERT current_setting('crm.key_prefix') = 'crm_chkw' AND current_setting('crm.request_id') = 'req-create-110';
END $$;
DO $$
BEGIN
    ASSERT coalesce(current_setting('crm.key_prefix', true), '') = '', 'the actor outlived the step''s transaction';
END $$;

-- Two sessions: SKIP LOCKED, and a step that dies holding a job --------------------------

SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'dblink')
       AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS have_dblink \gset
\if :have_dblink
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s user=%s', current_database(), current_setting('port'),
                                      btrim(split_part(current_setting('unix_socket_directories'), ',', 1), ' "'),
                                      current_user));
-- The other session starts a step on the oldest job (a) and keeps its transaction open.
SELECT dblink_exec('other', 'BEGIN');
SELECT * FROM dblink('other', 'SELECT import_id, applied FROM crm_import_step(10)') AS t(import_id bigint, applied integer);
DO $$
DECLARE s record;
BEGIN
    -- This session skips the locked job and works on the next.
    SELECT * INTO s FROM crm_import_step(1000);
    ASSERT s.import_id = pg_temp.job('b') AND s.status = 'completed', row_to_json(s)::text;
END $$;
-- The other session dies: its transaction rolls back, and the job goes on where it stood.
SELECT dblink_exec('other', 'ROLLBACK');
DO $$
DECLARE s record;
BEGIN
    ASSERT (SELECT applied_through FROM import_jobs WHERE import_id = pg_temp.job('a')) = 10;
    SELECT * INTO s FROM crm_import_step(1000);
    ASSERT s.import_id = pg_temp.job('a') AND s.status = 'completed'
       AND s.applied = (SELECT count(*) FROM spec WHERE file = 'create') - 10, row_to_json(s)::text;
END $$;

-- A contact changes under a step: the plan reads it before the change commits, the UPDATE
-- waits for the change and then finds the contact's email changed, and the chunk goes one by
-- one, as after the change: the row's address is nobody's now, so it is a new contact.
INSERT INTO listings VALUES (114);
INSERT INTO contacts (listing_id, first_name, email, phone) VALUES (114, 'Vic', 'vic@x.com', '15556000001');
INSERT INTO spec (file, row_no, last_name, email, phone, expect) VALUES
    ('race', 1, 'Raced', 'vic@x.com', NULL, 'created'),
    ('race', 2, NULL, 'race2@x.com', '15556000002', 'created');
SELECT pg_temp.stage('race', 'race', 114, 'upsert');
SELECT set_config('chk.other_pid', pid::text, false) FROM dblink('other', 'SELECT pg_backend_pid()') AS t(pid integer);
BEGIN;
UPDATE contacts SET email = 'vic2@x.com' WHERE listing_id = 114 AND email = 'vic@x.com';
SELECT dblink_send_query('other', 'SELECT status FROM crm_import_step(100)');
DO $$
BEGIN
    FOR i IN 1 .. 500 LOOP
        EXIT WHEN cardinality(pg_blocking_pids(current_setting('chk.other_pid')::integer)) > 0;
        PERFORM pg_sleep(0.01);
    END LOOP;
    ASSERT cardinality(pg_blocking_pids(current_setting('chk.other_pid')::integer)) > 0, 'the step did not wait';
END $$;
COMMIT;
SELECT * FROM dblink_get_result('other') AS t(status text);
SELECT dblink_disconnect('other');
DO $$
DECLARE j import_jobs;
BEGIN
    SELECT * INTO j FROM import_jobs WHERE import_id = pg_temp.job('race');
    ASSERT j.status = 'completed' AND (j.created, j.updated, j.rejected) = (2, 0, 0), row_to_json(j)::text;
    ASSERT (SELECT last_name IS NULL FROM contacts WHERE listing_id = 114 AND email = 'vic2@x.com');
    ASSERT (SELECT last_name = 'Raced' AND phone IS NULL FROM contacts WHERE listing_id = 114 AND email = 'vic@x.com');
    ASSERT (SELECT count(*) FROM contacts WHERE listing_id = 114) = 3;
END $$;
\else
\echo 'dblink not available: the two-session checks are skipped'
SELECT status, applied FROM crm_import_step(1000);
SELECT status, applied FROM crm_import_step(1000);
\endif
DO $$
BEGIN
    ASSERT NOT EXISTS (SELECT FROM crm_import_step(1000)), 'a job left';
END $$;
SELECT pg_temp.assert_same('a', 110, 113);
SELECT pg_temp.assert_same('b', 111, 113);

-- The API functions keep their key checks (016 split them) --------------------------------

DO $$
BEGIN
    ASSERT (SELECT outcome FROM crm_api_create(crm_hash_api_key('import-check-read'), 102, 'A', NULL, 'ro@x.com', NULL, NULL)) = 'forbidden';
    ASSERT (SELECT outcome FROM crm_api_create(crm_hash_api_key('import-check-write'), 101, 'A', NULL, 'ro@x.com', NULL, NULL)) = 'forbidden';
    ASSERT (SELECT outcome FROM crm_api_upsert(crm_hash_api_key('import-check-read'), 102, NULL, 'A', NULL, 'ro@x.com', NULL, NULL,
                                                true, false, true, false, false)) = 'forbidden';
    ASSERT (SELECT outcome FROM crm_api_upsert(crm_hash_api_key('nobody'), 102, NULL, 'A', NULL, 'ro@x.com', NULL, NULL,
                                                true, false, true, false, false)) = 'forbidden';
    ASSERT (SELECT (outcome, contact_id) = ('duplicate', pg_temp.id_of(102, 'S9'))
              FROM crm_api_create(crm_hash_api_key('import-check-write'), 102, NULL, NULL, 'IVY@x.com', NULL, NULL));
    ASSERT (SELECT outcome = 'created' AND payload ->> 'contact_email' = 'api@x.com'
              FROM crm_api_create(crm_hash_api_key('import-check-write'), 102, NULL, NULL, 'api@x.com', NULL, '192.0.2.200'));
    ASSERT (SELECT outcome = 'updated' AND payload ->> 'contact_first_name' = 'Api'
              FROM crm_api_upsert(crm_hash_api_key('import-check-write'), 102, NULL, 'Api', NULL, 'api@x.com', NULL,
                                  '192.0.2.200', true, false, true, false, false));
END $$;

\echo 'import_apply_check: all checks passed'
