-- 018: every tenant-owned table keyed by its listing, so that the schema can be distributed by
-- `listing_id` on a Citus cluster (API.md §14, sql/citus/distribute.sql), and the functions
-- written so that each runs on the node holding its listing's rows. On plain PostgreSQL
-- nothing changes in what the API answers; Citus is a deployment mode, never a requirement.
--
-- What Citus asks of a table distributed by `listing_id`: every primary key and unique index
-- includes `listing_id`; a foreign key between two distributed tables includes it on both
-- sides; one to a reference table (listings, api_keys, api_key_grants, blacklist_entries,
-- change_feed_state) is fine. So:
--  * webhook_deliveries: key (webhook_id, event_seq, listing_id), its endpoint referenced by
--    (listing_id, webhook_id); webhook_endpoints loses UNIQUE (webhook_id) (the identity keeps
--    it unique; a plain index keeps the look-ups by id);
--  * import_jobs: key (import_id, listing_id); the Idempotency-Key index includes listing_id
--    (the upload holds an advisory lock on (key, Idempotency-Key) and looks for an earlier
--    upload in any listing before it inserts, so one key still stages one job);
--  * import_rows and import_errors get `listing_id`, in their keys and their job's reference.
--    Rows staged without it (a COPY naming the columns of 016) get their job's, by a trigger
--    that runs only for such rows (`WHEN`), so the service of 016 keeps working; on Citus the
--    COPY must name it (it decides the shard);
--  * idempotency_keys: key (key_id, idempotency_key, listing_id), still looked up by its first
--    two columns in any listing (a key reused in another listing is `idempotency_key_reused`).
-- Columns are ordered so that every look-up of 016 by id alone still finds an index.
--
-- Where a function runs. On Citus a statement runs on the coordinator unless it is a call
-- `SELECT … FROM f(…)` of a function distributed with the listing as its distribution argument
-- (distribute.sql), which runs whole on the worker holding the listing's shards, with that
-- worker's transaction: the row triggers, the transaction-local settings they read
-- (crm.key_prefix, crm.request_id, crm.import_checked) and the transaction ids of the change
-- feed (xid8, per node) are all that worker's. Hence:
--  * crm_api_create/upsert/delete/suppress/create_idempotent take the actor as two more
--    arguments (the old signatures stay, for callers that wrap the key in crm_actor(): an
--    argument that calls a volatile function keeps the call on the coordinator, and the
--    workers' triggers then record no actor); crm_webhook_add adds an endpoint in one call;
--  * the import runs one listing per call, crm_import_step_listing(listing, chunk), for a
--    listing that crm_import_pending() names; crm_import_step(chunk) stays for one node and
--    refuses to run on Citus (there its settings would not reach the workers' triggers). Its
--    set-based statement (a WITH of several INSERTs and a join by ctid, which Citus cannot
--    plan on one shard) names the listing's shards on the worker (crm_local_relation), so
--    that it runs there as plain PostgreSQL, in one snapshot, as on one node;
--  * nothing compares a transaction id taken on one node with one taken on another: the
--    horizon of a listing's feed is read on the listing's node (crm_feed_horizon), a new
--    webhook endpoint's cursor is set by a trigger on its row's node (not by a default, which
--    Citus evaluates on the coordinator), the purge position is kept per listing
--    (contact_changes_purged) besides the global one of 013 (which a single node keeps
--    moving as before, for the service of 016), and the webhook exchange reads each claimed
--    delivery's contact itself (a new overload without the horizon argument);
--  * no statement locks rows of several listings at once (Citus locks rows only in a
--    statement on one shard): the webhook exchange and the import claim find candidates
--    without a lock, then lock each with its listing;
--  * an UPDATE on a distributed table calls no STABLE function with a column in CASE,
--    COALESCE or its SET list (Citus evaluates such functions before it sends the statement):
--    now() is read into a variable first;
--  * a trigger on a contacts row touches only that listing's rows (the co-located shards) and
--    reference tables: the statement trigger with a transition table of 011 becomes a row
--    trigger; the TRUNCATE triggers act on the coordinator's table only;
--  * the key check names api_keys and api_key_grants in the statement itself: Citus plans a
--    query that reaches them only through an inlined LANGUAGE sql function in a sub-select
--    (crm_granted_listing) as a local one, reading their empty shells, so the service's
--    statements write the join out on Citus; crm_key_grants and crm_key_access do here. No
--    LANGUAGE sql function with parameters reads a distributed table any more
--    (crm_contact_holding, crm_import_plan become PL/pgSQL): Citus refuses to plan those;
--  * the export's filters travel as SET LOCAL (crm_set_local), which Citus passes on to the
--    worker that runs the COPY; set_config() stays on the coordinator.
-- On plain PostgreSQL the statements plan as before (the same indexes) and an import runs as
-- fast (100,000 new contacts, then 100,000 updates, in chunks of 10,000: 4.8 s and 5.4 s with
-- 016's functions, 4.7 s and 5.0 s with these; scripts/import_apply_check.sql passes).

-- Keys --------------------------------------------------------------------------------------

ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_webhook_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (webhook_id, event_seq, listing_id);
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_webhook_id_key;
CREATE INDEX webhook_endpoints_webhook_id_idx ON webhook_endpoints (webhook_id);
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_endpoint_fkey
    FOREIGN KEY (listing_id, webhook_id) REFERENCES webhook_endpoints (listing_id, webhook_id) ON DELETE CASCADE;

ALTER TABLE import_rows DROP CONSTRAINT import_rows_import_id_fkey;
ALTER TABLE import_errors DROP CONSTRAINT import_errors_import_id_fkey;
ALTER TABLE import_jobs DROP CONSTRAINT import_jobs_pkey;
ALTER TABLE import_jobs ADD CONSTRAINT import_jobs_pkey PRIMARY KEY (import_id, listing_id);
DROP INDEX import_jobs_idempotency_key;
CREATE UNIQUE INDEX import_jobs_idempotency_key ON import_jobs (key_id, idempotency_key, listing_id)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE import_rows ADD COLUMN listing_id bigint;
UPDATE import_rows r SET listing_id = j.listing_id FROM import_jobs j WHERE j.import_id = r.import_id;
ALTER TABLE import_rows ALTER COLUMN listing_id SET NOT NULL;
ALTER TABLE import_rows DROP CONSTRAINT import_rows_pkey;
ALTER TABLE import_rows ADD CONSTRAINT import_rows_pkey PRIMARY KEY (import_id, row_no, listing_id);
ALTER TABLE import_rows ADD CONSTRAINT import_rows_job_fkey
    FOREIGN KEY (import_id, listing_id) REFERENCES import_jobs (import_id, listing_id) ON DELETE CASCADE;

ALTER TABLE import_errors ADD COLUMN listing_id bigint;
UPDATE import_errors e SET listing_id = j.listing_id FROM import_jobs j WHERE j.import_id = e.import_id;
ALTER TABLE import_errors ALTER COLUMN listing_id SET NOT NULL;
ALTER TABLE import_errors DROP CONSTRAINT import_errors_pkey;
ALTER TABLE import_errors ADD CONSTRAINT import_errors_pkey PRIMARY KEY (import_id, row_no, listing_id);
ALTER TABLE import_errors ADD CONSTRAINT import_errors_job_fkey
    FOREIGN KEY (import_id, listing_id) REFERENCES import_jobs (import_id, listing_id) ON DELETE CASCADE;

ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (key_id, idempotency_key, listing_id);

-- A staged row without its listing (a COPY of 016's columns) takes its job's.
CREATE FUNCTION crm_import_rows_listing() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    SELECT j.listing_id INTO NEW.listing_id FROM import_jobs j WHERE j.import_id = NEW.import_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER import_rows_listing BEFORE INSERT ON import_rows
    FOR EACH ROW WHEN (NEW.listing_id IS NULL) EXECUTE FUNCTION crm_import_rows_listing();

-- Where this database's tables live ---------------------------------------------------------

-- Whether `p_table` is distributed by Citus (false on plain PostgreSQL, where the catalog
-- pg_dist_partition does not exist: its query is planned only when it runs).
CREATE FUNCTION crm_is_distributed(p_table regclass) RETURNS boolean
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN false;
    END IF;
    RETURN EXISTS (SELECT FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = p_table);
END
$$;

-- The relation that holds `p_table`'s rows of listing `p_listing_id` on this node: the table
-- itself on plain PostgreSQL; on Citus, the listing's shard of a distributed table, or this
-- node's copy of a reference table. The import's set-based statement (a data-modifying WITH of
-- several INSERTs, which Citus cannot plan on one shard, and a join by ctid) names these, so
-- that on the listing's worker it runs as plain PostgreSQL, in one snapshot, as on one node.
-- Where the shard is not on this node, it says so.
CREATE FUNCTION crm_local_relation(p_table regclass, p_listing_id bigint) RETURNS text
    LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_name text;
BEGIN
    IF NOT crm_is_distributed(p_table) THEN
        RETURN p_table::text;
    END IF;
    EXECUTE 'SELECT shard_name($1, get_shard_id_for_distribution_column($1, $2))' INTO v_name USING p_table, p_listing_id;
    IF to_regclass(v_name) IS NULL THEN
        RAISE EXCEPTION 'no shard of % for listing % on this node', p_table, p_listing_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call the function the way distribute.sql delegates it, to the worker that holds the listing.';
    END IF;
    RETURN v_name;
END
$$;

-- The change feed, per listing --------------------------------------------------------------

-- The horizon of a listing's feed (sql/013): the oldest transaction that may still commit,
-- on the node that holds the listing's events. One statement on the listing's shard (on Citus
-- the whole statement runs there, so pg_current_snapshot() is that node's); on one node, the
-- same value as pg_snapshot_xmin(pg_current_snapshot()).
CREATE FUNCTION crm_feed_horizon(p_listing_id bigint) RETURNS xid8
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT h.horizon
              FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon) h
              LEFT JOIN LATERAL (SELECT 1 FROM contact_changes x WHERE x.listing_id = p_listing_id LIMIT 1) e ON true);
END
$$;

-- The newest position purged, per listing: a cursor of the listing before it has lost events
-- (410 cursor_expired). 013's change_feed_state keeps the newest over all listings, which only
-- means something where all transaction ids come from one node.
CREATE TABLE contact_changes_purged (
    listing_id  bigint PRIMARY KEY,
    purged_txid xid8 NOT NULL,
    purged_seq  bigint NOT NULL
);
INSERT INTO contact_changes_purged (listing_id, purged_txid, purged_seq)
SELECT x.listing_id, s.purged_txid, s.purged_seq
  FROM (SELECT DISTINCT listing_id FROM contact_changes UNION SELECT listing_id FROM listings) x
 CROSS JOIN change_feed_state s
 WHERE (s.purged_txid, s.purged_seq) > ('0'::xid8, 0);

-- Deletes the longest run of expired events at the start of one listing's feed, at most
-- `p_batch`, and moves the listing's purge position past them; returns how many. 013's rule
-- for one listing: an expired event after a young one waits until that one expires too.
CREATE FUNCTION crm_purge_listing_changes(p_listing_id bigint, p_older_than interval, p_batch integer) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    v_horizon xid8 := crm_feed_horizon(p_listing_id);
    v_cutoff timestamptz := now() - p_older_than;
    v_count integer;
    v_txid xid8;
    v_seq bigint;
BEGIN
    -- One purger of the listing at a time.
    INSERT INTO contact_changes_purged (listing_id, purged_txid, purged_seq) VALUES (p_listing_id, '0', 0)
    ON CONFLICT (listing_id) DO NOTHING;
    PERFORM FROM contact_changes_purged p WHERE p.listing_id = p_listing_id FOR UPDATE;
    WITH head AS (
        SELECT h.txid, h.seq, h.occurred_at < v_cutoff AS expired, row_number() OVER (ORDER BY h.txid, h.seq) AS n
          FROM (SELECT x.txid, x.seq, x.occurred_at FROM contact_changes x
                 WHERE x.listing_id = p_listing_id AND x.txid < v_horizon
                 ORDER BY x.txid, x.seq
                 LIMIT p_batch) h),
    stop AS (
        SELECT coalesce(min(n), p_batch + 1) AS n FROM head WHERE NOT expired),
    doomed AS (
        SELECT h.txid, h.seq FROM head h, stop s WHERE h.n < s.n),
    gone AS (
        DELETE FROM contact_changes c USING doomed d
         WHERE c.listing_id = p_listing_id AND c.txid = d.txid AND c.seq = d.seq
        RETURNING c.txid, c.seq)
    SELECT count(*)::integer, max(g.txid), (array_agg(g.seq ORDER BY g.txid DESC, g.seq DESC))[1]
      INTO v_count, v_txid, v_seq FROM gone g;
    IF v_count > 0 THEN
        UPDATE contact_changes_purged p SET purged_txid = v_txid, purged_seq = v_seq
         WHERE p.listing_id = p_listing_id AND (v_txid, v_seq) > (p.purged_txid, p.purged_seq);
    END IF;
    RETURN v_count;
END
$$;

-- 013's purge. On one node as before (the feed's head in position order over all listings),
-- recording the position reached in each listing too; on Citus, where positions of different
-- nodes cannot be compared, listing by listing.
CREATE OR REPLACE FUNCTION crm_purge_changes(p_older_than interval, p_batch integer) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    v_count integer := 0;
    v_txid xid8;
    v_seq bigint;
    v_listing bigint;
BEGIN
    IF crm_is_distributed('contact_changes') THEN
        FOR v_listing IN
            SELECT x.listing_id FROM contact_changes x WHERE x.occurred_at < now() - p_older_than
             GROUP BY x.listing_id ORDER BY x.listing_id
        LOOP
            v_count := v_count + crm_purge_listing_changes(v_listing, p_older_than, p_batch - v_count);
            EXIT WHEN v_count >= p_batch;
        END LOOP;
        RETURN v_count;
    END IF;
    PERFORM FROM change_feed_state FOR UPDATE;  -- one purger at a time
    WITH head AS (
        SELECT h.listing_id, h.txid, h.seq, h.occurred_at < now() - p_older_than AS expired,
               row_number() OVER (ORDER BY h.txid, h.seq) AS n
          FROM (SELECT x.listing_id, x.txid, x.seq, x.occurred_at FROM contact_changes x
                 WHERE x.txid < pg_snapshot_xmin(pg_current_snapshot())
                 ORDER BY x.txid, x.seq
                 LIMIT p_batch) h),
    stop AS (
        SELECT coalesce(min(n), p_batch + 1) AS n FROM head WHERE NOT expired),
    doomed AS (
        SELECT h.listing_id, h.txid, h.seq FROM head h, stop s WHERE h.n < s.n),
    gone AS (
        DELETE FROM contact_changes c USING doomed d
         WHERE c.listing_id = d.listing_id AND c.txid = d.txid AND c.seq = d.seq
        RETURNING c.listing_id, c.txid, c.seq),
    reached AS (
        INSERT INTO contact_changes_purged AS p (listing_id, purged_txid, purged_seq)
        SELECT DISTINCT ON (g.listing_id) g.listing_id, g.txid, g.seq FROM gone g
         ORDER BY g.listing_id, g.txid DESC, g.seq DESC
        ON CONFLICT (listing_id) DO UPDATE SET purged_txid = excluded.purged_txid, purged_seq = excluded.purged_seq
         WHERE (excluded.purged_txid, excluded.purged_seq) > (p.purged_txid, p.purged_seq))
    SELECT count(*)::integer, max(g.txid), (array_agg(g.seq ORDER BY g.txid DESC, g.seq DESC))[1]
      INTO v_count, v_txid, v_seq FROM gone g;
    IF v_count > 0 THEN
        UPDATE change_feed_state s SET purged_txid = v_txid, purged_seq = v_seq
         WHERE (v_txid, v_seq) > (s.purged_txid, s.purged_seq);
    END IF;
    RETURN v_count;
END
$$;

-- A new endpoint starts at its listing's horizon (014), taken on the node that stores the
-- row: a trigger, not a default (Citus evaluates defaults on the coordinator).
ALTER TABLE webhook_endpoints ALTER COLUMN cursor_txid DROP DEFAULT;
CREATE FUNCTION crm_webhook_endpoints_cursor() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.cursor_txid := pg_snapshot_xmin(pg_current_snapshot());
    RETURN NEW;
END
$$;
CREATE TRIGGER webhook_endpoints_cursor BEFORE INSERT ON webhook_endpoints
    FOR EACH ROW WHEN (NEW.cursor_txid IS NULL) EXECUTE FUNCTION crm_webhook_endpoints_cursor();

-- Idempotency keys --------------------------------------------------------------------------

-- 011's statement trigger read the deleted rows of all listings from a transition table; a
-- row trigger touches the deleted contact's listing only. The payload is computed before the
-- UPDATE (no function of a column in the statement).
CREATE FUNCTION crm_idempotency_forget_deleted_row() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    v_payload json := ('{"contact_id":' || OLD.contact_id || '}')::json;
BEGIN
    UPDATE idempotency_keys i SET payload = v_payload
     WHERE i.listing_id = OLD.listing_id AND i.contact_id = OLD.contact_id AND i.outcome = 'created';
    RETURN NULL;
END
$$;
DROP TRIGGER idempotency_keys_forget_deleted ON contacts;
DROP FUNCTION crm_idempotency_forget_deleted();
CREATE TRIGGER idempotency_keys_forget_deleted AFTER DELETE ON contacts
    FOR EACH ROW EXECUTE FUNCTION crm_idempotency_forget_deleted_row();

-- 011's purge. On Citus without the row lock over several listings (Citus locks rows only in
-- a statement on one shard): two purgers at once may both pick a row, one deletes it.
CREATE OR REPLACE FUNCTION crm_purge_idempotency_keys(p_older_than interval, p_batch integer) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    v_cutoff timestamptz := now() - p_older_than;
    v_count integer;
BEGIN
    IF NOT crm_is_distributed('idempotency_keys') THEN
        WITH doomed AS (
            SELECT i.key_id, i.idempotency_key, i.listing_id FROM idempotency_keys i
             WHERE i.created_at < v_cutoff
             ORDER BY i.created_at
             LIMIT p_batch
               FOR UPDATE SKIP LOCKED),
        gone AS (
            DELETE FROM idempotency_keys i USING doomed d
             WHERE i.key_id = d.key_id AND i.idempotency_key = d.idempotency_key AND i.listing_id = d.listing_id
            RETURNING 1)
        SELECT count(*)::integer INTO v_count FROM gone;
        RETURN v_count;
    END IF;
    WITH doomed AS (
        SELECT i.key_id, i.idempotency_key, i.listing_id FROM idempotency_keys i
         WHERE i.created_at < v_cutoff
         ORDER BY i.created_at
         LIMIT p_batch),
    gone AS (
        DELETE FROM idempotency_keys i USING doomed d
         WHERE i.key_id = d.key_id AND i.idempotency_key = d.idempotency_key AND i.listing_id = d.listing_id
        RETURNING 1)
    SELECT count(*)::integer INTO v_count FROM gone;
    RETURN v_count;
END
$$;

-- Key checks --------------------------------------------------------------------------------

-- 010's grant test with its join written out. The inlinable crm_granted_listing stays for
-- plain SQL, but on Citus a query that reaches the reference tables only through an inlined
-- SQL function in a sub-select is planned as if they were local (and reads their empty shells
-- on the coordinator): the tables must appear in the statement itself. Same plan on one node.
CREATE OR REPLACE FUNCTION crm_key_grants(p_key_hash bytea, p_listing_id bigint, p_scope crm_key_scope) RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    AS $$
BEGIN
    RETURN EXISTS (SELECT FROM api_keys k
                     JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = p_listing_id
                    WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL AND p_scope = ANY (k.scopes));
END
$$;

-- 010's crm_key_access, in PL/pgSQL: called alone (`SELECT … FROM crm_key_access($1, $2)`), a
-- LANGUAGE sql function with parameters over distributed tables is refused by Citus. It is
-- asked only after a refusal or an empty page, where its planning does not matter.
CREATE OR REPLACE FUNCTION crm_key_access(p_key_hash bytea, p_listing_id bigint) RETURNS SETOF crm_key_scope[]
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    AS $$
BEGIN
    RETURN QUERY
    SELECT k.scopes
      FROM api_keys k
      JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = p_listing_id
     WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL;
END
$$;

-- 004's crm_contact_holding in PL/pgSQL: Citus cannot plan the statement of a LANGUAGE sql
-- function that is not inlined when it has parameters and reads a distributed table. Asked
-- only for a 409.
CREATE OR REPLACE FUNCTION crm_contact_holding(p_listing_id bigint, p_email text, p_phone text) RETURNS bigint
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT contact_id FROM contacts
             WHERE listing_id = p_listing_id
               AND (lower(email) = lower(p_email) OR phone = p_phone)
             ORDER BY contact_id LIMIT 1);
