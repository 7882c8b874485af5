import CLinux
import Glibc
import Reactor

/// The server's share of one event loop: its listening socket, its connections, the read buffer
/// they share (the only one a connection reads into), the connections paused by the buffer
/// budget, and the periodic sweep that enforces timeouts. Touched only on `loop`'s thread.
final class HTTPServerLoop: @unchecked Sendable {
    let loop: EventLoop
    let core: HTTPServerCore
    let requestTimeoutNanos: UInt64
    let idleTimeoutNanos: UInt64
    let handlerTimeoutNanos: UInt64
    var date = HTTPDate()
    var readBuffer = [UInt8](repeating: 0, count: 65_536)

    private var listener: Int32 = -1
    private var connections: [Int32: HTTPConnection] = [:]
    /// Paused by the budget, in the order they were paused (closed ones are skipped).
    private var paused: [HTTPConnection] = []
    private var resumeTimer: TimerID?
    private var draining = false
    private var drained: (() -> Void)?
    private var sweepTimer: TimerID?

    init(loop: EventLoop, core: HTTPServerCore) {
        self.loop = loop
        self.core = core
        requestTimeoutNanos = MonotonicClock.nanoseconds(core.configuration.requestTimeout)
        idleTimeoutNanos = MonotonicClock.nanoseconds(core.configuration.idleTimeout)
        handlerTimeoutNanos = MonotonicClock.nanoseconds(core.configuration.handlerTimeout)
    }

    /// Starts accepting on `listener` (on the loop thread).
    func start(listener: Int32) {
        loop.execute { [self] in
            self.listener = listener
            watchListener()
            scheduleSweep()
        }
    }

    // MARK: Accepting

    private func watchListener() {
        do {
            try loop.register(listener, interest: .read) { [unowned self] _ in acceptConnections() }
        } catch {
            fatalError("cannot watch the listening socket: \(error)")
        }
    }

    private func acceptConnections() {
        for _ in 0..<256 {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept4(listener, $0, &length, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
                }
            }
            if fd < 0 {
                switch errno {
                case EINTR, ECONNABORTED: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    pauseAccepting()  // out of descriptors: retry shortly instead of spinning
                    return
                default: return  // EAGAIN: accepted everything pending
                }
            }
            guard core.reserveConnection() else {
                refuse(fd)
                continue
            }
            try? Socket.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            let connection = HTTPConnection(fd: fd, peerAddress: SocketAddress(storage: storage).text, owner: self)
            do {
                try loop.register(fd, interest: .read) { [unowned connection] events in connection.handle(events) }
                connections[fd] = connection
            } catch {
                Glibc.close(fd)
                core.releaseConnection()
            }
        }
    }

    /// Over the connection limit: a best-effort `503` and close, without ever blocking.
    private func refuse(_ fd: Int32) {
        let response = core.configuration.errorResponse(.unavailable)
        let bytes = HTTPResponseEncoder.encode(response, date: date.current(), includeBody: true, connection: "close")
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        Glibc.close(fd)
    }

    private func pauseAccepting() {
        loop.deregister(listener)
        loop.scheduleTimer(after: .milliseconds(100)) { [self] in
            if !draining { watchListener() }
        }
    }

    // MARK: Connections

    func setInterest(_ interest: IOInterest, for connection: HTTPConnection) {
        do {
            try loop.setInterest(interest, for: connection.fd)
        } catch {
            connection.close()
        }
    }

    /// Stops reading `connection` until the budget has room again; it still notices its client
    /// closing, so that a client that gives up frees its share at once.
    func pause(_ connection: HTTPConnection) {
        setInterest(.peerClosed, for: connection)
        paused.append(connection)
        scheduleResume()
    }

    /// While connections are paused, looks every 20 ms whether the budget allows them to read
    /// again, and then resumes all of them: each checks the budget again before it buffers.
    private func scheduleResume() {
        guard resumeTimer == nil else { return }
        resumeTimer = loop.scheduleTimer(after: .milliseconds(20)) { [self] in
            resumeTimer = nil
            paused.removeAll { !$0.isPaused }
            guard !paused.isEmpty else { return }
            if core.budget.allowsResuming {
                let waiting = paused
                paused = []
                for connection in waiting { connection.resume() }
            }
            if !paused.isEmpty { scheduleResume() }
        }
    }

    /// Forgets a closed connection and releases its descriptor.
    func remove(_ connection: HTTPConnection) {
        loop.deregister(connection.fd)
        Glibc.close(connection.fd)
        connections.removeValue(forKey: connection.fd)
        core.releaseConnection()
        if draining, connections.isEmpty, let drained {
            self.drained = nil
            drained()
        }
    }

    // MARK: Timeouts

    private func scheduleSweep() {
        let configuration = core.configuration
        let shortest = min(configuration.requestTimeout, configuration.idleTimeout, configuration.handlerTimeout)
        let interval = min(max(shortest / 10, .milliseconds(10)), .seconds(1))
        sweepTimer = loop.scheduleTimer(after: interval) { [self] in
            let now = MonotonicClock.now()
            _ = date.current()
            for connection in Array(connections.values) { connection.checkTimeouts(now: now) }
            scheduleSweep()
        }
    }

    // MARK: Shutdown

    /// Stops accepting, closes idle connections and lets busy ones finish (on the loop thread);
    /// calls `done` once no connection is left.
    func drain(_ done: @escaping () -> Void) {
        draining = true
        if listener >= 0 {
            loop.deregister(listener)
            Glibc.close(listener)
            listener = -1
        }
        for connection in Array(connections.values) { connection.drain() }
        if connections.isEmpty {
            done()
        } else {
            drained = done
        }
    }

    /// Closes whatever is still open once the grace period is over.
    func closeAll() {
        for connection in Array(connections.values) { connection.close() }
        if let sweepTimer { loop.cancelTimer(sweepTimer) }
        sweepTimer = nil
        if let resumeTimer { loop.cancelTimer(resumeTimer) }
        resumeTimer = nil
        paused = []
    }
}
