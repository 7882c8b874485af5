import CLibPQ
import Codecs
import Reactor

/// Non-blocking connection start-up (`PQconnectStartParams` + `PQconnectPoll`), on the loop thread.
extension PostgresConnection {
    func startConnecting(_ configuration: PostgresConfiguration, completion: @escaping (Result<Void, PostgresError>) -> Void) {
        let parameters = configuration.libpqParameters
        handle = CStringArray.with(parameters.map(\.0)) { keywords in
            CStringArray.with(parameters.map(\.1)) { values in
                PQconnectStartParams(keywords, values, 1)
            }
        }
        guard let handle else {
            completion(.failure(PostgresError(kind: .client, message: "libpq could not allocate a connection")))
            return
        }
        guard PQstatus(handle) != CONNECTION_BAD, PQsetnonblocking(handle, 1) == 0 else {
            let error = PostgresError(kind: .connectionFailed, message: lastErrorMessage())
            teardown(error: error)
            completion(.failure(error))
            return
        }
        // Notices ("already exists, skipping") are not errors and are dropped. But libpq also
        // delivers here the FATAL error a backend sends when it is terminated while the
        // connection is idle: that marks the session dead before the EOF even arrives.
        PQsetNoticeReceiver(handle, { context, result in
            guard let context, let result,
                  let severity = PQresultErrorField(result, Int32(UInt8(ascii: "V"))).map({ String(cString: $0) }),
                  severity == "FATAL" || severity == "PANIC"
            else { return }
            Unmanaged<PostgresConnection>.fromOpaque(context).takeUnretainedValue().backendTerminated = true
        }, Unmanaged.passUnretained(self).toOpaque())
        connectCompletion = completion
        connectTimer = loop.scheduleTimer(after: configuration.connectTimeout) { [self] in
            finishConnecting(.failure(PostgresError(
                kind: .connectionFailed,
                message: "timed out after \(configuration.connectTimeout) connecting to PostgreSQL")))
        }
        // libpq's contract: start as if PQconnectPoll had returned PGRES_POLLING_WRITING.
        watchSocket(for: .write, handler: { [self] _ in pollConnect() })
    }

    private func pollConnect() {
        guard let handle, connectCompletion != nil else { return }
        switch PQconnectPoll(handle) {
        case PGRES_POLLING_READING:
            watchSocket(for: .read, handler: { [self] _ in pollConnect() })
        case PGRES_POLLING_WRITING:
            watchSocket(for: .write, handler: { [self] _ in pollConnect() })
        case PGRES_POLLING_OK:
            watchSocket(for: .read, handler: { [self] events in handleIO(events) })
            recordTransactionStatus()
            finishConnecting(.success(()))
        default:
            finishConnecting(.failure(PostgresError(kind: .connectionFailed, message: lastErrorMessage())))
        }
    }

    private func finishConnecting(_ result: Result<Void, PostgresError>) {
        guard let completion = connectCompletion else { return }
        connectCompletion = nil
        if let connectTimer { loop.cancelTimer(connectTimer) }
        connectTimer = nil
        if case .failure(let error) = result { teardown(error: error) }
        completion(result)
    }

    /// (Re-)registers the connection's socket. libpq may open a new socket while connecting
    /// (another host, another address of the same host), so the descriptor is read anew each time.
    func watchSocket(for interest: IOInterest, handler: @escaping EventLoop.IOHandler) {
        guard let handle else { return }
        let fd = PQsocket(handle)
        if socket >= 0 { loop.deregister(socket) }
        socket = fd
        guard fd >= 0 else {
            fail(PostgresError(kind: .connectionFailed, message: lastErrorMessage()))
            return
        }
        do {
            try loop.register(fd, interest: interest, handler: handler)
        } catch {
            fail(PostgresError(kind: .client, message: "cannot watch the connection's socket: \(error)"))
        }
    }

    /// libpq's last error message for this connection, without its trailing newline.
    func lastErrorMessage() -> String {
        guard let handle, let message = PQerrorMessage(handle) else { return "no connection" }
        let text = String(String(cString: message).trimmingEnd(.newlinesAndSpaces))
        return text.isEmpty ? "connection failed" : text
    }

    /// Fails whatever is waiting (connect or requests) and closes.
    func fail(_ error: PostgresError) {
        if connectCompletion != nil {
            finishConnecting(.failure(error))
        } else {
            teardown(error: error)
        }
    }

    /// Releases the libpq connection and fails every queued request. Idempotent.
    func teardown(error: PostgresError?) {
        markClosed()
        if socket >= 0 { loop.deregister(socket) }
        socket = -1
        if let handle { PQfinish(handle) }
        handle = nil
        let failure = error.map { PostgresError(kind: .connectionClosed, sqlState: $0.sqlState, message: $0.message, detail: $0.detail) }
            ?? PostgresError(kind: .connectionClosed, message: "connection closed")
        let inFlight = current
        current = nil
        let queued = pending
        pending.removeAll()
        let pipelinedRequests = pipelineInFlight
        pipelineInFlight.removeAll()
        inFlight?.request.completion(.failure(failure))
        for sent in pipelinedRequests { sent.request.completion(.failure(failure)) }
        for request in queued { request.completion(.failure(failure)) }
        let handlers = closeHandlers
        closeHandlers.removeAll()
        for handler in handlers { handler(error) }
    }
}