END
$$;

-- TRUNCATE contacts ----------------------------------------------------------------------------

-- 011's and 013's TRUNCATE triggers act on the table named contacts only: on Citus the
-- coordinator's runs them once for all shards (a statement over every listing, which is
-- allowed there), and a shard's copy of the trigger (contacts_102008 …) does nothing. The
-- stored answer is written with an immutable expression (`|| bigint` is stable; Citus
-- refuses a stable function of a column in an UPDATE).
CREATE OR REPLACE FUNCTION crm_idempotency_forget_truncated() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME <> 'contacts' THEN
        RETURN NULL;
    END IF;
    UPDATE idempotency_keys i SET payload = ('{"contact_id":' || i.contact_id::text || '}')::json
     WHERE i.outcome = 'created';
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION crm_contacts_record_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME <> 'contacts' THEN
        RETURN NULL;
    END IF;
    INSERT INTO contact_changes (listing_id, change_type, contact_id, actor_key_prefix, actor_request_id)
    SELECT c.listing_id, 'contact.deleted', c.contact_id,
           nullif(current_setting('crm.key_prefix', true), ''), nullif(current_setting('crm.request_id', true), '')
      FROM contacts c ORDER BY c.listing_id, c.contact_id;
    RETURN NULL;
END
$$;

