import Glibc
import Reactor
import Synchronization

/// Answers an ``HTTPRequest``; a thrown error becomes a `500` with no detail in the body.
public typealias HTTPHandler = @Sendable (HTTPRequest) async throws -> HTTPResponse

/// An HTTP/1.1 server on plain non-blocking POSIX sockets and epoll (no SwiftNIO).
///
/// One ``EventLoop`` thread per core by default, each accepting on its own `SO_REUSEPORT`
/// socket, so the kernel spreads connections across cores. Requests run in Swift tasks, so a
/// slow handler never stalls other connections. The server knows nothing of the application:
/// it parses, enforces the limits of ``HTTPServerConfiguration`` and writes what the handler
/// returns.
///
/// ```swift
/// let server = HTTPServer(configuration: .init(port: 8080)) { request in
///     .json(status: 200, #"{"hello":"world"}"#)
/// }
/// try server.start()
/// …
/// await server.shutdown(gracePeriod: .seconds(10))
/// ```
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    private let core: HTTPServerCore
    private let loops: [HTTPServerLoop]
    /// Whether ``shutdown(gracePeriod:)`` stops the loops: only those the server made itself.
    private let ownsLoops: Bool
    private let boundPort = Atomic<Int>(0)

    /// A server on `configuration.eventLoops` loops of its own.
    public convenience init(configuration: HTTPServerConfiguration, handler: @escaping HTTPHandler) {
        let loops = (0..<max(1, configuration.eventLoops)).map { EventLoop(name: "http-\($0)") }
        self.init(configuration: configuration, loops: loops, ownsLoops: true, handler: handler)
    }

    /// A server on `loops`, which the caller shares with other work (e.g. the database pool's
    /// partitions, so a request and its queries stay on one thread) and stops itself after
    /// ``shutdown(gracePeriod:)``. `configuration.eventLoops` is ignored.
    public convenience init(configuration: HTTPServerConfiguration, loops: [EventLoop], handler: @escaping HTTPHandler) {
        self.init(configuration: configuration, loops: loops, ownsLoops: false, handler: handler)
    }

    private init(configuration: HTTPServerConfiguration, loops: [EventLoop], ownsLoops: Bool, handler: @escaping HTTPHandler) {
        precondition(!loops.isEmpty, "an HTTP server needs an event loop")
        self.configuration = configuration
        let core = HTTPServerCore(configuration: configuration, handler: handler)
        self.core = core
        self.loops = loops.map { HTTPServerLoop(loop: $0, core: core) }
        self.ownsLoops = ownsLoops
        core.setLoops(self.loops)
    }

    /// The port the server listens on (the kernel's pick when configured with port 0).
    public var port: Int { boundPort.load(ordering: .acquiring) }

    /// Connections open right now, across all loops.
    public var openConnections: Int { core.openConnections }

    /// Bytes held in connections' buffers right now (see ``HTTPServerConfiguration/maxBufferedBytes``).
    public var bufferedBytes: Int { core.budget.bytes }

    /// Connections not read right now because the buffer budget is spent.
    public var pausedConnections: Int { core.pausedConnections }

    /// Connections closed so far to free memory for others (see ``HTTPBufferBudget``).
    public var shedConnections: Int { core.shedConnections }

    /// Binds the listening sockets and starts serving. `::` falls back to `0.0.0.0` on a
    /// kernel without IPv6.
    public func start() throws(SocketError) {
        signal(SIGPIPE, SIG_IGN)  // a peer that vanished must be an error code, not process death
        Self.raiseDescriptorLimit()
        var host = configuration.host
        let first: Int32
        do {
            first = try Socket.listen(host: host, port: configuration.port)
        } catch where host == "::" && error.errno == EAFNOSUPPORT {
            host = "0.0.0.0"
            first = try Socket.listen(host: host, port: configuration.port)
        }
        let port = try Socket.localPort(first)
        var listeners = [first]
        do throws(SocketError) {
            for _ in 1..<loops.count { listeners.append(try Socket.listen(host: host, port: port)) }
        } catch {
            listeners.forEach { close($0) }
            throw error
        }
        boundPort.store(port, ordering: .releasing)
        for (loop, listener) in zip(loops, listeners) { loop.start(listener: listener) }
    }

    /// Raises the soft limit on open files to the hard limit: the default 1,024 would cap the
    /// server far below its 10,000 connections (and starve libpq's connects first).
    private static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// Stops accepting, closes idle connections, lets requests in flight finish and their
    /// responses go out (with `Connection: close`) for up to `gracePeriod`, then closes the rest
    /// and stops the event loops it made.
    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        // Whichever comes first: every loop drained, or the grace period over.
        let remaining = Mutex(loops.count)
        let timer = Mutex<Task<Void, Never>?>(nil)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let once = Mutex<CheckedContinuation<Void, Never>?>(done)
            let finish: @Sendable () -> Void = { once.withLock { $0.take() }?.resume() }
            timer.withLock { $0 = Task { try? await Task.sleep(for: gracePeriod); finish() } }
            for serverLoop in loops {
                serverLoop.loop.execute {
                    serverLoop.drain {
                        if remaining.withLock({ $0 -= 1; return $0 }) == 0 { finish() }
                    }
                }
            }
        }
        timer.withLock { $0?.cancel() }
        for serverLoop in loops {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                serverLoop.loop.execute {
                    serverLoop.closeAll()
                    done.resume()
                }
            }
            if ownsLoops { serverLoop.loop.shutdown() }
        }
    }
}

