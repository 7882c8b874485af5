import Codecs

/// An incremental HTTP/1.1 request parser (RFC 9112): feed it the connection's input buffer as
/// bytes arrive and it reports a complete head, then the complete body, one request at a time.
///
/// It never calls out, allocates per byte or trusts lengths it has not checked, and it is what
/// the fuzzer drives (`Sources/HTTPParserFuzzer`). Choices where the RFC leaves room:
/// - A bare LF ends a line like CRLF does (§2.2 allows it; nginx does the same). A CR anywhere
///   else is a control character and a `400`.
/// - Empty lines before the request line are skipped (§2.2).
/// - Strict where laxness enables request smuggling: `Transfer-Encoding` together with
///   `Content-Length`, differing `Content-Length`s, obs-fold, white space before a header's
///   colon, non-token characters, a chunk size over 16 hex digits → `400`; a transfer coding
///   other than `chunked` → `501`; a version other than 1.0/1.1 → `505`.
public struct HTTPRequestParser: Sendable {
    /// The size limits, checked before bytes beyond them are buffered.
    public struct Limits: Sendable {
        /// Request line plus header fields (and, for chunked bodies, the trailer section).
        public var maxHeadBytes: Int
        public var maxBodyBytes: Int
        /// Which requests have their body streamed to the handler as it arrives
        /// (``Event/bodyPart(_:)``) instead of gathered whole, and their limit (nil: not streamed).
        public var streamedBodyLimit: (@Sendable (HTTPRequestHead) -> Int?)?

        public init(maxHeadBytes: Int = 16 * 1024, maxBodyBytes: Int = 64 * 1024,
                    streamedBodyLimit: (@Sendable (HTTPRequestHead) -> Int?)? = nil) {
            self.maxHeadBytes = maxHeadBytes
            self.maxBodyBytes = maxBodyBytes
            self.streamedBodyLimit = streamedBodyLimit
        }
    }

    /// What the bytes so far amount to.
    public enum Event: Sendable {
        /// Not enough bytes for the next step.
        case needMoreData
        /// A request's head is complete; its body (if any) follows.
        case head(HTTPRequestHead)
        /// The body of the request whose head came last is complete (empty when it had none, and
        /// when it was streamed: its end).
        case body([UInt8])
        /// The next bytes of a streamed body (never empty); ``body(_:)`` marks its end.
        case bodyPart(ArraySlice<UInt8>)
        /// The request is malformed or over a limit; answer with this and close.
        case failure(HTTPProtocolError)
    }

    /// How the body of the current request is delimited (RFC 9112 §6.3).
    public enum BodyFraming: Sendable, Equatable {
        case none
        case contentLength(Int)
        case chunked
    }

    private enum State: Sendable {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(bytes: Int)
        case failed
    }

