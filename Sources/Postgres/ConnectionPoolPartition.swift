import Reactor
import Synchronization

/// One event loop's share of a ``ConnectionPool``: its connections all live on `loop`, at most
/// `maxConnections` of them, and callers beyond that wait in FIFO order up to the acquire
/// timeout, and quick reads share the pipelined connection (``PoolStateMachine`` decides,
/// under one lock; this class performs its actions).
///
/// Broken connections never go back into rotation: an idle connection whose backend dies is
/// noticed by the event loop and dropped, one that has sat idle past `idleCheckInterval` is
/// pinged before it is lent, and one that fails a query is replaced on return.
final class ConnectionPoolPartition: Sendable {
    typealias Machine = PoolStateMachine<PostgresConnection>

    /// A caller waiting for a pooled connection or for the pipelined one.
    enum Waiter {
        case lease(CheckedContinuation<PoolLease<PostgresConnection>, Error>)
        case pipeline(CheckedContinuation<PostgresConnection, Error>)

        func fail(_ error: Error) {
            switch self {
            case .lease(let continuation): continuation.resume(throwing: error)
            case .pipeline(let continuation): continuation.resume(throwing: error)
            }
        }
    }

    struct Shared {
        var machine: Machine
        var waiters: [Machine.WaiterID: Waiter] = [:]
        var nextWaiterID: Machine.WaiterID = 0
        var timerArmed = false
        var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
        var acquireTimeouts = 0
        var connectFailures = 0
        var discardedOnRelease = 0
        var lastConnectError: PostgresError?
        /// Why the last attempt to open the pipelined connection failed.
        var pipelineOpenError: Error?

        mutating func newWaiterID() -> Machine.WaiterID {
            nextWaiterID += 1
            return nextWaiterID
        }
    }

    let configuration: ConnectionPoolConfiguration
    let connectionConfiguration: PostgresConfiguration
    /// The loop that drives the partition's connections and its acquire-timeout timer.
    let loop: EventLoop
    let shared: Mutex<Shared>

    init(configuration: ConnectionPoolConfiguration, connection: PostgresConfiguration, loop: EventLoop) {
        self.configuration = configuration
        self.connectionConfiguration = connection
        self.loop = loop
        self.shared = Mutex(Shared(machine: Machine(maxConnections: configuration.maxConnections)))
    }

    var statistics: ConnectionPool.Statistics {
        shared.withLock { shared in
            let machine = shared.machine
            return ConnectionPool.Statistics(
                size: machine.idleCount + machine.leasedCount,
                inUse: machine.leasedCount,
                idle: machine.idleCount,
                opening: machine.openingCount,
                waiting: machine.waiterCount,
                acquireTimeouts: shared.acquireTimeouts,
                connectFailures: shared.connectFailures,
                discardedOnRelease: shared.discardedOnRelease
            )
        }
    }

