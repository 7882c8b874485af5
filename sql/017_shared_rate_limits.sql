-- 017: a key's rate limit across every `crm serve` sharing the database (API.md §14).
--
-- Each instance keeps a token bucket per rate-limited key, as before, so admitting a request
-- costs no database work. Every 200 ms an instance reports, in one statement for all the keys
-- it used lately, how many requests of each it admitted since its last report, and reads back
-- how many every other instance has admitted in total; it debits its own buckets by what the
-- others admitted since it last looked. So each instance's bucket is a copy of one shared
-- bucket, late by at most one report: N instances behind a balancer admit the key's rate, not
-- N times it, and a key used through one instance only is limited exactly as before.
--
-- `admitted` is a running count per (key, instance), only ever added to; a reader keeps the
-- sum it last saw and debits the increase (a decrease, when rows were purged, is a new
-- baseline). A reader new to a key cannot tell old counts from new ones, so its first reading
-- debits only what the others admitted in their latest report of the last second (`latest`):
-- instances that start on a key together still pay for each other's first bursts. Rows not
-- reported for 10 minutes are deleted by the reports themselves.

CREATE TABLE rate_limit_usage (
    key_hash    bytea NOT NULL,
    instance_id uuid NOT NULL,
    admitted    bigint NOT NULL CHECK (admitted >= 0),
    -- What the latest report added.
    latest      bigint NOT NULL CHECK (latest >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_hash, instance_id)
);

-- Adds `p_admitted[i]` to the count of key `p_key_hashes[i]` (lower-case hex of the key's
-- SHA-256) for `p_instance`, and returns, for each of those keys, the total every other
-- instance has admitted, and what their reports of the last second added, by position in
-- the arrays (1-based: `slot`).
CREATE FUNCTION crm_rate_limit_share(p_instance uuid, p_key_hashes text[], p_admitted bigint[])
RETURNS TABLE (slot integer, others_admitted bigint, others_latest bigint)
LANGUAGE sql AS $$
    WITH reported AS (
        SELECT i::integer AS slot, decode(h, 'hex') AS key_hash, n AS admitted
          FROM unnest(p_key_hashes, p_admitted) WITH ORDINALITY AS r(h, n, i)
    ), counted AS (
        INSERT INTO rate_limit_usage AS u (key_hash, instance_id, admitted, latest)
        SELECT key_hash, p_instance, admitted, admitted FROM reported
        ON CONFLICT (key_hash, instance_id)
        DO UPDATE SET admitted = u.admitted + excluded.admitted, latest = excluded.latest, updated_at = now()
    ), expired AS (
        DELETE FROM rate_limit_usage WHERE updated_at < now() - interval '10 minutes'
    )
    SELECT r.slot, coalesce(sum(u.admitted), 0)::bigint,
           coalesce(sum(u.latest) FILTER (WHERE u.updated_at > now() - interval '1 second'), 0)::bigint
      FROM reported r
      LEFT JOIN rate_limit_usage u ON u.key_hash = r.key_hash AND u.instance_id <> p_instance
     GROUP BY r.slot
$$;