    public let limits: Limits
    private var state = State.head
    private var body: [UInt8] = []
    /// The current request's body is streamed (``Event/bodyPart(_:)``), up to this many bytes.
    private var streamLimit: Int?
    private var streamedBytes = 0
    /// Where the search for the end of the head resumes, relative to the parse position.
    private var headScanOffset = 0
    /// The framing of the current request, known once its head is parsed.
    public private(set) var framing = BodyFraming.none

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Bytes of body this parser holds until the request is complete (its buffer's capacity,
    /// which is what it costs): the server counts it against its memory budget.
    public var bufferedBodyBytes: Int { body.capacity }

    /// The current request's body is streamed to its handler rather than gathered.
    public var streamsBody: Bool { streamLimit != nil }

    /// True between requests: nothing of a next request has been parsed yet.
    public var isAtRequestBoundary: Bool {
        if case .head = state { return true }
        return false
    }

    /// Parses from `buffer[index...]`, advancing `index` past what it consumed.
    public mutating func parse(_ buffer: [UInt8], from index: inout Int) -> Event {
        parse(buffer[...], from: &index)
    }

    /// Parses from `buffer[index..<buffer.endIndex]` (indices are the slice's own, i.e. its
    /// base's): lets the server parse straight out of a read buffer it shares, copying nothing.
    public mutating func parse(_ buffer: ArraySlice<UInt8>, from index: inout Int) -> Event {
        switch state {
        case .failed:
            return .failure(.malformed("The connection is in an error state."))
        case .head:
            return parseHead(buffer, from: &index)
        case .fixedBody(let remaining):
            let available = min(remaining, buffer.endIndex - index)
            if streamLimit != nil, available > 0 {
                state = .fixedBody(remaining: remaining - available)
                index += available
                return .bodyPart(buffer[index - available..<index])
            }
            body.append(contentsOf: buffer[index..<index + available])
            index += available
            if available == remaining { return finishBody() }
            state = .fixedBody(remaining: remaining - available)
            return .needMoreData
        case .chunkSize, .chunkData, .chunkDataEnd, .trailers:
            return parseChunked(buffer, from: &index)
        }
    }

    // MARK: Head

    private mutating func parseHead(_ buffer: ArraySlice<UInt8>, from index: inout Int) -> Event {
        // Skip empty lines before the request line (RFC 9112 §2.2).
        while index < buffer.endIndex, buffer[index] == .lf || (buffer[index] == .cr && index + 1 < buffer.endIndex && buffer[index + 1] == .lf) {
            index += buffer[index] == .cr ? 2 : 1
        }
        guard let end = findHeadEnd(buffer, from: index) else {
            if buffer.endIndex - index > limits.maxHeadBytes { return fail(.headersTooLarge) }
            return .needMoreData
        }
        guard end - index <= limits.maxHeadBytes else { return fail(.headersTooLarge) }
        let headBytes = buffer[index..<end]
        index = end
        headScanOffset = 0
        switch HTTPHeadParser.parse(headBytes) {
        case .failure(let error):
            return fail(error)
        case .success(let head):
            streamLimit = limits.streamedBodyLimit?(head)
            streamedBytes = 0
            switch bodyFraming(of: head) {
            case .failure(let error):
                return fail(error)
            case .success(let framing):
                self.framing = framing
                body = []
                switch framing {
                case .none: state = .fixedBody(remaining: 0)
                case .contentLength(let length): state = .fixedBody(remaining: length)
                case .chunked: state = .chunkSize
                }
                return .head(head)
            }
        }
    }

    /// The index just past the empty line that ends the head, or nil if it has not arrived.
    private mutating func findHeadEnd(_ buffer: ArraySlice<UInt8>, from start: Int) -> Int? {
        var position = start + headScanOffset
        while position < buffer.endIndex {
            if buffer[position] == .lf {
                if position + 1 < buffer.endIndex, buffer[position + 1] == .lf { return position + 2 }
                if position + 2 < buffer.endIndex, buffer[position + 1] == .cr, buffer[position + 2] == .lf { return position + 3 }
                if position + 2 >= buffer.endIndex { break }  // the terminator may still be arriving
            }
            position += 1
        }
        headScanOffset = max(0, position - start)
        return nil
    }

    /// The current request's body limit: the streamed one, or the configured maximum.
    private var bodyLimit: Int { streamLimit ?? limits.maxBodyBytes }

    private func bodyFraming(of head: HTTPRequestHead) -> Result<BodyFraming, HTTPProtocolError> {
        let transferEncodings = head.headers.values(for: "Transfer-Encoding")
        let contentLengths = head.headers.values(for: "Content-Length")
        if !transferEncodings.isEmpty {
            guard contentLengths.isEmpty else {
                return .failure(.malformed("Content-Length and Transfer-Encoding must not both be sent."))
            }
            guard head.version == .http1_1 else {
                return .failure(.malformed("Transfer-Encoding is not allowed in HTTP/1.0."))
            }
            let codings = transferEncodings.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            guard codings.count == 1, HTTPHeaders.equalsIgnoringCase(codings[0].trimming(.spacesAndTabs), "chunked") else {
                return .failure(.transferCodingNotImplemented)
            }
            return .success(.chunked)
        }
        guard !contentLengths.isEmpty else { return .success(.none) }
        // "Content-Length: 5, 5" and repeated equal fields are one length (RFC 9110 §8.6).
        let values = contentLengths.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }.map { $0.trimming(.spacesAndTabs) }
        guard let first = values.first, values.allSatisfy({ $0 == first }) else {
            return .failure(.malformed("Conflicting Content-Length values."))
        }
        guard !first.isEmpty, first.utf8.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else {
            return .failure(.malformed("Content-Length is not a number."))
        }
        guard first.utf8.count <= 18, let length = Int(first), length <= bodyLimit else {
            return .failure(.payloadTooLarge)
        }
        return .success(length == 0 ? .none : .contentLength(length))
    }

    // MARK: Chunked body (RFC 9112 §7.1)

    private mutating func parseChunked(_ buffer: ArraySlice<UInt8>, from index: inout Int) -> Event {
        while true {
            switch state {
            case .chunkSize:
                guard let (line, next) = HTTPLines.nextLine(buffer, from: index, maxLength: 1024) else {
                    return buffer.endIndex - index > 1024 ? fail(.malformed("Chunk size line too long.")) : .needMoreData
                }
                guard let size = HTTPLines.chunkSize(line) else { return fail(.malformed("Malformed chunk size.")) }
                index = next
                if size == 0 {
                    state = .trailers(bytes: 0)
                } else {
                    guard size <= bodyLimit - body.count - streamedBytes else { return fail(.payloadTooLarge) }
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let available = min(remaining, buffer.endIndex - index)
                if streamLimit != nil, available > 0 {
                    state = available == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - available)
                    streamedBytes += available
                    index += available
                    return .bodyPart(buffer[index - available..<index])
                }
                body.append(contentsOf: buffer[index..<index + available])
                index += available
                guard available == remaining else {
                    state = .chunkData(remaining: remaining - available)
                    return .needMoreData
                }
                state = .chunkDataEnd
            case .chunkDataEnd:
                guard let (line, next) = HTTPLines.nextLine(buffer, from: index, maxLength: 2) else {
                    return buffer.endIndex - index >= 2 ? fail(.malformed("Chunk data not followed by CRLF.")) : .needMoreData
                }
                guard line.isEmpty else { return fail(.malformed("Chunk data longer than its size.")) }
                index = next
                state = .chunkSize
            case .trailers(let bytes):
                // Trailer fields are read and dropped; they count against the head limit.
                let budget = limits.maxHeadBytes - bytes
                guard let (line, next) = HTTPLines.nextLine(buffer, from: index, maxLength: budget) else {
                    return buffer.endIndex - index > budget ? fail(.headersTooLarge) : .needMoreData
                }
                index = next
                if line.isEmpty { return finishBody() }
                state = .trailers(bytes: bytes + line.count + 2)
            default:
                return .needMoreData
            }
        }
    }

    private mutating func finishBody() -> Event {
        let complete = body
        body = []
        state = .head
        framing = .none
        streamLimit = nil
        return .body(complete)
    }

    private mutating func fail(_ error: HTTPProtocolError) -> Event {
        state = .failed
        return .failure(error)
    }
}

extension UInt8 {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let colon = UInt8(ascii: ":")
}
