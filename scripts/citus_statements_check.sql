-- citus_statements_check.sql: the service's statements in the form they take for a Citus
-- cluster (sql/018 and sql/citus/distribute.sql's header say why), run once each against a
-- fresh database migrated with sql/001 … 018 — plain PostgreSQL, or Citus after distribute.sql:
--   psql -X -f scripts/citus_statements_check.sql "postgresql://…/fresh"
-- The writes are checked (it stops at the first wrong outcome); the rest prints what each
-- statement returns, to read. It ends with "verify: done". Expects the first import of the
-- database to get import_id 1 (a fresh database).
\set ON_ERROR_STOP 1
\pset pager off
SET client_min_messages = warning;
\set gate_read 'EXISTS (SELECT FROM api_keys k JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = $2::bigint WHERE k.key_hash = $1::bytea AND k.revoked_at IS NULL AND ''read'' = ANY (k.scopes))'
\set gate_hooks 'EXISTS (SELECT FROM api_keys k JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = $2::bigint WHERE k.key_hash = $1::bytea AND k.revoked_at IS NULL AND ''webhooks'' = ANY (k.scopes))'
\set cols 'c.contact_id, c.unique_id, c.first_name, c.last_name, c.email, c.phone, c.created_at AT TIME ZONE ''UTC'', c.updated_at AT TIME ZONE ''UTC'', host(c.ip_address), c.source, c.status'

-- AdminStore
INSERT INTO listings (listing_id) VALUES (1) ON CONFLICT DO NOTHING;
INSERT INTO listings (listing_id) VALUES (2) ON CONFLICT DO NOTHING;
INSERT INTO listings (listing_id) VALUES (3) ON CONFLICT DO NOTHING;
INSERT INTO api_keys (key_hash, key_prefix, name, rate_limit, scopes)
VALUES (crm_hash_api_key('k1'), 'crm_k1', 'k1', NULL, '{read,write,webhooks}'::crm_key_scope[]) RETURNING key_id AS k1 \gset
INSERT INTO api_key_grants (listing_id, key_id) VALUES (1, :k1);
INSERT INTO api_key_grants (listing_id, key_id) VALUES (2, :k1);
INSERT INTO api_key_grants (listing_id, key_id) VALUES (3, :k1);
INSERT INTO blacklist_entries (listing_id, kind, value) VALUES (NULL, 'domain', 'spam.example') ON CONFLICT DO NOTHING;
-- KeyGate
PREPARE key_lookup(bytea) AS SELECT rate_limit FROM api_keys WHERE key_hash = $1::bytea AND revoked_at IS NULL;
EXECUTE key_lookup(crm_hash_api_key('k1'));

-- ContactStore (new signatures: the actor as the last two arguments)
PREPARE api_create(bytea, bigint, text, text, text, text, text, text, text) AS
SELECT outcome, contact_id, payload::text FROM crm_api_create($1::bytea, $2::bigint, $3, $4, $5, $6, $7::inet, $8, $9);
PREPARE api_upsert(bytea, bigint, bigint, text, text, text, text, text, boolean, boolean, boolean, boolean, boolean, text, text) AS
SELECT outcome, contact_id, payload::text
  FROM crm_api_upsert($1::bytea, $2::bigint, $3::bigint, $4, $5, $6, $7, $8::inet, $9, $10, $11, $12, $13, $14, $15);
PREPARE api_suppress(bytea, bigint, bigint, text, text, text, text) AS
SELECT outcome, contact_id, payload::text FROM crm_api_suppress($1::bytea, $2::bigint, $3::bigint, $4, $5, $6, $7);
PREPARE api_idem(bytea, bigint, text, bytea, text, text, text, text, text, text, text) AS
SELECT outcome, contact_id, payload::text, replayed
  FROM crm_api_create_idempotent($1::bytea, $2::bigint, $3, $4::bytea, $5, $6, $7, $8, $9::inet, $10, $11);
PREPARE api_delete(bytea, bigint, bigint, text, text, text, text) AS
SELECT outcome, contact_id, payload::text FROM crm_api_delete($1::bytea, $2::bigint, $3::bigint, $4, $5, $6, $7);

EXECUTE api_create(crm_hash_api_key('k1'), 1, 'Ann', 'A', 'ann@x.com', '15550000001', '10.0.0.1', 'crm_k1', 'r1');
SELECT outcome AS dup FROM crm_api_create(crm_hash_api_key('k1'), 1, 'X', NULL, 'ANN@x.com', NULL, NULL, 'crm_k1', 'r2') \gset
SELECT outcome AS bl, payload AS bl_param FROM crm_api_create(crm_hash_api_key('k1'), 1, 'X', NULL, 'x@spam.example', NULL, NULL, 'crm_k1', 'r3') \gset
SELECT outcome AS forb FROM crm_api_create(crm_hash_api_key('nokey'), 1, 'X', NULL, 'y@x.com', NULL, NULL, 'crm_k1', 'r4') \gset
SELECT outcome AS bob FROM crm_api_create(crm_hash_api_key('k1'), 2, 'Bob', NULL, 'bob@x.com', NULL, NULL, 'crm_k1', 'r5') \gset
SELECT outcome AS up1 FROM crm_api_upsert(crm_hash_api_key('k1'), 1, NULL, 'Anna', NULL, 'ann@x.com', NULL, NULL, true, false, true, false, false, 'crm_k1', 'r6') \gset
SELECT outcome AS up2 FROM crm_api_upsert(crm_hash_api_key('k1'), 1, NULL, 'New', NULL, 'new@x.com', NULL, NULL, true, false, true, false, false, 'crm_k1', 'r7') \gset
SELECT outcome AS up3 FROM crm_api_upsert(crm_hash_api_key('k1'), 1, NULL, 'C', NULL, 'new@x.com', '15550000001', NULL, true, false, true, true, false, 'crm_k1', 'r8') \gset
SELECT outcome AS id1, replayed AS rep1 FROM crm_api_create_idempotent(crm_hash_api_key('k1'), 1, 'idem', sha256('a'), 'Id', NULL, 'id@x.com', NULL, NULL, 'crm_k1', 'r9') \gset
SELECT outcome AS id2, replayed AS rep2 FROM crm_api_create_idempotent(crm_hash_api_key('k1'), 1, 'idem', sha256('a'), 'Id', NULL, 'id@x.com', NULL, NULL, 'crm_k1', 'r10') \gset
SELECT outcome AS id3 FROM crm_api_create_idempotent(crm_hash_api_key('k1'), 2, 'idem', sha256('b'), 'Id', NULL, 'id@x.com', NULL, NULL, 'crm_k1', 'r11') \gset
SELECT outcome AS sup FROM crm_api_suppress(crm_hash_api_key('k1'), 1, NULL, 'new@x.com', NULL, 'crm_k1', 'r12') \gset
SELECT outcome AS del FROM crm_api_delete(crm_hash_api_key('k1'), 1, NULL, 'new@x.com', NULL, 'crm_k1', 'r13') \gset
SELECT outcome AS erased FROM crm_api_create(crm_hash_api_key('k1'), 1, 'Again', NULL, 'NEW@x.com', NULL, NULL, 'crm_k1', 'r14') \gset
SELECT outcome AS del2 FROM crm_api_delete(crm_hash_api_key('k1'), 1, NULL, 'id@x.com', NULL, 'crm_k1', 'r15') \gset
SELECT count(*) AS actorless FROM contact_changes WHERE actor_request_id IS NULL \gset
SELECT payload::text AS forgotten FROM idempotency_keys WHERE idempotency_key = 'idem' \gset
SELECT :'dup' = 'duplicate' AND :'bl' = 'blacklisted' AND :'bl_param' = '"email"' AND :'forb' = 'forbidden' AND :'bob' = 'created'
   AND :'up1' = 'updated' AND :'up2' = 'created' AND :'up3' = 'conflict' AND :'id1' = 'created' AND NOT :'rep1'
   AND :'id2' = 'created' AND :'rep2' AND :'id3' = 'idempotency_key_reused' AND :'sup' = 'suppressed' AND :'del' = 'deleted'
   AND :'erased' = 'blacklisted' AND :'del2' = 'deleted' AND :actorless = 0 AND :'forgotten' ~ '^\{"contact_id":[0-9]+\}$' AS writes_ok \gset
\if :writes_ok
\echo 'writes: ok'
\else
\echo 'writes: FAILED' :dup :bl :bl_param :forb :bob :up1 :up2 :up3 :id1 :rep1 :id2 :rep2 :id3 :sup :del :erased :del2 :actorless :forgotten
SELECT 1/0;
\endif

-- ContactSearchQuery (gate written out; trigram searches with listing_id = $2)
PREPARE search_email(bytea, bigint, bigint, int, text) AS
SELECT :cols FROM contacts c WHERE :gate_read AND c.listing_id = $2::bigint AND c.contact_id > $3::bigint AND lower(c.email) = lower($5)
 ORDER BY c.contact_id LIMIT $4::int + 1;
PREPARE search_name(bytea, bigint, bigint, int, text) AS
SELECT :cols FROM contacts c WHERE :gate_read AND c.listing_id = $2::bigint AND c.contact_id > $3::bigint
   AND crm_full_name(c.first_name, c.last_name) LIKE '%' || crm_like_literal(lower($5)) || '%'
 ORDER BY c.contact_id + 0 LIMIT $4::int + 1;
PREPARE key_access(bytea, bigint) AS SELECT array_to_string(access.scopes, ',') FROM crm_key_access($1::bytea, $2::bigint) AS access(scopes);
EXECUTE search_email(crm_hash_api_key('k1'), 1, 0, 100, 'ANN@x.com');
EXECUTE search_name(crm_hash_api_key('k1'), 1, 0, 100, 'nna a');
EXECUTE key_access(crm_hash_api_key('k1'), 1);

-- ChangeFeed (gate written out, contacts joined on $2, purge position per listing)
PREPARE feed(bytea, bigint, text, bigint, int, boolean, text) AS
SELECT h.horizon::text, $6::boolean AND ($3::xid8, $4::bigint) < (h.purged_txid, h.purged_seq),
       e.seq, e.txid::text, e.change_type::text, e.contact_id, array_to_string(e.changed, ','),
       e.occurred_at AT TIME ZONE 'UTC', e.actor_key_prefix, e.actor_request_id, :cols
  FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon,
               coalesce((SELECT p.purged_txid FROM contact_changes_purged p WHERE p.listing_id = $2::bigint), '0') AS purged_txid,
               coalesce((SELECT p.purged_seq FROM contact_changes_purged p WHERE p.listing_id = $2::bigint), 0) AS purged_seq) h
  LEFT JOIN LATERAL (
       SELECT * FROM contact_changes x
        WHERE x.listing_id = $2::bigint AND (x.txid, x.seq) > ($3::xid8, $4::bigint) AND x.txid < h.horizon
          AND x.txid <> ALL ($7::xid8[])
        ORDER BY x.txid, x.seq
        LIMIT $5::int) e ON true
  LEFT JOIN contacts c ON c.listing_id = $2::bigint AND c.listing_id = e.listing_id AND c.contact_id = e.contact_id
 WHERE :gate_read
 ORDER BY e.txid, e.seq;
