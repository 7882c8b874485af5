/// One connection's life cycle, without sockets, threads or a clock: reading a request →
/// handling it → writing the response → reading the next one, or lingering and closing, with
/// the request, handler and idle timeouts. Every event comes in with the time it happened
/// (``MonotonicClock`` nanoseconds) and returns what the caller must do; ``HTTPConnection`` is
/// the shell that does it (reads, writes, the handler's task, the memory budget), and the tests
/// drive this struct directly with made-up times.
///
/// Rules:
/// - The socket is not read while a request is handled or its response written, so a client
///   that floods pipelined requests is held back by TCP.
/// - A request must arrive whole within the request timeout from its first byte (`408`);
///   between requests, and while a response is written, the idle timeout applies (closed
///   quietly); a handler must answer within the handler timeout (`503`, and the connection
///   carries on: the request was read whole, so the stream is at a request boundary).
/// - A connection that must close after its response half-closes first and lingers (discards
///   what the client still sends) for up to ``Timeouts/linger``, so the client reads the
///   response instead of a reset.
struct HTTPConnectionStateMachine {
    enum Phase: Equatable { case reading, handling, writing, lingering, closed }

    /// The timeouts, in nanoseconds.
    struct Timeouts {
        var request: UInt64
        var idle: UInt64
        var handler: UInt64
        var linger: UInt64 = 1_000_000_000
    }

    /// What the response to the current request needs to know of it.
    struct RequestFacts: Equatable {
        var isHead: Bool
        var keepAlive: Bool
        var isHTTP1_0: Bool
    }

    /// How to write a response: with its body or not, and which `Connection` header to send.
    struct Framing: Equatable {
        var includeBody: Bool
        var connection: String?
    }

    /// What to do about socket readiness.
    enum IOAction: Equatable {
        case none
        /// Read what is available and parse it.
        case read
        /// A paused connection's client stopped sending (or reset): answer what it sent, or close.
        case finishPaused(hangup: Bool)
        /// Lingering: read and forget.
        case discard
        /// Write more of the response.
        case flush
        /// Bytes of a next request arrived during handling: stop watching for input until the
        /// response is out. Done lazily, so the common rhythm costs no `epoll_ctl` at all.
        case stopReading
        case close
    }

    /// What a timeout check asks for.
    enum TimeoutAction: Equatable {
        case none
        /// Answer `408` and close.
        case requestTimedOut
        /// Cancel the handler, answer `503` and carry on; `elapsed` since it got the request.
        case handlerTimedOut(elapsed: UInt64)
        /// Idle too long, a response unread too long, or lingering over: close quietly.
        case close
    }

    /// What follows a response written whole.
    enum AfterWrite: Equatable {
        /// Half-close and discard input until the linger deadline.
        case linger
        /// Watch for input again; a pipelined request may already be buffered.
        case readNext
    }

    let timeouts: Timeouts
    private(set) var phase = Phase.reading
    /// When the request being received must be complete (set at its first byte).
    private(set) var requestDeadline: UInt64?
    /// When the handler must have answered, and since when it has the request.
    private(set) var handlerDeadline: UInt64?
    private var handlingSince: UInt64 = 0
    /// Idle between requests, writing a response, or lingering: when the connection closes.
    private(set) var deadline: UInt64
    /// Close once the response in progress is written (the request asked, or shutdown).
    private(set) var closeAfterWrite = false
    /// Numbers the requests handed to the handler: an answer arriving after its request timed
    /// out must not be taken for the answer to the next one.
    private(set) var requestSerial: UInt64 = 0
    private var request: RequestFacts?

    init(timeouts: Timeouts, now: UInt64) {
        self.timeouts = timeouts
        deadline = now &+ timeouts.idle
    }

    /// Idle between requests, with nothing of a next one received (`inputPending`: bytes read
    /// but not parsed yet).
    func isIdle(inputPending: Bool) -> Bool {
        phase == .reading && requestDeadline == nil && !inputPending
    }

    // MARK: Reading

    /// The socket is ready; `paused`: the budget stopped reading it (only its client closing is watched).
    func ioEvent(readable: Bool, writable: Bool, hangup: Bool, paused: Bool) -> IOAction {
        switch phase {
        case .reading:
            if paused { return readable ? .finishPaused(hangup: hangup) : .none }
            return readable ? .read : .none
        case .lingering:
            return readable ? .discard : .none
        case .writing:
            return writable ? .flush : hangup ? .close : .none
        case .handling:
            return hangup ? .close : readable ? .stopReading : .none
        case .closed:
            return .none
        }
    }

