import CLinux
import Glibc
import Reactor

/// One client connection: the shell around its ``HTTPConnectionStateMachine``, doing what the
/// machine decides (reads, writes, the handler's task, the half-close) on its loop's thread.
/// Its mutable state is ``HTTPConnectionState`` in a `LoopBound`: touched only on that thread
/// (handler tasks hand their response back through `loop.execute`), checked in debug builds.
///
/// Memory: bytes are read into the loop's shared buffer and parsed where they lie; only an
/// unfinished request's tail is copied into `input`, so a connection between requests holds no
/// buffer at all, and a response's body is written from the handler's own array. What it
/// holds is charged to the server's ``HTTPBufferBudget``; past the budget's buffering share it
/// reads a request whole or makes room first (`HTTPConnection+Memory.swift`).
final class HTTPConnection: Sendable {
    let fd: Int32
    let peerAddress: String
    unowned let owner: HTTPServerLoop
    let state: LoopBound<HTTPConnectionState>

    init(fd: Int32, peerAddress: String, owner: HTTPServerLoop) {
        self.fd = fd
        self.peerAddress = peerAddress
        self.owner = owner
        let machine = HTTPConnectionStateMachine(timeouts: owner.timeouts, now: MonotonicClock.now())
        state = LoopBound(HTTPConnectionState(machine: machine, parser: HTTPRequestParser(limits: owner.core.configuration.limits)),
                          on: owner.loop)
    }

    /// Idle between requests, with nothing buffered: safe to close at shutdown.
    var isIdle: Bool { state.value.machine.isIdle(inputPending: state.value.inputPending) }

    /// Its entry in the loop's ``HTTPHolders``, if it holds memory the loop could take back.
    var holdTicket: HTTPHolders.Ticket? {
        get { state.value.holdTicket }
        set { state.value.holdTicket = newValue }
    }

    // MARK: Events

    func handle(_ events: IOEvents) {
        if streamedIO(events) { return account() }
        let action = state.value.machine.ioEvent(readable: events.readable, writable: events.writable, hangup: events.hangup,
                                                 paused: state.value.isPaused)
        switch action {
        case .none: break
        case .read: readAvailable()
        case .finishPaused(let hangup): finishPaused(hangup: hangup)
        case .discard: discardInput()
        case .flush: flush()
        case .stopReading: owner.setInterest([], for: self)
        case .close: close()
        }
        account()
    }

    /// Called by the loop's sweep: enforces the request, handler and idle timeouts and the
    /// linger end.
    func checkTimeouts(now: UInt64) {
        checkRequestBodyTimeout(now: now)
        switch state.value.machine.timeout(now: now) {
        case .none: break
        case .requestTimedOut: fail(.requestTimeout)
        case .handlerTimedOut(let elapsed): handlerTimedOut(elapsed: elapsed)
        case .close: close()
        }
        account()
    }

    /// Shutdown: close now if idle, else close after the response in progress.
    func drain() {
        let pending = state.value.inputPending
        if state.value.machine.drain(inputPending: pending) { close() }
    }

    // MARK: Reading

    private var isReading: Bool { state.value.machine.phase == .reading }

    /// A streamed body is arriving and its handler has room for more.
    var isReceivingBody: Bool { state.value.requestBody != nil && !state.value.requestBodyHeld }

    func readAvailable() {
        for _ in 0..<4 {  // bounded, so one busy client cannot starve the loop's others
            guard isReading || isReceivingBody else { return }
            if !isReceivingBody, !owner.core.budget.allowsBuffering, !readUnderPressure() { return }
            let count = owner.read(fd)
            if count > 0 {
                consume(count)
                account()
                if count < owner.readBufferSize { return }
            } else if count == 0 {
                // The client is gone: nothing more can arrive for a request not yet complete.
                if isReading || isReceivingBody { close() }
                return
            } else if errno != EINTR {
                if errno != EAGAIN && errno != EWOULDBLOCK { close() }
                return
            }
        }
    }

    /// Parses `count` bytes just read into the loop's shared buffer. With nothing pending they
    /// are parsed where they lie, and only what is left unparsed (an unfinished request, or
    /// requests pipelined behind one now being handled) is copied into `input`.
    private func consume(_ count: Int) {
        let bytes = owner.received(count)
        if state.value.inputPending {
            state.value.input.append(contentsOf: bytes)
            return processBufferedInput()
        }
        var index = 0
        processInput(bytes, from: &index)
        let phase = state.value.machine.phase
        if index < count, phase == .reading || phase == .handling {
            state.value.input = Array(bytes[index...])
            state.value.inputIndex = 0
        }
    }

