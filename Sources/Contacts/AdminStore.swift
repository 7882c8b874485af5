import Codecs
import FoundationEssentials
import Postgres

/// The administrative side of the schema, for the `crm key …` and `crm blacklist …` commands:
/// keys with their grants, and blacklist entries.
public struct AdminStore: Sendable {
    /// An API key as `crm key list` shows it: never the key itself.
    public struct KeyRecord: Sendable, Equatable {
        public let prefix: String
        public let name: String?
        public let listings: [Int64]
        /// In ``KeyScope`` order.
        public let scopes: [KeyScope]
        public let rateLimit: Int?
        public let created: String
        public let revoked: String?
    }

    /// A blacklist entry; `listing` nil means every listing.
    public struct BlacklistEntry: Sendable, Equatable {
        /// `email-sha256` and `phone-sha256` are erasure's suppressions (API.md §13): the
        /// SHA-256, as lower-case hex, of a lower-cased email or a phone's digits.
        public enum Kind: String, Sendable, CaseIterable {
            case email, domain, phone
            case emailSHA256 = "email-sha256"
            case phoneSHA256 = "phone-sha256"
        }
        public let kind: Kind
        public let value: String
        public let listing: Int64?

        public init(kind: Kind, value: String, listing: Int64?) {
            self.kind = kind
            self.value = value
            self.listing = listing
        }

        /// Validates and normalizes a value the way the blacklist stores it.
        public static func normalized(kind: Kind, value: String, listing: Int64?) throws(APIError) -> BlacklistEntry {
            let trimmed = String(value.trimming(.spacesAndTabs))
            switch kind {
            case .email:
                guard let email = try ContactValidation.email(trimmed) else { throw APIError.missing("email", "An email is required.") }
                return BlacklistEntry(kind: kind, value: email.lowercased(), listing: listing)
            case .domain:
                guard !trimmed.isEmpty, !trimmed.contains("@"), !trimmed.unicodeScalars.contains(where: { $0.properties.isWhitespace }) else {
                    throw APIError.invalid("domain", "domain must be a domain name like example.com.")
                }
                return BlacklistEntry(kind: kind, value: trimmed.lowercased(), listing: listing)
            case .phone:
                guard let phone = try ContactValidation.phone(trimmed) else { throw APIError.missing("phone", "A phone is required.") }
                return BlacklistEntry(kind: kind, value: phone, listing: listing)
            case .emailSHA256, .phoneSHA256:
                let hex = trimmed.lowercased()
                guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                                                                  || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }) else {
                    throw APIError.invalid(kind.rawValue, "\(kind.rawValue) must be 64 hexadecimal digits (a SHA-256).")
                }
                return BlacklistEntry(kind: kind, value: hex, listing: listing)
            }
        }
    }

    public let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Creates a key granted `listings` (creating those listings if needed) with `scopes`
    /// (at least one) and returns it: the only time the key exists outside its hash.
    public func createKey(listings: [Int64], name: String?, rateLimit: Int?,
                          scopes: [KeyScope] = KeyScope.defaults) async throws -> APIKey {
        let key = APIKey.generate()
        let scopeList = "{" + Set(scopes).sorted().map(\.rawValue).joined(separator: ",") + "}"
        try await connection.transaction { connection in
            let keyID = try await connection.query("""
                INSERT INTO api_keys (key_hash, key_prefix, name, rate_limit, scopes)
                VALUES ($1::bytea, $2, $3, $4, $5::crm_key_scope[]) RETURNING key_id
                """, [PostgresBytes(key.digest), key.prefix, name, rateLimit, scopeList])[0].decode(Int64.self, column: 0)
            for listing in Set(listings).sorted() {
                try await Self.createListing(listing, on: connection)
                try await connection.query("INSERT INTO api_key_grants (listing_id, key_id) VALUES ($1, $2)", [listing, keyID])
            }
        }
        return key
    }

    /// Creates `listing` unless it exists (a key's grant, a listing's blacklist entry or webhook
    /// may name a listing that has no contacts yet).
    static func createListing(_ listing: Int64, on connection: PostgresConnection) async throws {
        try await connection.query("INSERT INTO listings (listing_id) VALUES ($1) ON CONFLICT DO NOTHING", [listing])
    }

    /// Revokes a key; false when no live key matches.
    public func revokeKey(_ key: APIKey) async throws -> Bool {
        let result = try await connection.query(
            "UPDATE api_keys SET revoked_at = now() WHERE key_hash = $1::bytea AND revoked_at IS NULL", [PostgresBytes(key.digest)])
        return result.affectedRows == 1
    }

    public func listKeys() async throws -> [KeyRecord] {
        let result = try await connection.query("""
            SELECT k.key_prefix, k.name, coalesce(string_agg(g.listing_id::text, ',' ORDER BY g.listing_id), ''), k.rate_limit,
                   to_char(k.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
                   to_char(k.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
                   array_to_string(k.scopes, ',')
              FROM api_keys k LEFT JOIN api_key_grants g ON g.key_id = k.key_id
             GROUP BY k.key_id ORDER BY k.key_id
            """)
        return try result.rows.map { row in
            KeyRecord(
                prefix: try row.decode(String.self, column: 0),
                name: try row.decode(String?.self, column: 1),
                listings: try row.decode(String.self, column: 2).split(separator: ",").compactMap { Int64($0) },
                scopes: try row.decode(String.self, column: 6).split(separator: ",").compactMap { KeyScope(rawValue: String($0)) }.sorted(),
                rateLimit: try row.decode(Int?.self, column: 3),
                created: try row.decode(String.self, column: 4),
                revoked: try row.decode(String?.self, column: 5))
        }
    }

    /// Adds an entry; false when it was already there.
    public func addBlacklistEntry(_ entry: BlacklistEntry) async throws -> Bool {
        try await connection.transaction { connection in
            if let listing = entry.listing {
                try await Self.createListing(listing, on: connection)
            }
            let result = try await connection.query("""
                INSERT INTO blacklist_entries (listing_id, kind, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
                """, [entry.listing, entry.kind.rawValue, entry.value])
            return result.affectedRows == 1
        }
    }

    /// Removes an entry; false when there was none.
    public func removeBlacklistEntry(_ entry: BlacklistEntry) async throws -> Bool {
        let result = try await connection.query("""
            DELETE FROM blacklist_entries WHERE kind = $1 AND value = $2 AND listing_id IS NOT DISTINCT FROM $3::bigint
            """, [entry.kind.rawValue, entry.value, entry.listing])
        return result.affectedRows == 1
    }

    /// Entries of one listing and the global ones, or all entries when `listing` is nil.
    public func listBlacklist(listing: Int64?) async throws -> [BlacklistEntry] {
        let result = try await connection.query("""
            SELECT kind, value, listing_id FROM blacklist_entries
             WHERE $1::bigint IS NULL OR listing_id IS NULL OR listing_id = $1::bigint
             ORDER BY listing_id NULLS FIRST, kind, value
            """, [listing])
        return try result.rows.map { row in
            BlacklistEntry(kind: BlacklistEntry.Kind(rawValue: try row.decode(String.self, column: 0)) ?? .email,
                           value: try row.decode(String.self, column: 1),
                           listing: try row.decode(Int64?.self, column: 2))
        }
    }
}
