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
/// buffer at all, and a response's body is written from the handler's own array. What it
/// holds is charged to the server's ``HTTPBufferBudget``; past the budget's buffering share it
/// reads a request whole or makes room first (`HTTPConnection+Memory.swift`).
final class HTTPConnection: @unchecked Sendable {
    enum State { case reading, handling, writing, lingering, closed }

    let fd: Int32
    let peerAddress: String
    unowned let owner: HTTPServerLoop

    var state = State.reading
    var parser: HTTPRequestParser
    /// Read but not yet parsed: an unfinished request, or requests pipelined behind the one
    /// being handled. Empty, without storage, between requests.
    var input: [UInt8] = []
    var inputIndex = 0
    var head: HTTPRequestHead?
    /// The size of `head` on the wire, charged while its request is handled.
    var headBytes = 0
    var output = HTTPOutput()
    /// The output's body is charged to the loop (``HTTPServerLoop/retainBody(_:)``): its write stalled.
    var outputBodyRetained = false
    private var closeAfterWrite = false
    /// When the request being received must be complete (set at its first byte).
    var requestDeadline: UInt64?
    /// When the handler must have answered (set when the request is handed to it).
    private var handlerDeadline: UInt64?
    private var handlerTask: Task<Void, Never>?
    /// The request being handled, and since when, for ``HTTPServerConfiguration/handlerTimedOut``.
    private var handling: (request: HTTPRequest, since: UInt64)?
    /// Numbers the requests handed to the handler: an answer arriving after its request timed
    /// out must not be taken for the answer to the next one.
    var requestSerial: UInt64 = 0
    /// The head and body of the request being handled, charged until its response replaces them.
    var handlingBytes = 0
    /// Requests whose handler's task still runs though the connection no longer waits for it
    /// (timed out, or the connection closed): their head and body stay charged until it ends.
    var abandoned: [(serial: UInt64, bytes: Int)] = []
    /// What this connection has charged to the budget.
    var charged = 0
    /// Not read while the budget is spent: the client's bytes wait in the kernel until ``resume()``.
    var isPaused = false
    /// Its entry in the loop's ``HTTPHolders`` while it holds memory the loop could take back.
    var holdTicket: HTTPHolders.Ticket?
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
            // A paused connection is watched only for its client to stop sending (or reset):
            // what it sent is all there will be.
            if isPaused {
                if events.readable { finishPaused(hangup: events.hangup) }
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
            var response = owner.core.configuration.errorResponse(.handlerTimeout)
            if let report = owner.core.configuration.handlerTimedOut, let handling {
                response = report(HTTPHandlerTimeout(request: handling.request, elapsed: .nanoseconds(Int64(now &- handling.since)),
                                                     response: response))
            }
            abandonHandling()
            answer(response)
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

    // MARK: Reading

    private func readAvailable() {
        for _ in 0..<4 {  // bounded, so one busy client cannot starve the loop's others
            guard state == .reading else { return }
            if !owner.core.budget.allowsBuffering, !readUnderPressure() { return }
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
    func consume(_ count: Int) {
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
                dispatch(HTTPRequest.received(head: head, body: body, peerAddress: peerAddress))
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

    // MARK: Handling

    func dispatch(_ request: HTTPRequest) {
        state = .handling
        requestDeadline = nil
        let now = MonotonicClock.now()
        handlerDeadline = now &+ owner.handlerTimeoutNanos
        handling = (request, now)
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
                self.handlerFinished(response, serial: serial)
            } else {
                loop.execute { self.handlerFinished(response, serial: serial) }
            }
        }
    }

    private func handlerFinished(_ response: HTTPResponse, serial: UInt64) {
        // Its task let go of the request only now, whether or not anyone still waits for it.
        if let index = abandoned.firstIndex(where: { $0.serial == serial }) {
            owner.core.budget.adjust(by: -abandoned.remove(at: index).bytes)
            return
        }
        // Closed while the handler ran, or answered already when its time ran out.
        guard state == .handling, serial == requestSerial else { return }
        answer(response)
        account()
    }

    /// The connection stops waiting for the handler's task (its time ran out, or the client is
    /// gone), but the task still holds the request: its charge stays until the task ends.
    private func abandonHandling() {
        guard state == .handling, handlingBytes > 0 else { return }
        abandoned.append((requestSerial, handlingBytes))
        charged -= handlingBytes
        handlingBytes = 0
    }

    /// Writes the answer to the request being handled, keeping the connection if it may.
    private func answer(_ response: HTTPResponse) {
        let method = head?.method
        let keepAlive = head?.keepAlive ?? false
        let version = head?.version ?? .http1_1
        handlerTask = nil
        handlerDeadline = nil
        handling = nil
        handlingBytes = 0
        let close = closeAfterWrite || !keepAlive
        write(response, includeBody: method != "HEAD" && response.status >= 200,
              connection: close ? "close" : (version == .http1_0 ? "keep-alive" : nil), thenClose: close)
    }

    /// Answers a protocol error and closes: after a framing error the stream is unusable.
    func fail(_ error: HTTPProtocolError) {
        input = []
        inputIndex = 0
        parser = HTTPRequestParser(limits: owner.core.configuration.limits)
        write(owner.core.configuration.errorResponse(error), includeBody: head?.method != "HEAD",
              connection: "close", thenClose: true)
    }

    // MARK: Writing

    private func write(_ response: HTTPResponse, includeBody: Bool, connection: String?, thenClose: Bool) {
        output = HTTPOutput(head: HTTPResponseEncoder.encodeHead(response, date: owner.date.current(), connection: connection),
                            body: includeBody ? response.body : [])
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
        switch output.write(to: fd) {
        case .blocked(let progressed):
            // The client is not reading: wait for room, until the response's deadline. Its
            // body is charged from now on; a client that took bytes goes to the back of the
            // loop's holders, so that the ones stalled longest are shed first.
            if !outputBodyRetained {
                outputBodyRetained = true
                owner.retainBody(output.body)
                shedIfOverLimit()
            }
            if progressed { holdTicket = nil }
            owner.setInterest(.write, for: self)
            return
        case .failed:
            close()
            return
        case .done:
            dropOutput()
        }
        if closeAfterWrite {
            linger()
        } else {
            state = .reading
            deadline = MonotonicClock.now() &+ owner.idleTimeoutNanos
            owner.setInterest(.read, for: self)
            processBufferedInput()  // a pipelined request may already be buffered
        }
    }

    /// Lets go of the response, written or not.
    private func dropOutput() {
        if outputBodyRetained {
            owner.releaseBody(output.body)
            outputBodyRetained = false
        }
        output = HTTPOutput()
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
        abandonHandling()
        state = .closed
        setPaused(false)
        // The handler's task may keep this object alive a while: its buffers go now.
        input = []
        inputIndex = 0
        dropOutput()
        parser = HTTPRequestParser(limits: owner.core.configuration.limits)
        handling = nil
        account()
        owner.remove(self)
    }
}
