import CLibPQ
import Reactor
import Synchronization

/// One PostgreSQL connection, driven in libpq's non-blocking mode by an ``EventLoop``.
///
/// Callers on any task simply `await` a query; the loop thread sends it, waits for the socket
/// (`PQsocket`) to become readable and collects the results, so no thread blocks in libpq.
/// Requests are queued in order and answered in order: one on the wire at a time, or, once in
/// pipeline mode (``enablePipelineMode()``), as many as callers send, each with its own Sync.
///
/// Call ``close()`` when done: the loop's registration keeps an open connection alive, so one
/// that is merely dropped keeps its socket and server backend.
///
/// A connection is not meant to be shared by unrelated callers at once: the
/// ``ConnectionPool`` leases it to one caller at a time. A caller whose task is cancelled
/// still waits for its statement to finish, so the connection stays in a known state.
public final class PostgresConnection: Sendable {
    /// Unique within the process; tells connections apart in logs and the pool.
    public let id: Int
    /// The loop whose thread owns all the libpq state below.
    public let loop: EventLoop

    private static let nextID = Atomic<Int>(1)

    // Readable from any thread.
    private let closedFlag = Atomic<Bool>(false)
    private let transactionStatusValue = Atomic<UInt8>(0)
    private let prepareCountValue = Atomic<Int>(0)
    private let sentCountValue = Atomic<Int>(0)
    /// Whether ``execute(_:_:)`` prepares named statements or sends the SQL each time.
    let statementMode: PostgresConfiguration.StatementMode

    /// The loop thread's state: libpq's connection and the requests on it.
    struct State {
        var handle: OpaquePointer?
        var socket: Int32 = -1
        var queue: PostgresRequestQueue
        var flushing = false
        /// The backend announced it is going away (a FATAL error while idle).
        var backendTerminated = false
        var closeHandlers: [@Sendable (PostgresError?) -> Void] = []
        /// Called with the channel of each `NOTIFY` received (after `LISTEN`).
        var notificationHandler: (@Sendable (String) -> Void)?
        /// The COPY in progress, if any (``copyIn(_:_:)``, ``copyOut(_:_:)``).
        var copy: PostgresCopySession?
        var connectCompletion: ((Result<Void, PostgresError>) -> Void)?
        var connectTimer: TimerID?
    }

    /// Touched only on `loop`'s thread, which debug builds check at every access. No libpq
    /// call and no callback runs inside an access (libpq's notice receiver writes the state).
    let state: LoopBound<State>

    init(loop: EventLoop, statementMode: PostgresConfiguration.StatementMode = .named) {
        self.statementMode = statementMode
        self.id = Self.nextID.add(1, ordering: .relaxed).oldValue
        self.loop = loop
        state = LoopBound(State(queue: PostgresRequestQueue(preparesNamedStatements: statementMode == .named)), on: loop)
    }

    deinit {
        // The last reference is gone, so no job of the loop can touch the state any more (an
        // open connection's socket registration holds a reference): nothing else can run
        // against it, on whichever thread drops that reference. Normally the handle is already
        // released; this only keeps a connection abandoned half-made from leaking.
        if let handle = state.unsafeUncheckedValue.handle { PQfinish(handle) }
    }