-- The API's writes with their actor -----------------------------------------------------------

-- The write functions of 010/011/012/016 with the change feed's actor as their last two
-- arguments (crm_actor sets it, in the transaction and on the node that writes): a call
-- `SELECT … FROM crm_api_create($1, …, $8, $9)` has only parameters as arguments, so Citus runs
-- it whole on the listing's worker. The answers are those of the functions they call.
CREATE FUNCTION crm_api_create(
    p_key_hash bytea, p_listing_id bigint,
    p_first_name text, p_last_name text, p_email text, p_phone text, p_ip inet,
    p_key_prefix text, p_request_id text)
RETURNS TABLE (outcome crm_api_outcome, contact_id bigint, payload json)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT * FROM crm_api_create(crm_actor(p_key_hash, p_key_prefix, p_request_id), p_listing_id,
                                              p_first_name, p_last_name, p_email, p_phone, p_ip);
END
$$;

CREATE FUNCTION crm_api_upsert(
    p_key_hash bytea, p_listing_id bigint, p_contact_id bigint,
    p_first_name text, p_last_name text, p_email text, p_phone text, p_ip inet,
    p_set_first_name boolean, p_set_last_name boolean, p_set_email boolean, p_set_phone boolean,
    p_set_ip boolean, p_key_prefix text, p_request_id text)
