import Codecs
import Postgres

/// The columns a page of contacts is read with, and the contact JSON the service writes from
/// them: each cell's bytes go from the result straight into the response body (escaped), with
/// no `String`, slice or other counted object per cell.
///
/// PostgreSQL used to render each contact itself (`crm_contact_json`: `row_to_json` and two
/// `to_char`), which cost it twice what reading the rows did: a page of 100 ran at 1,440
/// statements/s rendered, 2,950/s as plain columns (pgbench, bench/pgbench/README.md). The
/// JSON is the same: the members of `crm_contact_fields` (sql/005) in its order, timestamps as
/// `YYYY-MM-DD HH:MM:SS` in UTC, the address as `host()` prints it, SQL NULL as `null`.
enum ContactColumns {
    /// The select list, in the order ``writeContacts(_:count:to:)`` reads it; `c` is `contacts`.
    /// Timestamps come as UTC `timestamp` (`AT TIME ZONE 'UTC'`), so their text does not depend
    /// on the session's time zone.
    static let selectList = """
        c.contact_id, c.unique_id, c.first_name, c.last_name, c.email, c.phone, \
        c.created_at AT TIME ZONE 'UTC', c.updated_at AT TIME ZONE 'UTC', host(c.ip_address), c.source, c.status
        """

    /// How a column's text becomes a JSON value.
    private enum Rendering {
        /// Digits, copied as a JSON number.
        case number
        /// Any text, escaped as a JSON string.
        case string
        /// A `timestamp`, cut to whole seconds.
        case timestamp
    }

    /// Each column's JSON member: `"name":` as it is written, and how its value is written.
    private static let members: [(key: StaticString, rendering: Rendering)] = [
        ("\"contact_id\":", .number), ("\"contact_unique_id\":", .string), ("\"contact_first_name\":", .string),
        ("\"contact_last_name\":", .string), ("\"contact_email\":", .string), ("\"contact_phone\":", .string),
        ("\"contact_created_date\":", .timestamp), ("\"contact_updated_date\":", .timestamp),
        ("\"contact_ip_address\":", .string), ("\"contact_source\":", .string), ("\"contact_status\":", .string),
    ]

    /// The bytes the member names and punctuation of one contact take.
    static let bytesPerContactBesideCells = members.reduce(2) { $0 + $1.key.utf8CodeUnitCount + 3 }

    /// Writes the first `count` rows of `result` (columns as ``selectList``) as JSON objects.
    static func writeContacts(_ result: PostgresResult, count: Int, to writer: inout JSONWriter) {
        writeContacts(result, rows: 0..<count, firstColumn: 0, to: &writer)
    }

    /// Writes `rows` of `result` as contacts, from the ``selectList`` columns starting at
    /// `firstColumn` (a change feed page has its event's columns first).
    static func writeContacts(_ result: PostgresResult, rows: Range<Int>, firstColumn: Int, to writer: inout JSONWriter) {
        result.withTextCells { cells in
            members.withUnsafeBufferPointer { members in
                for row in rows {
                    writer.beginObject()
                    for column in 0..<members.count {
                        writer.key(prepared: members[column].key)
                        guard let text = cells[row, firstColumn + column] else {
                            writer.null()
                            continue
                        }
                        switch members[column].rendering {
                        case .number:
                            writer.json(text)
                        case .string:
                            writer.string(utf8: text)
                        case .timestamp:
                            writer.string(utf8: wholeSeconds(text))
                        }
                    }
                    writer.endObject()
                }
            }
        }
    }

    /// `2026-12-02 08:25:01.123456` (ISO DateStyle) → `2026-12-02 08:25:01`. Any other text
    /// (`infinity`, another DateStyle) stays as it came.
    private static func wholeSeconds(_ text: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        let isISO = text.count >= 19 && text[4] == UInt8(ascii: "-") && text[10] == UInt8(ascii: " ")
            && text[16] == UInt8(ascii: ":")
        return isISO ? UnsafeBufferPointer(rebasing: text[0..<19]) : text
    }
}
