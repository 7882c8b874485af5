import CLibPQ
import Codecs
import Reactor

/// Non-blocking connection start-up (`PQconnectStartParams` + `PQconnectPoll`) and teardown,
/// on the loop thread.
extension PostgresConnection {
    func startConnecting(_ configuration: PostgresConfiguration, completion: @escaping (Result<Void, PostgresError>) -> Void) {
        let parameters = configuration.libpqParameters
        let started = CStringArray.with(parameters.map(\.0)) { keywords in
            CStringArray.with(parameters.map(\.1)) { values in
                PQconnectStartParams(keywords, values, 1)
            }
        }
        state.value.handle = started
        guard let handle = started else {
            completion(.failure(.client("libpq could not allocate a connection")))
            return
        }
        guard PQstatus(handle) != CONNECTION_BAD, PQsetnonblocking(handle, 1) == 0 else {
            let error = PostgresError.connectionFailed(lastErrorMessage())
            teardown(error: error)
            completion(.failure(error))
            return
        }
        // Notices ("already exists, skipping") are not errors and are dropped. But libpq also
        // delivers here the FATAL error a backend sends when it is terminated while the
        // connection is idle: that marks the session dead before the EOF even arrives.
        // libpq calls this inside PQconsumeInput/PQgetResult, on the loop thread.
        PQsetNoticeReceiver(handle, { context, result in
            guard let context, let result,
                  let severity = PQresultErrorField(result, Int32(UInt8(ascii: "V"))).map({ String(cString: $0) }),
                  severity == "FATAL" || severity == "PANIC"
            else { return }
            Unmanaged<PostgresConnection>.fromOpaque(context).takeUnretainedValue().state.value.backendTerminated = true
        }, Unmanaged.passUnretained(self).toOpaque())
        state.value.connectCompletion = completion
        state.value.connectTimer = loop.scheduleTimer(after: configuration.connectTimeout) { [self] in
            finishConnecting(.failure(.connectionFailed("timed out after \(configuration.connectTimeout) connecting to PostgreSQL")))
        }
        // libpq's contract: start as if PQconnectPoll had returned PGRES_POLLING_WRITING.
        watchSocket(for: .write, handler: { [self] _ in pollConnect() })
    }

    private func pollConnect() {
        guard let handle, state.value.connectCompletion != nil else { return }
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
            finishConnecting(.failure(.connectionFailed(lastErrorMessage())))
        }
    }

    private func finishConnecting(_ result: Result<Void, PostgresError>) {
        guard let completion = state.value.connectCompletion else { return }
        state.value.connectCompletion = nil
        if let connectTimer = state.value.connectTimer { loop.cancelTimer(connectTimer) }
        state.value.connectTimer = nil
        if case .failure(let error) = result { teardown(error: error) }
        completion(result)
    }

    /// (Re-)registers the connection's socket. libpq may open a new socket while connecting
    /// (another host, another address of the same host), so the descriptor is read anew each time.
    func watchSocket(for interest: IOInterest, handler: @escaping EventLoop.IOHandler) {
        guard let handle else { return }
        let fd = PQsocket(handle)
        let previous = state.value.socket
        if previous >= 0 { loop.deregister(previous) }
        state.value.socket = fd
        guard fd >= 0 else {
            fail(.connectionFailed(lastErrorMessage()))
            return
        }
        do {
            try loop.register(fd, interest: interest, handler: handler)
        } catch {
            fail(.client("cannot watch the connection's socket: \(error)"))
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
        if state.value.connectCompletion != nil {
            finishConnecting(.failure(error))
        } else {
            teardown(error: error)
        }
    }

    /// Releases the libpq connection and fails every queued request. Idempotent.
    func teardown(error: PostgresError?) {
        markClosed()
        let socket = state.value.socket
        if socket >= 0 { loop.deregister(socket) }
        state.value.socket = -1
        let handle = state.value.handle
        state.value.handle = nil
        if let handle { PQfinish(handle) }
        let failure = error?.asConnectionClosed ?? .connectionClosed("connection closed")
        failCopy(failure)
        let requests = state.value.queue.close()
        for request in requests { request.completion(.failure(failure)) }
        let handlers = state.value.closeHandlers
        state.value.closeHandlers.removeAll()
        for handler in handlers { handler(error) }
    }
}
