-- 011: safe retries with `Idempotency-Key` on POST (API.md §9).
--
-- A POST carrying an Idempotency-Key runs `crm_api_create_idempotent`, one statement and so
-- one transaction, which:
--   1. checks the key's grant and `write` scope first (a refusal is not stored, and reveals
--      nothing);
--   2. takes a transaction-scoped advisory lock on (API key, Idempotency-Key) without waiting:
--      held by another transaction means the first request is still running (`in_flight`);
--   3. finds a stored answer: the same fingerprint (method, path and parameters, computed by
--      the service) replays it (`replayed` true), another is `idempotency_key_reused`;
--   4. otherwise runs `crm_api_create` and stores its answer in the same transaction as the
--      contact: a crash between the two is impossible, since there is no between. Only the
--      answers that ran are stored, `created` and `duplicate` (201 and 409); a refusal such as
--      `blacklisted` (400) leaves the key free for a corrected retry.
--
-- The stored answer is the function's own row (outcome, contact id, payload), from which the
-- service renders status and body exactly as for the first request. A stored contact whose
-- row is deleted later keeps only its id (`idempotency_keys_forget_deleted`, for every
-- writer), so no answer outlives a deletion. Answers older than 24 hours are purged by the
-- service in small batches (`crm_purge_idempotency_keys`).
--
-- The function relies on READ COMMITTED (PostgreSQL's default, which the service never
-- changes): each of its statements sees what committed before it. Under REPEATABLE READ a
-- replay racing its first request would fail on the primary key (a 500, rolled back: never a
-- second contact).

ALTER TYPE crm_api_outcome ADD VALUE 'in_flight';
ALTER TYPE crm_api_outcome ADD VALUE 'idempotency_key_reused';

CREATE TABLE idempotency_keys (
    key_id          bigint NOT NULL REFERENCES api_keys ON DELETE CASCADE,
    -- 1 to 255 printable ASCII characters, case-sensitive.
    idempotency_key text NOT NULL CHECK (idempotency_key ~ '^[ -~]{1,255}$'),
    listing_id      bigint NOT NULL REFERENCES listings ON DELETE CASCADE,
    -- SHA-256 of the method, the path and the parameters in a canonical order.
    fingerprint     bytea NOT NULL CHECK (octet_length(fingerprint) = 32),
    outcome         crm_api_outcome NOT NULL,
    contact_id      bigint,
    payload         json,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
CREATE INDEX idempotency_keys_contact_idx ON idempotency_keys (listing_id, contact_id);

-- The advisory lock that marks (API key, Idempotency-Key) as being processed.
CREATE FUNCTION crm_idempotency_lock_id(p_key_id bigint, p_idempotency_key text) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN hashtextextended(p_idempotency_key, p_key_id);

CREATE FUNCTION crm_api_create_idempotent(
    p_key_hash bytea, p_listing_id bigint, p_idempotency_key text, p_fingerprint bytea,
    p_first_name text, p_last_name text, p_email text, p_phone text, p_ip inet)
RETURNS TABLE (outcome crm_api_outcome, contact_id bigint, payload json, replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_key_id bigint;
    s idempotency_keys;
    r record;
BEGIN
    SELECT k.key_id INTO v_key_id
      FROM api_keys k
      JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = p_listing_id
     WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL AND 'write' = ANY (k.scopes);
    IF v_key_id IS NULL THEN
        RETURN QUERY SELECT 'forbidden'::crm_api_outcome, NULL::bigint, NULL::json, false;
        RETURN;
    END IF;
    IF NOT pg_try_advisory_xact_lock(crm_idempotency_lock_id(v_key_id, p_idempotency_key)) THEN
        RETURN QUERY SELECT 'in_flight'::crm_api_outcome, NULL::bigint, NULL::json, false;
        RETURN;
    END IF;
    -- Holding the lock, only committed answers can exist for this key: this statement's
    -- snapshot, taken after the lock, sees one committed just before.
    SELECT * INTO s FROM idempotency_keys i
     WHERE i.key_id = v_key_id AND i.idempotency_key = p_idempotency_key;
    IF FOUND THEN
        IF s.fingerprint <> p_fingerprint THEN
            RETURN QUERY SELECT 'idempotency_key_reused'::crm_api_outcome, NULL::bigint, NULL::json, false;
        ELSE
            RETURN QUERY SELECT s.outcome, s.contact_id, s.payload, true;
        END IF;
        RETURN;
    END IF;
    SELECT * INTO r FROM crm_api_create(p_key_hash, p_listing_id, p_first_name, p_last_name, p_email, p_phone, p_ip) c;
    IF r.outcome IN ('created', 'duplicate') THEN
        INSERT INTO idempotency_keys (key_id, idempotency_key, listing_id, fingerprint, outcome, contact_id, payload)
        VALUES (v_key_id, p_idempotency_key, p_listing_id, p_fingerprint, r.outcome, r.contact_id, r.payload);
    END IF;
    RETURN QUERY SELECT r.outcome, r.contact_id, r.payload, false;
END
$$;

-- A deleted contact's stored answers keep its id only, whoever deletes it.
CREATE FUNCTION crm_idempotency_forget_deleted() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE idempotency_keys i SET payload = ('{"contact_id":' || i.contact_id || '}')::json
      FROM gone
     WHERE i.listing_id = gone.listing_id AND i.contact_id = gone.contact_id AND i.outcome = 'created';
    RETURN NULL;
END
$$;

CREATE TRIGGER idempotency_keys_forget_deleted AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION crm_idempotency_forget_deleted();

-- Deletes up to `p_batch` answers older than `p_older_than`; returns how many. The service
-- calls it until it deletes fewer than a batch, each call its own short transaction.
CREATE FUNCTION crm_purge_idempotency_keys(p_older_than interval, p_batch integer) RETURNS integer
    LANGUAGE sql AS $$
    WITH doomed AS (
        SELECT key_id, idempotency_key FROM idempotency_keys
         WHERE created_at < now() - p_older_than
         ORDER BY created_at
         LIMIT p_batch
           FOR UPDATE SKIP LOCKED),
    gone AS (
        DELETE FROM idempotency_keys i USING doomed d
         WHERE i.key_id = d.key_id AND i.idempotency_key = d.idempotency_key
        RETURNING 1)
    SELECT count(*)::integer FROM gone
    $$;

-- TRUNCATE fires no DELETE trigger: a statement trigger on TRUNCATE reduces every stored
-- answer to its contact's id, as a delete does.
CREATE FUNCTION crm_idempotency_forget_truncated() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE idempotency_keys i SET payload = ('{"contact_id":' || i.contact_id || '}')::json
     WHERE i.outcome = 'created';
    RETURN NULL;
END
$$;

CREATE TRIGGER idempotency_keys_forget_truncated AFTER TRUNCATE ON contacts
    FOR EACH STATEMENT EXECUTE FUNCTION crm_idempotency_forget_truncated();