    /// Lends a connection to `body` and takes it back afterwards, whatever `body` does.
    ///
    /// If the connection turns out to be dead before `body` sent anything on it (its backend
    /// died while it sat idle), `body` runs once more on another connection: nothing reached
    /// the server, so nothing can run twice.
    ///
    /// Throws ``ConnectionPoolError`` when no connection could be lent, ``PostgresError``
    /// (`.connectionFailed`) when a new one could not be opened or twice landed on a read-only
    /// server, or whatever `body` throws.
    func withConnection<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        var attempt = 0
        while true {
            attempt += 1
            let connection = try await lease()
            let sentBefore = connection.sentCount
            do {
                let result = try await body(connection)
                release(connection)
                return result
            } catch let error as PostgresError where error.isConnectionError && attempt == 1 && connection.sentCount == sentBefore {
                release(connection)
                continue
            } catch let error as PostgresError where error.isReadOnlyServer {
                // On a read-only server: this connection is dropped, never lent again, and the
                // work is tried once more on a new one (a read-only server wrote nothing).
                await connection.close()
                release(connection)
                if attempt == 1 { continue }
                throw PostgresError.connectionFailed("connected to a read-only server: \(error.message)")
            } catch {
                release(connection)
                throw error
            }
        }
    }

    /// Takes a connection out of the pool; it must be handed back with ``release(_:)``.
    func lease() async throws -> PostgresConnection {
        while true {
            let lease = try await acquire()
            let connection = lease.connection
            if connection.isClosed {
                release(connection)
                continue
            }
            if MonotonicClock.now() &- lease.idleSince > MonotonicClock.nanoseconds(configuration.idleCheckInterval) {
                do {
                    try await connection.ping()
                } catch {
                    release(connection)
                    continue
                }
            }
            return connection
        }
    }

    /// Returns a leased connection. A closed one, or one left inside a transaction, is closed
    /// and replaced instead of being lent again. Releasing a connection twice, or one this pool
    /// did not lend, does nothing.
    func release(_ connection: PostgresConnection) {
        let reusable = !connection.isClosed && connection.isIdleOutsideTransaction
        let actions = shared.withLock { shared in
            if !reusable { shared.discardedOnRelease += 1 }
            return shared.machine.release(connection, reusable: reusable, now: MonotonicClock.now())
        }
        perform(actions)
    }

    /// Stops lending, fails waiting callers with ``ConnectionPoolError/poolShutdown``, waits for
    /// leased connections to come back and closes every connection.
    func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (actions, alreadyDown) = shared.withLock { shared -> (PoolActions<PostgresConnection>, Bool) in
                if shared.machine.state == .shutDown { return (PoolActions(), true) }
                shared.shutdownWaiters.append(continuation)
                return (shared.machine.shutdown(), false)
            }
            if alreadyDown { continuation.resume() }
            perform(actions)
        }
        // Every close was queued on the loop before shutdown completed; once the loop has run
        // this job, their sockets are released.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute { continuation.resume() }
        }
    }

    // MARK: Waiting

    private func acquire() async throws -> PoolLease<PostgresConnection> {
        let id = shared.withLock { $0.newWaiterID() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PoolLease<PostgresConnection>, Error>) in
                let deadline = MonotonicClock.deadline(after: configuration.acquireTimeout)
                let (actions, armTimer) = shared.withLock { shared -> (PoolActions<PostgresConnection>, Bool) in
                    shared.waiters[id] = .lease(continuation)
                    var actions = shared.machine.acquire(id, deadline: deadline)
                    // Cancelled before we got here: the handler below found nothing to remove.
                    if Task.isCancelled, shared.machine.removeWaiter(id) {
                        actions.failures.append((id, .cancelled))
                    }
                    let arm = !shared.timerArmed && shared.machine.nextDeadline != nil
                    if arm { shared.timerArmed = true }
                    return (actions, arm)
                }
                perform(actions)
                if armTimer { loop.execute { self.armTimer() } }
            }
        } onCancel: {
            let removed = shared.withLock { $0.machine.removeWaiter(id) }
            if removed { perform(PoolActions(failures: [(id, .cancelled)])) }
        }
    }

    /// On the loop thread: fires at the oldest waiter's deadline, fails the expired waiters and
    /// re-arms for the next one while any remain.
    private func armTimer() {
        let deadline = shared.withLock { shared -> UInt64? in
            if let next = shared.machine.nextDeadline { return next }
            shared.timerArmed = false
            return nil
        }
        guard let deadline else { return }
        let now = MonotonicClock.now()
        let delay = Duration.nanoseconds(Int64(clamping: deadline > now ? deadline - now : 0))
        loop.scheduleTimer(after: delay) { [self] in
            let actions = shared.withLock { shared in
                let actions = shared.machine.expireWaiters(now: MonotonicClock.now())
                shared.acquireTimeouts += actions.failures.count
                return actions
            }
            perform(actions)
            armTimer()
        }
    }

    // MARK: Performing actions (never under the lock)

    /// A waiter's answer, taken under the lock and given outside it.
    private enum Resumption {
        case lease(CheckedContinuation<PoolLease<PostgresConnection>, Error>, PoolLease<PostgresConnection>)
        case pipeline(CheckedContinuation<PostgresConnection, Error>, PostgresConnection)
        case failure(Waiter, Error)

        func resume() {
            switch self {
            case .lease(let continuation, let lease): continuation.resume(returning: lease)
            case .pipeline(let continuation, let connection): continuation.resume(returning: connection)
            case .failure(let waiter, let error): waiter.fail(error)
            }
        }
    }

    func perform(_ actions: PoolActions<PostgresConnection>) {
        var resumptions: [Resumption] = []
        var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
        shared.withLock { shared in
            for lease in actions.leases {
                if case .lease(let continuation)? = shared.waiters.removeValue(forKey: lease.waiter) {
                    resumptions.append(.lease(continuation, lease))
                }
            }
            if let connection = actions.pipelineConnection {
                for id in actions.pipelineLeases {
                    if case .pipeline(let continuation)? = shared.waiters.removeValue(forKey: id) {
                        resumptions.append(.pipeline(continuation, connection))
                    }
                }
            }
            for (id, error) in actions.failures {
                if let waiter = shared.waiters.removeValue(forKey: id) { resumptions.append(.failure(waiter, error)) }
            }
            if !actions.connectFailures.isEmpty {
                let connectError = shared.lastConnectError ?? .connectionFailed("could not connect to PostgreSQL")
                for id in actions.connectFailures {
                    if let waiter = shared.waiters.removeValue(forKey: id) { resumptions.append(.failure(waiter, connectError)) }
                }
            }
            if !actions.pipelineConnectFailures.isEmpty {
                let pipelineError = shared.pipelineOpenError ?? PostgresError.connectionFailed("could not connect to PostgreSQL")
                for id in actions.pipelineConnectFailures {
                    if let waiter = shared.waiters.removeValue(forKey: id) { resumptions.append(.failure(waiter, pipelineError)) }
                }
            }
            if actions.shutdownComplete {
                shutdownWaiters = shared.shutdownWaiters
                shared.shutdownWaiters.removeAll()
            }
        }
        for resumption in resumptions { resumption.resume() }
        for connection in actions.closes { connection.closeInBackground() }
        for _ in 0..<actions.connectionsToOpen { openConnection() }
        for waiter in shutdownWaiters { waiter.resume() }
    }

    private func openConnection() {
        Task {
            do {
                let connection = try await PostgresConnection.connect(connectionConfiguration, on: loop)
                connection.onClose { [weak self, weak connection] _ in
                    guard let self, let connection else { return }
                    self.shared.withLock { $0.machine.idleConnectionClosed(connection) }
                }
                let actions = shared.withLock { $0.machine.connectionOpened(connection, now: MonotonicClock.now()) }
                perform(actions)
            } catch {
                let actions = shared.withLock { shared in
                    shared.connectFailures += 1
                    shared.lastConnectError = error as? PostgresError
                        ?? PostgresError.connectionFailed("\(error)")
                    return shared.machine.connectionOpenFailed()
                }
                perform(actions)
            }
        }
    }
}
