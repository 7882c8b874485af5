import Codecs
import Postgres

/// An import as `GET …/imports/{import_id}` shows it (API.md §12), under `data.import`.
public struct ImportJob: Sendable, Equatable {
    public let importID: Int64
    public let mode: String
    /// `queued`, `running`, `completed` or `failed`.
    public let status: String
    public let rows: Int64
    public let created: Int64
    public let updated: Int64
    public let rejected: Int64
    /// UTC, `YYYY-MM-DD HH:MM:SS`, as contacts' dates.
    public let createdDate: String
    public let finishedDate: String?

    /// The columns ``init(row:)`` reads, in order, from `import_jobs` as `j`.
    static let selectList = """
        j.import_id, j.mode, j.status, j.rows, j.created, j.updated, j.rejected, \
        to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), \
        to_char(j.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
        """

    /// Reads ``selectList``'s columns, the first at `first`.
    init(row: PostgresRow, from first: Int = 0) throws {
        importID = try row.decode(Int64.self, column: first)
        mode = try row.decode(String.self, column: first + 1)
        status = try row.decode(String.self, column: first + 2)
        rows = try row.decode(Int64.self, column: first + 3)
        created = try row.decode(Int64.self, column: first + 4)
        updated = try row.decode(Int64.self, column: first + 5)
        rejected = try row.decode(Int64.self, column: first + 6)
        createdDate = try row.decode(String.self, column: first + 7)
        finishedDate = try row.decode(String?.self, column: first + 8)
    }

    /// The `202`'s `data.import`: what the upload fixed (a replay writes the same).
    func writeAccepted(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("import_id")
        writer.number(importID)
        writer.key("mode")
        writer.string(mode)
        writer.key("status")
        writer.string("queued")
        writer.key("rows")
        writer.number(rows)
        writer.key("created_date")
        writer.string(createdDate)
        writer.endObject()
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("import_id")
        writer.number(importID)
        writer.key("mode")
        writer.string(mode)
        writer.key("status")
        writer.string(status)
        for (name, value) in [("rows", rows), ("created", created), ("updated", updated), ("rejected", rejected)] {
            writer.key(name)
            writer.number(value)
        }
        writer.key("created_date")
        writer.string(createdDate)
        writer.key("finished_date")
        if let finishedDate { writer.string(finishedDate) } else { writer.null() }
        writer.endObject()
    }
}
