import Codecs
import Crypto
import Postgres

/// The listing's webhook endpoints in SQL (sql/014): add, list and remove, each one statement
/// that checks the key's grant with the `webhooks` scope (no row: refused, and
/// ``ContactStore/access(keyHash:listing:)`` tells which `403`). Each reads the listing's rows
/// by `$2`, so that on Citus it runs on the listing's node (sql/018).
public struct WebhookStore: Sendable {
    /// The event types of API.md §10, the values of `events`.
    public static let eventTypes = ["contact.created", "contact.updated", "contact.deleted"]

    /// An endpoint as the API shows it.
    public struct Endpoint: Sendable, Equatable {
        public let webhookID: Int64
        public let url: String
        public let events: [String]
        public let status: String
        /// Events waiting for delivery to it: queued (perhaps retrying) and not yet queued; 0
        /// once disabled (nil in the answer to an add).
        public let pending: Int64?
        public let lastSuccess: String?
        public let lastFailure: String?
        public let lastError: String?

        func write(to writer: inout JSONWriter, secret: String? = nil) {
            writer.beginObject()
            writer.key("webhook_id")
            writer.number(webhookID)
            writer.key("url")
            writer.string(url)
            writer.key("events")
            writer.beginArray()
            for event in events { writer.string(event) }
            writer.endArray()
            writer.key("status")
            writer.string(status)
            if let secret {
                writer.key("secret")
                writer.string(secret)
            }
            if let pending {
                writer.key("pending")
                writer.number(pending)
                for (name, value) in [("last_success_at", lastSuccess), ("last_failure_at", lastFailure), ("last_error", lastError)] {
                    writer.key(name)
                    if let value { writer.string(value) } else { writer.null() }
                }
            }
            writer.endObject()
        }
    }

    public let pool: ConnectionPool

    public init(pool: ConnectionPool) {
        self.pool = pool
    }

    /// `whsec_` + base64 of 32 random bytes from OpenSSL.
    public static func newSecret() -> String {
        "whsec_" + Base64.encode(SecureRandom.bytes(32))
    }

    /// The `events` parameter: comma-separated types, each once; absent or empty: all of them.
    public static func events(_ text: String?) throws(APIError) -> [String] {
        guard let text, !text.isEmpty else { return eventTypes }
        var chosen: [String] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let type = String(part.trimming(.spacesAndTabs))
            guard eventTypes.contains(type) else {
                throw APIError.invalid("events", "events must be a comma-separated list of \(eventTypes.joined(separator: ", ")).")
            }
            if !chosen.contains(type) { chosen.append(type) }
        }
        return eventTypes.filter(chosen.contains)
    }

    static let add = PreparedStatement(name: "crm_webhook_add", sql: """
        SELECT webhook_id, url, events, status FROM crm_webhook_add($1::bytea, $2::bigint, $3, $4, $5)
        """)
    static let list = PreparedStatement(name: "crm_webhook_list", sql: """
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
         WHERE w.listing_id = $2::bigint
           AND EXISTS (SELECT FROM api_keys k JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = $2::bigint
                        WHERE k.key_hash = $1::bytea AND k.revoked_at IS NULL AND 'webhooks'::crm_key_scope = ANY (k.scopes))
         ORDER BY w.webhook_id
        """)
    static let remove = PreparedStatement(name: "crm_webhook_remove", sql: """
        DELETE FROM webhook_endpoints
         WHERE listing_id = $2::bigint AND webhook_id = $3::bigint
           AND EXISTS (SELECT FROM api_keys k JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = $2::bigint
                        WHERE k.key_hash = $1::bytea AND k.revoked_at IS NULL AND 'webhooks'::crm_key_scope = ANY (k.scopes))
        RETURNING webhook_id
        """)

    /// Adds an endpoint; nil when the key may not manage the listing's webhooks.
    public func add(keyHash: [UInt8], listing: Int64, url: String, events: [String], secret: String) async throws -> Endpoint? {
        let rows = try await pool.execute(Self.add, [PostgresBytes(keyHash), listing, url, events.joined(separator: ","), secret])
        guard rows.rowCount > 0 else { return nil }
        return try Self.endpoint(rows[0], detailed: false)
    }

    /// The listing's endpoints; empty also when the key may not see them (ask its access).
    public func list(keyHash: [UInt8], listing: Int64) async throws -> [Endpoint] {
        try await pool.execute(Self.list, [PostgresBytes(keyHash), listing]).rows.map { try Self.endpoint($0, detailed: true) }
    }

    /// Removes an endpoint; false when none was removed (no such endpoint, or no access).
    public func remove(keyHash: [UInt8], listing: Int64, webhookID: Int64) async throws -> Bool {
        try await pool.execute(Self.remove, [PostgresBytes(keyHash), listing, webhookID]).rowCount == 1
    }

    static func endpoint(_ row: PostgresRow, detailed: Bool) throws -> Endpoint {
        Endpoint(webhookID: try row.decode(Int64.self, column: 0), url: try row.decode(String.self, column: 1),
                 events: try row.decode(String.self, column: 2).split(separator: ",").map(String.init),
                 status: try row.decode(String.self, column: 3),
                 pending: detailed ? try row.decode(Int64.self, column: 4) : nil,
                 lastSuccess: detailed ? try row.decode(String?.self, column: 5) : nil,
                 lastFailure: detailed ? try row.decode(String?.self, column: 6) : nil,
                 lastError: detailed ? try row.decode(String?.self, column: 7) : nil)
    }
}
