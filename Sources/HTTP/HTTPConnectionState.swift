/// What one ``HTTPConnection`` keeps between events, owned by its loop (held in a
/// `LoopBound`, so an access from another thread traps in debug builds): its life cycle, the
/// parser and the bytes read but not parsed, the request being handled and its handler's
/// task, the response being written, and what it has charged to the ``HTTPBufferBudget``.
///
/// The mutating methods group what changes together, so the connection touches its state in
/// one access per step and never across a call out (to the loop, the budget or the handler).
struct HTTPConnectionState {
    var machine: HTTPConnectionStateMachine
    var parser: HTTPRequestParser
    /// Read but not yet parsed: an unfinished request, or requests pipelined behind the one
    /// being handled. Empty, without storage, between requests.
    var input: [UInt8] = []
    var inputIndex = 0
    /// The head of the request being received or handled.
    var head: HTTPRequestHead?
    /// The size of `head` on the wire, charged while its request is handled.
    var headBytes = 0
    var output = HTTPOutput()
    /// The output's body is charged to the loop (``HTTPServerLoop/retainBody(_:)``): its write stalled.
    var outputBodyRetained = false
    var handlerTask: Task<Void, Never>?
    /// The request being handled, for ``HTTPServerConfiguration/handlerTimedOut``.
    var handling: HTTPRequest?
    /// The head and body of the request being handled, charged until its response replaces them.
    var handlingBytes = 0
    /// Requests whose handler's task still runs though the connection no longer waits for it
    /// (timed out, or the connection closed): their head and body stay charged until it ends.
    var abandoned: [(serial: UInt64, bytes: Int)] = []
    /// What this connection has charged to the budget.
    var charged = 0
    /// Not read while the budget is spent: the client's bytes wait in the kernel until resumed.
    var isPaused = false
    /// Its entry in the loop's ``HTTPHolders`` while it holds memory the loop could take back.
    var holdTicket: HTTPHolders.Ticket?
    /// The streamed body of the request being handled, while it arrives.
    var requestBody: HTTPRequestBody?
    /// Not reading: the handler has a high water mark of the streamed body unread.
    var requestBodyHeld = false
    /// When the client must have sent more of the streamed body.
    var requestBodyDeadline: UInt64?
    /// The streamed response being written, if the answer is one.
    var responseStream: HTTPResponseStream?

    init(machine: HTTPConnectionStateMachine, parser: HTTPRequestParser) {
        self.machine = machine
        self.parser = parser
    }

    /// Bytes read and not parsed yet.
    var inputPending: Bool { inputIndex != input.count }

    /// What the connection holds now: the charge ``HTTPConnection/account()`` keeps up to date.
    var holding: Int { input.capacity + parser.bufferedBodyBytes + handlingBytes + output.ownBytes }

    /// Forgets the input and starts parsing afresh (after a protocol error, or closing).
    mutating func resetInput() {
        input = []
        inputIndex = 0
        parser = HTTPRequestParser(limits: parser.limits)
    }

    /// Drops what was parsed; storage goes as soon as nothing is left, and a remainder is
    /// copied into a buffer of its own size rather than keeping a larger one.
    mutating func compactInput() {
        if inputIndex == input.count {
            input = []
            inputIndex = 0
        } else if inputIndex > 0 {
            input = Array(input[inputIndex...])
            inputIndex = 0
        }
    }

    /// `request` (whose head took `headBytes`) goes to the handler; returns its serial.
    mutating func startHandling(_ request: HTTPRequest, now: UInt64) -> UInt64 {
        handling = request
        handlingBytes = headBytes + request.body.count
        return machine.requestReceived(now: now)
    }

    /// The connection stops waiting for the handler's task (its time ran out, or the client is
    /// gone), but the task still holds the request: its charge stays until the task ends.
    mutating func abandonHandling() {
        guard machine.phase == .handling, handlingBytes > 0 else { return }
        abandoned.append((machine.requestSerial, handlingBytes))
        charged -= handlingBytes
        handlingBytes = 0
    }

    /// The charge of abandoned request `serial`, whose task has now ended; nil if it was not abandoned.
    mutating func endAbandoned(_ serial: UInt64) -> Int? {
        guard let index = abandoned.firstIndex(where: { $0.serial == serial }) else { return nil }
        return abandoned.remove(at: index).bytes
    }

    /// The answer to the request being handled starts: the handler's task and request go.
    mutating func answer(status: HTTPStatus, now: UInt64) -> HTTPConnectionStateMachine.Framing {
        handlerTask = nil
        handling = nil
        handlingBytes = 0
        return machine.respond(status: status, now: now)
    }

    /// Brings the charge up to date; returns the change and whether the connection holds memory
    /// the loop could take back (a request not yet whole, or a response waiting for its client).
    mutating func recharge() -> (delta: Int, holds: Bool) {
        let holding = holding
        let delta = holding - charged
        charged = holding
        return (delta, machine.phase == .writing || (machine.phase == .reading && holding > 0))
    }
}
