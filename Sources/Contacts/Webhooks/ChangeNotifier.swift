import Postgres
import Synchronization

/// Tells webhook dispatchers that contacts changed: this process's own dispatcher at once, the
/// other processes' by `NOTIFY crm_changes` (``WebhookListener`` listens), sent after the
/// write committed, one at a time and at most one per ``notifyInterval``: writes meanwhile
/// make one more, not one each (at most 20 statements a second, however busy).
///
/// Not from the change trigger: a transaction that notifies takes a database-wide lock at
/// commit and holds it through the commit's flush, so notifying writers commit one at a time.
/// Measured with pgbench (64 clients, a one-row insert, 5 s): 21,100 and 15,700 inserts/s
/// without, 4,500 and 3,200 with a `pg_notify` in a trigger. A write made by plain SQL wakes
/// no one: the dispatchers' poll finds it.
public final class ChangeNotifier: Sendable {
    public static let channel = "crm_changes"
    /// The least time between two NOTIFYs of this process.
    public static let notifyInterval = Duration.milliseconds(50)

    public let pool: ConnectionPool?
    private let local = Mutex<[@Sendable () -> Void]>([])
    /// (a NOTIFY is on its way, another is wanted after it)
    private let state = Mutex<(sending: Bool, again: Bool)>((false, false))

    /// `pool` sends the NOTIFY; nil: only this process's dispatcher is told.
    public init(pool: ConnectionPool?) {
        self.pool = pool
    }

    /// Calls `wake` after every change this process commits.
    public func onChange(_ wake: @escaping @Sendable () -> Void) {
        local.withLock { $0.append(wake) }
    }

    static let notify = PreparedStatement(name: "crm_notify_changes", sql: "SELECT pg_notify('\(channel)', '')")

    /// A write committed changes.
    public func changed() {
        for wake in local.withLock({ $0 }) { wake() }
        guard let pool else { return }
        let start = state.withLock { state -> Bool in
            if state.sending {
                state.again = true
                return false
            }
            state.sending = true
            return true
        }
        guard start else { return }
        Task {
            repeat {
                _ = try? await pool.execute(Self.notify)  // lost: the listeners' poll finds the change
                try? await Task.sleep(for: Self.notifyInterval)
            } while state.withLock({ state -> Bool in
                if state.again {
                    state.again = false
                    return true
                }
                state.sending = false
                return false
            })
        }
    }
}
