import Postgres

/// `crm webhook add|list|remove`: the same table as the API's (sql/014), without a key.
extension AdminStore {
    /// Adds an endpoint to `listing` (created if needed) with `secret`; returns its id.
    public func addWebhook(listing: Int64, url: String, events: [String], secret: String) async throws -> Int64 {
        try await connection.transaction { connection in
            try await Self.createListing(listing, on: connection)
            return try await connection.query("""
                INSERT INTO webhook_endpoints (listing_id, url, events, secret)
                VALUES ($1, $2, string_to_array($3, ',')::crm_change_type[], $4) RETURNING webhook_id
                """, [listing, url, events.joined(separator: ","), secret])[0].decode(Int64.self, column: 0)
        }
    }

    /// Endpoints of `listing`, or of every listing: "id listing url events status", tab-separated.
    public func listWebhooks(listing: Int64?) async throws -> [String] {
        try await connection.query("""
            SELECT concat_ws(E'\\t', webhook_id, listing_id, url, array_to_string(events, ','), status)
              FROM webhook_endpoints WHERE $1::bigint IS NULL OR listing_id = $1::bigint ORDER BY webhook_id
            """, [listing]).rows.map { try $0.decode(String.self, column: 0) }
    }

    /// Removes an endpoint; false when there was none.
    public func removeWebhook(_ webhookID: Int64) async throws -> Bool {
        try await connection.query("DELETE FROM webhook_endpoints WHERE webhook_id = $1", [webhookID]).affectedRows == 1
    }
}
