-- 014: webhook endpoints (API.md §11), managed with the `webhooks` scope.
--
-- An endpoint belongs to a listing: its URL (http or https; the service refuses private
-- addresses before it gets here, Sources/Contacts/Webhooks), the event types it takes, its
-- signing secret (`whsec_` + base64 of 32 random bytes, shown once when it is added; stored
-- as is, since each delivery is signed with it), its status, and where delivery stands:
-- `cursor_txid`/`cursor_seq`, a position in the change feed (sql/013) from which its events
-- are delivered. A new endpoint starts at the feed's horizon: it receives the changes of every
-- transaction that had not ended when it was added, and of all later ones (so also a change
-- that committed just before, when an older transaction was still open then). `pending` (the
-- API's) counts its events past the cursor.

CREATE TABLE webhook_endpoints (
    listing_id      bigint NOT NULL REFERENCES listings ON DELETE CASCADE,
    webhook_id      bigint GENERATED ALWAYS AS IDENTITY,
    url             text NOT NULL CHECK (url ~ '^https?://[^[:space:][:cntrl:]]+$' AND char_length(url) <= 2048),
    events          crm_change_type[] NOT NULL CHECK (cardinality(events) >= 1 AND array_position(events, NULL) IS NULL),
    secret          text NOT NULL CHECK (secret ~ '^whsec_[A-Za-z0-9+/]{43}=$'),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    cursor_txid     xid8 NOT NULL DEFAULT pg_snapshot_xmin(pg_current_snapshot()),
    cursor_seq      bigint NOT NULL DEFAULT 0,
    last_success_at timestamptz,
    last_failure_at timestamptz,
    last_error      text CHECK (char_length(last_error) <= 500),
    PRIMARY KEY (listing_id, webhook_id),
    CONSTRAINT webhook_endpoints_webhook_id_key UNIQUE (webhook_id)
);
