import Codecs
import Postgres

/// The contacts API's database calls. Each operation is one statement, one round trip: the
/// key's hash and its grant for the listing are checked by the same SQL function or query that
/// does the work (sql/004_api.sql, 005, 007, 008). A write's contact comes back rendered as JSON
/// by PostgreSQL; a page comes back as plain columns, which ``ContactColumns`` writes as JSON.
/// The statements check the key's scope with its grant (`read` for searches, `write` for the
/// write functions, sql/010). ``access(keyHash:listing:)`` asks only what the key may do in the
/// listing: after a search that found nothing, after a refusal, and before answering a refused
/// parameter.
public struct ContactStore: Sendable {
    /// What a write returned: the ``ContactOutcome`` a `crm_api_*` function reported, with the
    /// contact id and payload that outcome carries.
    public enum WriteOutcome: Sendable, Equatable {
        case forbidden
        case created(contactJSON: String)
        case updated(contactJSON: String)
        case deleted(contactIDsJSON: String)
        case notFound
        case duplicate(existing: Int64?)
        case conflict(existing: Int64?)
        case blacklisted(parameter: String)
        /// A CHECK constraint refused the value (the service's validation should have first).
        case invalid(parameter: String)
        /// The update would leave the contact without email and phone.
        case lastContactPoint(parameter: String)
        /// Another request with the same Idempotency-Key is still running.
        case inFlight
        /// The Idempotency-Key was used for another method, path or parameters.
        case idempotencyKeyReused
        /// An erasure's suppressions are stored; the delete comes next (``delete(keyHash:listing:id:email:phone:erase:)``
        /// never returns this).
        case suppressed
    }

    /// What a search found: a page (perhaps empty), or the key's access when it may not read
    /// the listing.
    public enum SearchOutcome: Sendable {
        case page(Page)
        case refused(KeyAccess)
    }

    /// One page of a search: the rows as PostgreSQL sent them, written into the response by
    /// ``writeResults(to:)``.
    public struct Page: Sendable {
        /// The rows, columns as ``ContactColumns/selectList``; one more than `count` when another
        /// page follows.
        let rows: PostgresResult?
        public let count: Int
        /// The `after` for the next page; nil on the last one.
        public let nextAfter: Int64?

        /// The bytes ``writeResults(to:)`` will write, near enough to reserve them at once.
        public var resultsByteCount: Int {
            2 + (rows?.textByteCount ?? 0) + count * (ContactColumns.bytesPerContactBesideCells + 2)
        }

        /// The contacts as a JSON array.
        public func writeResults(to writer: inout JSONWriter) {
            writer.beginArray()
            if let rows { ContactColumns.writeContacts(rows, count: count, to: &writer) }
            writer.endArray()
        }
    }

    /// The filters of a `GET`, all optional, combined with AND.
    public struct SearchFilters: Sendable, Equatable {
        public var id: Int64?
        public var email: String?
        public var phone: String?
        public var firstName: String?
        public var lastName: String?
        public var name: String?
        public var after: Int64 = 0
        public var limit: Int = 100

        public init() {}
    }

    public let pool: ConnectionPool
    /// Told after each write that changed contacts committed (webhook dispatchers wake).
    public let changes: ChangeNotifier?

    public init(pool: ConnectionPool, changes: ChangeNotifier? = nil) {
        self.pool = pool
        self.changes = changes
    }

    // Every write names its actor for the change feed (sql/013): the key's prefix and the
    // request id as the last two arguments (sql/018), set by the function for its transaction
    // before it writes. Only parameters as arguments: on Citus the call runs whole on the
    // listing's worker, whose triggers record the actor.
    static let create = PreparedStatement(name: "crm_api_create", sql: """
        SELECT outcome, contact_id, payload::text FROM crm_api_create($1::bytea, $2::bigint, $3, $4, $5, $6, $7::inet, $8, $9)
        """)
    static let upsert = PreparedStatement(name: "crm_api_upsert", sql: """
        SELECT outcome, contact_id, payload::text
          FROM crm_api_upsert($1::bytea, $2::bigint, $3::bigint, $4, $5, $6, $7, $8::inet, $9, $10, $11, $12, $13, $14, $15)
        """)
    static let suppress = PreparedStatement(name: "crm_api_suppress", sql: """
        SELECT outcome, contact_id, payload::text FROM crm_api_suppress($1::bytea, $2::bigint, $3::bigint, $4, $5, $6, $7)
        """)
    static let createIdempotent = PreparedStatement(name: "crm_api_create_idempotent", sql: """
        SELECT outcome, contact_id, payload::text, replayed
          FROM crm_api_create_idempotent($1::bytea, $2::bigint, $3, $4::bytea, $5, $6, $7, $8, $9::inet, $10, $11)
        """)
    static let delete = PreparedStatement(name: "crm_api_delete", sql: """
        SELECT outcome, contact_id, payload::text FROM crm_api_delete($1::bytea, $2::bigint, $3::bigint, $4, $5, $6, $7)
        """)

    public func create(keyHash: [UInt8], listing: Int64, firstName: String?, lastName: String?,
                       email: String?, phone: String?, ipAddress: String?, actor: ChangeActor = .none) async throws -> WriteOutcome {
        try await write(Self.create, [PostgresBytes(keyHash), listing, firstName, lastName, email, phone, ipAddress,
                                      actor.keyPrefix, actor.requestID])
    }

