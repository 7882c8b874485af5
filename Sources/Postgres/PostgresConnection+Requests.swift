import CLibPQ
import Codecs
import Reactor

/// Sending requests and collecting their results, on the loop thread.
///
/// libpq's asynchronous protocol: `PQsend…` queues the message, `PQflush` writes it (returning 1
/// while the socket would block), `PQconsumeInput` reads whatever arrived, and `PQgetResult`
/// yields results while `PQisBusy` says a whole one is buffered; a NULL result ends a request.
extension PostgresConnection {
    func enqueue(_ request: PendingRequest) {
        guard handle != nil else {
            request.completion(.failure(PostgresError(kind: .connectionClosed, message: "connection closed")))
            return
        }
        if pipelined {
            sendPipelined(request)
            return
        }
        pending.append(request)
        if current == nil { startNext() }
    }

    private func startNext() {
        guard current == nil, let handle, let request = pending.popFirst() else { return }
        // A backend that died while the connection sat idle may have left its goodbye (an
        // error and EOF) unread in the socket: read it now, before sending into a dead session,
        // so the request fails unsent and the pool can safely retry it elsewhere.
        if PQconsumeInput(handle) == 0 || PQstatus(handle) == CONNECTION_BAD || backendTerminated {
            pending.prepend(request)
            fail(PostgresError(kind: .connectionClosed, message: lastErrorMessage()))
            return
        }
        if case .prepared(let statement, _) = request.command, sendsNamed(statement), !preparedNames.contains(statement.name) {
            current = InFlightRequest(request: request, stage: .preparing)
        } else {
            current = InFlightRequest(request: request, stage: .executing)
        }
        sendCurrentStage()
    }

    private func sendCurrentStage() {
        guard let handle, let inFlight = current else { return }
        let sent: Int32
        switch (inFlight.request.command, inFlight.stage) {
        case (.query(let sql, let parameters), _):
            sent = CStringArray.with(parameters) { values in
                PQsendQueryParams(handle, sql, Int32(values.count), nil, values, nil, nil, 0)
            }
        case (.prepared(let statement, let parameters), .preparing):
            countPrepare()
            sent = PQsendPrepare(handle, statement.name, statement.sql, Int32(parameters.count), nil)
        case (.prepared(let statement, let parameters), .executing) where !sendsNamed(statement):
            sent = CStringArray.with(parameters) { values in
                PQsendQueryParams(handle, statement.sql, Int32(values.count), nil, values, nil, nil, 0)
            }
        case (.prepared(let statement, let parameters), .executing):
            sent = CStringArray.with(parameters) { values in
                PQsendQueryPrepared(handle, statement.name, Int32(values.count), values, nil, nil, 0)
            }
        case (.simple(let sql), _):
            sent = PQsendQuery(handle, sql)
        }
        guard sent == 1 else {
            failCurrentOrConnection(message: lastErrorMessage())
            return
        }
        countSent()
        flush()
    }

    /// Whether `statement` is prepared under its name, or sent whole as the unnamed statement.
    private func sendsNamed(_ statement: PreparedStatement) -> Bool {
        statementMode == .named && !statement.plannedEachTime
    }

    /// Writes libpq's output buffer; while it cannot all be written, also wait for writability.
    func flush() {
        guard let handle else { return }
        switch PQflush(handle) {
        case 0:
            flushing = false
            setInterest(.read)
        case 1:
            flushing = true
            setInterest([.read, .write])
        default:
            fail(PostgresError(kind: .connectionClosed, message: lastErrorMessage()))
        }
    }

    private func setInterest(_ interest: IOInterest) {
        guard socket >= 0 else { return }
        do {
            try loop.setInterest(interest, for: socket)
        } catch {
            fail(PostgresError(kind: .client, message: "cannot watch the connection's socket: \(error)"))
        }
    }

    /// Socket readiness on an established connection, idle or busy. An idle connection is
    /// watched too: that is how a backend killed by `pg_terminate_backend` or a server shutdown
    /// is noticed before anyone leases the connection.
    func handleIO(_ events: IOEvents) {
        guard let handle else { return }
        if flushing, events.writable || events.readable {
            flush()
            guard self.handle != nil else { return }
        }
        guard events.readable else { return }
        guard PQconsumeInput(handle) == 1 else {
            fail(PostgresError(kind: .connectionClosed, message: lastErrorMessage()))
            return
        }
        while let notification = PQnotifies(handle) {
            PQfreemem(notification)  // LISTEN is not used yet; drain so libpq's queue stays empty
        }
        if pipelined { collectPipelinedResults() } else { collectResults() }
        if let handle = self.handle, PQstatus(handle) == CONNECTION_BAD || (backendTerminated && current == nil) {
            fail(PostgresError(kind: .connectionClosed, message: lastErrorMessage()))
        }
    }

    private func collectResults() {
        while let handle, current != nil, PQisBusy(handle) == 0 {
            guard let result = PQgetResult(handle) else {
                finishCurrentStage()
                continue
            }
            let status = PQresultStatus(result)
            switch status {
            case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                current?.results.append(PostgresResult(copying: result))
            case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
                if current?.error == nil { current?.error = serverError(result) }
            case PGRES_COPY_IN:
                // COPY is not supported. In COPY mode PQgetResult never returns NULL, so end the
                // copy: the server then answers with an error and the request completes.
                PQclear(result)
                current?.error = PostgresError(kind: .client, message: "COPY is not supported by this client")
                PQputCopyEnd(handle, "COPY is not supported by this client")
                flush()
                continue
            default:
                // COPY TO STDOUT / COPY BOTH cannot be ended from here: give the connection up.
                PQclear(result)
                fail(PostgresError(kind: .client, message: "unexpected result status \(status.rawValue) (COPY is not supported)"))
                return
            }
            PQclear(result)
        }
    }

    private func finishCurrentStage() {
        guard let inFlight = current else { return }
        if case .prepared(let statement, _) = inFlight.request.command, inFlight.stage == .preparing,
           inFlight.error == nil {
            preparedNames.insert(statement.name)
            current?.stage = .executing
            current?.results.removeAll()
            sendCurrentStage()
            return
        }
        current = nil
        recordTransactionStatus()
        if let error = inFlight.error {
            inFlight.request.completion(.failure(error))
            if error.kind == .connectionClosed {
                teardown(error: error)
                return
            }
        } else {
            inFlight.request.completion(.success(inFlight.results))
        }
        startNext()
    }

    /// A `PQsend…` call was refused: a broken connection fails everything, else only this request.
    private func failCurrentOrConnection(message: String) {
        guard let handle, PQstatus(handle) == CONNECTION_OK, let inFlight = current else {
            fail(PostgresError(kind: .connectionClosed, message: message))
            return
        }
        current = nil
        inFlight.request.completion(.failure(PostgresError(kind: .client, message: message)))
        startNext()
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
