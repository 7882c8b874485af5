import Postgres

/// The SQL of an export (API.md §12): GET's filters over one listing, every matching contact in
/// `contact_id` order with the §3 field names, as a `COPY (SELECT …) TO STDOUT` in CSV (a header
/// row, NULL as an empty field) or as one JSON object per line.
///
/// `COPY` takes no parameters, so the filter values travel as transaction-local settings
/// (`crm_set_local('crm.export_email', $1)`, sql/018: a `SET LOCAL`, which Citus passes on to
/// the worker running the `COPY`; read back with `current_setting`): no value is ever spliced
/// into SQL text; only the listing and `after`, validated integers, are.
public enum ExportFormat: String, Sendable {
    case csv
    case ndjson

    /// The `format` parameter; absent or empty is CSV.
    init(parameter: String?) throws(APIError) {
        guard let parameter, !parameter.isEmpty else {
            self = .csv
            return
        }
        guard let format = ExportFormat(rawValue: parameter) else {
            throw APIError.invalid("format", "format must be csv or ndjson.")
        }
        self = format
    }

    var contentType: String {
        self == .csv ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8"
    }
}

public struct ExportQuery: Sendable {
    let listing: Int64
    let filters: ContactStore.SearchFilters
    let format: ExportFormat

    /// Every contact of `listing`.
    public init(listing: Int64, format: ExportFormat) {
        self.init(listing: listing, filters: ContactStore.SearchFilters(), format: format)
    }

    init(listing: Int64, filters: ContactStore.SearchFilters, format: ExportFormat) {
        self.listing = listing
        self.filters = filters
        self.format = format
    }

    /// Opens the export's snapshot on `connection` (a transaction the caller ends) and returns
    /// its change-feed cursor; nil when `keyHash`'s key may not read the listing (no key: an
    /// operator's `crm export`).
    public func begin(on connection: PostgresConnection, keyHash: [UInt8]?) async throws -> ChangeCursor? {
        try await connection.simpleQuery("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL statement_timeout = 0")
        let snapshot = try await connection.query(Self.snapshot, [keyHash.map(PostgresBytes.init), listing])
        guard snapshot.rowCount == 1 else { return nil }
        let horizon = UInt64(try snapshot[0].decode(String.self, column: 0)) ?? 0
        let skip = try snapshot[0].decode(String.self, column: 1).split(separator: ".").compactMap { UInt64($0) }
        for (name, value) in settings {
            try await connection.query("SELECT crm_set_local($1, $2)", [name, value])
        }
        return ChangeCursor(listing: listing, txid: horizon, seq: 0, skip: skip)
    }

    /// Streams the rows to `write`, piece by piece, and ends the snapshot's transaction.
    public func copy(on connection: PostgresConnection, to write: ([UInt8]) async throws -> Void) async throws {
        let unescapes = format == .ndjson
        try await connection.copyOut(copyStatement) { reader in
            while let rows = try await reader.next() {
                try await write(unescapes ? Self.unescape(rows) : rows)
            }
        }
        try await connection.simpleQuery("COMMIT")
    }

    /// The contact's fields under their §3 names; `c` is `contacts`.
    static let fields = """
        c.contact_id AS contact_id, c.unique_id AS contact_unique_id, c.first_name AS contact_first_name, \
        c.last_name AS contact_last_name, c.email AS contact_email, c.phone AS contact_phone, \
        to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS contact_created_date, \
        to_char(c.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS contact_updated_date, \
        host(c.ip_address) AS contact_ip_address, c.source AS contact_source, c.status AS contact_status
        """

    /// The settings to make before the `COPY`: (name, value) for each filter given.
    var settings: [(String, String)] {
        var settings: [(String, String)] = []
        if let email = filters.email { settings.append(("crm.export_email", email)) }
        if let phone = filters.phone { settings.append(("crm.export_phone", phone)) }
        if let first = filters.firstName { settings.append(("crm.export_first_name", first)) }
        if let last = filters.lastName { settings.append(("crm.export_last_name", last)) }
        if let name = filters.name { settings.append(("crm.export_name", name)) }
        return settings
    }

    /// The `COPY` statement.
    var copyStatement: String {
        var conditions = ["c.listing_id = \(listing)", "c.contact_id > \(filters.after)"]
        if let id = filters.id { conditions.append("c.contact_id = \(id)") }
        if filters.email != nil { conditions.append("lower(c.email) = lower(current_setting('crm.export_email'))") }
        if filters.phone != nil { conditions.append("c.phone = current_setting('crm.export_phone')") }
        func substring(_ column: String, _ setting: String) -> String {
            "\(column) LIKE '%' || crm_like_literal(lower(current_setting('\(setting)'))) || '%'"
        }
        if filters.firstName != nil { conditions.append(substring("lower(c.first_name)", "crm.export_first_name")) }
        if filters.lastName != nil { conditions.append(substring("lower(c.last_name)", "crm.export_last_name")) }
        if filters.name != nil { conditions.append(substring("crm_full_name(c.first_name, c.last_name)", "crm.export_name")) }
        let select = "SELECT \(Self.fields) FROM contacts c WHERE \(conditions.joined(separator: " AND ")) ORDER BY c.contact_id"
        switch format {
        case .csv: return "COPY (\(select)) TO STDOUT WITH (FORMAT csv, HEADER true)"
        case .ndjson: return "COPY (SELECT row_to_json(r)::text FROM (\(select)) r) TO STDOUT"
        }
    }

    /// The snapshot's first statement: the key's `read` grant (no row: refused), and the
    /// change-feed cursor of the snapshot (``ChangeCursor/exportCursor``): the oldest
    /// transaction still running, and the later ones this snapshot already sees that wrote
    /// to the listing.
    static let snapshot = """
        SELECT h.horizon::text,
               (SELECT coalesce(string_agg(t.txid::text, '.' ORDER BY t.txid), '')
                  FROM (SELECT DISTINCT x.txid FROM contact_changes x
                         WHERE x.txid >= h.horizon AND x.listing_id = $2::bigint) t)
          FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon) h
         WHERE $1::bytea IS NULL
            OR EXISTS (SELECT FROM api_keys k JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = $2::bigint
                        WHERE k.key_hash = $1::bytea AND k.revoked_at IS NULL AND 'read'::crm_key_scope = ANY (k.scopes))
        """

    /// Turns `COPY`'s text format back into the JSON lines it carries: the only escape a JSON
    /// text can produce there is `\\` (JSON escapes every control character itself).
    static func unescape(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(UInt8(ascii: "\\")) else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                let next = bytes[index + 1]
                switch next {
                case UInt8(ascii: "n"): out.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "r"): out.append(UInt8(ascii: "\r"))
                case UInt8(ascii: "t"): out.append(UInt8(ascii: "\t"))
                default: out.append(next)
                }
                index += 2
            } else {
                out.append(byte)
                index += 1
            }
        }
        return out
    }
}
