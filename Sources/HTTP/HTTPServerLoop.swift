import CLinux
import Glibc
import Reactor
import Synchronization

/// The server's share of one event loop: its listening socket, its connections, the read buffer
/// they share (the only one a connection reads into), what the buffer budget needs of a loop
/// (the connections holding memory, oldest first; the response bodies stalled; the connections
/// paused), and the periodic sweep that enforces timeouts. Its mutable state is in a
/// `LoopBound` (touched only on `loop`'s thread, checked in debug builds); only
/// ``requestRelief()`` may be called from any thread.
final class HTTPServerLoop: Sendable {
    /// What the loop keeps between events, owned by its thread.
    struct State {
        var date = HTTPDate()
        /// Big enough to peek at a whole request of the largest size allowed (head and body),
        /// up to 1 MiB; at least 64 KiB.
        var readBuffer: [UInt8]
        /// Connections holding memory the loop could take back, oldest first.
        var holders = HTTPHolders()
        var listener: Int32 = -1
        var connections: [Int32: HTTPConnection] = [:]
        /// Paused by the budget, in the order they were paused (closed ones are skipped).
        var paused: [HTTPConnection] = []
        var resumeTimer: TimerID?
        var pendingBodies = HTTPPendingBodies()
        /// Set while shedding, which closes connections and so comes back through their accounting.
        var shedding = false
        var draining = false
        var drained: (() -> Void)?
        var sweepTimer: TimerID?
    }

    let loop: EventLoop
    let core: HTTPServerCore
    let timeouts: HTTPConnectionStateMachine.Timeouts
    let readBufferSize: Int
    let state: LoopBound<State>
    /// A relief job is queued on this loop already (set from any loop).
    private let reliefQueued = Atomic<Bool>(false)

    init(loop: EventLoop, core: HTTPServerCore) {
        self.loop = loop
        self.core = core
        let configuration = core.configuration
        timeouts = .init(request: MonotonicClock.nanoseconds(configuration.requestTimeout),
                         idle: MonotonicClock.nanoseconds(configuration.idleTimeout),
                         handler: MonotonicClock.nanoseconds(configuration.handlerTimeout))
        let limits = configuration.limits
        readBufferSize = max(65_536, min(limits.maxHeadBytes + limits.maxBodyBytes + 1024, 1 << 20))
        state = LoopBound(State(readBuffer: [UInt8](repeating: 0, count: readBufferSize)), on: loop)
    }

    /// Starts accepting on `listener` (on the loop thread).
    func start(listener: Int32) {
        loop.execute { [self] in
            state.value.listener = listener
            watchListener()
            scheduleSweep()
        }
    }

    // MARK: The shared read buffer

