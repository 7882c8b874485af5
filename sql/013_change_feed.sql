-- 013: the change feed (API.md §10): every committed change to a contact, written by the
-- database in the transaction of the change, read in commit-safe order.
--
-- Events. A row trigger on `contacts` (after INSERT, UPDATE, DELETE) writes one
-- `contact_changes` row per contact changed, so every writer — the API, plain SQL, later
-- imports — produces them, and a rolled-back change leaves none. (Statement triggers with
-- transition tables cost more for the API's one-row statements: pgbench, 64 clients, against
-- the schema without a feed, POST 0.91× / PUT 0.82× / DELETE 0.85× with them, 0.99× / 0.84× /
-- 0.88× with this one.) An update that changes no stored value records nothing; an
-- update's `changed` lists the API's names of the fields whose value changed. A deletion keeps
-- only the contact id: no event holds a name, email or phone (the feed shows the contact as
-- it is now, from `contacts`). The actor comes from two transaction-local settings,
-- `crm.key_prefix` and `crm.request_id`, which the service sets in the statement that writes
-- (`crm_actor`); a plain SQL writer leaves them unset (null).
--
-- The cursor. An event's position is (txid, seq): the writing transaction's id (xid8) and a
-- sequence number. Sequence numbers and timestamps are taken before commit, so a transaction
-- holding 100 can commit after one holding 101; a reader that went past 101 would never see
-- 100. Transaction ids have the same problem, but PostgreSQL tells which ones can still
-- commit: every transaction with an id below the current snapshot's xmin has ended. A page
-- shows only events of transactions below that horizon, in (txid, seq) order, so nothing can
-- ever appear behind a cursor: a reader following `next_after` sees each committed change
-- exactly once. The price: an event is visible only once every transaction older than its
-- own has ended, so a long transaction anywhere on the cluster holds the feed back (the
-- technique and the trade-off of PgQ and of Marten's high-water mark).
--
-- Retention: the service deletes events older than `--change-retention-days` in batches and
-- records the newest position deleted in `change_feed_state`; a cursor before it has lost
-- events (410 cursor_expired).

CREATE TYPE crm_change_type AS ENUM ('contact.created', 'contact.updated', 'contact.deleted');

CREATE SEQUENCE contact_changes_seq;

CREATE TABLE contact_changes (
    listing_id       bigint NOT NULL,
    txid             xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq              bigint NOT NULL DEFAULT nextval('contact_changes_seq'),
    change_type      crm_change_type NOT NULL,
    contact_id       bigint NOT NULL,
    changed          text[],
    occurred_at      timestamptz NOT NULL DEFAULT now(),
    actor_key_prefix text,
    actor_request_id text,
    PRIMARY KEY (listing_id, txid, seq)
);
-- The whole feed in position order, for the purge.
CREATE INDEX contact_changes_position_idx ON contact_changes (txid, seq);

-- The newest position purged (one row); (0, 0) before any purge.
CREATE TABLE change_feed_state (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    purged_txid xid8 NOT NULL DEFAULT '0',
    purged_seq  bigint NOT NULL DEFAULT 0
);
INSERT INTO change_feed_state DEFAULT VALUES;

-- Sets the actor for the changes of this transaction and returns `p_key_hash`, so the write
-- function's first argument carries it and it is set before the write runs.
CREATE FUNCTION crm_actor(p_key_hash bytea, p_key_prefix text, p_request_id text) RETURNS bytea
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM set_config('crm.key_prefix', coalesce(p_key_prefix, ''), true),
            set_config('crm.request_id', coalesce(p_request_id, ''), true);
    RETURN p_key_hash;
END
$$;

CREATE FUNCTION crm_contacts_record_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE v_changed text[];
BEGIN
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
CREATE TRIGGER contacts_record_change AFTER INSERT OR UPDATE OR DELETE ON contacts
    FOR EACH ROW EXECUTE FUNCTION crm_contacts_record_change();

-- TRUNCATE fires no row trigger: its deletions are recorded before it runs.
CREATE FUNCTION crm_contacts_record_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_changes (listing_id, change_type, contact_id, actor_key_prefix, actor_request_id)
    SELECT c.listing_id, 'contact.deleted', c.contact_id,
           nullif(current_setting('crm.key_prefix', true), ''), nullif(current_setting('crm.request_id', true), '')
      FROM contacts c ORDER BY c.listing_id, c.contact_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER contacts_record_truncate BEFORE TRUNCATE ON contacts
    FOR EACH STATEMENT EXECUTE FUNCTION crm_contacts_record_truncate();

-- Deletes the longest run of expired events (older than `p_older_than`) at the start of the
-- feed, at most `p_batch`, in position order, and moves the purge position past them; returns
-- how many. `occurred_at` is a transaction's start, not its position: an old event may lie
-- after a young one, and waits until the young one expires too, so every position below the
-- recorded one is gone and a cursor handed out above it never expires early.
CREATE FUNCTION crm_purge_changes(p_older_than interval, p_batch integer) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
    v_txid xid8;
    v_seq bigint;
BEGIN
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
        RETURNING c.txid, c.seq)
    SELECT count(*)::integer, max(g.txid), (array_agg(g.seq ORDER BY g.txid DESC, g.seq DESC))[1]
      INTO v_count, v_txid, v_seq FROM gone g;
    IF v_count > 0 THEN
        UPDATE change_feed_state s SET purged_txid = v_txid, purged_seq = v_seq
         WHERE (v_txid, v_seq) > (s.purged_txid, s.purged_seq);
    END IF;
    RETURN v_count;
END
$$;
