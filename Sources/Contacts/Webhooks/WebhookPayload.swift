import Codecs
import Postgres

/// A delivery's JSON body (API.md §11): `{"type", "timestamp", "data": {"listing_id",
/// "event_id", "contact_id", "changed", "contact"}}`. `timestamp` is when the change happened
/// (RFC 3339, UTC, microseconds); `contact` is the contact as it is when the delivery is made,
/// `null` once deleted (and always for `contact.deleted`), so no payload outlives a deletion.
enum WebhookPayload {
    /// The body of the delivery in `row` of an exchange (``WebhookQueue``'s columns: listing 7,
    /// type 8, contact id 9, changed 10, time 11, seq 2; the contact from `firstContactColumn`).
    static func body(_ rows: PostgresResult, row: Int, firstContactColumn: Int) throws -> [UInt8] {
        let cells = rows[row]
        var writer = JSONWriter(capacity: 512)
        writer.beginObject()
        writer.key("type")
        writer.string(try cells.decode(String.self, column: 8))
        writer.key("timestamp")
        writer.string(try cells.decode(String.self, column: 11))
        writer.key("data")
        writer.beginObject()
        writer.key("listing_id")
        writer.number(try cells.decode(Int64.self, column: 7))
        writer.key("event_id")
        writer.string("evt_\(try cells.decode(Int64.self, column: 2))")
        writer.key("contact_id")
        writer.number(try cells.decode(Int64.self, column: 9))
        writer.key("changed")
        writer.beginArray()
        for name in (try cells.decode(String?.self, column: 10) ?? "").split(separator: ",") { writer.string(String(name)) }
        writer.endArray()
        writer.key("contact")
        if try cells.decode(Int64?.self, column: firstContactColumn) == nil {
            writer.null()
        } else {
            ContactColumns.writeContacts(rows, rows: row..<(row + 1), firstColumn: firstContactColumn, to: &writer)
        }
        writer.endObject()
        writer.endObject()
        return writer.bytes
    }
}
