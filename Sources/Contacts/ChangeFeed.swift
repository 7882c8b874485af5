import Codecs
import Postgres

/// The change feed's read (API.md §10): one pipelined statement that checks the key's `read`
/// grant, reads the events after a cursor below the snapshot horizon (sql/013 says why that
/// makes the cursor gap-free), each with its contact as it is now, and tells whether the cursor
/// is older than what retention kept.
public struct ChangeFeed: Sendable {
    /// A page: the rows as PostgreSQL sent them, written by ``writeResults(to:)``.
    public struct Page: Sendable {
        let rows: PostgresResult
        /// Events in the page (the statement's one row without an event does not count).
        public let count: Int
        /// Where to read on from: the last event's position, or the horizon when the page
        /// holds every event below it.
        public let nextAfter: ChangeCursor

        /// The events as a JSON array.
        public func writeResults(to writer: inout JSONWriter) {
            writer.beginArray()
            for row in 0..<count { ChangeFeed.writeEvent(rows, row: row, to: &writer) }
            writer.endArray()
        }
    }

    /// A page, or why there is none.
    public enum Outcome: Sendable {
        case page(Page)
        /// The cursor is older than the oldest event kept: `410`.
        case expired
        /// No row: the key may not read the listing.
        case refused
        /// A cursor past the horizon: none this service handed out (`400`, `after`).
        case unknownCursor
    }

    public let pool: ConnectionPool

    public init(pool: ConnectionPool) {
        self.pool = pool
    }

    // The purge position is the listing's (sql/018: every purge records it per listing), and
    // every table is read on $2 by name, so that on Citus the statement runs on the listing's
    // node alone (the horizon is that node's, as the events' transaction ids are).
    static let read = PreparedStatement(name: "crm_changes", sql: """
        SELECT h.horizon::text, $6::boolean AND ($3::xid8, $4::bigint) < (h.purged_txid, h.purged_seq),
               e.seq, e.txid::text, e.change_type::text, e.contact_id, array_to_string(e.changed, ','),
               e.occurred_at AT TIME ZONE 'UTC', e.actor_key_prefix, e.actor_request_id,
               \(ContactColumns.selectList)
          FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon,
                       coalesce((SELECT p.purged_txid FROM contact_changes_purged p WHERE p.listing_id = $2::bigint), '0') AS purged_txid,
                       coalesce((SELECT p.purged_seq FROM contact_changes_purged p WHERE p.listing_id = $2::bigint), 0) AS purged_seq) h
          LEFT JOIN LATERAL (
               SELECT * FROM contact_changes x
                WHERE x.listing_id = $2::bigint AND (x.txid, x.seq) > ($3::xid8, $4::bigint) AND x.txid < h.horizon
                  AND x.txid <> ALL ($7::xid8[])
                ORDER BY x.txid, x.seq
                LIMIT $5::int) e ON true
          LEFT JOIN contacts c ON c.listing_id = $2::bigint AND c.listing_id = e.listing_id AND c.contact_id = e.contact_id
         WHERE EXISTS (SELECT FROM api_keys k JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = $2::bigint
                        WHERE k.key_hash = $1::bytea AND k.revoked_at IS NULL AND 'read'::crm_key_scope = ANY (k.scopes))
         ORDER BY e.txid, e.seq
        """, pipelined: true)

    /// The columns before the contact's.
    static let eventColumns = 10

    public func page(keyHash: [UInt8], listing: Int64, after cursor: ChangeCursor?, limit: Int) async throws -> Outcome {
        let from = cursor ?? .start(of: listing)
        let rows = try await pool.execute(Self.read, [
            PostgresBytes(keyHash), listing, String(from.txid), from.seq, limit, cursor != nil,
            "{" + from.skip.map(String.init).joined(separator: ",") + "}",
        ])
        guard rows.rowCount > 0 else { return .refused }
        if try rows[0].decode(Bool.self, column: 1) { return .expired }
        let count = try rows[0].decode(Int64?.self, column: 2) == nil ? 0 : rows.rowCount
        let horizon = ChangeCursor(listing: listing, txid: UInt64(try rows[0].decode(String.self, column: 0)) ?? 0, seq: 0)
        // Every cursor handed out lies below the horizon or is the horizon itself, which only rises.
        if from > horizon { return .unknownCursor }
        var next = from < horizon ? from.moved(toTxid: horizon.txid, seq: 0) : from
        if count == limit {
            let last = rows[count - 1]
            next = from.moved(toTxid: UInt64(try last.decode(String.self, column: 3)) ?? 0, seq: try last.decode(Int64.self, column: 2))
        }
        return .page(Page(rows: rows, count: count, nextAfter: next))
    }

    /// One event: `event_id`, `type`, `occurred_at`, `contact_id`, `changed`, `contact`, `actor`.
    static func writeEvent(_ rows: PostgresResult, row: Int, to writer: inout JSONWriter) {
        let event = rows[row]
        func text(_ column: Int) -> String? { try? event.decode(String?.self, column: column) }
        writer.beginObject()
        writer.key("event_id")
        writer.string("evt_" + (text(2) ?? ""))
        writer.key("type")
        writer.string(text(4) ?? "")
        writer.key("occurred_at")
        writer.string(String((text(7) ?? "").prefix(19)))
        writer.key("contact_id")
        writer.json(text(5) ?? "null")
        writer.key("changed")
        writer.beginArray()
        for name in (text(6) ?? "").split(separator: ",") { writer.string(String(name)) }
        writer.endArray()
        writer.key("contact")
        if text(eventColumns) == nil {
            writer.null()
        } else {
            ContactColumns.writeContacts(rows, rows: row..<(row + 1), firstColumn: eventColumns, to: &writer)
        }
        writer.key("actor")
        writer.beginObject()
        writer.key("key_prefix")
        if let prefix = text(8) { writer.string(prefix) } else { writer.null() }
        writer.key("request_id")
        if let requestID = text(9) { writer.string(requestID) } else { writer.null() }
        writer.endObject()
        writer.endObject()
    }
}
