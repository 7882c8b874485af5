import CLibPQ
import Codecs
import Reactor

/// Sending requests and collecting their results, on the loop thread: the shell that performs
/// what ``PostgresRequestQueue`` decides.
///
/// libpq's asynchronous protocol: `PQsend…` queues the message, `PQflush` writes it (returning 1
/// while the socket would block), `PQconsumeInput` reads whatever arrived, and `PQgetResult`
/// yields results while `PQisBusy` says a whole one is buffered; a NULL result ends a message.
extension PostgresConnection {
    func enqueue(_ request: PendingRequest) {
        perform(state.value.queue.enqueue(request))
    }

    /// Performs the queue's actions (never inside an access to the state: completions and
    /// libpq calls may come back to it).
    func perform(_ actions: consuming PostgresRequestQueue.Actions) {
        if let (request, result) = actions.completion.take() {  // moved out, not copied
            recordTransactionStatus()
            request.completion(result)
        }
        if let error = actions.closeWith {
            teardown(error: error)
            return
        }
        guard let message = actions.send.take() else { return }
        if case .pipelined(let statement, let parameters, let prepare) = message {
            guard sendPipelined(statement, parameters, prepare: prepare) else { return }
            if actions.scheduleSync { loop.execute { self.syncPipeline() } }
        } else {
            send(message, startsRequest: actions.sendStartsRequest)
        }
    }

    private func send(_ message: PostgresRequestQueue.Message, startsRequest: Bool) {
        guard let handle else { return }
        // A backend that died while the connection sat idle may have left its goodbye (an
        // error and EOF) unread in the socket: read it now, before sending into a dead session,
        // so the request fails unsent and the pool can safely retry it elsewhere.
        if startsRequest, PQconsumeInput(handle) == 0 || PQstatus(handle) == CONNECTION_BAD || state.value.backendTerminated {
            fail(.connectionClosed(lastErrorMessage()))
            return
        }
        let sent: Int32
        switch message {
        case .query(let sql, let parameters):
            sent = CStringArray.with(parameters) { values in
                PQsendQueryParams(handle, sql, Int32(values.count), nil, values, nil, nil, 0)
            }
        case .prepare(let statement, let parameterCount):
            countPrepare()
            sent = PQsendPrepare(handle, statement.name, statement.sql, Int32(parameterCount), nil)
        case .executePrepared(let name, let parameters):
            sent = CStringArray.with(parameters) { values in
                PQsendQueryPrepared(handle, name, Int32(values.count), values, nil, nil, 0)
            }
        case .simple(let sql):
            sent = PQsendQuery(handle, sql)
        case .pipelined:
            preconditionFailure("pipelined messages are sent by sendPipelined")
        }
        guard sent == 1 else {
            let usable = PQstatus(handle) == CONNECTION_OK
            perform(state.value.queue.sendRefused(lastErrorMessage(), connectionUsable: usable))
            return
        }
        countSent()
        flush()
    }

    /// Writes libpq's output buffer; while it cannot all be written, also wait for writability.
    func flush() {
        guard let handle else { return }
        switch PQflush(handle) {
        case 0:
            state.value.flushing = false
            setInterest(.read)
            copyFlushed()
        case 1:
            state.value.flushing = true
            setInterest([.read, .write])
        default:
            fail(.connectionClosed(lastErrorMessage()))
        }
    }

    func setInterest(_ interest: IOInterest) {
        let socket = state.value.socket
        guard socket >= 0 else { return }
        do {
            try loop.setInterest(interest, for: socket)
        } catch {
            fail(.client("cannot watch the connection's socket: \(error)"))
        }
    }

