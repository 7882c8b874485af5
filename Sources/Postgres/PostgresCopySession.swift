/// The loop side of one `COPY` in progress on a ``PostgresConnection``: who waits for its data
/// phase to start, for room to send more rows, for rows to arrive, or for its final result.
/// Each waiter is a completion called once, on the loop thread, outside the state's access.
struct PostgresCopySession {
    /// Which way the rows travel.
    enum Direction {
        /// `COPY … FROM STDIN`: the client sends rows.
        case toServer
        /// `COPY … TO STDOUT`: the server sends rows.
        case fromServer
    }

    let direction: Direction
    /// The caller waiting for the data phase to begin (nil once it has, or failed).
    var started: ((Result<Void, PostgresError>) -> Void)?
    /// In the data phase: rows may be sent (to server) or read (from server).
    var inDataPhase = false
    /// A writer waiting until libpq's output buffer is written (back-pressure from the socket).
    var flushWaiter: ((Result<Void, PostgresError>) -> Void)?
    /// A reader waiting for rows to arrive.
    var readWaiter: ((Result<[UInt8]?, PostgresError>) -> Void)?
    /// The caller waiting for the COPY's final result (its command tag, or the server's error).
    var finished: ((Result<PostgresResult, PostgresError>) -> Void)?
    /// The final result, when it came before anyone waited for it.
    var outcome: Result<PostgresResult, PostgresError>?

    init(direction: Direction, started: @escaping (Result<Void, PostgresError>) -> Void) {
        self.direction = direction
        self.started = started
    }

    /// Every waiter, for failing them all when the connection breaks.
    func waiters(failingWith error: PostgresError) -> [() -> Void] {
        var calls: [() -> Void] = []
        if let started { calls.append { started(.failure(error)) } }
        if let flushWaiter { calls.append { flushWaiter(.failure(error)) } }
        if let readWaiter { calls.append { readWaiter(.failure(error)) } }
        if let finished { calls.append { finished(.failure(error)) } }
        return calls
    }
}

/// Sends the rows of a `COPY … FROM STDIN` (``PostgresConnection/copyIn(_:_:)``): each
/// ``write(_:)`` returns once libpq has handed the bytes to the socket, so a producer faster
/// than the database waits instead of filling memory.
public struct PostgresCopyWriter: Sendable {
    let connection: PostgresConnection

    /// Sends `bytes` (whole rows or not; COPY's data is a byte stream) to the server.
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            connection.loop.execute {
                connection.putCopyData(bytes) { continuation.resume(with: $0.mapError { $0 }) }
            }
        }
    }
}

/// Receives the rows of a `COPY … TO STDOUT` (``PostgresConnection/copyOut(_:_:)``). The
/// connection reads its socket only while ``next()`` waits, so a consumer slower than the
/// database holds the server back (TCP) instead of buffering the table here.
public struct PostgresCopyReader: Sendable {
    let connection: PostgresConnection

    /// The next whole rows, back to back (up to about 64 KiB), or nil once all were read.
    public func next() async throws -> [UInt8]? {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, Error>) in
            connection.loop.execute {
                connection.readCopyData { continuation.resume(with: $0.mapError { $0 }) }
            }
        }
    }
}
