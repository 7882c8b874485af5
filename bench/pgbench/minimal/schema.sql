-- A plain copy of the tables make bench measures, for the minimal ceilings: the same columns,
-- checks, defaults and indexes (LIKE … INCLUDING ALL), and the same rows, but none of our
-- functions and no triggers (LIKE copies neither), so the statements in this folder pay only
-- for the work itself.
DROP SCHEMA IF EXISTS plain CASCADE;
CREATE SCHEMA plain;
CREATE TABLE plain.api_keys (LIKE public.api_keys INCLUDING ALL);
CREATE TABLE plain.api_key_grants (LIKE public.api_key_grants INCLUDING ALL);
CREATE TABLE plain.blacklist_entries (LIKE public.blacklist_entries INCLUDING ALL);
CREATE TABLE plain.contacts (LIKE public.contacts INCLUDING ALL);
CREATE TABLE plain.contact_changes (LIKE public.contact_changes INCLUDING ALL);
INSERT INTO plain.api_keys OVERRIDING SYSTEM VALUE SELECT * FROM public.api_keys;
INSERT INTO plain.api_key_grants SELECT * FROM public.api_key_grants;
INSERT INTO plain.blacklist_entries OVERRIDING SYSTEM VALUE SELECT * FROM public.blacklist_entries;
INSERT INTO plain.contacts SELECT * FROM public.contacts;
INSERT INTO plain.contact_changes SELECT * FROM public.contact_changes;
VACUUM ANALYZE plain.api_keys, plain.api_key_grants, plain.blacklist_entries, plain.contacts, plain.contact_changes;