    /// Opens a connection. Throws a ``PostgresError`` of kind `.connectionFailed` when the server
    /// cannot be reached, refuses the login, or does not answer within the configured timeout.
    public static func connect(_ configuration: PostgresConfiguration, on loop: EventLoop) async throws -> PostgresConnection {
        let connection = PostgresConnection(loop: loop, statementMode: configuration.statementMode)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            loop.execute {
                connection.startConnecting(configuration) { continuation.resume(with: $0.mapError { $0 }) }
            }
        }
        return connection
    }

    /// True once the connection is closed or found broken; it will never work again.
    public var isClosed: Bool { closedFlag.load(ordering: .acquiring) }

    /// True when no transaction is open (the state a pooled connection must be returned in).
    public var isIdleOutsideTransaction: Bool {
        transactionStatusValue.load(ordering: .acquiring) == UInt8(PQTRANS_IDLE.rawValue)
    }

    /// How many times this connection has sent a `Prepare` message (tests check statements are reused).
    public var prepareCount: Int { prepareCountValue.load(ordering: .relaxed) }

    /// Runs one statement with `$1…$n` parameters through the extended protocol (unnamed statement).
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) async throws -> PostgresResult {
        let results = try await submit(.query(sql: sql, parameters: try Self.encode(parameters)))
        return results[results.count - 1]
    }

    /// Runs a prepared statement, preparing it first if this connection has not yet done so.
    @discardableResult
    public func execute(_ statement: PreparedStatement, _ parameters: [(any PostgresEncodable)?] = []) async throws -> PostgresResult {
        let results = try await submit(.prepared(statement, parameters: try Self.encode(parameters)))
        return results[results.count - 1]
    }

    /// Runs SQL text that may hold several statements (simple protocol, no parameters), e.g. a
    /// migration file. Returns one result per statement. An empty text is a cheap liveness check.
    @discardableResult
    public func simpleQuery(_ sql: String) async throws -> [PostgresResult] {
        guard !sql.utf8.contains(0) else {
            throw PostgresError.client("SQL text contains a NUL byte")
        }
        return try await submit(.simple(sql: sql))
    }

    /// A round trip that touches no table: proves the server still answers on this connection.
    public func ping() async throws {
        try await simpleQuery("")
    }

    /// Runs `body` inside `BEGIN … COMMIT`, rolling back if it throws. The commit has happened
    /// when this returns, so a caller may acknowledge the write.
    public func transaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await simpleQuery("BEGIN")
        do {
            let result = try await body(self)
            try await simpleQuery("COMMIT")
            return result
        } catch {
            if !isClosed { _ = try? await simpleQuery("ROLLBACK") }
            throw error
        }
    }

    /// Calls `handler` on the loop thread once the connection closes, with the error that broke
    /// it (nil after ``close()``). Called at once if it is already closed.
    public func onClose(_ handler: @escaping @Sendable (PostgresError?) -> Void) {
        loop.execute {
            if self.isClosed {
                handler(nil)
            } else {
                self.state.value.closeHandlers.append(handler)
            }
        }
    }

    /// Closes the connection; queued requests fail with `.connectionClosed`.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute {
                self.teardown(error: nil)
                continuation.resume()
            }
        }
    }

    /// Starts closing without waiting: the connection counts as closed at once and its socket
    /// is released by the next turn of its loop.
    func closeInBackground() {
        markClosed()
        loop.execute { self.teardown(error: nil) }
    }

    // MARK: Internals shared with the loop-side extensions

    func submit(_ command: Command) async throws -> [PostgresResult] {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[PostgresResult], Error>) in
            loop.execute {
                self.enqueue(PendingRequest(command: command) { continuation.resume(with: $0.mapError { $0 }) })
            }
        }
    }

    /// Switches this idle connection to libpq's pipeline mode: from then on it carries any
    /// number of ``execute(_:_:)`` calls at once, each its own implicit transaction, answered in
    /// order. Only prepared statements may be sent; meant for a connection shared by callers
    /// that each run one statement (``ConnectionPool``'s pipelined reads). False when the
    /// connection is busy or closed.
    public func enablePipelineMode() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            loop.execute { continuation.resume(returning: self.enterPipelineMode()) }
        }
    }

    /// On the loop thread: libpq's connection, nil before connecting and once closed.
    var handle: OpaquePointer? { state.value.handle }

    func markClosed() { closedFlag.store(true, ordering: .releasing) }

    func recordTransactionStatus() {
        guard let handle else { return }
        transactionStatusValue.store(UInt8(PQtransactionStatus(handle).rawValue), ordering: .releasing)
    }

    func countPrepare() { prepareCountValue.add(1, ordering: .relaxed) }

    func countSent() { sentCountValue.add(1, ordering: .relaxed) }

    /// How many messages libpq accepted for sending on this connection. Unchanged across a
    /// failed request means the request never left the process, so retrying it is safe.
    var sentCount: Int { sentCountValue.load(ordering: .acquiring) }

    /// Parameters in text format; NUL cannot travel in a C string (nor in PostgreSQL text).
    static func encode(_ parameters: [(any PostgresEncodable)?]) throws -> [String?] {
        try parameters.enumerated().map { index, value in
            guard let text = value?.postgresText else { return nil }
            let hasNUL = text.utf8.withContiguousStorageIfAvailable { $0.contains(0) } ?? text.utf8.contains(0)
            guard !hasNUL else {
                throw PostgresError.client("parameter $\(index + 1) contains a NUL byte")
            }
            return text
        }
    }
}
