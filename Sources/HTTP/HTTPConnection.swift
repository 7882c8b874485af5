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
final class HTTPConnection: @unchecked Sendable {
    enum State { case reading, handling, writing, lingering, closed }

    let fd: Int32
    let peerAddress: String
    unowned let owner: HTTPServerLoop

    private(set) var state = State.reading
    private var parser: HTTPRequestParser
    private var input: [UInt8] = []
    private var inputIndex = 0
    private var head: HTTPRequestHead?
    private var output: [UInt8] = []
    private var outputIndex = 0
    private var closeAfterWrite = false
    /// When the request being received must be complete (set at its first byte).
    private var requestDeadline: UInt64?
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
        case .reading, .lingering:
            if events.readable { readAvailable() }
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
    }

    /// Called by the loop's sweep: enforces the request timeout, idle timeout and linger end.
    func checkTimeouts(now: UInt64) {
        if let requestDeadline, state == .reading, now >= requestDeadline {
            fail(.requestTimeout)
        } else if now >= deadline, state == .reading || state == .writing || state == .lingering {
            close()
        }
    }

    /// Shutdown: close now if idle, else close after the response in progress.
    func drain() {
        closeAfterWrite = true
        if isIdle { close() }
    }

    // MARK: Reading

    private func readAvailable() {
        var peerClosed = false
        for _ in 0..<4 {  // bounded, so one busy client cannot starve the loop's others
            let count = owner.readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                if state == .lingering { continue }
                input.append(contentsOf: owner.readBuffer[0..<count])
                if count < owner.readBuffer.count { break }
            } else if count == 0 {
                peerClosed = true
                break
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                break
            } else {
                close()
                return
            }
        }
        if state == .lingering {
            if peerClosed { close() }
            return
        }
        processInput()
        // The client is gone: nothing more can arrive for a request not yet complete.
        if peerClosed, state == .reading { close() }
    }

    private func processInput() {
        while state == .reading {
            switch parser.parse(input, from: &inputIndex) {
            case .needMoreData:
                compactInput()
                if inputIndex < input.count || !parser.isAtRequestBoundary {
                    if requestDeadline == nil { requestDeadline = MonotonicClock.now() &+ owner.requestTimeoutNanos }
                } else {
                    requestDeadline = nil
                    deadline = MonotonicClock.now() &+ owner.idleTimeoutNanos
                }
                return
            case .head(let head):
                self.head = head
                if requestDeadline == nil { requestDeadline = MonotonicClock.now() &+ owner.requestTimeoutNanos }
                if head.expectsContinue, head.version == .http1_1, parser.framing != .none, inputIndex == input.count {
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

    private func compactInput() {
        if inputIndex == input.count {
            input.removeAll(keepingCapacity: input.capacity <= 65_536)
            inputIndex = 0
        } else if inputIndex > 0 {
            input.removeFirst(inputIndex)
            inputIndex = 0
        }
    }

    /// `100 Continue`: the client waits for it before sending a body it declared (RFC 9110 §10.1.1).
    private func sendContinue() {
        let bytes = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    // MARK: Handling

    private func dispatch(_ request: HTTPRequest) {
        state = .handling
        requestDeadline = nil
        let handler = owner.core.handler
        let errorResponse = owner.core.configuration.errorResponse
        let loop = owner.loop
        // The handler's task prefers this loop: it starts here without a thread hop, and
        // whatever it awaits, it comes back here to hand over its response.
        Task(executorPreference: loop) {
            let response: HTTPResponse
            do {
                response = try await handler(request)
            } catch {
                response = errorResponse(.internalError)
            }
            if loop.inEventLoop {
                self.respond(response, to: request.head)
            } else {
                loop.execute { self.respond(response, to: request.head) }
            }
        }
    }

    private func respond(_ response: HTTPResponse, to head: HTTPRequestHead) {
        guard state == .handling else { return }  // closed while the handler ran
        let close = closeAfterWrite || !head.keepAlive
        write(response, includeBody: head.method != "HEAD" && response.status >= 200,
              connection: close ? "close" : (head.version == .http1_0 ? "keep-alive" : nil), thenClose: close)
    }

    /// Answers a protocol error and closes: after a framing error the stream is unusable.
    private func fail(_ error: HTTPProtocolError) {
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
        output.removeAll(keepingCapacity: output.capacity <= 65_536)
        outputIndex = 0
        if closeAfterWrite {
            linger()
        } else {
            state = .reading
            deadline = MonotonicClock.now() &+ owner.idleTimeoutNanos
            owner.setInterest(.read, for: self)
            processInput()  // a pipelined request may already be buffered
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

    func close() {
        guard state != .closed else { return }
        state = .closed
        owner.remove(self)
    }
}