    /// POST with an Idempotency-Key (sql/011): the answer of the first request with `idempotency`,
    /// replayed (`replayed` true) to a request with its fingerprint; or the create, its answer
    /// stored in the same transaction.
    public func create(keyHash: [UInt8], listing: Int64, idempotency: IdempotencyKey, firstName: String?, lastName: String?,
                       email: String?, phone: String?, ipAddress: String?,
                       actor: ChangeActor = .none) async throws -> (WriteOutcome, replayed: Bool) {
        let row = try await pool.withConnection {
            try await $0.execute(Self.createIdempotent, [
                PostgresBytes(keyHash), listing, idempotency.value, PostgresBytes(idempotency.fingerprint),
                firstName, lastName, email, phone, ipAddress, actor.keyPrefix, actor.requestID,
            ])
        }[0]
        return (noted(try Self.outcome(of: row)), try row.decode(Bool.self, column: 3))
    }

    public func upsert(keyHash: [UInt8], listing: Int64, id: Int64?, firstName: FieldInput, lastName: FieldInput,
                       email: FieldInput, phone: FieldInput, ipAddress: String?, ipGiven: Bool,
                       actor: ChangeActor = .none) async throws -> WriteOutcome {
        try await write(Self.upsert, [
            PostgresBytes(keyHash), listing, id, firstName.value, lastName.value, email.value, phone.value, ipAddress,
            firstName.isGiven, lastName.isGiven, email.isGiven, phone.isGiven, ipGiven, actor.keyPrefix, actor.requestID,
        ])
    }

    /// DELETE; with `erase`, the matched contacts' email and phone are suppressed in the listing
    /// first, in a transaction of their own (`crm_api_suppress`, sql/012), then deleted: a writer
    /// racing the erasure meets either the contact or its suppression, never neither.
    public func delete(keyHash: [UInt8], listing: Int64, id: Int64?, email: String?, phone: String?,
                       erase: Bool = false, actor: ChangeActor = .none) async throws -> WriteOutcome {
        let parameters: [(any PostgresEncodable)?] = [PostgresBytes(keyHash), listing, id, email, phone,
                                                      actor.keyPrefix, actor.requestID]
        if erase {
            let suppression = try await write(Self.suppress, parameters)
            guard suppression == .suppressed else { return suppression }
        }
        return try await write(Self.delete, parameters)
    }

    /// One page of the listing's contacts matching `filters`, or the key's access when it may
    /// not read them (no grant, or no `read` scope).
    public func search(keyHash: [UInt8], listing: Int64, filters: SearchFilters) async throws -> SearchOutcome {
        let (statement, parameters) = ContactSearchQuery.statement(keyHash: keyHash, listing: listing, filters: filters)
        let rows = try await pool.execute(statement, parameters)
        if rows.rowCount == 0 {
            let access = try await access(keyHash: keyHash, listing: listing)
            return access.allows(.read) ? .page(Page(rows: nil, count: 0, nextAfter: nil)) : .refused(access)
        }
        let nextAfter = rows.rowCount > filters.limit ? try rows[filters.limit - 1].decode(Int64.self, column: 0) : nil
        return .page(Page(rows: rows, count: min(rows.rowCount, filters.limit), nextAfter: nextAfter))
    }

    /// What the key (by hash) may do in the listing: one pipelined read.
    public func access(keyHash: [UInt8], listing: Int64) async throws -> KeyAccess {
        let rows = try await pool.execute(ContactSearchQuery.access, [PostgresBytes(keyHash), listing])
        return KeyAccess(scopeList: rows.rowCount == 0 ? nil : try rows[0].decode(String.self, column: 0))
    }

    private func write(_ statement: PreparedStatement, _ parameters: [(any PostgresEncodable)?]) async throws -> WriteOutcome {
        noted(try Self.outcome(of: try await pool.withConnection { try await $0.execute(statement, parameters) }[0]))
    }

    /// Tells ``changes`` when `outcome` is a committed change.
    private func noted(_ outcome: WriteOutcome) -> WriteOutcome {
        switch outcome {
        case .created, .updated, .deleted: changes?.changed()
        default: break
        }
        return outcome
    }

    /// A write function's row: (outcome, contact_id, payload).
    private static func outcome(of row: PostgresRow) throws -> WriteOutcome {
        try outcome(try row.decode(ContactOutcome.self, column: 0), contactID: try row.decode(Int64?.self, column: 1),
                    payload: try row.decode(String?.self, column: 2))
    }

    /// What a write function's (outcome, contact_id, payload) amount to; an import's rejected
    /// rows are stored the same way (sql/016).
    static func outcome(_ outcome: ContactOutcome, contactID: Int64?, payload: String?) throws -> WriteOutcome {
        switch outcome {
        case .forbidden: return .forbidden
        case .created: return .created(contactJSON: payload ?? "null")
        case .updated: return .updated(contactJSON: payload ?? "null")
        case .deleted: return .deleted(contactIDsJSON: payload ?? "[]")
        case .notFound: return .notFound
        case .duplicate: return .duplicate(existing: contactID)
        case .conflict: return .conflict(existing: contactID)
        case .blacklisted: return .blacklisted(parameter: try Self.unquote(payload))
        case .invalid: return .invalid(parameter: try Self.unquote(payload))
        case .lastContactPoint: return .lastContactPoint(parameter: try Self.unquote(payload))
        case .inFlight: return .inFlight
        case .idempotencyKeyReused: return .idempotencyKeyReused
        case .suppressed: return .suppressed
        }
    }

    /// A parameter name that SQL returned as a JSON string (`"email"` → `email`), decoded as JSON.
    private static func unquote(_ json: String?) throws -> String {
        guard let json else { return "" }
        do {
            return try FlatJSONObject.parseString(Array(json.utf8))
        } catch {
            throw PostgresError(kind: .decoding, message: "the payload of a refusal is not a JSON string")
        }
    }
}
