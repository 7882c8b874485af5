-- 015: webhook delivery (API.md §11): each endpoint's queue of events to send, claimed by the
-- dispatchers of every `crm serve` process (Sources/Contacts/Webhooks/WebhookDispatcher.swift),
-- sent outside any transaction, and recorded after the receiver answered.
--
-- The way of an event. `crm_webhook_exchange` runs in one short transaction:
--  1. it records the outcomes of the deliveries the caller finished (a `2xx` deletes the
--     delivery; a failure schedules the next attempt or drops it after the last; a `410` or
--     five days of failures disables the endpoint);
--  2. for each active endpoint it can lock (`FOR NO KEY UPDATE SKIP LOCKED`: another process
--     busy with it is skipped, never waited for), it copies the endpoint's events past its
--     cursor and below the feed's horizon (sql/013: no event can appear behind it) into
--     `webhook_deliveries` and moves the cursor, in the same transaction: each committed event
--     is queued exactly once per endpoint, and a rolled-back change has no event to queue;
--  3. it leases due deliveries (`FOR UPDATE SKIP LOCKED`), at most the caller's free slots and
--     at most `p_cap` leased at once per endpoint (counted while holding the endpoint's lock,
--     so the cap holds across processes): `leased_until` is the end of the attempt's time.
-- The caller then sends each one with no transaction open (a transaction held across an HTTP
-- call would hold back the feed's horizon for everyone) and brings the outcome to its next
-- exchange. A process that dies mid-delivery leaves a lease that expires (the timeout plus a
-- margin, at most 30 s): the delivery is sent again, and the attempt does not count. A stale
-- outcome (the lease expired and another process took the delivery) changes nothing but a
-- success, which deletes the delivery all the same.
--
-- Privacy: a delivery row keeps what the event keeps (ids, type, changed field names): the
-- contact itself is read when the delivery is sent, null once deleted.

ALTER TABLE webhook_endpoints ADD COLUMN failing_since timestamptz;

CREATE SEQUENCE webhook_lease_seq;

CREATE TABLE webhook_deliveries (
    webhook_id      bigint NOT NULL REFERENCES webhook_endpoints (webhook_id) ON DELETE CASCADE,
    event_seq       bigint NOT NULL,
    listing_id      bigint NOT NULL,
    change_type     crm_change_type NOT NULL,
    contact_id      bigint NOT NULL,
    changed         text[],
    occurred_at     timestamptz NOT NULL,
    -- Failed attempts so far (an attempt interrupted by a crash is not one).
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_id        bigint,
    leased_until    timestamptz,
    PRIMARY KEY (webhook_id, event_seq)
);
-- Two partial indexes, so that neither the waiting nor the leased are found by reading the
-- other (nor the dead rows the queue's churn leaves until vacuum): in the steady state a
-- delivery is inserted leased and deleted, and the waiting index stays empty.
-- Waiting (not leased), due first, in the order the lease takes them.
CREATE INDEX webhook_deliveries_waiting_idx ON webhook_deliveries (webhook_id, next_attempt_at, event_seq) WHERE lease_id IS NULL;
-- Leased: the endpoint's count against its cap, and leases expired (their process died).
CREATE INDEX webhook_deliveries_leased_idx ON webhook_deliveries (webhook_id, leased_until) WHERE lease_id IS NOT NULL;

-- Records one finished delivery that did not succeed (`crm_webhook_exchange` deletes the
-- delivered ones itself); returns its state: `retrying`, `dropped` (the last retry failed),
-- `disabled` (`410`, or the endpoint failed every attempt for 5 days), `released` (not
-- attempted: handed back) or `stale` (the lease had passed to another claim).
CREATE FUNCTION crm_webhook_record_one(p_webhook_id bigint, p_event_seq bigint, p_lease_id bigint, p_outcome text,
                                       p_retry_after integer, p_error text, p_schedule integer[]) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    v_failing_since timestamptz;
    v_attempts integer;
    v_delay double precision;
BEGIN
    IF p_outcome = 'released' THEN
        UPDATE webhook_deliveries SET lease_id = NULL, leased_until = NULL
         WHERE webhook_id = p_webhook_id AND event_seq = p_event_seq AND lease_id = p_lease_id;
        RETURN CASE WHEN FOUND THEN 'released' ELSE 'stale' END;
    END IF;
    -- A stale outcome (the lease passed to another claim, or the endpoint went) changes nothing.
    UPDATE webhook_deliveries SET attempts = attempts + 1, lease_id = NULL, leased_until = NULL
     WHERE webhook_id = p_webhook_id AND event_seq = p_event_seq AND lease_id = p_lease_id
    RETURNING attempts INTO v_attempts;
    IF NOT FOUND THEN
        RETURN 'stale';
    END IF;
    UPDATE webhook_endpoints SET last_failure_at = now(), last_error = left(p_error, 500),
                                 failing_since = coalesce(failing_since, now())
     WHERE webhook_id = p_webhook_id AND status = 'active'
    RETURNING failing_since INTO v_failing_since;
    IF NOT FOUND THEN
        RETURN 'stale';  -- disabled meanwhile
    END IF;
    IF p_outcome = 'gone' OR v_failing_since <= now() - interval '5 days' THEN
        UPDATE webhook_endpoints SET status = 'disabled' WHERE webhook_id = p_webhook_id;
        DELETE FROM webhook_deliveries WHERE webhook_id = p_webhook_id;
        RETURN 'disabled';
    END IF;
    IF v_attempts > coalesce(cardinality(p_schedule), 0) THEN
        DELETE FROM webhook_deliveries WHERE webhook_id = p_webhook_id AND event_seq = p_event_seq;
        RETURN 'dropped';
    END IF;
    -- Retry-After (a 429 or 503) instead of the schedule, up to a day.
    v_delay := CASE WHEN p_retry_after IS NOT NULL
                    THEN least(greatest(p_retry_after, 0), 86400)
                    ELSE p_schedule[v_attempts] * (0.9 + 0.2 * random()) END;
    UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => v_delay)
     WHERE webhook_id = p_webhook_id AND event_seq = p_event_seq;
    RETURN 'retrying';
END
$$;

-- One exchange (the way of an event above): records `p_outcomes` (a JSON array, one object per
-- finished delivery: `w` webhook id, `s` event seq, `l` lease id, `outcome` `delivered` |
-- `failed` | `gone` | `released`, `retry_after` seconds or null, `error` text), then
-- queues new events and leases at most `p_slots` due deliveries. Returns one `recorded` row per
-- outcome (its state in `state`), a `summary` row (`state`: `endpoints` when any endpoint is
-- active, else `none`), and one `claimed` row per leased delivery.
CREATE FUNCTION crm_webhook_exchange(p_outcomes jsonb, p_schedule integer[], p_slots integer, p_cap integer,
                                     p_lease interval, p_batch integer, p_horizon xid8)
    RETURNS TABLE (kind text, webhook_id bigint, event_seq bigint, lease_id bigint, state text, url text, secret text,
                   listing_id bigint, change_type crm_change_type, contact_id bigint, changed text[], occurred_at timestamptz)
    -- A handful of rows: the caller's join to `contacts` is then a few index probes, not a
    -- hash of the whole table (the default estimate, 1,000 rows, chose that).
    LANGUAGE plpgsql ROWS 8 AS $$
#variable_conflict use_column
DECLARE
    -- The caller's horizon, taken with the snapshot its statement reads the contacts with: an
    -- event queued here is one whose contact that snapshot already sees (this function's own
    -- statements take later snapshots).
    v_horizon xid8 := p_horizon;
    v_lease bigint;
    v_endpoint record;
    v_last record;
    v_row record;
    v_queued boolean;
    v_leased integer;
    v_expired integer;
    v_take integer;
    v_left integer := p_slots;
BEGIN
    -- Nothing here needs the commit on disk before the answer: a crash of the database rolls
    -- back the last exchanges whole (WAL order is kept), which only means deliveries sent
    -- again (at least once) or events queued again (the cursor moves back with them). Not
    -- waiting for the flush makes an exchange several times cheaper.
    PERFORM set_config('synchronous_commit', 'off', true);
    -- 1. Outcomes. First the endpoints they name are locked in id order (every writer of
    --    endpoint rows that waits takes them in that order, before any delivery row; the
    --    claims below skip locked rows instead of waiting); then the successes, the common
    --    case, in two statements, and the rest one by one.
    IF jsonb_array_length(p_outcomes) > 0 THEN
        PERFORM FROM webhook_endpoints w
         WHERE w.webhook_id IN (SELECT (o ->> 'w')::bigint FROM jsonb_array_elements(p_outcomes) o)
         ORDER BY w.webhook_id FOR NO KEY UPDATE;
        -- last_success_at to the second (shown to the second): not one row version per delivery.
        UPDATE webhook_endpoints w SET last_success_at = now(), failing_since = NULL
         WHERE w.webhook_id = ANY (ARRAY(SELECT DISTINCT (o ->> 'w')::bigint FROM jsonb_array_elements(p_outcomes) o
                                          WHERE o ->> 'outcome' = 'delivered'))
           AND (w.last_success_at IS NULL OR w.last_success_at < now() - interval '1 second' OR w.failing_since IS NOT NULL);
        RETURN QUERY
        WITH o AS (
            SELECT * FROM jsonb_to_recordset(p_outcomes)
                AS u(w bigint, s bigint, l bigint, outcome text, retry_after integer, error text)),
        done AS (
            DELETE FROM webhook_deliveries d USING o
             WHERE o.outcome = 'delivered' AND d.webhook_id = o.w AND d.event_seq = o.s)
        SELECT 'recorded', o.w, o.s, o.l, 'delivered', NULL::text, NULL::text, NULL::bigint, NULL::crm_change_type,
               NULL::bigint, NULL::text[], NULL::timestamptz
          FROM o WHERE o.outcome = 'delivered';
    END IF;
    IF p_outcomes @? '$[*] ? (@.outcome != "delivered")' THEN
        RETURN QUERY
        SELECT 'recorded', o.w, o.s, o.l,
               crm_webhook_record_one(o.w, o.s, o.l, o.outcome, o.retry_after, o.error, p_schedule),
               NULL::text, NULL::text, NULL::bigint, NULL::crm_change_type, NULL::bigint, NULL::text[], NULL::timestamptz
          FROM (SELECT * FROM jsonb_to_recordset(p_outcomes)
                       AS u(w bigint, s bigint, l bigint, outcome text, retry_after integer, error text)
                 WHERE u.outcome <> 'delivered'
                 ORDER BY u.w, u.s OFFSET 0) o;
    END IF;
    -- Whether there is anything to deliver to at all (a dispatcher ignores writes until there is).
    RETURN QUERY
    SELECT 'summary', NULL::bigint, NULL::bigint, NULL::bigint,
           CASE WHEN EXISTS (SELECT FROM webhook_endpoints w WHERE w.status = 'active') THEN 'endpoints' ELSE 'none' END,
           NULL::text, NULL::text, NULL::bigint, NULL::crm_change_type, NULL::bigint, NULL::text[], NULL::timestamptz;
    IF v_left <= 0 THEN
        RETURN;
    END IF;
    v_lease := nextval('webhook_lease_seq');
    FOR v_endpoint IN
        SELECT w.* FROM webhook_endpoints w WHERE w.status = 'active'
         ORDER BY random() FOR NO KEY UPDATE SKIP LOCKED
    LOOP
        -- 2. Lease due deliveries from its queue, up to the endpoint's cap: first those whose
        --    lease expired (a process died with them), then the waiting ones due.
        SELECT count(*) FILTER (WHERE d.leased_until > now())::integer,
               count(*) FILTER (WHERE d.leased_until <= now())::integer
          INTO v_leased, v_expired
          FROM webhook_deliveries d WHERE d.webhook_id = v_endpoint.webhook_id AND d.lease_id IS NOT NULL;
        v_take := greatest(0, least(v_left, p_cap - v_leased));
        IF v_take > 0 AND v_expired > 0 THEN
            RETURN QUERY
            WITH due AS (
                SELECT d.webhook_id, d.event_seq FROM webhook_deliveries d
                 WHERE d.webhook_id = v_endpoint.webhook_id AND d.lease_id IS NOT NULL AND d.leased_until <= now()
                 ORDER BY d.leased_until
                 LIMIT v_take
                   FOR UPDATE SKIP LOCKED)
            UPDATE webhook_deliveries d SET lease_id = v_lease, leased_until = now() + p_lease
              FROM due WHERE d.webhook_id = due.webhook_id AND d.event_seq = due.event_seq
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
                 WHERE d.webhook_id = v_endpoint.webhook_id AND d.lease_id IS NULL AND d.next_attempt_at <= now()
                 ORDER BY d.next_attempt_at, d.event_seq
                 LIMIT v_take
                   FOR UPDATE SKIP LOCKED)
            UPDATE webhook_deliveries d SET lease_id = v_lease, leased_until = now() + p_lease
              FROM due WHERE d.webhook_id = due.webhook_id AND d.event_seq = due.event_seq
            RETURNING 'claimed', d.webhook_id, d.event_seq, d.lease_id, NULL::text, v_endpoint.url, v_endpoint.secret,
                      d.listing_id, d.change_type, d.contact_id, d.changed, d.occurred_at;
            GET DIAGNOSTICS v_leased = ROW_COUNT;
            v_take := v_take - v_leased;
            v_left := v_left - v_leased;
        END IF;
        -- 3. Queue the endpoint's new events; while its cap and the caller's slots allow, the
        --    first ones go in leased already (in the steady state, when deliveries keep up,
        --    an event is inserted once and deleted once, never updated).
        v_queued := false;
        FOR v_row IN
            WITH ev AS (
                SELECT e.txid, e.seq, e.listing_id, e.change_type, e.contact_id, e.changed, e.occurred_at,
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
                       CASE WHEN ev.n <= v_take THEN now() + p_lease END
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
             WHERE webhook_id = v_endpoint.webhook_id;
        ELSIF cardinality(v_endpoint.events) < 3 AND (v_endpoint.cursor_txid, v_endpoint.cursor_seq) < (v_horizon, 0) THEN
            -- Subscribed to some types only: past the others, so they are not read again.
            UPDATE webhook_endpoints SET cursor_txid = v_horizon, cursor_seq = 0
             WHERE webhook_id = v_endpoint.webhook_id;
        END IF;
        EXIT WHEN v_left <= 0;
    END LOOP;
END
$$;

-- What is waiting, over the active endpoints: queued deliveries plus events past the cursors
-- (not yet queued), and the age of the oldest (for `/metrics`).
CREATE FUNCTION crm_webhook_backlog(OUT pending bigint, OUT oldest_seconds double precision)
    LANGUAGE sql STABLE AS $$
    WITH waiting AS (
        SELECT d.occurred_at FROM webhook_deliveries d JOIN webhook_endpoints w USING (webhook_id)
         WHERE w.status = 'active'
        UNION ALL
        SELECT e.occurred_at FROM webhook_endpoints w JOIN contact_changes e
            ON e.listing_id = w.listing_id AND (e.txid, e.seq) > (w.cursor_txid, w.cursor_seq)
           AND e.change_type = ANY (w.events)
         WHERE w.status = 'active')
    SELECT count(*), coalesce(extract(epoch FROM now() - min(occurred_at))::double precision, 0) FROM waiting
$$;
