import DequeModule

/// The requests of one ``PostgresConnection``, without libpq, sockets or a clock: which request
/// is on the wire, which message goes out next, what has come back for whom, and who is
/// answered when. Every event returns the ``Actions`` the connection must perform; the
/// connection (the shell) turns them into `PQsend…` calls and completions, and the tests drive
/// this struct with made-up requests and results.
///
/// Rules:
/// - One request at a time is on the wire, in the order submitted; a named statement this
///   connection has not prepared yet is prepared first (a second message for the same request).
/// - In pipeline mode (prepared statements only), each request goes out at once; those sent in
///   one turn of the loop share one Sync. Answers come back in order; a request whose group
///   failed before it ran completes with ``PostgresError/Kind/notRun``, and a request whose
///   Prepare failed or was skipped prepares again on its statement's next use.
/// - A request on an ordinary connection that fails because the connection broke ends the
///   connection; ``close()`` hands back everything still waiting so it can be failed.
struct PostgresRequestQueue {
    /// What the connection hands libpq for the request on the wire.
    enum Message {
        /// `PQsendQueryParams`: the statement is sent whole, as the unnamed statement.
        case query(sql: String, parameters: [String?])
        /// `PQsendPrepare` under the statement's name.
        case prepare(PreparedStatement, parameterCount: Int)
        /// `PQsendQueryPrepared` of a statement this connection prepared.
        case executePrepared(name: String, parameters: [String?])
        /// `PQsendQuery`: simple protocol, possibly several statements.
        case simple(sql: String)
        /// Pipeline mode: a Prepare when `prepare`, then the Execute.
        case pipelined(PreparedStatement, parameters: [String?], prepare: Bool)
    }

    /// What the connection must do after an event, in this order: answer ``completion``; then
    /// close with ``closeWith`` if set, else send ``send`` and, if it went out, schedule a Sync.
    struct Actions {
        /// A request that is done, and its answer.
        var completion: (request: PendingRequest, result: Result<[PostgresResult], PostgresError>)?
        /// The connection is broken: close it, failing everything still queued.
        var closeWith: PostgresError?
        var send: Message?
        /// `send` starts a request: first make sure the session is alive (read what a dead
        /// backend left unread), so a request into a dead session fails unsent.
        var sendStartsRequest = false
        /// Pipeline mode: the first statement of this turn of the loop; a Sync is due at its end.
        var scheduleSync = false
    }

    /// Whether prepared statements are prepared under their names (else always sent whole).
    let preparesNamedStatements: Bool
    private(set) var isPipelined = false
    private var isClosed = false
    private var pending: Deque<PendingRequest> = []
    /// Not pipelined: the request on the wire.
    private var current: InFlightRequest?
    /// Pipelined: the requests sent and not yet answered, oldest first.
    private var pipelineInFlight: Deque<InFlightRequest> = []
    private var syncScheduled = false
    /// The statements this connection has prepared (or, pipelined, has sent a Prepare for).
    private(set) var preparedNames: Set<String> = []

    init(preparesNamedStatements: Bool) {
        self.preparesNamedStatements = preparesNamedStatements
    }

    /// Whether results are expected: a request on the wire (not in a COPY's data phase, where
    /// libpq yields no result until the copy ends), or pipelined ones.
    var awaitsResults: Bool { (current != nil && current?.stage != .copying) || !pipelineInFlight.isEmpty }

    /// Whether the request on the wire is in a COPY's data phase.
    var isCopying: Bool { current?.stage == .copying }

    /// Whether a request (not pipelined) is on the wire.
    var hasRequestOnWire: Bool { current != nil }

    /// Pipeline mode may start only on an open connection with nothing queued or on the wire.
    var canEnterPipelineMode: Bool { !isClosed && !isPipelined && current == nil && pending.isEmpty }

    /// libpq entered pipeline mode (after ``canEnterPipelineMode``).
    mutating func enteredPipelineMode() {
        isPipelined = true
    }

    // MARK: Requests

