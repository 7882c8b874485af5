import Glibc

/// What a connection would get by reading now, found with `MSG_PEEK` (nothing is taken from
/// the kernel): used once the budget is short, to tell a request that lies whole in the
/// kernel's buffer (reading it needs no buffering, and its memory comes back when it is
/// answered) from one that would have to be buffered, and by how much.
enum HTTPRequestPeek {
    /// The client sent nothing new (a spurious wake-up).
    case nothing
    /// The client is gone, or the socket failed, with no request to answer.
    case closed
    /// A whole request: taking `kernelBytes` from the socket completes it (after what the
    /// connection has buffered already). `head` is nil when the connection had parsed it
    /// before; `headBytes` is its size on the wire either way.
    case whole(head: HTTPRequestHead?, body: [UInt8], parser: HTTPRequestParser, kernelBytes: Int, headBytes: Int)
    /// Malformed or over a limit: read it as usual, to answer the error and close.
    case malformed
    /// Not whole yet. Reading what is there would buffer `available` bytes; `declared`, once
    /// the head is complete and has a `Content-Length`, is what the whole request will hold.
    case partial(available: Int, declared: Int?)

    /// Peeks into `buffer` and parses, on a copy of `parser`, what the connection has buffered
    /// (`pending`) followed by what the kernel holds. `headBytes`: the size of the head the
    /// connection has parsed already, if its request is past its head.
    static func peek(_ fd: Int32, into buffer: inout [UInt8], parser: HTTPRequestParser, pending: ArraySlice<UInt8>,
                     headBytes: Int?) -> HTTPRequestPeek {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_PEEK)) }
        if count == 0 { return .closed }
        if count < 0 { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .nothing : .closed }
        if pending.isEmpty { return probe(buffer[0..<count], parser: parser, pending: 0, headBytes: headBytes) }
        return probe((Array(pending) + buffer[0..<count])[...], parser: parser, pending: pending.count, headBytes: headBytes)
    }

    private static func probe(_ bytes: ArraySlice<UInt8>, parser: HTTPRequestParser, pending: Int, headBytes: Int?) -> HTTPRequestPeek {
        var probe = parser
        var index = bytes.startIndex
        var head: HTTPRequestHead?
        var headBytes = headBytes
        while true {
            let start = index
            switch probe.parse(bytes, from: &index) {
            case .needMoreData:
                var declared: Int?
                if let headBytes, case .contentLength(let length) = probe.framing { declared = headBytes + length }
                return .partial(available: bytes.count - pending, declared: declared)
            case .head(let parsed):
                head = parsed
                headBytes = index - start
            case .body(let body):
                guard let headBytes else { return .malformed }  // cannot happen: a body comes after its head
                return .whole(head: head, body: body, parser: probe, kernelBytes: index - bytes.startIndex - pending,
                              headBytes: headBytes)
            case .bodyPart:
                // A streamed body: read as it comes, its handler taking it piece by piece.
                return .partial(available: bytes.count - pending, declared: nil)
            case .failure:
                return .malformed
            }
        }
    }
}
