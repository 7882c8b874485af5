import Reactor

/// A response whose body a producer writes piece by piece (``HTTPResponse/bodyWriter``), sent
/// with chunked transfer coding (to an HTTP/1.0 client: as is, ended by closing). Each piece is
/// written before the producer may hand over the next, so a client that reads slowly slows the
/// producer down instead of making the server buffer; while the producer works, the socket is
/// watched only for the client leaving, which fails the producer's next write.
struct HTTPResponseStream {
    /// The response's head, sent with the first piece.
    var pendingHead: [UInt8]
    let chunked: Bool
    var wrotePiece = false
    /// The last chunk is on its way: once written, the response is done.
    var finishing = false
    /// The producer waiting for its piece to be written (true) or to hear the client is gone (false).
    var waiter: ((Bool) -> Void)?
}

extension HTTPConnection {
    func startStreamedResponse(_ response: HTTPResponse, _ framing: HTTPConnectionStateMachine.Framing,
                               _ producer: @escaping @Sendable (HTTPResponseBodyWriter) async throws -> Void) {
        let chunked = state.value.head?.version != .http1_0
        let head = HTTPResponseEncoder.encodeHead(response, date: owner.currentDate(), connection: framing.connection,
                                                  length: chunked ? .chunked : .untilClose)
        state.value.head = nil
        setPaused(false)
        guard framing.includeBody else {  // HEAD: the head alone, the producer never runs
            state.value.output = HTTPOutput(head: head, body: [])
            return flush()
        }
        state.value.responseStream = HTTPResponseStream(pendingHead: head, chunked: chunked)
        owner.setInterest(.peerClosed, for: self)
        let writer = HTTPResponseBodyWriter(connection: self)
        Task(executorPreference: owner.loop) {
            do {
                try await producer(writer)
                try await writer.finish()
            } catch {
                writer.abandon()
            }
        }
    }

    /// On the loop: the producer's next piece, or its end (`bytes` nil). `completion` hears
    /// whether it was written (false: the client is gone).
    func streamPiece(_ bytes: [UInt8]?, completion: @escaping (Bool) -> Void) {
        guard var stream = state.value.responseStream, !stream.finishing, stream.waiter == nil else { return completion(false) }
        var head = stream.pendingHead
        stream.pendingHead = []
        if stream.chunked {
            if stream.wrotePiece { head.append(contentsOf: "\r\n".utf8) }
            head.append(contentsOf: (bytes.map { String($0.count, radix: 16) + "\r\n" } ?? "0\r\n\r\n").utf8)
        }
        if bytes != nil {
            stream.wrotePiece = true
            stream.waiter = completion
        } else {
            stream.finishing = true
        }
        state.value.responseStream = stream
        state.value.output = HTTPOutput(head: head, body: bytes ?? [])
        state.value.machine.responseProgressed(now: MonotonicClock.now())
        flush()
        if bytes == nil { completion(true) }
        account()
    }

    /// A piece is written whole: the producer may go on.
    func streamedChunkWritten() {
        let waiter = state.value.responseStream?.waiter
        state.value.responseStream?.waiter = nil
        owner.setInterest(.peerClosed, for: self)
        state.value.machine.responseProgressed(now: MonotonicClock.now())
        waiter?(true)
    }

    /// The producer failed midway: the client can only learn it from a cut (an unfinished
    /// chunked body), so the connection closes.
    func abandonStreamedResponse() {
        guard state.value.responseStream != nil else { return }
        close()
    }
}

/// What a streamed response's producer writes its body with (``HTTPResponse/streamed(status:headers:_:)``).
public final class HTTPResponseBodyWriter: Sendable {
    /// The client left before the body was written whole.
    public struct ClientGone: Error, Sendable {}

    private let connection: HTTPConnection

    init(connection: HTTPConnection) {
        self.connection = connection
    }

    /// Sends `bytes` as the body's next piece; returns once the socket took them (so a slow
    /// client slows the producer). Throws ``ClientGone`` when the client is no longer there.
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        try await send(bytes)
    }

    func finish() async throws {
        try await send(nil)
    }

    func abandon() {
        let connection = connection
        connection.owner.loop.execute { connection.abandonStreamedResponse() }
    }

    private func send(_ bytes: [UInt8]?) async throws {
        let connection = connection
        let written = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            connection.owner.loop.execute {
                connection.streamPiece(bytes) { continuation.resume(returning: $0) }
            }
        }
        guard written else { throw ClientGone() }
    }
}