    /// A caller's request: queued, sent at once, or refused.
    mutating func enqueue(_ request: PendingRequest) -> Actions {
        if isClosed { return Actions(completion: (request, .failure(.connectionClosed("connection closed")))) }
        if isPipelined { return sendPipelined(request) }
        var actions = Actions()
        pending.append(request)
        startNext(&actions)
        return actions
    }

    /// The Sync scheduled for this turn goes out: the next statement schedules another.
    mutating func syncSent() {
        syncScheduled = false
    }

    /// libpq refused to queue the message of the request on the wire. While the connection
    /// is usable only that request fails (`.client`); otherwise the connection closes.
    mutating func sendRefused(_ message: String, connectionUsable: Bool) -> Actions {
        var actions = Actions()
        guard connectionUsable, !isPipelined, let inFlight = current else {
            actions.closeWith = .connectionClosed(message)
            return actions
        }
        current = nil
        actions.completion = (inFlight.request, .failure(.client(message)))
        startNext(&actions)
        return actions
    }

    /// The connection closed: every request still here, in order (the one on the wire, the
    /// pipelined ones, the queued ones), for the caller to fail. Later requests fail at once.
    mutating func close() -> [PendingRequest] {
        isClosed = true
        var requests: [PendingRequest] = []
        if let current { requests.append(current.request) }
        requests.append(contentsOf: pipelineInFlight.lazy.map(\.request))
        requests.append(contentsOf: pending)
        current = nil
        pipelineInFlight.removeAll()
        pending.removeAll()
        return requests
    }

    // MARK: Results (for the oldest request awaiting them)

    /// A statement's rows or completion.
    mutating func received(_ result: PostgresResult) {
        if isPipelined {
            if !pipelineInFlight.isEmpty { pipelineInFlight[0].results.append(result) }
        } else {
            current?.results.append(result)
        }
    }

    /// An error from the server. The first error is the request's; pipelined, a real error
    /// also replaces a "not run" (the Prepare was skipped, then the Execute failed).
    mutating func receivedError(_ error: PostgresError) {
        if isPipelined {
            guard let oldest = pipelineInFlight.first, oldest.error == nil || oldest.error?.isNotRun == true else { return }
            recordPipelinedError(error)
        } else if current?.error == nil {
            current?.error = error
        }
    }

    /// Pipeline mode: the oldest request's message was skipped, an earlier one of its group failed.
    mutating func receivedPipelineAborted() {
        guard let oldest = pipelineInFlight.first, oldest.error == nil else { return }
        recordPipelinedError(.notRun("skipped after an earlier statement of its pipeline group failed"))
    }

    /// The server started the COPY the request on the wire asked for (``Command/copy(sql:)``):
    /// its data phase begins. False when that request did not ask for one (the connection then
    /// refuses the copy as before).
    mutating func copyStarted() -> Bool {
        guard let inFlight = current, inFlight.stage == .executing, case .copy = inFlight.request.command else { return false }
        current?.stage = .copying
        return true
    }

    /// The COPY's data phase is over (the client ended it, or the server sent its last row):
    /// its final result follows.
    mutating func copyEnded() {
        if current?.stage == .copying { current?.stage = .executing }
    }

    /// The request on the wire started a COPY FROM STDIN, which the connection ends: the
    /// request fails with `error` once the server has answered the ended copy.
    mutating func refusedCopy(_ error: PostgresError) {
        current?.error = error
    }

    /// The end of the oldest request's current message (libpq's NULL result): after a
    /// Prepare, its Execute goes out; after an Execute, the request is answered and the next
    /// one starts.
    mutating func messageEnded() -> Actions {
        isPipelined ? pipelinedMessageEnded() : currentMessageEnded()
    }

    // MARK: Helpers