    func processBufferedInput() {
        let input = state.value.input
        var index = state.value.inputIndex
        processInput(input[...], from: &index)
        let phase = state.value.machine.phase
        guard phase == .reading || phase == .handling else { return }  // failed: the input is gone
        state.value.inputIndex = index
        state.value.compactInput()
    }

    private func processInput(_ buffer: ArraySlice<UInt8>, from index: inout Int) {
        while isReading || isReceivingBody {
            let start = index
            switch state.value.parser.parse(buffer, from: &index) {
            case .needMoreData:
                let midRequest = index < buffer.endIndex || !state.value.parser.isAtRequestBoundary
                state.value.machine.awaitingBytes(midRequest: midRequest, now: MonotonicClock.now())
                return
            case .head(let head):
                received(head, bytes: index - start)
                if head.expectsContinue, head.version == .http1_1, state.value.parser.framing != .none, index == buffer.endIndex {
                    sendContinue()
                }
                if state.value.parser.streamsBody { startReceivingBody(head) }
            case .bodyPart(let part):
                receivedBodyPart(part)
            case .body(let body):
                if state.value.requestBody != nil { return receivedBodyEnd() }
                guard let head = state.value.head else { return fail(.internalError) }
                dispatch(HTTPRequest.received(head: head, body: body, peerAddress: peerAddress))
            case .failure(let error):
                if state.value.requestBody != nil { return bodyBroke(error) }
                fail(error)
            }
        }
    }

    /// A request's head arrived (`bytes` of it on the wire); its body may follow.
    func received(_ head: HTTPRequestHead, bytes: Int) {
        let facts = HTTPConnectionStateMachine.RequestFacts(isHead: head.method == .head, keepAlive: head.keepAlive,
                                                            isHTTP1_0: head.version == .http1_0)
        let now = MonotonicClock.now()
        state.value.head = head
        state.value.headBytes = bytes
        state.value.machine.headReceived(facts, now: now)
    }

    /// `100 Continue`: the client waits for it before sending a body it declared (RFC 9110 §10.1.1).
    private func sendContinue() {
        let bytes = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    // MARK: Handling

    func dispatch(_ request: HTTPRequest) {
        let serial = state.value.startHandling(request, now: MonotonicClock.now())
        let handler = owner.core.handler
        let errorResponse = owner.core.configuration.errorResponse
        let loop = owner.loop
        // The handler's task prefers this loop: it starts here without a thread hop, and
        // whatever it awaits, it comes back here to hand over its response.
        let task = Task(executorPreference: loop) {
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
        state.value.handlerTask = task
    }

    private func handlerFinished(_ response: HTTPResponse, serial: UInt64) {
        // Its task let go of the request only now, whether or not anyone still waits for it.
        if let bytes = state.value.endAbandoned(serial) {
            owner.core.budget.adjust(by: -bytes)
            return
        }
        // Closed while the handler ran, or answered already when its time ran out.
        guard state.value.machine.awaits(serial) else { return }
        answer(response)
        account()
    }

    /// The handler missed its deadline: its task is cancelled and the client gets `503` (or
    /// what ``HTTPServerConfiguration/handlerTimedOut`` makes of it); the connection carries
    /// on, and the handler's late answer, if any, is dropped (its serial is no longer awaited).
    private func handlerTimedOut(elapsed: UInt64) {
        let (task, request) = (state.value.handlerTask, state.value.handling)
        task?.cancel()
        var response = owner.core.configuration.errorResponse(.handlerTimeout)
        if let report = owner.core.configuration.handlerTimedOut, let request {
            response = report(HTTPHandlerTimeout(request: request, elapsed: .nanoseconds(Int64(elapsed)), response: response))
        }
        state.value.abandonHandling()
        answer(response)
    }

    /// Writes the answer to the request being handled, keeping the connection if it may.
    private func answer(_ response: HTTPResponse) {
        prepareToAnswer(streamed: response.bodyWriter != nil)
        write(response, state.value.answer(status: response.status, now: MonotonicClock.now()))
    }

    /// Answers a protocol error and closes: after a framing error the stream is unusable.
    func fail(_ error: HTTPProtocolError) {
        state.value.resetInput()
        let framing = state.value.machine.fail(now: MonotonicClock.now())
        write(owner.core.configuration.errorResponse(error), framing)
    }

    func close() {
        endStreams()
        state.value.abandonHandling()
        guard state.value.machine.close() else { return }
        setPaused(false)
        // The handler's task may keep this object alive a while: its buffers go now.
        state.value.resetInput()
        dropOutput()
        state.value.handling = nil
        account()
        owner.remove(self)
    }
}