    /// Reads from `fd` into the shared buffer (at most `count` bytes): what `read(2)` returns.
    func read(_ fd: Int32, count: Int = .max) -> Int {
        state.value.readBuffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, min(count, $0.count)) }
    }

    /// The first `count` bytes of the shared buffer, as just read.
    func received(_ count: Int) -> ArraySlice<UInt8> {
        state.value.readBuffer[0..<count]
    }

    /// Peeks at what `fd` would give (``HTTPRequestPeek``), into the shared buffer.
    func peek(_ fd: Int32, parser: HTTPRequestParser, pending: ArraySlice<UInt8>, headBytes: Int?) -> HTTPRequestPeek {
        HTTPRequestPeek.peek(fd, into: &state.value.readBuffer, parser: parser, pending: pending, headBytes: headBytes)
    }

    /// The `Date` header's value (formatted once a second).
    func currentDate() -> String {
        state.value.date.current()
    }

    // MARK: Accepting

    private func watchListener() {
        do {
            try loop.register(state.value.listener, interest: .read) { [unowned self] _ in acceptConnections() }
        } catch {
            fatalError("cannot watch the listening socket: \(error)")
        }
    }

    private func acceptConnections() {
        let listener = state.value.listener
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
                state.value.connections[fd] = connection
            } catch {
                Glibc.close(fd)
                core.releaseConnection()
            }
        }
    }

    /// Over the connection limit: a best-effort `503` and close, without ever blocking.
    private func refuse(_ fd: Int32) {
        let response = core.configuration.errorResponse(.connectionLimit)
        let bytes = HTTPResponseEncoder.encode(response, date: currentDate(), includeBody: true, connection: "close")
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        Glibc.close(fd)
    }

    private func pauseAccepting() {
        loop.deregister(state.value.listener)
        loop.scheduleTimer(after: .milliseconds(100)) { [self] in
            if !state.value.draining { watchListener() }
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
    /// closing, so that a client that gives up frees its share at once. The other loops are
    /// asked to shed their holders older than `moment` (when `connection` started holding).
    func pause(_ connection: HTTPConnection, reliefBefore moment: UInt64) {
        setInterest(.peerClosed, for: connection)
        state.value.paused.append(connection)
        scheduleResume()
        core.requestRelief(from: self, before: moment)
    }

    /// While connections are paused, looks every 20 ms whether the budget allows them to read
    /// again, and then resumes all of them: each checks the budget again before it buffers.
    private func scheduleResume() {
        guard state.value.resumeTimer == nil else { return }
        let timer = loop.scheduleTimer(after: .milliseconds(20)) { [self] in
            state.value.resumeTimer = nil
            state.value.paused.removeAll { !$0.state.value.isPaused }
            guard !state.value.paused.isEmpty else { return }
            if core.budget.allowsResuming {
                let waiting = state.value.paused
                state.value.paused = []
                for connection in waiting { connection.resume() }
            }
            if !state.value.paused.isEmpty { scheduleResume() }
        }
        state.value.resumeTimer = timer
    }

    // MARK: Memory

    /// A connection's response is stalled: charges its body, once for all connections of this
    /// loop writing the same one.
    func retainBody(_ body: [UInt8]) {
        core.budget.adjust(by: state.value.pendingBodies.retain(body))
    }

    /// A stalled response is written, or dropped.
    func releaseBody(_ body: [UInt8]) {
        core.budget.adjust(by: -state.value.pendingBodies.release(body))
    }

    /// Whether other connections of this loop are stalled on the same body (closing one frees none of it).
    func isShared(_ body: [UInt8]) -> Bool {
        state.value.pendingBodies.isShared(body)
    }

    /// Queues `connection` as holding memory from now on.
    func hold(_ connection: HTTPConnection) -> HTTPHolders.Ticket {
        let live = state.value.connections.count
        state.value.holders.compactIfMostlyStale(live: live)
        return state.value.holders.append(connection, now: MonotonicClock.now())
    }

    /// The ticket a connection that holds nothing yet would get now.
    func newcomer() -> HTTPHolders.Ticket {
        state.value.holders.newcomer(now: MonotonicClock.now())
    }

    /// Closes this loop's oldest holders within `bound` (a request not yet whole gets `503` first)
    /// until the budget is down to `target` bytes; true if it got there. Holders that would free
    /// less than 1 KiB are passed over (and lose their place): closing them gains nothing.
    @discardableResult
    func shed(downTo target: Int, before bound: HTTPHolders.Bound) -> Bool {
        let budget = core.budget
        guard !state.value.shedding else { return budget.bytes <= target }
        state.value.shedding = true
        defer { state.value.shedding = false }
        while budget.bytes > target, let victim = state.value.holders.popOldest(within: bound) {
            if victim.freeableBytes >= 1024 {
                victim.shed()
                core.countShed()
            } else {
                victim.holdTicket = nil
            }
        }
        return budget.bytes <= target
    }

    /// Asks this loop, from any thread, to shed holders older than what the budget's
    /// ``HTTPBufferBudget/reliefBefore`` says, down to the level where paused connections resume.
    func requestRelief() {
        guard !reliefQueued.exchange(true, ordering: .acquiringAndReleasing) else { return }
        loop.execute { [self] in
            reliefQueued.store(false, ordering: .releasing)
            shed(downTo: core.budget.resumeLevel, before: .time(core.budget.reliefBefore))
        }
    }

    /// Forgets a closed connection and releases its descriptor.
    func remove(_ connection: HTTPConnection) {
        loop.deregister(connection.fd)
        Glibc.close(connection.fd)
        state.value.connections.removeValue(forKey: connection.fd)
        core.releaseConnection()
        if state.value.draining, state.value.connections.isEmpty, let drained = state.value.drained {
            state.value.drained = nil
            drained()
        }
    }

    // MARK: Timeouts

    private func scheduleSweep() {
        let configuration = core.configuration
        let shortest = min(configuration.requestTimeout, configuration.idleTimeout, configuration.handlerTimeout)
        let interval = min(max(shortest / 10, .milliseconds(10)), .seconds(1))
        let timer = loop.scheduleTimer(after: interval) { [self] in
            let now = MonotonicClock.now()
            _ = currentDate()
            for connection in Array(state.value.connections.values) { connection.checkTimeouts(now: now) }
            scheduleSweep()
        }
        state.value.sweepTimer = timer
    }

    // MARK: Shutdown

    /// Stops accepting, closes idle connections and lets busy ones finish (on the loop thread);
    /// calls `done` once no connection is left.
    func drain(_ done: @escaping () -> Void) {
        state.value.draining = true
        let listener = state.value.listener
        if listener >= 0 {
            loop.deregister(listener)
            Glibc.close(listener)
            state.value.listener = -1
        }
        for connection in Array(state.value.connections.values) { connection.drain() }
        if state.value.connections.isEmpty {
            done()
        } else {
            state.value.drained = done
        }
    }

    /// Closes whatever is still open once the grace period is over.
    func closeAll() {
        for connection in Array(state.value.connections.values) { connection.close() }
        if let sweepTimer = state.value.sweepTimer { loop.cancelTimer(sweepTimer) }
        state.value.sweepTimer = nil
        if let resumeTimer = state.value.resumeTimer { loop.cancelTimer(resumeTimer) }
        state.value.resumeTimer = nil
        state.value.paused = []
        state.value.holders.removeAll()
    }
}
