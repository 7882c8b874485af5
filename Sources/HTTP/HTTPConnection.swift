import CLinux
import Glibc
import Reactor

/// One client connection, confined to its loop's thread (the only place its state is touched;
/// handler tasks hand their response back through `loop.execute`).
///
/// States: reading a request → handling it (the socket is not read meanwhile, so a client
/// that floods pipelined requests is held back by TCP) → writing the response → reading the
/// next request, which may already be buffered. A connection that must close after its
/// response first half-closes and drains what the client still sends (`lingering`), so the
/// client reads the response instead of a reset.
///
/// Memory: bytes are read into the loop's shared buffer and parsed where they lie; only an
/// unfinished request's tail is copied into `input`, so a connection between requests holds no
/// buffer at all. What it does hold is charged to the server's ``HTTPBufferBudget``; past the
/// budget's buffering share, a connection that would have to buffer more is paused (not read)
/// until memory frees, while whole requests are still read and answered.
final class HTTPConnection: @unchecked Sendable {
    enum State { case reading, handling, writing, lingering, closed }

    let fd: Int32
    let peerAddress: String
    unowned let owner: HTTPServerLoop

    private(set) var state = State.reading
    private var parser: HTTPRequestParser
    /// Read but not yet parsed: an unfinished request, or requests pipelined behind the one
    /// being handled. Empty, without storage, between requests.
    private var input: [UInt8] = []
    private var inputIndex = 0
    private var head: HTTPRequestHead?
    /// The size of `head` on the wire, charged while its request is handled.
    private var headBytes = 0
    private var output: [UInt8] = []
    private var outputIndex = 0
    private var closeAfterWrite = false
    /// When the request being received must be complete (set at its first byte).
    private var requestDeadline: UInt64?
    /// When the handler must have answered (set when the request is handed to it).
    private var handlerDeadline: UInt64?
    private var handlerTask: Task<Void, Never>?
    /// Numbers the requests handed to the handler: an answer arriving after its request timed
    /// out must not be taken for the answer to the next one.
    private var requestSerial: UInt64 = 0
    /// The head and body of the request being handled, charged until its response replaces them.
    private var handlingBytes = 0
    /// What this connection has charged to the budget.
    private var charged = 0
    /// Not read while the budget is spent: the client's bytes wait in the kernel until ``resume()``.
    private(set) var isPaused = false
    /// When the connection is closed for idleness, a stalled write, or the end of lingering.
    private(set) var deadline: UInt64

    init(fd: Int32, peerAddress: String, owner: HTTPServerLoop) {
        self.fd = fd
        self.peerAddress = peerAddress
        self.owner = owner
        parser = HTTPRequestParser(limits: owner.core.configuration.limits)
        deadline = MonotonicClock.now() &+ owner.idleTimeoutNanos
    }

    /// Idle between requests, with nothing buffered: safe to close at shutdown.
    var isIdle: Bool {
        state == .reading && requestDeadline == nil && inputIndex == input.count
    }

    // MARK: Events

    func handle(_ events: IOEvents) {
        switch state {
        case .reading:
            // A paused connection is watched only for its client leaving (or a reset): what it
            // sent is all there will be, and it is not read while the budget is spent.
            if isPaused {
                if events.readable { close() }
            } else if events.readable {
                readAvailable()
            }
        case .lingering:
            if events.readable { discardInput() }
        case .writing:
            if events.writable { flush() }
            else if events.hangup { close() }
        case .handling:
            // Bytes of a next request arrived while this one is handled: stop watching for
            // input until the response is out (the kernel buffers it, TCP pushes back). Done
            // lazily, so the common request/response rhythm costs no epoll_ctl at all.
            if events.hangup {
                close()
            } else if events.readable {
                owner.setInterest([], for: self)
            }
        case .closed:
            break
        }
        account()
    }

    /// Called by the loop's sweep: enforces the request, handler and idle timeouts and the
    /// linger end.
    func checkTimeouts(now: UInt64) {
        if let requestDeadline, state == .reading, now >= requestDeadline {
            fail(.requestTimeout)
        } else if let handlerDeadline, state == .handling, now >= handlerDeadline {
            // The request was read whole, so the connection stays at a request boundary and
            // may carry on; the handler's late answer, if any, is dropped (`requestSerial`).
            handlerTask?.cancel()
            answer(owner.core.configuration.errorResponse(.handlerTimeout))
        } else if now >= deadline, state == .reading || state == .writing || state == .lingering {
            close()
        }
        account()
    }

    /// Shutdown: close now if idle, else close after the response in progress.
    func drain() {
        closeAfterWrite = true
        if isIdle { close() }
    }

    /// The budget has room again: watch for input once more (on the loop thread).
    func resume() {
        guard isPaused else { return }
        setPaused(false)
        if state == .reading { owner.setInterest(.read, for: self) }
    }