    private mutating func currentMessageEnded() -> Actions {
        var actions = Actions()
        guard let inFlight = current else { return actions }
        if inFlight.stage == .preparing, inFlight.error == nil, case .prepared(let statement, let parameters) = inFlight.request.command {
            preparedNames.insert(statement.name)
            current?.stage = .executing
            current?.results.removeAll()
            actions.send = .executePrepared(name: statement.name, parameters: parameters)
            return actions
        }
        current = nil
        if let error = inFlight.error {
            actions.completion = (inFlight.request, .failure(error))
            if error.kind == .connectionClosed {
                actions.closeWith = error
                return actions
            }
        } else {
            actions.completion = (inFlight.request, .success(inFlight.results))
        }
        startNext(&actions)
        return actions
    }

    private mutating func pipelinedMessageEnded() -> Actions {
        guard !pipelineInFlight.isEmpty else { return Actions() }
        if pipelineInFlight[0].stage == .preparing {
            pipelineInFlight[0].stage = .executing
            return Actions()
        }
        let done = pipelineInFlight.removeFirst()
        return Actions(completion: (done.request, done.error.map { .failure($0) } ?? .success(done.results)))
    }

    private mutating func startNext(_ actions: inout Actions) {
        guard current == nil, let request = pending.popFirst() else { return }
        var stage = InFlightRequest.Stage.executing
        if case .prepared(let statement, _) = request.command, preparesNamed(statement), !preparedNames.contains(statement.name) {
            stage = .preparing
        }
        current = InFlightRequest(request: request, stage: stage)
        actions.send = message(for: request.command, preparing: stage == .preparing)
        actions.sendStartsRequest = true
    }

    private func message(for command: Command, preparing: Bool) -> Message {
        switch command {
        case .query(let sql, let parameters):
            .query(sql: sql, parameters: parameters)
        case .prepared(let statement, let parameters) where preparing:
            .prepare(statement, parameterCount: parameters.count)
        case .prepared(let statement, let parameters) where preparesNamed(statement):
            .executePrepared(name: statement.name, parameters: parameters)
        case .prepared(let statement, let parameters):
            .query(sql: statement.sql, parameters: parameters)
        case .simple(let sql), .copy(let sql):
            .simple(sql: sql)
        }
    }

    private mutating func sendPipelined(_ request: PendingRequest) -> Actions {
        guard case .prepared(let statement, let parameters) = request.command else {
            return Actions(completion: (request, .failure(.client("only prepared statements run in pipeline mode"))))
        }
        let prepare = !preparedNames.contains(statement.name)
        if prepare { preparedNames.insert(statement.name) }
        pipelineInFlight.append(InFlightRequest(request: request, stage: prepare ? .preparing : .executing))
        let scheduleSync = !syncScheduled
        syncScheduled = true
        return Actions(send: .pipelined(statement, parameters: parameters, prepare: prepare), scheduleSync: scheduleSync)
    }

    /// Sets the oldest request's error. If its Prepare is what failed (or was skipped), the
    /// name was never defined on the server, so the next use prepares it again.
    private mutating func recordPipelinedError(_ error: PostgresError) {
        pipelineInFlight[0].error = error
        if pipelineInFlight[0].stage == .preparing, case .prepared(let statement, _) = pipelineInFlight[0].request.command {
            preparedNames.remove(statement.name)
        }
    }

    /// Whether `statement` is prepared under its name, or sent whole as the unnamed statement.
    private func preparesNamed(_ statement: PreparedStatement) -> Bool {
        preparesNamedStatements && !statement.plannedEachTime
    }
}

/// What a caller asked the connection to do.
enum Command {
    case query(sql: String, parameters: [String?])
    case prepared(PreparedStatement, parameters: [String?])
    case simple(sql: String)
    /// A `COPY … FROM STDIN` or `TO STDOUT`, sent as a simple query; its data phase is driven
    /// by the connection's ``PostgresConnection/CopySession``.
    case copy(sql: String)
}

/// A request waiting its turn, with the callback that completes the caller's `await`.
struct PendingRequest {
    let command: Command
    let completion: (Result<[PostgresResult], PostgresError>) -> Void
}

/// A request on the wire and what has come back for it so far.
struct InFlightRequest {
    enum Stage { case preparing, executing, copying }

    let request: PendingRequest
    var stage: Stage
    var results: [PostgresResult] = []
    var error: PostgresError?
}
