import Postgres
import Synchronization

/// What `/metrics` shows of webhook delivery (API.md §11): attempts recorded by this process
/// by the state they left the delivery in (`crm_webhook_deliveries_total{outcome}`), and the
/// backlog over every active endpoint (`crm_webhook_pending`,
/// `crm_webhook_oldest_pending_seconds`), read from the database every 5 s by a process that
/// delivers (`crm_webhook_backlog`, sql/015: its cost grows with the backlog, so it is not read
/// per scrape; a process with `--webhook-workers 0` shows 0).
public final class WebhookStatistics: Sendable {
    /// The outcomes counted, in the order `/metrics` lists them.
    public static let outcomes = ["delivered", "retrying", "dropped", "disabled", "released", "stale"]

    public struct Backlog: Sendable, Equatable {
        public var pending: Int64 = 0
        public var oldestSeconds: Double = 0
    }

    private let counts = Mutex<[String: Int]>([:])
    private let backlogValue = Mutex(Backlog())

    public init() {}

    func count(_ states: [String]) {
        guard !states.isEmpty else { return }
        counts.withLock { for state in states { $0[state, default: 0] += 1 } }
    }

    /// Deliveries recorded in `outcome` so far.
    public func deliveries(_ outcome: String) -> Int {
        counts.withLock { $0[outcome] ?? 0 }
    }

    public var backlog: Backlog { backlogValue.withLock { $0 } }

    static let readBacklog = PreparedStatement(name: "crm_webhook_backlog", sql: "SELECT pending, oldest_seconds FROM crm_webhook_backlog()")

    /// Reads the backlog now.
    public func refreshBacklog(pool: ConnectionPool) async throws {
        let row = try await pool.execute(Self.readBacklog)[0]
        let backlog = Backlog(pending: try row.decode(Int64.self, column: 0), oldestSeconds: try row.decode(Double.self, column: 1))
        backlogValue.withLock { $0 = backlog }
    }
}