EXECUTE feed(crm_hash_api_key('k1'), 1, '0', 0, 100, false, '{}');
-- every event of listing 1 below the horizon, in order, none of listing 2

SELECT count(*) AS events1 FROM contact_changes WHERE listing_id = 1 \gset
\echo 'events of listing 1 (the feed above must show them all):' :events1

-- Export: snapshot, filters by crm_set_local, COPY, in one REPEATABLE READ transaction
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SET LOCAL statement_timeout = 0;
PREPARE snap(bytea, bigint) AS
SELECT h.horizon::text,
       (SELECT coalesce(string_agg(t.txid::text, '.' ORDER BY t.txid), '')
          FROM (SELECT DISTINCT x.txid FROM contact_changes x
                 WHERE x.txid >= h.horizon AND x.listing_id = $2::bigint) t)
  FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon) h
 WHERE $1::bytea IS NULL OR :gate_read;
EXECUTE snap(crm_hash_api_key('k1'), 1);
SELECT crm_set_local('crm.export_email', 'ann@X.com');
COPY (SELECT row_to_json(r)::text FROM (SELECT c.contact_id AS contact_id, c.email AS contact_email FROM contacts c WHERE c.listing_id = 1 AND c.contact_id > 0 AND lower(c.email) = lower(current_setting('crm.export_email')) ORDER BY c.contact_id) r) TO STDOUT;
COMMIT;