    /// The parser needs more bytes: `midRequest` when part of a request is in (its deadline
    /// starts if it had not), else the connection is between requests (the idle timeout runs).
    mutating func awaitingBytes(midRequest: Bool, now: UInt64) {
        if midRequest {
            requestBegan(now: now)
        } else {
            requestDeadline = nil
            deadline = now &+ timeouts.idle
        }
    }

    /// A request has started to arrive (or to wait in the kernel): its time runs from now.
    mutating func requestBegan(now: UInt64) {
        if requestDeadline == nil { requestDeadline = now &+ timeouts.request }
    }

    /// A request's head is parsed; its body may follow.
    mutating func headReceived(_ facts: RequestFacts, now: UInt64) {
        request = facts
        requestBegan(now: now)
    }

    /// The request is whole and goes to the handler; returns its serial.
    mutating func requestReceived(now: UInt64) -> UInt64 {
        phase = .handling
        requestDeadline = nil
        handlerDeadline = now &+ timeouts.handler
        handlingSince = now
        requestSerial &+= 1
        return requestSerial
    }

    /// The request's body streams to its handler (dispatched at its head): no handler
    /// deadline while the client sends it (the connection times a stalled body itself).
    mutating func streamingBody() {
        handlerDeadline = nil
    }

    /// A streamed body has arrived whole: the handler's time runs from now.
    mutating func streamedBodyReceived(now: UInt64) {
        guard phase == .handling else { return }
        handlerDeadline = now &+ timeouts.handler
        handlingSince = now
    }

    /// The connection will close after the response in progress (a streamed body left unread,
    /// or a streamed response to an HTTP/1.0 client, which only the close can end).
    mutating func closeAfterResponse() {
        closeAfterWrite = true
    }

    /// A streamed response moved on: it gets the idle timeout again from now (one that stalls
    /// that long, on either side, closes the connection).
    mutating func responseProgressed(now: UInt64) {
        if phase == .writing { deadline = now &+ timeouts.idle }
    }

    // MARK: Answering

    /// Whether the handler's answer for request `serial` is still awaited (not timed out, not closed).
    func awaits(_ serial: UInt64) -> Bool {
        phase == .handling && serial == requestSerial
    }

    /// The response to the current request starts: keep-alive if the request and the server allow it.
    mutating func respond(status: HTTPStatus, now: UInt64) -> Framing {
        let facts = request ?? RequestFacts(isHead: false, keepAlive: false, isHTTP1_0: false)
        let close = closeAfterWrite || !facts.keepAlive
        startWriting(close: close, now: now)
        return Framing(includeBody: !facts.isHead && status >= 200,
                       connection: close ? "close" : facts.isHTTP1_0 ? "keep-alive" : nil)
    }

    /// A protocol error's response starts; the connection closes after it.
    mutating func fail(now: UInt64) -> Framing {
        let isHead = request?.isHead ?? false
        startWriting(close: true, now: now)
        return Framing(includeBody: !isHead, connection: "close")
    }

    /// One deadline for the whole response: a client reading a byte now and then cannot hold
    /// the connection and its buffer for ever.
    private mutating func startWriting(close: Bool, now: UInt64) {
        closeAfterWrite = closeAfterWrite || close
        phase = .writing
        request = nil
        handlerDeadline = nil
        deadline = now &+ timeouts.idle
    }

    /// The response is written whole.
    mutating func written(now: UInt64) -> AfterWrite {
        if closeAfterWrite {
            phase = .lingering
            deadline = now &+ timeouts.linger
            return .linger
        }
        phase = .reading
        deadline = now &+ timeouts.idle
        return .readNext
    }

    // MARK: Timeouts and closing

    /// Called by the loop's sweep: the request, handler and idle timeouts and the linger end.
    func timeout(now: UInt64) -> TimeoutAction {
        if let requestDeadline, phase == .reading, now >= requestDeadline { return .requestTimedOut }
        if let handlerDeadline, phase == .handling, now >= handlerDeadline {
            return .handlerTimedOut(elapsed: now &- handlingSince)
        }
        if now >= deadline, phase == .reading || phase == .writing || phase == .lingering { return .close }
        return .none
    }

    /// Shutdown: close after the response in progress; true if the connection is idle and
    /// closes now.
    mutating func drain(inputPending: Bool) -> Bool {
        closeAfterWrite = true
        return isIdle(inputPending: inputPending)
    }

    /// The connection closes; false if it was closed already.
    mutating func close() -> Bool {
        guard phase != .closed else { return false }
        phase = .closed
        request = nil
        requestDeadline = nil
        handlerDeadline = nil
        return true
    }
}
