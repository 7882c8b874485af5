-- distribute.sql: makes a database migrated with sql/001 … 018 a Citus database distributed by
-- listing (API.md §14). Not a numbered migration: run it after the migrations, and only where
-- the citus extension is installed (`SELECT 1 FROM pg_extension WHERE extname = 'citus'`).
-- Safe to run again: a table already in pg_dist_partition and a function already in
-- pg_dist_object with its distribution argument are left as they are, so it can follow every
-- `crm migrate` (and must follow one that adds a table or a function).
--
-- How to run it: statement by statement, as psql -f does. Every statement ends with a
-- semicolon at the end of a line, and no semicolon ends a line anywhere else (no function
-- bodies, no semicolon at the end of a comment line): splitting the text after each ";\n"
-- gives the statements (pieces that hold only comments and blank lines can be skipped).
-- Run it on the coordinator, in one session, outside a transaction block (Citus copies the
-- existing rows of each table it distributes in its own transaction).
--
-- The bootstrap before it (per database, once): the database exists on every node with the
-- citus extension, and the coordinator knows the workers, e.g. for a coordinator on port
-- 25471 and workers on 25472 and 25473 (scripts/citus-cluster.sh create-db does exactly this):
--   on each worker    CREATE DATABASE d, then in d: CREATE EXTENSION citus
--   on the coordinator CREATE DATABASE d, then in d: CREATE EXTENSION citus,
--                     SELECT citus_set_coordinator_host('127.0.0.1', 25471),
--                     SELECT citus_add_node('127.0.0.1', 25472),
--                     SELECT citus_add_node('127.0.0.1', 25473)
--
-- Shards: citus.shard_count of the session when contacts is distributed (Citus's default 32;
-- the test cluster of scripts/citus-cluster.sh sets 4 in its configuration). Every tenant table
-- takes the same count, co-located with contacts: one listing's rows of every table lie in one
-- shard group, on one worker.
--
-- What stays where:
--   reference tables (a copy on every node): listings, api_keys, api_key_grants,
--     blacklist_entries, change_feed_state (013's singleton: a reference table so that a
--     statement on one listing that joins it still runs on that listing's worker).
--   distributed by listing_id, co-located with contacts: contacts, contact_changes,
--     contact_changes_purged, webhook_endpoints, webhook_deliveries, idempotency_keys,
--     import_jobs, import_rows, import_errors.
--   local to the coordinator: schema_migrations (only the migrator reads it) and
--     rate_limit_usage (017: keyed by API key, not by listing, written by every instance every
--     200 ms: a reference table would make each report a two-phase commit on every node).
--
-- Functions: every crm_ function exists on every node (create_distributed_function without a
-- distribution argument), so that a function running on a worker finds the functions it calls,
-- and a later CREATE OR REPLACE on the coordinator reaches the workers. Those with an argument
-- p_listing_id (the API's writes, the import step, the feed's purge) are distributed by it,
-- co-located with contacts: a call `SELECT … FROM f(…)` whose arguments are constants or
-- parameters then runs whole on the listing's worker. Not those that read only reference
-- tables (the key checks, the blacklist match): the coordinator has those tables itself.
--
-- Triggers: the triggers on contacts, import_rows, webhook_endpoints and blacklist_entries are
-- created on every shard, which Citus allows only with citus.enable_unsafe_triggers. The setting
-- is read when a trigger is created on a distributed table (here, and by a later migration that
-- adds one), not when it fires: the service's sessions need nothing (checked: the API's writes
-- fire the shards' triggers in sessions without it). It is set below for this session, and for
-- later sessions of this database (ALTER DATABASE, which Citus passes on to the workers), so
-- that a later migration creating a trigger finds it. (The DO statement is on one line: its
-- semicolons are not at a line's end.)

SET citus.enable_unsafe_triggers = on;
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET citus.enable_unsafe_triggers = on', current_database()); END $$;

-- A local table with a foreign key to a reference table would otherwise become a "Citus local
-- table" the moment listings is made a reference table, and turning that into a distributed
-- table afterwards drops every function whose argument is its row type (crm_contact_json).
SET citus.enable_local_reference_table_foreign_keys = off;

-- Reference tables, referenced ones first.
SELECT create_reference_table('listings')
 WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'listings'::regclass);
SELECT create_reference_table('api_keys')
 WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'api_keys'::regclass);
SELECT create_reference_table('api_key_grants')
 WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'api_key_grants'::regclass);
SELECT create_reference_table('blacklist_entries')
 WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'blacklist_entries'::regclass);
SELECT create_reference_table('change_feed_state')
 WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'change_feed_state'::regclass);
-- Its one row was copied to the shards: the coordinator's own copy goes (no trigger on it).
SELECT truncate_local_data_after_distributing_table('change_feed_state');

-- Tenant tables, by listing, co-located with contacts, referenced ones first.
SELECT create_distributed_table('contacts', 'listing_id', colocate_with := 'none')
 WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'contacts'::regclass);
SELECT create_distributed_table('contact_changes', 'listing_id', colocate_with := 'contacts')
 WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'contact_changes'::regclass);
SELECT create_distributed_table('contact_changes_purged', 'listing_id', colocate_with := 'contacts')
 WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'contact_changes_purged'::regclass);
SELECT create_distributed_table('webhook_endpoints', 'listing_id', colocate_with := 'contacts')
 WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'webhook_endpoints'::regclass);
SELECT create_distributed_table('webhook_deliveries', 'listing_id', colocate_with := 'contacts')
 WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'webhook_deliveries'::regclass);
SELECT create_distributed_table('idempotency_keys', 'listing_id', colocate_with := 'contacts')
 WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'idempotency_keys'::regclass);
SELECT create_distributed_table('import_jobs', 'listing_id', colocate_with := 'contacts')
 WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'import_jobs'::regclass);
SELECT create_distributed_table('import_rows', 'listing_id', colocate_with := 'contacts')
 WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'import_rows'::regclass);
SELECT create_distributed_table('import_errors', 'listing_id', colocate_with := 'contacts')
 WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'import_errors'::regclass);

-- Functions that run on their listing's worker: those with an argument p_listing_id, but for
-- those that read reference tables only. The import step is called inside a transaction block
-- (BEGIN, SET LOCAL statement_timeout, the call, COMMIT), where Citus delegates only a function
-- marked force_delegation (it then checks that the call stays on the listing's rows).
SELECT create_distributed_function(p.oid::regprocedure, 'p_listing_id', colocate_with := 'contacts',
                                   force_delegation := p.proname = 'crm_import_step_listing')
  FROM pg_proc p
 WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'crm\_%' AND p.prokind = 'f'
   AND 'p_listing_id' = ANY (p.proargnames)
   AND p.proname NOT IN ('crm_key_grants', 'crm_granted_listing', 'crm_key_access', 'crm_blacklist_match')
   AND NOT EXISTS (SELECT FROM pg_dist_object d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.distribution_argument_index IS NOT NULL
                      AND coalesce(d.force_delegation, false) = (p.proname = 'crm_import_step_listing'))
 ORDER BY p.oid;

-- Every other crm_ function on every node.
SELECT create_distributed_function(p.oid::regprocedure)
  FROM pg_proc p
 WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'crm\_%' AND p.prokind = 'f'
   AND NOT EXISTS (SELECT FROM pg_dist_object d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid)
 ORDER BY p.oid;