-- WebhookStore (gate written out, subqueries on $2)
PREPARE hook_add(bytea, bigint, text, text, text) AS
INSERT INTO webhook_endpoints (listing_id, url, events, secret)
SELECT $2::bigint, $3, string_to_array($4, ',')::crm_change_type[], $5
 WHERE :gate_hooks
RETURNING webhook_id, url, array_to_string(events, ','), status;
PREPARE hook_list(bytea, bigint) AS
SELECT w.webhook_id, w.url, array_to_string(w.events, ','), w.status,
       CASE WHEN w.status = 'active' THEN
           (SELECT count(*) FROM contact_changes e
             WHERE e.listing_id = $2::bigint AND (e.txid, e.seq) > (w.cursor_txid, w.cursor_seq)
               AND e.change_type = ANY (w.events))
           + (SELECT count(*) FROM webhook_deliveries d WHERE d.listing_id = $2::bigint AND d.webhook_id = w.webhook_id)
       ELSE 0 END,
       to_char(w.last_success_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
       to_char(w.last_failure_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), w.last_error
  FROM webhook_endpoints w
 WHERE w.listing_id = $2::bigint AND :gate_hooks
 ORDER BY w.webhook_id;
PREPARE hook_remove(bytea, bigint, bigint) AS
DELETE FROM webhook_endpoints
 WHERE listing_id = $2::bigint AND webhook_id = $3::bigint AND :gate_hooks
RETURNING webhook_id;
EXECUTE hook_add(crm_hash_api_key('k1'), 1, 'https://example.com/1', 'contact.created,contact.updated,contact.deleted', 'whsec_' || repeat('A', 43) || '=');
EXECUTE hook_add(crm_hash_api_key('k1'), 2, 'https://example.com/2', 'contact.created', 'whsec_' || repeat('B', 43) || '=');
SELECT outcome FROM crm_api_create(crm_hash_api_key('k1'), 1, 'W1', NULL, 'w1@x.com', NULL, NULL, 'crm_k1', 'rw1');
SELECT outcome FROM crm_api_create(crm_hash_api_key('k1'), 2, 'W2', NULL, 'w2@x.com', NULL, NULL, 'crm_k1', 'rw2');
SELECT outcome FROM crm_api_upsert(crm_hash_api_key('k1'), 1, NULL, 'W1b', NULL, 'w1@x.com', NULL, NULL, true, false, true, false, false, 'crm_k1', 'rw3');
EXECUTE hook_list(crm_hash_api_key('k1'), 1);
-- WebhookQueue.exchange (new form: no horizon, the contact from the function)
PREPARE exchange(jsonb, int[], int, int, double precision, int) AS
SELECT x.kind, x.webhook_id, x.event_seq, x.lease_id, x.state, x.url, x.secret, x.listing_id,
       x.change_type::text, x.contact_id, array_to_string(x.changed, ','),
       to_char(x.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), :cols
  FROM crm_webhook_exchange($1::jsonb, $2::int[], $3::int, $4::int, make_interval(secs => $5::double precision), $6::int) x
 CROSS JOIN LATERAL (SELECT (x.contact).*) c;
EXECUTE exchange('[]', '{5,300}', 10, 4, 30, 100);
SELECT json_agg(json_build_object('w', webhook_id, 's', event_seq, 'l', lease_id,
                                  'outcome', CASE WHEN listing_id = 1 THEN 'delivered' ELSE 'failed' END,
                                  'error', 'HTTP 500'))::text AS outcomes
  FROM webhook_deliveries WHERE lease_id IS NOT NULL \gset
EXECUTE exchange(:'outcomes', '{5,300}', 10, 4, 30, 100);
SELECT webhook_id, attempts, lease_id IS NULL AS released FROM webhook_deliveries ORDER BY 1;
PREPARE backlog AS SELECT pending, oldest_seconds FROM crm_webhook_backlog();
EXECUTE backlog;
EXECUTE hook_list(crm_hash_api_key('k1'), 2);

-- Imports: upload transaction (COPY with listing_id), step by listing, job, errors, statistics
BEGIN;
SET LOCAL statement_timeout = 0;
SELECT pg_try_advisory_xact_lock(crm_idempotency_lock_id(k.key_id, 'imp')) FROM api_keys k WHERE k.key_hash = crm_hash_api_key('k1');
SELECT j.listing_id, j.fingerprint FROM import_jobs j JOIN api_keys k ON k.key_id = j.key_id WHERE k.key_hash = crm_hash_api_key('k1') AND j.idempotency_key = 'imp';
INSERT INTO import_jobs (listing_id, mode, key_prefix, request_id, client_ip, key_id, idempotency_key)
SELECT 3, 'upsert', 'crm_k1', 'r-imp', nullif('203.0.113.9', '')::inet, (SELECT k.key_id FROM api_keys k WHERE k.key_hash = crm_hash_api_key('k1')), 'imp'
 WHERE crm_key_grants(crm_hash_api_key('k1'), 3, 'write')
RETURNING import_id AS imp \gset
COPY import_rows (listing_id, import_id, row_no, contact_id, first_name, last_name, email, phone, ip_address, error_code, error_parameter, error_message) FROM STDIN;
3	1	1	\N	Imp	One	imp1@x.com	\N	\N	\N	\N	\N
3	1	2	\N	Imp	Two	imp2@x.com	15550000002	\N	\N	\N	\N
3	1	3	\N	Bad	\N	x@spam.example	\N	\N	\N	\N	\N
3	1	4	\N	\N	\N	\N	\N	\N	invalid_parameter	\N	unreadable
3	1	5	\N	Imp	One again	imp1@x.com	\N	\N	\N	\N	\N
\.
UPDATE import_jobs j SET rows = 5, fingerprint = sha256('f') WHERE j.import_id = :imp AND j.listing_id = 3 RETURNING j.import_id, j.status, j.rows;
COMMIT;
SELECT listing_id FROM crm_import_pending();
PREPARE step(bigint, int) AS SELECT import_id, status, applied FROM crm_import_step_listing($1::bigint, $2::int);
EXECUTE step(3, 2);
EXECUTE step(3, 10);
EXECUTE step(3, 10);
PREPARE job(bytea, bigint, bigint) AS
SELECT j.import_id, j.mode, j.status, j.rows, j.created, j.updated, j.rejected FROM import_jobs j
 WHERE j.listing_id = $2 AND j.import_id = $3 AND :gate_read;
EXECUTE job(crm_hash_api_key('k1'), 3, :imp);
PREPARE errors(bigint, bigint, bigint, int) AS
SELECT e.row_no, e.outcome, e.contact_id, to_json(e.parameter)::text, e.code, e.message
  FROM import_errors e WHERE e.listing_id = $1 AND e.import_id = $2 AND e.row_no > $3 ORDER BY e.row_no LIMIT $4;
EXECUTE errors(3, :imp, 0, 100);
SELECT status, count(*), coalesce(sum(created), 0), coalesce(sum(updated), 0), coalesce(sum(rejected), 0) FROM import_jobs GROUP BY status;
SELECT change_type, changed, actor_request_id FROM contact_changes WHERE listing_id = 3 ORDER BY txid, seq;

-- RetentionPurger
SELECT crm_purge_idempotency_keys(make_interval(secs => 86400), 500) AS purged_answers;
UPDATE contact_changes SET occurred_at = '2000-01-01' WHERE listing_id = 2;
SELECT crm_purge_changes(make_interval(secs => 7 * 86400), 1000) AS purged_events;
SELECT listing_id, purged_seq > 0 AS moved FROM contact_changes_purged ORDER BY 1;
EXECUTE feed(crm_hash_api_key('k1'), 2, '0', 0, 100, true, '{}');

-- plain SQL: TRUNCATE contacts
TRUNCATE contacts;
SELECT count(*) AS deleted_events FROM contact_changes WHERE change_type = 'contact.deleted';
\echo 'verify: done'
