import DequeModule

/// The connection pool's bookkeeping, without I/O, threads or a clock: every event comes in with
/// the time it happened (monotonic nanoseconds) and returns the ``PoolActions`` the caller must
/// perform. ``ConnectionPool`` is the thin shell that performs them; the tests drive this
/// struct directly with made-up connections and times.
///
/// Policies:
/// - Waiters are served first in, first out, and all share one acquire timeout, so the oldest
///   waiter always has the earliest deadline (one timer serves the whole queue).
/// - Idle connections are reused last in, first out, keeping a warm core and letting the rest age.
/// - A failed connection attempt fails the oldest waiter at once (the database is likely down:
///   answering quickly beats holding the request until its timeout), and the next waiter gets
///   a new attempt.
/// - The pipelined connection (quick reads of many callers, in addition to `maxConnections`)
///   is opened on first use, by one attempt that all callers arriving meanwhile wait for; it is
///   opened again after it closed or an attempt failed. Shutdown closes it and waits for an
///   attempt in progress.
struct PoolStateMachine<Connection: AnyObject> {
    typealias WaiterID = UInt64

    enum State: Equatable { case running, shuttingDown, shutDown }

    /// What a caller of the pipelined connection does next.
    enum PipelineAction {
        /// Use this connection.
        case use(Connection)
        /// Wait for the attempt in progress.
        case wait
        /// Wait, and start the attempt to open it (``pipelineOpened(_:)`` or ``pipelineOpenFailed()`` follows).
        case open
        case fail(ConnectionPoolError)
    }

    /// The pipelined connection: none, being opened for the callers waiting, or open.
    private enum Pipeline {
        case absent
        case opening(waiters: [WaiterID])
        case open(Connection)
    }

    private struct Waiter {
        let id: WaiterID
        let deadline: UInt64
    }

    private struct IdleConnection {
        let connection: Connection
        let since: UInt64
    }

    let maxConnections: Int
    private(set) var state = State.running
    private var idle: [IdleConnection] = []
    private var waiters: Deque<Waiter> = []
    /// The connections lent out; a release of anything else is ignored, so a double release
    /// (or one into the wrong pool) cannot lend one connection to two callers.
    private var leased: Set<ObjectIdentifier> = []
    private(set) var openingCount = 0
    private var pipeline = Pipeline.absent

    init(maxConnections: Int) {
        precondition(maxConnections > 0, "a pool needs at least one connection")
        self.maxConnections = maxConnections
    }

    var idleCount: Int { idle.count }
    var leasedCount: Int { leased.count }
    var waiterCount: Int { waiters.count }
    /// The deadline of the oldest waiter, when the pool's single timer should next fire.
    var nextDeadline: UInt64? { waiters.first?.deadline }

    // MARK: Events

    /// A caller wants a connection; if none is idle it waits until `deadline`.
    mutating func acquire(_ waiter: WaiterID, deadline: UInt64) -> PoolActions<Connection> {
        var actions = PoolActions<Connection>()
        guard state == .running else {
            actions.failures.append((waiter, .poolShutdown))
            return actions
        }
        if let entry = idle.popLast() {
            leased.insert(ObjectIdentifier(entry.connection))
            actions.leases.append(PoolLease(waiter: waiter, connection: entry.connection, idleSince: entry.since))
            return actions
        }
        waiters.append(Waiter(id: waiter, deadline: deadline))
        openIfNeeded(&actions)
        return actions
    }

    /// A connection attempt succeeded.
    mutating func connectionOpened(_ connection: Connection, now: UInt64) -> PoolActions<Connection> {
        openingCount -= 1
        var actions = PoolActions<Connection>()
        guard state == .running else {
            actions.closes.append(connection)
            finishShutdownIfDrained(&actions)
            return actions
        }
        hand(connection, idleSince: now, &actions)
        return actions
    }

    /// A connection attempt failed: the oldest waiter gets the error.
    mutating func connectionOpenFailed() -> PoolActions<Connection> {
        openingCount -= 1
        var actions = PoolActions<Connection>()
        if let waiter = waiters.popFirst() {
            actions.connectFailures.append(waiter.id)
        }
        if state == .running {
            openIfNeeded(&actions)
        } else {
            finishShutdownIfDrained(&actions)
        }
        return actions
    }

    /// A leased connection comes back; `reusable` is false when it is broken or mid-transaction.
    /// A connection that is not on lease from this pool is ignored.
    mutating func release(_ connection: Connection, reusable: Bool, now: UInt64) -> PoolActions<Connection> {
        var actions = PoolActions<Connection>()
        guard leased.remove(ObjectIdentifier(connection)) != nil else { return actions }
        guard reusable, state == .running else {
            actions.closes.append(connection)
            if state == .running { openIfNeeded(&actions) } else { finishShutdownIfDrained(&actions) }
            return actions
        }
        hand(connection, idleSince: now, &actions)
        return actions
    }

