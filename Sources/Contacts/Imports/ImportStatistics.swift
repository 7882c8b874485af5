import Postgres
import Synchronization

/// What `/metrics` shows of imports (API.md §12), read from the database every 5 s by a process
/// that runs imports (so every instance's work is counted, once): jobs by status
/// (`crm_import_jobs{status}`) and the rows of the jobs kept by what became of them
/// (`crm_import_rows{outcome}`: created, updated, rejected).
public final class ImportStatistics: Sendable {
    public static let statuses = ["queued", "running", "completed", "failed"]
    public static let outcomes = ["created", "updated", "rejected"]

    /// The last reading.
    public struct Counts: Sendable, Equatable {
        public var jobs: [String: Int64] = [:]
        public var rows: [String: Int64] = [:]
    }

    private let value = Mutex(Counts())

    public init() {}

    public var counts: Counts { value.withLock { $0 } }

    static let read = PreparedStatement(name: "crm_import_statistics", sql: """
        SELECT status, count(*), coalesce(sum(created), 0), coalesce(sum(updated), 0), coalesce(sum(rejected), 0)
          FROM import_jobs GROUP BY status
        """)

    /// Reads the counts now.
    public func refresh(pool: ConnectionPool) async throws {
        var counts = Counts()
        for row in try await pool.execute(Self.read).rows {
            let status = try row.decode(String.self, column: 0)
            counts.jobs[status] = try row.decode(Int64.self, column: 1)
            for (index, outcome) in Self.outcomes.enumerated() {
                counts.rows[outcome, default: 0] += try row.decode(Int64.self, column: 2 + index)
            }
        }
        value.withLock { $0 = counts }
    }
}