    // MARK: Reading

    private func readAvailable() {
        for _ in 0..<4 {  // bounded, so one busy client cannot starve the loop's others
            guard state == .reading else { return }
            guard owner.core.budget.allowsBuffering else { return readWholeRequest() }
            let count = owner.readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                consume(count)
                account()
                if count < owner.readBuffer.count { return }
            } else if count == 0 {
                // The client is gone: nothing more can arrive for a request not yet complete.
                if state == .reading { close() }
                return
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                return
            } else {
                close()
                return
            }
        }
    }

    /// Parses `count` bytes just read into the loop's shared buffer. With nothing pending they
    /// are parsed where they lie, and only what is left unparsed (an unfinished request, or
    /// requests pipelined behind one now being handled) is copied into `input`.
    private func consume(_ count: Int) {
        if inputIndex == input.count {
            var index = 0
            processInput(owner.readBuffer[0..<count], from: &index)
            if index < count, state == .reading || state == .handling {
                input = Array(owner.readBuffer[index..<count])
                inputIndex = 0
            }
        } else {
            input.append(contentsOf: owner.readBuffer[0..<count])
            processBufferedInput()
        }
    }

    /// Past the budget's buffering share: reads a request only if it lies whole in the kernel's
    /// buffer (peeked at, not taken) and fits under the limit, so it needs no buffering and
    /// its memory comes back once it is answered. A connection that would have to buffer, or
    /// already holds part of a request, is paused instead.
    private func readWholeRequest() {
        guard inputIndex == input.count, parser.isAtRequestBoundary else { return pause() }
        let count = owner.readBuffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_PEEK)) }
        if count == 0 { return close() }
        if count < 0 {
            if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR { close() }
            return
        }
        var probe = parser
        var index = 0
        var head: HTTPRequestHead?
        while true {
            switch probe.parse(owner.readBuffer[0..<count], from: &index) {
            case .needMoreData:
                return pause()
            case .head(let parsed):
                head = parsed
            case .body(let body):
                guard let head, owner.core.budget.admits(index + body.count) else { return pause() }
                // Take the request's bytes for real: exactly what was peeked, into the same buffer.
                let taken = owner.readBuffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, index, 0) }
                guard taken == index else { return close() }
                parser = probe
                self.head = head
                headBytes = index - body.count
                return dispatch(HTTPRequest(head: head, body: body, peerAddress: peerAddress))
            case .failure:
                // Malformed or over a limit: read it as usual, to answer the error and close.
                let taken = owner.readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, count) }
                guard taken > 0 else { return close() }
                return consume(taken)
            }
        }
    }

    private func processBufferedInput() {
        var index = inputIndex
        processInput(input[...], from: &index)
        guard state == .reading || state == .handling else { return }  // failed: the input is gone
        inputIndex = index
        compactInput()
    }

    private func processInput(_ buffer: ArraySlice<UInt8>, from index: inout Int) {
        while state == .reading {
            let start = index
            switch parser.parse(buffer, from: &index) {
            case .needMoreData:
                if index < buffer.endIndex || !parser.isAtRequestBoundary {
                    if requestDeadline == nil { requestDeadline = MonotonicClock.now() &+ owner.requestTimeoutNanos }
                } else {
                    requestDeadline = nil
                    deadline = MonotonicClock.now() &+ owner.idleTimeoutNanos
                }
                return
            case .head(let head):
                self.head = head
                headBytes = index - start
                if requestDeadline == nil { requestDeadline = MonotonicClock.now() &+ owner.requestTimeoutNanos }
                if head.expectsContinue, head.version == .http1_1, parser.framing != .none, index == buffer.endIndex {
                    sendContinue()
                }
            case .body(let body):
                guard let head else { return fail(.internalError) }
                dispatch(HTTPRequest(head: head, body: body, peerAddress: peerAddress))
            case .failure(let error):
                fail(error)
            }
        }
    }

    /// Drops what was parsed; storage goes as soon as nothing is left, and a remainder is
    /// copied into a buffer of its own size rather than keeping a larger one.
    private func compactInput() {
        if inputIndex == input.count {
            input = []
            inputIndex = 0
        } else if inputIndex > 0 {
            input = Array(input[inputIndex...])
            inputIndex = 0
        }
    }

    /// `100 Continue`: the client waits for it before sending a body it declared (RFC 9110 §10.1.1).
    private func sendContinue() {
        let bytes = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    private func pause() {
        guard !isPaused else { return }
        setPaused(true)
        // The client has started a request, even if none of it is read yet: it gets the same
        // time to complete as any other.
        if requestDeadline == nil { requestDeadline = MonotonicClock.now() &+ owner.requestTimeoutNanos }
        owner.pause(self)
    }

    private func setPaused(_ paused: Bool) {
        guard paused != isPaused else { return }
        isPaused = paused
        owner.core.countPaused(paused ? 1 : -1)
    }

    // MARK: Handling

    private func dispatch(_ request: HTTPRequest) {
        state = .handling
        requestDeadline = nil
        handlerDeadline = MonotonicClock.now() &+ owner.handlerTimeoutNanos
        handlingBytes = headBytes + request.body.count
        requestSerial &+= 1
        let serial = requestSerial
        let handler = owner.core.handler
        let errorResponse = owner.core.configuration.errorResponse
        let loop = owner.loop
        // The handler's task prefers this loop: it starts here without a thread hop, and
        // whatever it awaits, it comes back here to hand over its response.
        handlerTask = Task(executorPreference: loop) {
            let response: HTTPResponse
            do {
                response = try await handler(request)
            } catch {
                response = errorResponse(.internalError)
            }
            if loop.inEventLoop {
                self.respond(response, serial: serial)
            } else {
                loop.execute { self.respond(response, serial: serial) }
            }
        }
    }

    private func respond(_ response: HTTPResponse, serial: UInt64) {
        // Closed while the handler ran, or answered already when its time ran out.
        guard state == .handling, serial == requestSerial else { return }
        answer(response)
        account()
    }

    /// Writes the answer to the request being handled, keeping the connection if it may.
    private func answer(_ response: HTTPResponse) {
        let method = head?.method
        let keepAlive = head?.keepAlive ?? false
        let version = head?.version ?? .http1_1
        handlerTask = nil
        handlerDeadline = nil
        handlingBytes = 0
        let close = closeAfterWrite || !keepAlive
        write(response, includeBody: method != "HEAD" && response.status >= 200,
              connection: close ? "close" : (version == .http1_0 ? "keep-alive" : nil), thenClose: close)
    }

    /// Answers a protocol error and closes: after a framing error the stream is unusable.
    private func fail(_ error: HTTPProtocolError) {
        input = []
        inputIndex = 0
        write(owner.core.configuration.errorResponse(error), includeBody: head?.method != "HEAD",
              connection: "close", thenClose: true)
    }

    // MARK: Writing

    private func write(_ response: HTTPResponse, includeBody: Bool, connection: String?, thenClose: Bool) {
        output = HTTPResponseEncoder.encode(response, date: owner.date.current(), includeBody: includeBody, connection: connection)
        outputIndex = 0
        // One deadline for the whole response: a client reading a byte now and then cannot
        // hold the connection and its buffer for ever.
        deadline = MonotonicClock.now() &+ owner.idleTimeoutNanos
        closeAfterWrite = closeAfterWrite || thenClose
        state = .writing
        head = nil
        setPaused(false)  // interest is set below, whatever it was
        flush()
    }

    private func flush() {
        while outputIndex < output.count {
            let count = output.withUnsafeBytes {
                send(fd, $0.baseAddress! + outputIndex, $0.count - outputIndex, Int32(MSG_NOSIGNAL))
            }
            if count > 0 {
                outputIndex += count
            } else if count < 0, errno == EINTR {
                continue
            } else if count < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                // The client is not reading: wait for room, until the response's deadline.
                owner.setInterest(.write, for: self)
                return
            } else {
                close()
                return
            }
        }
        output = []
        outputIndex = 0
        if closeAfterWrite {
            linger()
        } else {
            state = .reading
            deadline = MonotonicClock.now() &+ owner.idleTimeoutNanos
            owner.setInterest(.read, for: self)
            processBufferedInput()  // a pipelined request may already be buffered
        }
    }

    /// Half-closes and discards input for up to a second, so that closing with unread bytes
    /// in the socket does not reset the connection before the client has read our response.
    private func linger() {
        state = .lingering
        shutdown(fd, Int32(SHUT_WR))
        deadline = MonotonicClock.now() &+ 1_000_000_000
        input = []
        inputIndex = 0
        owner.setInterest(.read, for: self)
    }

    /// Lingering: reads into the shared buffer and forgets, until the client closes.
    private func discardInput() {
        for _ in 0..<4 {
            let count = owner.readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 { continue }
            if count < 0, errno == EINTR { continue }
            if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { close() }
            return
        }
    }

    func close() {
        guard state != .closed else { return }
        state = .closed
        setPaused(false)
        // The handler's task may keep this object alive a while: its buffers go now.
        input = []
        inputIndex = 0
        output = []
        parser = HTTPRequestParser(limits: owner.core.configuration.limits)
        handlingBytes = 0
        account()
        owner.remove(self)
    }

    // MARK: Memory

    /// Brings this connection's charge to the budget up to date with what it holds now.
    private func account() {
        let holding = input.capacity + parser.bufferedBodyBytes + handlingBytes + output.capacity
        guard holding != charged else { return }
        owner.core.budget.adjust(by: holding - charged)
        charged = holding
    }
}