    /// An idle connection was found closed (its backend was terminated, the server restarted).
    mutating func idleConnectionClosed(_ connection: Connection) {
        idle.removeAll { $0.connection === connection }
    }

    /// Fails every waiter whose deadline is at or before `now` with `.acquireTimeout`.
    mutating func expireWaiters(now: UInt64) -> PoolActions<Connection> {
        var actions = PoolActions<Connection>()
        while let first = waiters.first, first.deadline <= now {
            waiters.removeFirst()
            actions.failures.append((first.id, .acquireTimeout))
        }
        return actions
    }

    /// A waiter gave up (its task was cancelled). True if it was still waiting.
    mutating func removeWaiter(_ id: WaiterID) -> Bool {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return false }
        waiters.remove(at: index)
        return true
    }

    /// Stops lending: waiters fail, idle connections and the pipelined one close, leased ones
    /// close when returned, and one being opened when it opens.
    mutating func shutdown() -> PoolActions<Connection> {
        var actions = PoolActions<Connection>()
        guard state == .running else { return actions }
        state = .shuttingDown
        actions.failures = waiters.map { ($0.id, .poolShutdown) }
        waiters.removeAll()
        actions.closes = idle.map(\.connection)
        idle.removeAll()
        if case .open(let connection) = pipeline {
            actions.closes.append(connection)
            pipeline = .absent
        }
        finishShutdownIfDrained(&actions)
        return actions
    }

    // MARK: The pipelined connection

    /// The open pipelined connection while the pool runs: the fast path, no waiting.
    var pipelineConnection: Connection? {
        guard state == .running, case .open(let connection) = pipeline else { return nil }
        return connection
    }

    /// A caller wants the pipelined connection (and ``pipelineConnection`` had none).
    mutating func waitForPipeline(_ waiter: WaiterID) -> PipelineAction {
        guard state == .running else { return .fail(.poolShutdown) }
        switch pipeline {
        case .open(let connection):
            return .use(connection)
        case .opening(var waiters):
            pipeline = .absent  // no second reference to the array: the append does not copy it
            waiters.append(waiter)
            pipeline = .opening(waiters: waiters)
            return .wait
        case .absent:
            pipeline = .opening(waiters: [waiter])
            return .open
        }
    }

    /// The pipelined connection opened (and is in pipeline mode): its waiters get it, or,
    /// if the pool is shutting down, it closes and they fail.
    mutating func pipelineOpened(_ connection: Connection) -> PoolActions<Connection> {
        var actions = PoolActions<Connection>()
        guard case .opening(let waiters) = pipeline else {
            actions.closes.append(connection)
            return actions
        }
        if state == .running {
            pipeline = .open(connection)
            actions.pipelineLeases = waiters
            actions.pipelineConnection = connection
        } else {
            pipeline = .absent
            actions.closes.append(connection)
            actions.failures = waiters.map { ($0, .poolShutdown) }
            finishShutdownIfDrained(&actions)
        }
        return actions
    }

    /// The attempt to open the pipelined connection failed: its waiters get the error, the
    /// next caller tries again.
    mutating func pipelineOpenFailed() -> PoolActions<Connection> {
        var actions = PoolActions<Connection>()
        guard case .opening(let waiters) = pipeline else { return actions }
        pipeline = .absent
        actions.pipelineConnectFailures = waiters
        finishShutdownIfDrained(&actions)
        return actions
    }

    /// The pipelined connection closed (its backend died, libpq refused a send): the next
    /// caller opens another.
    mutating func pipelineConnectionClosed(_ connection: Connection) {
        if case .open(let open) = pipeline, open === connection { pipeline = .absent }
    }

    // MARK: Helpers

    private mutating func hand(_ connection: Connection, idleSince: UInt64, _ actions: inout PoolActions<Connection>) {
        if let waiter = waiters.popFirst() {
            leased.insert(ObjectIdentifier(connection))
            actions.leases.append(PoolLease(waiter: waiter.id, connection: connection, idleSince: idleSince))
        } else {
            idle.append(IdleConnection(connection: connection, since: idleSince))
        }
    }

    /// Starts connection attempts for waiters that no attempt in progress will serve.
    private mutating func openIfNeeded(_ actions: inout PoolActions<Connection>) {
        while openingCount < waiters.count, leasedCount + openingCount + idle.count < maxConnections {
            openingCount += 1
            actions.connectionsToOpen += 1
        }
    }

    private mutating func finishShutdownIfDrained(_ actions: inout PoolActions<Connection>) {
        if case .opening = pipeline { return }
        if state == .shuttingDown, leased.isEmpty, openingCount == 0 {
            state = .shutDown
            actions.shutdownComplete = true
        }
    }
}