RETURNS TABLE (outcome crm_api_outcome, contact_id bigint, payload json)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT * FROM crm_api_upsert(crm_actor(p_key_hash, p_key_prefix, p_request_id), p_listing_id,
                                              p_contact_id, p_first_name, p_last_name, p_email, p_phone, p_ip,
                                              p_set_first_name, p_set_last_name, p_set_email, p_set_phone, p_set_ip);
END
$$;

CREATE FUNCTION crm_api_delete(
    p_key_hash bytea, p_listing_id bigint, p_contact_id bigint, p_email text, p_phone text,
    p_key_prefix text, p_request_id text)
RETURNS TABLE (outcome crm_api_outcome, contact_id bigint, payload json)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT * FROM crm_api_delete(crm_actor(p_key_hash, p_key_prefix, p_request_id), p_listing_id,
                                              p_contact_id, p_email, p_phone);
END
$$;

CREATE FUNCTION crm_api_suppress(
    p_key_hash bytea, p_listing_id bigint, p_contact_id bigint, p_email text, p_phone text,
    p_key_prefix text, p_request_id text)
RETURNS TABLE (outcome crm_api_outcome, contact_id bigint, payload json)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT * FROM crm_api_suppress(crm_actor(p_key_hash, p_key_prefix, p_request_id), p_listing_id,
                                                p_contact_id, p_email, p_phone);
END
$$;

CREATE FUNCTION crm_api_create_idempotent(
    p_key_hash bytea, p_listing_id bigint, p_idempotency_key text, p_fingerprint bytea,
    p_first_name text, p_last_name text, p_email text, p_phone text, p_ip inet,
    p_key_prefix text, p_request_id text)
RETURNS TABLE (outcome crm_api_outcome, contact_id bigint, payload json, replayed boolean)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT * FROM crm_api_create_idempotent(crm_actor(p_key_hash, p_key_prefix, p_request_id),
                                                         p_listing_id, p_idempotency_key, p_fingerprint, p_first_name,
                                                         p_last_name, p_email, p_phone, p_ip);
END
$$;

-- Webhooks ----------------------------------------------------------------------------------