    /// Socket readiness on an established connection, idle or busy. An idle connection is
    /// watched too: that is how a backend killed by `pg_terminate_backend` or a server shutdown
    /// is noticed before anyone leases the connection.
    func handleIO(_ events: IOEvents) {
        guard let handle else { return }
        if state.value.flushing, events.writable || events.readable {
            flush()
            guard self.handle != nil else { return }
        }
        guard events.readable else {
            // libpq reads while it writes once the socket's send buffer is full (pqSendSome), so
            // an answer may already sit in its buffer with nothing left to wake us: collect it.
            if state.value.queue.awaitsResults { collectResults() }
            return
        }
        guard PQconsumeInput(handle) == 1 else {
            fail(.connectionClosed(lastErrorMessage()))
            return
        }
        deliverNotifications()
        if state.value.queue.isCopying {
            // A COPY's data phase: rows for a waiting reader (copy out), or an early error that
            // the next write finds (copy in).
            if state.value.copy?.direction == .fromServer { return copyReadable() }
        }
        collectResults()
        if let handle = self.handle,
           PQstatus(handle) == CONNECTION_BAD || (state.value.backendTerminated && !state.value.queue.hasRequestOnWire) {
            fail(.connectionClosed(lastErrorMessage()))
        }
    }

    /// Hands the queue every whole result libpq has buffered, for as long as it awaits any.
    func collectResults() {
        let pipelined = state.value.queue.isPipelined  // only enterPipelineMode() changes it
        while let handle, state.value.queue.awaitsResults, PQisBusy(handle) == 0 {
            guard let result = PQgetResult(handle) else {
                perform(state.value.queue.messageEnded())
                continue
            }
            let status = PQresultStatus(result)
            switch status {
            case PGRES_TUPLES_OK, PGRES_COMMAND_OK:
                state.value.queue.received(PostgresResult(copying: result))
            case PGRES_EMPTY_QUERY where !pipelined:
                state.value.queue.received(PostgresResult(copying: result))
            case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
                let error = serverError(result)
                state.value.queue.receivedError(error)
            case PGRES_PIPELINE_SYNC where pipelined:
                break  // the end of a group; its requests completed at their own ends
            case PGRES_PIPELINE_ABORTED where pipelined:
                state.value.queue.receivedPipelineAborted()
            case PGRES_COPY_IN where !pipelined, PGRES_COPY_OUT where !pipelined:
                PQclear(result)
                if copyDataPhaseBegan(toServer: status == PGRES_COPY_IN) { return }
                guard status == PGRES_COPY_IN else {
                    return fail(.client("unexpected COPY TO STDOUT: use copyOut"))  // it cannot be ended from here
                }
                // In COPY mode PQgetResult never returns NULL, so end the unexpected copy: the
                // server then answers with an error and the request completes.
                state.value.queue.refusedCopy(.client("COPY FROM STDIN is run by copyIn only"))
                PQputCopyEnd(handle, "COPY FROM STDIN is run by copyIn only")
                flush()
                continue
            default:
                // COPY BOTH, or COPY in pipeline mode, cannot be ended from here: give the connection up.
                PQclear(result)
                let reason = pipelined ? "in pipeline mode" : "(COPY BOTH is not supported)"
                fail(.client("unexpected result status \(status.rawValue) \(reason)"))
                return
            }
            PQclear(result)
        }
    }

    func serverError(_ result: OpaquePointer) -> PostgresError {
        func field(_ code: Int32) -> String? {
            PQresultErrorField(result, code).map { String(cString: $0) }
        }
        let sqlState = field(Int32(UInt8(ascii: "C"))).map(SQLState.init)
        let message = field(Int32(UInt8(ascii: "M")))
            ?? String(String(cString: PQresultErrorMessage(result)).trimmingEnd(.newlinesAndSpaces))
        // A FATAL error that also broke the connection (terminate, shutdown) is a connection
        // error to callers: the same request may succeed on a new connection.
        // SQLSTATE class 57P (admin/crash shutdown, database dropped, …) always ends the session.
        let broken = handle.map { PQstatus($0) == CONNECTION_BAD } ?? true
            || sqlState?.code.hasPrefix("57P") == true
        return PostgresError(
            kind: broken ? .connectionClosed : .server,
            sqlState: sqlState,
            message: message,
            detail: field(Int32(UInt8(ascii: "D"))),
            hint: field(Int32(UInt8(ascii: "H"))),
            constraint: field(Int32(UInt8(ascii: "n"))),
            table: field(Int32(UInt8(ascii: "t"))),
            column: field(Int32(UInt8(ascii: "c")))
        )
    }
}
