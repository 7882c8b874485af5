import Postgres
import Synchronization

/// `/readyz`'s database check: a ping on a pool connection, at most one in flight per process.
///
/// A caller that arrives while a ping is in flight waits for that ping's answer instead of
/// sending another, so however many load balancers poll, readiness holds one pool connection
/// (or one place in the pool's queue) at a time. Each caller waits at most `timeout`, then is
/// told "not ready" and leaves. When the last caller has left, a ping still waiting for a pool
/// connection is cancelled, which takes it out of the pool's queue at once: nothing `/readyz`
/// started stays queued after `/readyz` has answered (it used to wait there up to the acquire
/// timeout, one waiter per poll). A ping so abandoned is forgotten at once: a caller arriving
/// while it unwinds sends a new one instead of being told "not ready" by a ping nobody waits
/// for. A ping already sent stays in flight until the database answers or the connection
/// breaks (a query cannot be taken back): it is not abandoned, and callers arriving meanwhile
/// wait for that one rather than sending a second.
public final class ReadinessProbe: Sendable {
    /// Counts for metrics and tests.
    public struct Statistics: Sendable, Equatable {
        /// Pings sent since the process started.
        public var pings: Int
        /// Callers waiting for the ping in flight.
        public var waiting: Int

        public init(pings: Int, waiting: Int) {
            self.pings = pings
            self.waiting = waiting
        }
    }

    private struct Waiter {
        let continuation: CheckedContinuation<Bool, Never>
        let timer: Task<Void, Never>
    }

    /// The ping callers wait for.
    private struct Ping {
        let id: Int
        let task: Task<Void, Never>
        /// Whether it holds a connection and has sent its query (then it is never abandoned).
        var sent = false
    }

    private struct State {
        var ping: Ping?
        var waiters: [Int: Waiter] = [:]
        var nextWaiter = 0
        var pings = 0
    }

    public let pool: ConnectionPool
    /// How long one caller waits for an answer.
    public let timeout: Duration
    private let errors: DatabaseErrorCounter
    private let state = Mutex(State())

    public init(pool: ConnectionPool, timeout: Duration, errors: DatabaseErrorCounter) {
        self.pool = pool
        self.timeout = timeout
        self.errors = errors
    }

    public var statistics: Statistics {
        state.withLock { Statistics(pings: $0.pings, waiting: $0.waiters.count) }
    }

    /// Whether the database answered the ping in flight, or a new one, within ``timeout``.
    public func check() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            state.withLock { state in
                state.nextWaiter += 1
                let id = state.nextWaiter
                let timer = Task { [timeout] in
                    guard (try? await Task.sleep(for: timeout)) != nil else { return }
                    self.expire(id)
                }
                state.waiters[id] = Waiter(continuation: continuation, timer: timer)
                if state.ping == nil {
                    state.pings += 1
                    let id = state.pings
                    state.ping = Ping(id: id, task: Task { await self.ping(id) })
                }
            }
        }
    }

    private func ping(_ id: Int) async {
        var answered = false
        do {
            try await pool.withConnection { connection in
                // Abandoned while it waited for this connection: whoever asks now has a ping
                // of their own, so this one sends nothing (at most one query in flight).
                let current = state.withLock { state -> Bool in
                    guard state.ping?.id == id else { return false }
                    state.ping?.sent = true
                    return true
                }
                guard current else { throw CancellationError() }
                try await connection.ping()
            }
            answered = true
        } catch {
            // Counted once per ping, however many callers it answers. A wait cancelled or timed
            // out in the pool is no database error and is not counted.
            errors.record(error)
        }
        let waiters = state.withLock { state -> [Waiter] in
            // Abandoned: every caller it had was answered when it was.
            guard state.ping?.id == id else { return [] }
            state.ping = nil
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters {
            waiter.timer.cancel()
            waiter.continuation.resume(returning: answered)
        }
    }

    /// A caller's time is up: it is answered "not ready". The last one to go abandons a ping
    /// still waiting for a connection: forgotten, then cancelled (which takes it out of the
    /// pool's queue) before the caller is answered.
    private func expire(_ id: Int) {
        let (waiter, abandoned) = state.withLock { state -> (Waiter?, Task<Void, Never>?) in
            guard let waiter = state.waiters.removeValue(forKey: id) else { return (nil, nil) }
            guard state.waiters.isEmpty, let ping = state.ping, !ping.sent else { return (waiter, nil) }
            state.ping = nil
            return (waiter, ping.task)
        }
        abandoned?.cancel()
        waiter?.continuation.resume(returning: false)
    }
}
