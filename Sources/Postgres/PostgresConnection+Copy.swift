import CLibPQ
import Reactor

/// `COPY … FROM STDIN` and `COPY … TO STDOUT` through libpq's non-blocking copy calls
/// (`PQputCopyData`/`PQputCopyEnd`, `PQgetCopyData` in async mode), on the loop thread, with
/// back-pressure both ways: a writer waits while libpq's output is not yet written to the socket;
/// the socket is read only while a reader waits for rows.
extension PostgresConnection {
    /// Runs `sql` (a `COPY … FROM STDIN`), lets `body` send its rows, and ends the copy;
    /// returns the final result (command tag `COPY n`). If `body` throws, the copy is ended
    /// with an error (the server keeps none of its rows) and the error is rethrown. The
    /// connection stays usable either way (in an open transaction, that transaction failed).
    @discardableResult
    public func copyIn(_ sql: String, _ body: (PostgresCopyWriter) async throws -> Void) async throws -> PostgresResult {
        try await startCopy(sql, direction: .toServer)
        do {
            try await body(PostgresCopyWriter(connection: self))
        } catch {
            _ = try? await endCopy(abortMessage: "the client abandoned the copy")
            throw error
        }
        return try await endCopy(abortMessage: nil)
    }

    /// Runs `sql` (a `COPY … TO STDOUT`) and lets `body` read its rows; returns the final
    /// result (command tag `COPY n`). Rows `body` leaves unread are read and dropped. If
    /// `body` throws, the connection is closed (a COPY out cannot be stopped short otherwise;
    /// a pool replaces it) and the error is rethrown.
    @discardableResult
    public func copyOut(_ sql: String, _ body: (PostgresCopyReader) async throws -> Void) async throws -> PostgresResult {
        try await startCopy(sql, direction: .fromServer)
        let reader = PostgresCopyReader(connection: self)
        do {
            try await body(reader)
        } catch {
            await close()
            throw error
        }
        while try await reader.next() != nil {}
        return try await endCopy(abortMessage: nil)
    }