-- POST /crm/{id}/webhooks as one call, `SELECT … FROM crm_webhook_add($1, $2, $3, $4, $5)`:
-- the endpoint, when the key holds the `webhooks` scope for the listing; no row otherwise.
-- (An INSERT … SELECT gated by the key runs on Citus in two steps, through the coordinator;
-- the call runs whole on the listing's worker.)
CREATE FUNCTION crm_webhook_add(p_key_hash bytea, p_listing_id bigint, p_url text, p_events text, p_secret text)
RETURNS TABLE (webhook_id bigint, url text, events text, status text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    w webhook_endpoints;
BEGIN
    IF NOT crm_key_grants(p_key_hash, p_listing_id, 'webhooks') THEN
        RETURN;
    END IF;
    -- RETURNING * then the rendering: Citus allows no stable function (array_to_string) there.
    INSERT INTO webhook_endpoints (listing_id, url, events, secret)
    VALUES (p_listing_id, p_url, string_to_array(p_events, ',')::crm_change_type[], p_secret)
    RETURNING * INTO w;
    RETURN QUERY SELECT w.webhook_id, w.url, array_to_string(w.events, ','), w.status;
END
$$;

-- 015's crm_webhook_record_one, given the endpoint's listing: every statement on that
-- listing's rows. now() is read once (Citus refuses it in a COALESCE of an UPDATE).
CREATE FUNCTION crm_webhook_record_one(p_listing_id bigint, p_webhook_id bigint, p_event_seq bigint, p_lease_id bigint,
                                       p_outcome text, p_retry_after integer, p_error text, p_schedule integer[])
    RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := now();
    v_failing_since timestamptz;
    v_attempts integer;
    v_delay double precision;
BEGIN
    IF p_outcome = 'released' THEN
        UPDATE webhook_deliveries SET lease_id = NULL, leased_until = NULL
         WHERE listing_id = p_listing_id AND webhook_id = p_webhook_id AND event_seq = p_event_seq AND lease_id = p_lease_id;
        RETURN CASE WHEN FOUND THEN 'released' ELSE 'stale' END;
    END IF;
    -- A stale outcome (the lease passed to another claim, or the endpoint went) changes nothing.
    UPDATE webhook_deliveries SET attempts = attempts + 1, lease_id = NULL, leased_until = NULL
     WHERE listing_id = p_listing_id AND webhook_id = p_webhook_id AND event_seq = p_event_seq AND lease_id = p_lease_id
    RETURNING attempts INTO v_attempts;
    IF NOT FOUND THEN
        RETURN 'stale';
    END IF;
    SELECT coalesce(w.failing_since, v_now) INTO v_failing_since FROM webhook_endpoints w
     WHERE w.listing_id = p_listing_id AND w.webhook_id = p_webhook_id AND w.status = 'active';
    IF NOT FOUND THEN
        RETURN 'stale';  -- disabled meanwhile
    END IF;
    UPDATE webhook_endpoints SET last_failure_at = v_now, last_error = left(p_error, 500), failing_since = v_failing_since
     WHERE listing_id = p_listing_id AND webhook_id = p_webhook_id;
    IF p_outcome = 'gone' OR v_failing_since <= v_now - interval '5 days' THEN
        UPDATE webhook_endpoints SET status = 'disabled' WHERE listing_id = p_listing_id AND webhook_id = p_webhook_id;
        DELETE FROM webhook_deliveries WHERE listing_id = p_listing_id AND webhook_id = p_webhook_id;
        RETURN 'disabled';
    END IF;
    IF v_attempts > coalesce(cardinality(p_schedule), 0) THEN
        DELETE FROM webhook_deliveries
         WHERE listing_id = p_listing_id AND webhook_id = p_webhook_id AND event_seq = p_event_seq;
        RETURN 'dropped';
    END IF;
    -- Retry-After (a 429 or 503) instead of the schedule, up to a day.
    v_delay := CASE WHEN p_retry_after IS NOT NULL
                    THEN least(greatest(p_retry_after, 0), 86400)
                    ELSE p_schedule[v_attempts] * (0.9 + 0.2 * random()) END;
    UPDATE webhook_deliveries SET next_attempt_at = v_now + make_interval(secs => v_delay)
     WHERE listing_id = p_listing_id AND webhook_id = p_webhook_id AND event_seq = p_event_seq;
    RETURN 'retrying';
END
$$;

-- 015's exchange, one endpoint (and so one listing) per statement: the endpoints are found
-- without a lock, then each is locked with its listing (in id order for the outcomes, as
-- before; skipped when another process holds it). Where all transaction ids come from one node
-- the horizon is the caller's, as before; on Citus each endpoint's is its listing's
-- (crm_feed_horizon, read on the listing's node before the caller's join to contacts runs, so
-- that join still sees every contact an event queued here names).
CREATE OR REPLACE FUNCTION crm_webhook_exchange(p_outcomes jsonb, p_schedule integer[], p_slots integer, p_cap integer,
                                                p_lease interval, p_batch integer, p_horizon xid8)
    RETURNS TABLE (kind text, webhook_id bigint, event_seq bigint, lease_id bigint, state text, url text, secret text,
                   listing_id bigint, change_type crm_change_type, contact_id bigint, changed text[], occurred_at timestamptz)
    LANGUAGE plpgsql ROWS 8 AS $$
#variable_conflict use_column
DECLARE
    v_per_listing boolean := crm_is_distributed('contact_changes');
    v_now timestamptz := now();
    v_until timestamptz := now() + p_lease;
    v_horizon xid8;
    v_lease bigint;
    v_listings jsonb := '{}';
    v_named record;
    v_outcome record;
    v_endpoint record;
    v_last record;
    v_row record;
    v_queued boolean;
    v_leased integer;
    v_expired integer;
    v_take integer;
    v_left integer := p_slots;
BEGIN
    -- Nothing here needs the commit on disk before the answer (015).
    PERFORM set_config('synchronous_commit', 'off', true);
    -- 1. Outcomes: the endpoints they name locked in id order, with the successes of each; then
    --    the rest one by one.
    IF jsonb_array_length(p_outcomes) > 0 THEN
        FOR v_named IN
            SELECT w.listing_id, w.webhook_id FROM webhook_endpoints w
             WHERE w.webhook_id = ANY (ARRAY(SELECT DISTINCT (o ->> 'w')::bigint FROM jsonb_array_elements(p_outcomes) o))
             ORDER BY w.webhook_id
        LOOP
            PERFORM FROM webhook_endpoints w
             WHERE w.listing_id = v_named.listing_id AND w.webhook_id = v_named.webhook_id FOR NO KEY UPDATE;
            v_listings := v_listings || jsonb_build_object(v_named.webhook_id::text, v_named.listing_id);
            CONTINUE WHEN NOT p_outcomes @? format('$[*] ? (@.w == %s && @.outcome == "delivered")', v_named.webhook_id)::jsonpath;
            -- last_success_at to the second (shown to the second): not one row version per delivery.
            UPDATE webhook_endpoints w SET last_success_at = v_now, failing_since = NULL
             WHERE w.listing_id = v_named.listing_id AND w.webhook_id = v_named.webhook_id
               AND (w.last_success_at IS NULL OR w.last_success_at < v_now - interval '1 second' OR w.failing_since IS NOT NULL);
            DELETE FROM webhook_deliveries d
             WHERE d.listing_id = v_named.listing_id AND d.webhook_id = v_named.webhook_id
               AND d.event_seq = ANY (ARRAY(SELECT (o ->> 's')::bigint FROM jsonb_array_elements(p_outcomes) o
                                             WHERE o ->> 'outcome' = 'delivered' AND (o ->> 'w')::bigint = v_named.webhook_id));
        END LOOP;
        RETURN QUERY
        SELECT 'recorded', o.w, o.s, o.l, 'delivered', NULL::text, NULL::text, NULL::bigint, NULL::crm_change_type,
               NULL::bigint, NULL::text[], NULL::timestamptz
          FROM jsonb_to_recordset(p_outcomes) AS o(w bigint, s bigint, l bigint, outcome text)
         WHERE o.outcome = 'delivered';
        FOR v_outcome IN
            SELECT * FROM jsonb_to_recordset(p_outcomes)
                AS u(w bigint, s bigint, l bigint, outcome text, retry_after integer, error text)
             WHERE u.outcome <> 'delivered'
             ORDER BY u.w, u.s
        LOOP
            kind := 'recorded';
            webhook_id := v_outcome.w;
            event_seq := v_outcome.s;
            lease_id := v_outcome.l;
            state := CASE WHEN v_listings ? v_outcome.w::text
                          THEN crm_webhook_record_one((v_listings ->> v_outcome.w::text)::bigint, v_outcome.w, v_outcome.s,
                                                      v_outcome.l, v_outcome.outcome, v_outcome.retry_after,
                                                      v_outcome.error, p_schedule)
                          ELSE 'stale' END;  -- the endpoint is gone
            url := NULL; secret := NULL; listing_id := NULL; change_type := NULL; contact_id := NULL;
            changed := NULL; occurred_at := NULL;
            RETURN NEXT;
        END LOOP;
    END IF;
    -- Whether there is anything to deliver to at all (a dispatcher ignores writes until there is).
    PERFORM FROM webhook_endpoints w WHERE w.status = 'active' LIMIT 1;
    RETURN QUERY
    SELECT 'summary', NULL::bigint, NULL::bigint, NULL::bigint, CASE WHEN FOUND THEN 'endpoints' ELSE 'none' END,
           NULL::text, NULL::text, NULL::bigint, NULL::crm_change_type, NULL::bigint, NULL::text[], NULL::timestamptz;
    IF v_left <= 0 THEN
        RETURN;
    END IF;
    v_lease := nextval('webhook_lease_seq');
    FOR v_named IN
        SELECT a.listing_id, a.webhook_id
          FROM (SELECT w.listing_id, w.webhook_id FROM webhook_endpoints w WHERE w.status = 'active') a
         ORDER BY random()
    LOOP
        SELECT w.* INTO v_endpoint FROM webhook_endpoints w
         WHERE w.listing_id = v_named.listing_id AND w.webhook_id = v_named.webhook_id AND w.status = 'active'
           FOR NO KEY UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        v_horizon := CASE WHEN v_per_listing THEN crm_feed_horizon(v_endpoint.listing_id) ELSE p_horizon END;
        -- 2. Lease due deliveries from its queue, up to the endpoint's cap: first those whose
        --    lease expired (a process died with them), then the waiting ones due.
        SELECT count(*) FILTER (WHERE d.leased_until > v_now)::integer,
               count(*) FILTER (WHERE d.leased_until <= v_now)::integer
          INTO v_leased, v_expired
          FROM webhook_deliveries d
         WHERE d.listing_id = v_endpoint.listing_id AND d.webhook_id = v_endpoint.webhook_id AND d.lease_id IS NOT NULL;
        v_take := greatest(0, least(v_left, p_cap - v_leased));
        IF v_take > 0 AND v_expired > 0 THEN
            RETURN QUERY
            WITH due AS (
                SELECT d.webhook_id, d.event_seq FROM webhook_deliveries d
                 WHERE d.listing_id = v_endpoint.listing_id AND d.webhook_id = v_endpoint.webhook_id
                   AND d.lease_id IS NOT NULL AND d.leased_until <= v_now
                 ORDER BY d.leased_until
                 LIMIT v_take
                   FOR UPDATE SKIP LOCKED)
            UPDATE webhook_deliveries d SET lease_id = v_lease, leased_until = v_until
              FROM due
             WHERE d.listing_id = v_endpoint.listing_id AND d.webhook_id = due.webhook_id AND d.event_seq = due.event_seq
            RETURNING 'claimed', d.webhook_id, d.event_seq, d.lease_id, NULL::text, v_endpoint.url, v_endpoint.secret,
                      d.listing_id, d.change_type, d.contact_id, d.changed, d.occurred_at;
            GET DIAGNOSTICS v_leased = ROW_COUNT;
            v_take := v_take - v_leased;
            v_left := v_left - v_leased;
        END IF;
        IF v_take > 0 THEN
            RETURN QUERY
            WITH due AS (
                SELECT d.webhook_id, d.event_seq FROM webhook_deliveries d
                 WHERE d.listing_id = v_endpoint.listing_id AND d.webhook_id = v_endpoint.webhook_id
                   AND d.lease_id IS NULL AND d.next_attempt_at <= v_now
                 ORDER BY d.next_attempt_at, d.event_seq
                 LIMIT v_take
                   FOR UPDATE SKIP LOCKED)
            UPDATE webhook_deliveries d SET lease_id = v_lease, leased_until = v_until
              FROM due
             WHERE d.listing_id = v_endpoint.listing_id AND d.webhook_id = due.webhook_id AND d.event_seq = due.event_seq
            RETURNING 'claimed', d.webhook_id, d.event_seq, d.lease_id, NULL::text, v_endpoint.url, v_endpoint.secret,
                      d.listing_id, d.change_type, d.contact_id, d.changed, d.occurred_at;
            GET DIAGNOSTICS v_leased = ROW_COUNT;
            v_take := v_take - v_leased;
            v_left := v_left - v_leased;
        END IF;
        -- 3. Queue the endpoint's new events; while its cap and the caller's slots allow, the
        --    first ones go in leased already.
        v_queued := false;
        FOR v_row IN
            WITH ev AS (
                SELECT e.listing_id, e.txid, e.seq, e.change_type, e.contact_id, e.changed, e.occurred_at,
                       row_number() OVER (ORDER BY e.txid, e.seq) AS n
                  FROM (SELECT * FROM contact_changes e
                         WHERE e.listing_id = v_endpoint.listing_id AND e.txid < v_horizon
                           AND (e.txid, e.seq) > (v_endpoint.cursor_txid, v_endpoint.cursor_seq)
                           AND e.change_type = ANY (v_endpoint.events)
                         ORDER BY e.txid, e.seq
                         LIMIT p_batch) e),
            queued AS (
                INSERT INTO webhook_deliveries (webhook_id, event_seq, listing_id, change_type, contact_id, changed,
                                                occurred_at, lease_id, leased_until)
                SELECT v_endpoint.webhook_id, ev.seq, ev.listing_id, ev.change_type, ev.contact_id, ev.changed,
                       ev.occurred_at, CASE WHEN ev.n <= v_take THEN v_lease END,
                       CASE WHEN ev.n <= v_take THEN v_until END
                  FROM ev
                ON CONFLICT DO NOTHING
                RETURNING *)
            SELECT ev.txid AS position_txid, ev.seq AS position_seq, q.* FROM ev LEFT JOIN queued q ON q.event_seq = ev.seq
             ORDER BY ev.n
        LOOP
            v_queued := true;
            v_last := v_row;
            CONTINUE WHEN v_row.lease_id IS NULL;
            kind := 'claimed';
            webhook_id := v_row.webhook_id;
            event_seq := v_row.event_seq;
            lease_id := v_row.lease_id;
            state := NULL;
            url := v_endpoint.url;
            secret := v_endpoint.secret;
            listing_id := v_row.listing_id;
            change_type := v_row.change_type;
            contact_id := v_row.contact_id;
            changed := v_row.changed;
            occurred_at := v_row.occurred_at;
            RETURN NEXT;
            v_left := v_left - 1;
        END LOOP;
        -- On from the last event queued: any event still to come has a txid at or above the
        -- horizon, so it lies after it (and with none queued the cursor stays: no row version).
        IF v_queued THEN
            UPDATE webhook_endpoints SET cursor_txid = v_last.position_txid, cursor_seq = v_last.position_seq
             WHERE listing_id = v_endpoint.listing_id AND webhook_id = v_endpoint.webhook_id;
        ELSIF cardinality(v_endpoint.events) < 3 AND (v_endpoint.cursor_txid, v_endpoint.cursor_seq) < (v_horizon, 0) THEN
            -- Subscribed to some types only: past the others, so they are not read again.
            UPDATE webhook_endpoints SET cursor_txid = v_horizon, cursor_seq = 0
             WHERE listing_id = v_endpoint.listing_id AND webhook_id = v_endpoint.webhook_id;
        END IF;
        EXIT WHEN v_left <= 0;
    END LOOP;
END
$$;

DROP FUNCTION crm_webhook_record_one(bigint, bigint, bigint, text, integer, text, integer[]);

-- 015's backlog, its deliveries joined to their endpoints by listing too.
CREATE OR REPLACE FUNCTION crm_webhook_backlog(OUT pending bigint, OUT oldest_seconds double precision)
    LANGUAGE sql STABLE AS $$
    WITH waiting AS (
        SELECT d.occurred_at FROM webhook_deliveries d
          JOIN webhook_endpoints w ON w.listing_id = d.listing_id AND w.webhook_id = d.webhook_id
         WHERE w.status = 'active'
        UNION ALL
        SELECT e.occurred_at FROM webhook_endpoints w JOIN contact_changes e
            ON e.listing_id = w.listing_id AND (e.txid, e.seq) > (w.cursor_txid, w.cursor_seq)
           AND e.change_type = ANY (w.events)
         WHERE w.status = 'active')
    SELECT count(*), coalesce(extract(epoch FROM now() - min(occurred_at))::double precision, 0) FROM waiting
$$;

-- 015's exchange with each claimed delivery's contact (as it is now; NULL once deleted, or for
-- a contact.deleted event) as a column of its row, read listing by listing inside: the caller
-- no longer joins the result to contacts (on Citus that join read the whole table), and no
-- longer passes a horizon (taken here, before the contacts are read: an event queued is one
-- whose contact these reads see). `SELECT …, c.* FROM crm_webhook_exchange($1, …, $6) x
-- CROSS JOIN LATERAL (SELECT (x.contact).*) c`.
CREATE FUNCTION crm_webhook_exchange(p_outcomes jsonb, p_schedule integer[], p_slots integer, p_cap integer,
                                     p_lease interval, p_batch integer)
    RETURNS TABLE (kind text, webhook_id bigint, event_seq bigint, lease_id bigint, state text, url text, secret text,
                   listing_id bigint, change_type crm_change_type, contact_id bigint, changed text[], occurred_at timestamptz,
                   contact contacts)
    LANGUAGE plpgsql ROWS 8 AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT * FROM crm_webhook_exchange(p_outcomes, p_schedule, p_slots, p_cap, p_lease, p_batch,
                                           pg_snapshot_xmin(pg_current_snapshot()))
    LOOP
        kind := r.kind; webhook_id := r.webhook_id; event_seq := r.event_seq; lease_id := r.lease_id;
        state := r.state; url := r.url; secret := r.secret; listing_id := r.listing_id;
        change_type := r.change_type; contact_id := r.contact_id; changed := r.changed;
        occurred_at := r.occurred_at; contact := NULL;
        IF r.kind = 'claimed' AND r.change_type <> 'contact.deleted' THEN
            SELECT c.* INTO contact FROM contacts c WHERE c.listing_id = r.listing_id AND c.contact_id = r.contact_id;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

-- Exports ------------------------------------------------------------------------------------

-- Sets the transaction-local setting `p_name` (a crm. name) to `p_value`, as
-- set_config(p_name, p_value, true) does, with a SET LOCAL statement: Citus passes those (and
-- not set_config) on to the workers that a statement of the transaction runs on, when
-- citus.propagate_set_commands is `local` (set here for the transaction; on plain PostgreSQL a
-- setting without effect). The export's filters travel this way to the COPY, which runs on the
-- listing's worker; call it inside the transaction block (BEGIN …), before the COPY.
CREATE FUNCTION crm_set_local(p_name text, p_value text) RETURNS text
    LANGUAGE plpgsql AS $$
BEGIN
    IF p_name !~ '^crm\.[a-z_]+$' THEN
        RAISE EXCEPTION 'not a crm. setting: %', p_name USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('citus.propagate_set_commands', 'local', true);
    EXECUTE format('SET LOCAL %s = %L', p_name, p_value);
    RETURN p_value;
END
$$;

-- Imports -----------------------------------------------------------------------------------

-- 016's functions with the listing in every statement on import_rows, import_errors and
-- import_jobs. The plan and the set-based statement name their tables through
-- crm_local_relation (the tables themselves on one node, the listing's shards on its Citus
-- worker); their text is 016's otherwise.
DROP FUNCTION crm_import_record(bigint, integer, crm_api_outcome, bigint, json);
CREATE FUNCTION crm_import_record(p_listing_id bigint, p_import_id bigint, p_row_no integer, p_outcome crm_api_outcome,
                                  p_contact_id bigint, p_payload json) RETURNS crm_api_outcome
    LANGUAGE plpgsql AS $$
BEGIN
    IF p_outcome NOT IN ('created', 'updated') THEN
        INSERT INTO import_errors (listing_id, import_id, row_no, outcome, parameter, contact_id)
        VALUES (p_listing_id, p_import_id, p_row_no, p_outcome,
                CASE WHEN p_outcome IN ('blacklisted', 'invalid', 'last_contact_point') THEN p_payload #>> '{}' END,
                p_contact_id);
    END IF;
    RETURN p_outcome;
END
$$;

CREATE OR REPLACE FUNCTION crm_import_one_by_one(j import_jobs, p_from integer, p_to integer, p_rows integer[],
                                      OUT created integer, OUT updated integer, OUT rejected integer)
    LANGUAGE plpgsql AS $$
DECLARE
    s import_rows;
    v_outcome crm_api_outcome;
BEGIN
    created := 0; updated := 0; rejected := 0;
    FOR s IN
        SELECT * FROM import_rows x
         WHERE x.import_id = j.import_id AND x.listing_id = j.listing_id AND x.row_no BETWEEN p_from AND p_to
           AND (p_rows IS NULL OR x.row_no = ANY (p_rows))
         ORDER BY x.row_no
    LOOP
        IF s.error_code IS NOT NULL THEN
            INSERT INTO import_errors (listing_id, import_id, row_no, parameter, code, message)
            VALUES (j.listing_id, j.import_id, s.row_no, s.error_parameter, s.error_code, s.error_message);
            v_outcome := NULL;
        ELSIF j.mode = 'create' THEN
            SELECT crm_import_record(j.listing_id, j.import_id, s.row_no, c.outcome, c.contact_id, c.payload) INTO v_outcome
              FROM crm_contact_create(j.listing_id, nullif(s.first_name, ''), nullif(s.last_name, ''),
                                      nullif(s.email, ''), nullif(s.phone, ''),
                                      coalesce(nullif(s.ip_address, '')::inet, j.client_ip)) c;
        ELSE
            SELECT crm_import_record(j.listing_id, j.import_id, s.row_no, c.outcome, c.contact_id, c.payload) INTO v_outcome
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

CREATE OR REPLACE FUNCTION crm_import_plan(p_import_id bigint, p_listing_id bigint, p_mode text, p_client_ip inet,
                                p_from integer, p_to integer)
RETURNS TABLE (row_no integer, tangled boolean, outcome crm_api_outcome, contact_id bigint, parameter text,
               code text, message text,
               first_name text, last_name text, email text, phone text, ip_address inet,
               set_first_name boolean, set_last_name boolean, set_email boolean, set_phone boolean, set_ip boolean,
               target_listing_id bigint, target_ctid tid, old_first_name text, old_last_name text,
               old_email text, old_phone text, old_ip_address inet, noop boolean)
    -- In PL/pgSQL, its statement run with EXECUTE (planned afresh at each call, as the one of
    -- crm_import_apply_planned that calls it), on the tables crm_local_relation names: on
    -- Citus the listing's shards on this node (Citus plans no statement that reaches its
    -- tables through an inlined LANGUAGE sql function with parameters).
    LANGUAGE plpgsql STABLE ROWS 10000 AS $$
BEGIN
    RETURN QUERY EXECUTE format($plan$
    WITH r AS MATERIALIZED (
        -- The rows as the API functions would receive them: '' is NULL, given or not is set_*.
        SELECT s.row_no, s.error_code, s.error_parameter, s.error_message,
               CASE WHEN $3 = 'upsert' THEN s.contact_id END AS id,
               nullif(s.first_name, '') AS f, nullif(s.last_name, '') AS l,
               nullif(s.email, '') AS e, lower(nullif(s.email, '')) AS le, nullif(s.phone, '') AS p,
               coalesce(nullif(s.ip_address, '')::inet, $4) AS ip,
               $3 = 'upsert' AND s.first_name IS NOT NULL AS set_f,
               $3 = 'upsert' AND s.last_name IS NOT NULL AS set_l,
               $3 = 'upsert' AND s.email IS NOT NULL AS set_e,
               $3 = 'upsert' AND s.phone IS NOT NULL AS set_p,
               $3 = 'upsert' AND nullif(s.ip_address, '') IS NOT NULL AS set_ip
          FROM %1$s s
         WHERE s.import_id = $1 AND s.listing_id = $2 AND s.row_no BETWEEN $5 AND $6),
    h AS MATERIALIZED (
        -- The contacts a row meets: the holders of its email (he) and phone (hp), and on upsert
        -- the contact it would update (t): by id, else the one holder (two: a conflict).
        SELECT r.*, he.contact_id AS he, hp.contact_id AS hp,
               t.contact_id AS t, t.first_name AS t_f, t.last_name AS t_l, t.email AS t_e, t.phone AS t_p,
               t.ip_address AS t_ip, t.listing_id AS t_listing, t.ctid AS t_ctid
          FROM r
          LEFT JOIN LATERAL (SELECT x.contact_id FROM %2$s x
                              WHERE x.listing_id = (SELECT $2) AND lower(x.email) = r.le OFFSET 0) he ON true
          LEFT JOIN LATERAL (SELECT x.contact_id FROM %2$s x
                              WHERE x.listing_id = (SELECT $2) AND x.phone = r.p OFFSET 0) hp ON true
          LEFT JOIN LATERAL (SELECT x.*, x.ctid FROM %2$s x
                              WHERE $3 = 'upsert' AND x.listing_id = (SELECT $2)
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
         WHERE $3 = 'upsert' AND u.c IS NOT NULL
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
               EXISTS (SELECT FROM %3$s b
                        WHERE b.kind = 'email' AND b.value = h.le AND (b.listing_id IS NULL OR b.listing_id = $2))
               OR EXISTS (SELECT FROM %3$s b
                           WHERE b.kind = 'domain' AND b.value = split_part(h.le, '@', 2)
                             AND (b.listing_id IS NULL OR b.listing_id = $2))
               OR EXISTS (SELECT FROM %3$s b
                           WHERE b.kind = 'email-sha256' AND (b.listing_id IS NULL OR b.listing_id = $2))
                  AND EXISTS (SELECT FROM %3$s b
                               WHERE b.kind = 'email-sha256' AND b.value = crm_suppression_hash(h.le)
                                 AND (b.listing_id IS NULL OR b.listing_id = $2)) AS email_bl,
               EXISTS (SELECT FROM %3$s b
                        WHERE b.kind = 'phone' AND b.value = h.p AND (b.listing_id IS NULL OR b.listing_id = $2))
               OR EXISTS (SELECT FROM %3$s b
                           WHERE b.kind = 'phone-sha256' AND (b.listing_id IS NULL OR b.listing_id = $2))
                  AND EXISTS (SELECT FROM %3$s b
                               WHERE b.kind = 'phone-sha256' AND b.value = crm_suppression_hash(h.p)
                                 AND (b.listing_id IS NULL OR b.listing_id = $2)) AS phone_bl,
               $3 = 'upsert' AND h.id IS NULL AND (h.he <> h.hp) IS TRUE AS conflict,
               $3 = 'upsert' AND h.t IS NULL AND h.e IS NULL AND h.p IS NULL AS not_found,
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
$plan$, crm_local_relation('import_rows', p_listing_id), crm_local_relation('contacts', p_listing_id),
                 crm_local_relation('blacklist_entries', p_listing_id))
    USING p_import_id, p_listing_id, p_mode, p_client_ip, p_from, p_to;
END
$$;

CREATE OR REPLACE FUNCTION crm_import_apply_planned(j import_jobs, p_from integer, p_to integer, p_max_tangled integer,
                                         OUT last integer,
                                         OUT created integer, OUT written integer, OUT rejected integer,
                                         OUT events integer, OUT planned_creates integer, OUT planned_writes integer,
                                         OUT noops integer, OUT tangled integer[])
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($sql$
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
            -- The sequences by name: a Citus shard has no default that calls one.
            INSERT INTO %1$s AS contacts (contact_id, listing_id, first_name, last_name, email, phone, ip_address)
            SELECT nextval('contact_id_seq'), $2, p.first_name, p.last_name, p.email, p.phone, p.ip_address
              FROM plan p WHERE p.outcome = 'created'
             ORDER BY p.row_no
            RETURNING contacts.listing_id, contacts.contact_id),
        changed AS (
            -- As crm_contact_upsert writes it, on the contact as the plan saw it: one that
            -- another writer changed since (or deleted) is not written. Found by its row
            -- address, read in the same snapshot: whatever the statistics say, the join is a
            -- TID probe per row or one pass over contacts, never a pass over the listing per
            -- row (as a join on listing_id can be planned when they think the listing empty).
            UPDATE %1$s x SET
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
            INSERT INTO %2$s AS contact_changes (seq, listing_id, change_type, contact_id, changed, actor_key_prefix,
                                                 actor_request_id)
            SELECT nextval('contact_changes_seq'), e.listing_id, e.change_type, e.contact_id, e.changed,
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
            INSERT INTO %3$s AS import_errors (listing_id, import_id, row_no, outcome, parameter, contact_id, code, message)
            SELECT $2, $1, p.row_no, p.outcome, p.parameter, p.contact_id, p.code, p.message
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
    $sql$, crm_local_relation('contacts', j.listing_id), crm_local_relation('contact_changes', j.listing_id),
           crm_local_relation('import_errors', j.listing_id))
    INTO last, created, written, rejected, events, planned_creates, planned_writes, noops, tangled
    USING j.import_id, j.listing_id, j.mode, j.client_ip, p_from, p_to, p_max_tangled;
END
$$;

-- One step of job `j`, claimed (locked) by the caller: 016's step after its claim. Every
-- statement is on the job's listing. now() is read once (Citus refuses it in a CASE of an
-- UPDATE).
CREATE FUNCTION crm_import_run(j import_jobs, p_chunk integer, p_max_tangled integer)
RETURNS TABLE (import_id bigint, listing_id bigint, status text, applied integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := now();
    v_from integer;
    v_to integer;
    v_created integer := 0;
    v_updated integer := 0;
    v_rejected integer := 0;
    a record;
    v_more record;
BEGIN
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
        DELETE FROM import_rows x
         WHERE x.import_id = j.import_id AND x.listing_id = j.listing_id AND x.row_no BETWEEN v_from AND v_to;
    END IF;

    UPDATE import_jobs x SET
        applied_through = greatest(v_to, x.applied_through),
        created = x.created + v_created,
        updated = x.updated + v_updated,
        rejected = x.rejected + v_rejected,
        status = CASE WHEN v_to >= x.rows THEN 'completed' ELSE 'running' END,
        finished_at = CASE WHEN v_to >= x.rows THEN v_now END
     WHERE x.import_id = j.import_id AND x.listing_id = j.listing_id
    RETURNING x.* INTO j;
    IF j.status = 'completed' THEN
        DELETE FROM import_rows x WHERE x.import_id = j.import_id AND x.listing_id = j.listing_id;  -- none left, unless miscounted
    END IF;
    RETURN QUERY SELECT j.import_id, j.listing_id, j.status, greatest(v_to - v_from + 1, 0);
END
$$;

-- 016's step: the oldest unfinished job of any listing that no other transaction holds. On one
-- node only: on Citus the step must run on its listing's worker (its settings are read by the
-- triggers there, its events take that node's transaction ids), which a call without the
-- listing cannot; it refuses, and crm_import_step_listing is the call to make there.
CREATE OR REPLACE FUNCTION crm_import_step(p_chunk integer, p_max_tangled integer DEFAULT 1000)
RETURNS TABLE (import_id bigint, listing_id bigint, status text, applied integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    j import_jobs;
BEGIN
    IF p_chunk IS NULL OR p_chunk < 1 OR p_max_tangled IS NULL OR p_max_tangled < 1 THEN
        RAISE EXCEPTION 'chunk and max_tangled must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF crm_is_distributed('import_jobs') THEN
        RAISE EXCEPTION 'crm_import_step(chunk) cannot run on a Citus cluster'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Call crm_import_step_listing(listing_id, chunk) for a listing crm_import_pending() names.';
    END IF;
    SELECT * INTO j FROM import_jobs x
     WHERE x.status IN ('queued', 'running')
     ORDER BY x.import_id
     LIMIT 1
       FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM crm_import_run(j, p_chunk, p_max_tangled);
END
$$;

-- One step of the oldest unfinished job of one listing that no other transaction holds: the
-- call a Citus cluster runs on the listing's worker (distribute.sql), as on one node; no row
-- when the listing has no such job.
CREATE FUNCTION crm_import_step_listing(p_listing_id bigint, p_chunk integer, p_max_tangled integer DEFAULT 1000)
RETURNS TABLE (import_id bigint, listing_id bigint, status text, applied integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    j import_jobs;
BEGIN
    IF p_chunk IS NULL OR p_chunk < 1 OR p_max_tangled IS NULL OR p_max_tangled < 1 THEN
        RAISE EXCEPTION 'chunk and max_tangled must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO j FROM import_jobs x
     WHERE x.listing_id = p_listing_id AND x.status IN ('queued', 'running')
     ORDER BY x.import_id
     LIMIT 1
       FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM crm_import_run(j, p_chunk, p_max_tangled);
END
$$;

-- The listings with unfinished jobs, the one with the oldest job first: where an import worker
-- calls crm_import_step_listing (at most `p_limit`).
CREATE FUNCTION crm_import_pending(p_limit integer DEFAULT 16) RETURNS TABLE (listing_id bigint)
    LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT x.listing_id FROM import_jobs x
     WHERE x.status IN ('queued', 'running')
     GROUP BY x.listing_id
     ORDER BY min(x.import_id)
     LIMIT p_limit;
END
$$;
