/// A request the server answers itself, without calling the handler: malformed, too large,
/// too slow, or arriving when the server is full. A typed value: its ``kind`` says what went
/// wrong, its ``status`` what HTTP answers; how the answer's body looks is the application's
/// choice (``HTTPServerConfiguration/errorResponse``), since the server knows nothing of an
/// API's error shape. The connection is closed afterwards, since the byte stream can no longer
/// be trusted to be at a request boundary (except after ``handlerTimeout``, which comes once
/// the request was read whole).
public struct HTTPProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Hashable {
        /// The request breaks HTTP/1.1's syntax or framing rules; the message says which.
        case malformed(String)
        /// The request line and header fields (or a chunked body's trailers) are over the limit.
        case headersTooLarge
        /// The body is over the limit (declared, or as chunks arrived).
        case payloadTooLarge
        /// The request was not received whole within the request timeout.
        case requestTimeout
        /// A version other than HTTP/1.0 and HTTP/1.1.
        case versionNotSupported
        /// A transfer coding other than `chunked`.
        case transferCodingNotImplemented
        /// The server is at its connection limit.
        case connectionLimit
        /// The handler did not answer within ``HTTPServerConfiguration/handlerTimeout``.
        case handlerTimeout
        /// The server's buffer budget is short and this connection has held part of a request
        /// longest: it is closed to make room (``HTTPBufferBudget``).
        case overloaded
        /// Something that cannot happen did: the server's own fault.
        case internalError
    }

    public let kind: Kind

    public init(_ kind: Kind) {
        self.kind = kind
    }

    /// The status the server answers with.
    public var status: HTTPStatus {
        switch kind {
        case .malformed: .badRequest
        case .headersTooLarge: .requestHeaderFieldsTooLarge
        case .payloadTooLarge: .contentTooLarge
        case .requestTimeout: .requestTimeout
        case .versionNotSupported: .httpVersionNotSupported
        case .transferCodingNotImplemented: .notImplemented
        case .connectionLimit, .handlerTimeout, .overloaded: .serviceUnavailable
        case .internalError: .internalServerError
        }
    }

    /// For people: what was wrong, never an echo of the request's bytes.
    public var message: String {
        switch kind {
        case .malformed(let message): message
        case .headersTooLarge: "The request line and headers are too large."
        case .payloadTooLarge: "The request body is too large."
        case .requestTimeout: "The request was not received in time."
        case .versionNotSupported: "Only HTTP/1.0 and HTTP/1.1 are supported."
        case .transferCodingNotImplemented: "Only the chunked transfer coding is supported."
        case .connectionLimit: "The server is at its connection limit; try again shortly."
        case .handlerTimeout: "The request took too long to handle; try again shortly."
        case .overloaded: "The server is short of memory for unfinished requests; try again shortly."
        case .internalError: "An unexpected error occurred."
        }
    }

    public var description: String { "\(status) \(message)" }

    public static func malformed(_ message: String) -> HTTPProtocolError { HTTPProtocolError(.malformed(message)) }
    public static let headersTooLarge = HTTPProtocolError(.headersTooLarge)
    public static let payloadTooLarge = HTTPProtocolError(.payloadTooLarge)
    public static let requestTimeout = HTTPProtocolError(.requestTimeout)
    public static let versionNotSupported = HTTPProtocolError(.versionNotSupported)
    public static let transferCodingNotImplemented = HTTPProtocolError(.transferCodingNotImplemented)
    public static let connectionLimit = HTTPProtocolError(.connectionLimit)
    /// Unlike the others, this one keeps the connection open: the request was read whole, so
    /// the stream is at a request boundary.
    public static let handlerTimeout = HTTPProtocolError(.handlerTimeout)
    public static let overloaded = HTTPProtocolError(.overloaded)
    public static let internalError = HTTPProtocolError(.internalError)
}