    private func startCopy(_ sql: String, direction: PostgresCopySession.Direction) async throws {
        guard !sql.utf8.contains(0) else { throw PostgresError.client("SQL text contains a NUL byte") }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            loop.execute {
                guard self.state.value.copy == nil else {
                    return continuation.resume(throwing: PostgresError.client("a COPY is already in progress on this connection"))
                }
                self.state.value.copy = PostgresCopySession(direction: direction) { continuation.resume(with: $0.mapError { $0 }) }
                self.enqueue(PendingRequest(command: .copy(sql: sql)) { self.copyRequestCompleted($0) })
            }
        }
    }

    /// Ends a copy to the server (`abortMessage` nil: commit its rows) or waits for a copy from
    /// the server that has sent its last row, and returns its final result.
    private func endCopy(abortMessage: String?) async throws -> PostgresResult {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PostgresResult, Error>) in
            loop.execute {
                let complete = { (result: Result<PostgresResult, PostgresError>) in continuation.resume(with: result.mapError { $0 }) }
                guard var session = self.state.value.copy else { return complete(.failure(.connectionClosed("connection closed"))) }
                if let outcome = session.outcome {
                    self.state.value.copy = nil
                    return complete(outcome)
                }
                session.finished = complete
                self.state.value.copy = session
                if session.direction == .toServer, session.inDataPhase { self.putCopyEnd(abortMessage) }
            }
        }
    }

    // MARK: Loop side

    /// The server answered the COPY statement with its data phase (from ``collectResults()``).
    /// False when no copy of that direction was asked for.
    func copyDataPhaseBegan(toServer: Bool) -> Bool {
        guard let session = state.value.copy, session.direction == (toServer ? .toServer : .fromServer),
              state.value.queue.copyStarted() else { return false }
        state.value.copy?.inDataPhase = true
        state.value.copy?.started = nil
        if !toServer { setInterest([]) }  // read only while a reader waits
        session.started?(.success(()))
        return true
    }

    /// The COPY request completed: its final result, or the error that ended it (perhaps
    /// before any data phase, e.g. a syntax error).
    private func copyRequestCompleted(_ result: Result<[PostgresResult], PostgresError>) {
        guard var session = state.value.copy else { return }
        let outcome = result.flatMap { results in
            results.last.map { .success($0) } ?? .failure(.client("the COPY statement returned no result"))
        }
        if let started = session.started {
            state.value.copy = nil
            if case .failure(let error) = outcome { return started(.failure(error)) }
            return started(.failure(.client("the statement did not start a COPY")))
        }
        session.inDataPhase = false
        if let finished = session.finished {
            state.value.copy = nil
            finished(outcome)
        } else {
            session.outcome = outcome
            state.value.copy = session
        }
    }

    func putCopyData(_ bytes: [UInt8], completion: @escaping (Result<Void, PostgresError>) -> Void) {
        guard let handle, let session = state.value.copy, session.direction == .toServer, session.inDataPhase else {
            if case .failure(let error)? = state.value.copy?.outcome { return completion(.failure(error)) }
            return completion(.failure(.client("no COPY FROM STDIN is in progress")))
        }
        let queued = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(handle, $0.baseAddress, Int32($0.count)) }
        }
        switch queued {
        case 1:
            countSent()
            flush()
            if state.value.flushing { state.value.copy?.flushWaiter = completion } else { completion(.success(())) }
        case 0:
            // libpq's buffer is full (non-blocking mode): once the socket took some, try again.
            flush()
            state.value.copy?.flushWaiter = { [self] result in
                if case .failure(let error) = result { return completion(.failure(error)) }
                putCopyData(bytes, completion: completion)
            }
            if !state.value.flushing, let waiter = state.value.copy?.flushWaiter {
                state.value.copy?.flushWaiter = nil
                waiter(.success(()))
            }
        default:
            guard PQstatus(handle) == CONNECTION_OK else {
                let error = PostgresError.connectionClosed(lastErrorMessage())
                fail(error)
                return completion(.failure(error))
            }
            // The server ended the copy with an error (libpq has left COPY mode): collect it.
            let message = lastErrorMessage()
            state.value.copy?.inDataPhase = false
            state.value.queue.copyEnded()
            collectResults()
            if case .failure(let error)? = state.value.copy?.outcome { return completion(.failure(error)) }
            completion(.failure(.client(message)))
        }
    }

    /// Ends the data phase of a copy to the server; the final result follows as any result.
    private func putCopyEnd(_ abortMessage: String?) {
        guard let handle else { return }
        switch PQputCopyEnd(handle, abortMessage) {
        case 1:
            state.value.copy?.inDataPhase = false
            state.value.queue.copyEnded()
            flush()
            // The final result may have been read already, while libpq wrote (see handleIO).
            if handle == self.handle, self.handle != nil { collectResults() }
        case 0:
            flush()
            state.value.copy?.flushWaiter = { [self] result in if case .success = result { putCopyEnd(abortMessage) } }
            if !state.value.flushing, let waiter = state.value.copy?.flushWaiter {
                state.value.copy?.flushWaiter = nil
                waiter(.success(()))
            }
        default:
            fail(.connectionClosed(lastErrorMessage()))
        }
    }

    /// libpq's output is written whole: a writer waiting for room goes on.
    func copyFlushed() {
        guard let waiter = state.value.copy?.flushWaiter else { return }
        state.value.copy?.flushWaiter = nil
        waiter(.success(()))
    }

    /// Hands the reader the rows libpq has whole (at least one, up to about 64 KiB), waiting
    /// for the socket if there are none; nil once the server has sent the last.
    func readCopyData(completion: @escaping (Result<[UInt8]?, PostgresError>) -> Void) {
        guard let handle, let session = state.value.copy, session.direction == .fromServer else {
            return completion(.failure(.client("no COPY TO STDOUT is in progress")))
        }
        guard session.inDataPhase else { return completion(.success(nil)) }
        var rows: [UInt8] = []
        while rows.count < 64 * 1024 {
            var buffer: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(handle, &buffer, 1)
            if length > 0, let buffer {
                rows.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: Int(length)))
                PQfreemem(buffer)
            } else if length == 0 {
                guard rows.isEmpty else { break }
                state.value.copy?.readWaiter = completion
                setInterest(.read)
                return
            } else if length == -1 {
                // The last row is in: the final result follows as any result.
                state.value.copy?.inDataPhase = false
                state.value.queue.copyEnded()
                setInterest(.read)
                collectResults()
                break
            } else {
                let error = PostgresError.connectionClosed(lastErrorMessage())
                fail(error)
                return completion(.failure(error))
            }
        }
        completion(.success(rows.isEmpty ? nil : rows))
    }

    /// Input arrived during a copy from the server: a waiting reader gets it; with none, the
    /// socket is no longer watched until one asks.
    func copyReadable() {
        guard let waiter = state.value.copy?.readWaiter else { return setInterest([]) }
        state.value.copy?.readWaiter = nil
        readCopyData(completion: waiter)
    }

    /// The connection broke: everyone waiting on the copy hears of it.
    func failCopy(_ error: PostgresError) {
        guard let session = state.value.copy else { return }
        state.value.copy = nil
        for call in session.waiters(failingWith: error) { call() }
    }
}