/// What every loop of one server shares: configuration, handler, the connection count, the
/// buffer budget, and the loops themselves (to ask each other for memory).
final class HTTPServerCore: Sendable {
    let configuration: HTTPServerConfiguration
    let handler: HTTPHandler
    let budget: HTTPBufferBudget
    private let connectionCount = Atomic<Int>(0)
    private let pausedCount = Atomic<Int>(0)
    private let shedCount = Atomic<Int>(0)
    /// Weak: the loops hold the core.
    private let loops = Mutex<[WeakLoop]>([])

    private struct WeakLoop: Sendable {
        weak var loop: HTTPServerLoop?
    }

    init(configuration: HTTPServerConfiguration, handler: @escaping HTTPHandler) {
        self.configuration = configuration
        self.handler = handler
        budget = HTTPBufferBudget(limit: configuration.maxBufferedBytes)
    }

    var openConnections: Int { connectionCount.load(ordering: .relaxed) }

    var pausedConnections: Int { pausedCount.load(ordering: .relaxed) }

    func countPaused(_ delta: Int) {
        pausedCount.add(delta, ordering: .relaxed)
    }

    var shedConnections: Int { shedCount.load(ordering: .relaxed) }

    func countShed() {
        shedCount.add(1, ordering: .relaxed)
    }

    func setLoops(_ serverLoops: [HTTPServerLoop]) {
        loops.withLock { $0 = serverLoops.map { WeakLoop(loop: $0) } }
    }

    /// `asking` paused a connection for want of room it could not make itself: the other loops
    /// shed their holders older than `moment`.
    func requestRelief(from asking: HTTPServerLoop, before moment: UInt64) {
        budget.askRelief(before: moment)
        for other in loops.withLock({ $0 }) {
            if let loop = other.loop, loop !== asking { loop.requestRelief() }
        }
    }

    /// Counts a new connection unless the limit is reached.
    func reserveConnection() -> Bool {
        let previous = connectionCount.add(1, ordering: .relaxed).oldValue
        if previous < configuration.maxConnections { return true }
        connectionCount.subtract(1, ordering: .relaxed)
        return false
    }

    func releaseConnection() {
        connectionCount.subtract(1, ordering: .relaxed)
    }
}
