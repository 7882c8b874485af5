import Synchronization

/// The body of a request whose handler takes it as it arrives (a streamed body, chosen by
/// ``HTTPRequestParser/Limits/streamedBodyLimit``): the connection appends the pieces it reads,
/// the handler takes them with ``next()``. Once ``highWater`` bytes wait unread, the connection
/// stops reading its socket until the handler has taken half of them, so a client faster than
/// the handler is held back by TCP instead of filling memory.
public final class HTTPRequestBody: Sendable {
    /// Why a body ended before its last byte.
    public enum Failure: Error, Sendable, Equatable {
        /// The client closed the connection (or it broke) midway.
        case disconnected
        /// The client sent nothing for the request timeout while the handler waited.
        case timedOut
        /// The body broke the HTTP framing or its limit; the connection answers that itself.
        case protocolError(HTTPProtocolError)
    }

    private struct State {
        var pieces: [[UInt8]] = []
        var first = 0
        var buffered = 0
        var ended = false
        var failure: Failure?
        var waiter: CheckedContinuation<[UInt8]?, Error>?
        /// The connection stopped reading because `buffered` reached the high water.
        var readingStopped = false
        /// Bytes handed to the handler so far.
        var taken = 0
    }

    private let state = Mutex(State())
    /// Unread bytes at which the connection stops reading.
    public let highWater: Int
    /// Called (from the handler's thread) when the connection may read again.
    private let resumeReading: @Sendable () -> Void

    init(highWater: Int, resumeReading: @escaping @Sendable () -> Void) {
        self.highWater = highWater
        self.resumeReading = resumeReading
    }

    /// The next piece of the body (never empty), or nil after its last byte. Throws a
    /// ``Failure`` if the body ended early.
    public func next() async throws -> [UInt8]? {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, Error>) in
            let (outcome, resume) = state.withLock { state -> (Result<[UInt8]?, Failure>?, Bool) in
                if state.first < state.pieces.count {
                    let piece = state.pieces[state.first]
                    state.pieces[state.first] = []
                    state.first += 1
                    if state.first == state.pieces.count { state.pieces.removeAll(keepingCapacity: true); state.first = 0 }
                    state.buffered -= piece.count
                    state.taken += piece.count
                    let resume = state.readingStopped && state.buffered <= highWater / 2
                    if resume { state.readingStopped = false }
                    return (.success(piece), resume)
                }
                if let failure = state.failure { return (.failure(failure), false) }
                if state.ended { return (.success(nil), false) }
                state.waiter = continuation
                return (nil, false)
            }
            if let outcome { continuation.resume(with: outcome.mapError { $0 }) }
            if resume { resumeReading() }
        }
    }

    /// Bytes the handler has taken so far.
    public var bytesTaken: Int { state.withLock { $0.taken } }

    // MARK: The connection's side

    /// Whether the body has ended (whole or failed).
    var isFinished: Bool { state.withLock { $0.ended || $0.failure != nil } }

    /// A piece read from the socket; false when the connection must stop reading until
    /// ``resumeReading`` is called.
    func append(_ piece: [UInt8]) -> Bool {
        let (waiter, keepReading) = state.withLock { state -> (CheckedContinuation<[UInt8]?, Error>?, Bool) in
            if let waiter = state.waiter {
                state.waiter = nil
                state.taken += piece.count
                return (waiter, true)
            }
            state.pieces.append(piece)
            state.buffered += piece.count
            if state.buffered >= highWater { state.readingStopped = true }
            return (nil, !state.readingStopped)
        }
        waiter?.resume(returning: piece)
        return keepReading
    }

    /// The body's last byte has arrived.
    func finish() {
        end { $0.ended = true }
    }

    /// The body ended early.
    func fail(_ failure: Failure) {
        end { if !$0.ended, $0.failure == nil { $0.failure = failure } }
    }

    private func end(_ change: (inout State) -> Void) {
        let (waiter, outcome) = state.withLock { state -> (CheckedContinuation<[UInt8]?, Error>?, Result<[UInt8]?, Failure>) in
            change(&state)
            let waiter = state.waiter
            state.waiter = nil
            return (waiter, state.failure.map { .failure($0) } ?? .success(nil))
        }
        waiter?.resume(with: outcome.mapError { $0 })
    }
}
