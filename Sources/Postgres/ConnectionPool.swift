import Reactor
import Synchronization

/// An async pool of ``PostgresConnection``s: at most `maxConnections` open, callers beyond that
/// wait in FIFO order up to the acquire timeout, and every lease comes back, also on errors and
/// cancellation, when borrowed through ``withConnection(_:)``.
///
/// The pool is split into one partition per event loop it is given, each holding its share of
/// `maxConnections` on its loop. A caller running on one of those loops (an HTTP request
/// handled on the loop that also drives its partition) gets a connection of its own loop, so
/// the query is sent, answered and resumed on one thread with no hand-over between threads;
/// other callers take the partitions in turn. With one loop this is a plain pool.
///
/// Broken connections never go back into rotation: an idle connection whose backend dies is
/// noticed by the event loop and dropped, one that has sat idle past `idleCheckInterval` is
/// pinged before it is lent, and one that fails a query is replaced on return. So after a
/// server restart or `pg_terminate_backend`, callers see at most the one query that was on the
/// wire fail.
///
/// ```swift
/// let pool = ConnectionPool(configuration: .init(maxConnections: 8), connection: postgres, loop: loop)
/// let count = try await pool.withConnection { try await $0.query("SELECT count(*) FROM contacts") }
/// ```
public final class ConnectionPool: Sendable {
    /// Counts for metrics and tests; summed over the partitions, each taken under its lock.
    public struct Statistics: Sendable, Equatable {
        /// Open connections: idle plus leased.
        public var size: Int
        public var inUse: Int
        public var idle: Int
        /// Connection attempts in progress.
        public var opening: Int
        /// Callers waiting for a connection.
        public var waiting: Int
        /// Callers that gave up after the acquire timeout, since the pool started.
        public var acquireTimeouts: Int
        /// Failed connection attempts since the pool started.
        public var connectFailures: Int
        /// Connections closed when handed back, since the pool started: broken, or left inside a
        /// transaction (a caller that did not end its transaction, each one a new connection).
        public var discardedOnRelease: Int

        static let zero = Statistics(size: 0, inUse: 0, idle: 0, opening: 0, waiting: 0, acquireTimeouts: 0, connectFailures: 0,
                                     discardedOnRelease: 0)

        static func + (lhs: Self, rhs: Self) -> Self {
            Statistics(size: lhs.size + rhs.size, inUse: lhs.inUse + rhs.inUse, idle: lhs.idle + rhs.idle,
                       opening: lhs.opening + rhs.opening, waiting: lhs.waiting + rhs.waiting,
                       acquireTimeouts: lhs.acquireTimeouts + rhs.acquireTimeouts,
                       connectFailures: lhs.connectFailures + rhs.connectFailures,
                       discardedOnRelease: lhs.discardedOnRelease + rhs.discardedOnRelease)
        }
    }

    public let configuration: ConnectionPoolConfiguration
    public let connectionConfiguration: PostgresConfiguration
    let partitions: [ConnectionPoolPartition]
    private let nextPartition = Atomic<Int>(0)

    /// A pool whose connections all live on `loop`.
    public convenience init(configuration: ConnectionPoolConfiguration, connection: PostgresConfiguration, loop: EventLoop) {
        self.init(configuration: configuration, connection: connection, loops: [loop])
    }

    /// A pool with one partition per loop (as many as `maxConnections` allows), the connections
    /// shared out as evenly as they go.
    public init(configuration: ConnectionPoolConfiguration, connection: PostgresConfiguration, loops: [EventLoop]) {
        precondition(!loops.isEmpty, "a connection pool needs an event loop")
        self.configuration = configuration
        self.connectionConfiguration = connection
        let count = max(1, min(loops.count, configuration.maxConnections))
        partitions = (0..<count).map { index in
            var share = configuration
            share.maxConnections = configuration.maxConnections / count + (index < configuration.maxConnections % count ? 1 : 0)
            return ConnectionPoolPartition(configuration: share, connection: connection, loop: loops[index])
        }
    }

    public var statistics: Statistics {
        partitions.reduce(.zero) { $0 + $1.statistics }
    }

    /// Lends a connection to `body` and takes it back afterwards, whatever `body` does.
    ///
    /// If the connection turns out to be dead before `body` sent anything on it (its backend
    /// died while it sat idle), `body` runs once more on another connection: nothing reached
    /// the server, so nothing can run twice.
    ///
    /// Throws ``ConnectionPoolError`` when no connection could be lent, ``PostgresError``
    /// (`.connectionFailed`) when a new one could not be opened, or whatever `body` throws.
    public func withConnection<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await partitionForCaller().withConnection(body)
    }

    /// Runs one statement and returns its result. A ``PreparedStatement/pipelined`` statement
    /// goes onto the caller's partition's pipelined connection, shared with other callers'
    /// quick reads (those of one turn of the loop under one Sync, answered in order);
    /// should that connection be unavailable or break, the read runs again on a borrowed
    /// connection (it only reads). Any other statement borrows a connection.
    public func execute(_ statement: PreparedStatement, _ parameters: [(any PostgresEncodable)?] = []) async throws -> PostgresResult {
        if statement.pipelined, configuration.pipelinedReads, connectionConfiguration.statementMode == .named,
           let connection = try? await partitionForCaller().pipelineConnection() {
            do {
                return try await connection.execute(statement, parameters)
            } catch let error as PostgresError where error.isConnectionError || error.kind == .notRun {
                // a read may run again: on a borrowed connection, below
            }
        }
        return try await withConnection { try await $0.execute(statement, parameters) }
    }

    /// Takes a connection out of the pool; it must be handed back with ``release(_:)``.
    public func lease() async throws -> PostgresConnection {
        try await partitionForCaller().lease()
    }

    /// Returns a leased connection. A closed one, or one left inside a transaction, is closed
    /// and replaced instead of being lent again. Releasing a connection twice, or one this pool
    /// did not lend, does nothing.
    public func release(_ connection: PostgresConnection) {
        partitions.first { $0.loop === connection.loop }?.release(connection)
    }

    /// Stops lending, fails waiting callers with ``ConnectionPoolError/poolShutdown``, waits for
    /// leased connections to come back and closes every connection.
    public func shutdown() async {
        await withTaskGroup(of: Void.self) { group in
            for partition in partitions { group.addTask { await partition.shutdown() } }
        }
    }

    /// The partition of the loop the caller runs on, else the next one in turn.
    private func partitionForCaller() -> ConnectionPoolPartition {
        if partitions.count == 1 { return partitions[0] }
        if let own = partitions.first(where: { $0.loop.inEventLoop }) { return own }
        let turn = nextPartition.add(1, ordering: .relaxed).newValue
        return partitions[turn % partitions.count]
    }
}
