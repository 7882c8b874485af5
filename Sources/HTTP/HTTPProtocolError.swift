/// A request the server answers itself, without calling the handler: malformed, too large,
/// too slow, or arriving when the server is full. Each maps to one status and one stable
/// `code` from the API's list (a malformed request, an unsupported version or transfer coding
/// are all `invalid_parameter`: the request itself is the bad input). The connection is
/// closed afterwards, since the byte stream can no longer be trusted to be at a request boundary
/// (except after ``handlerTimeout``, which comes once the request was read whole).
public struct HTTPProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    public let status: HTTPStatus
    /// Machine-readable, as in the API's error bodies: `invalid_parameter`, `headers_too_large`, …
    public let code: String
    /// For people: what was wrong, never an echo of the request's bytes.
    public let message: String

    public var description: String { "\(status) \(code): \(message)" }

    public static func badRequest(_ message: String) -> HTTPProtocolError {
        HTTPProtocolError(status: 400, code: "invalid_parameter", message: message)
    }

    public static let headersTooLarge = HTTPProtocolError(
        status: 431, code: "headers_too_large", message: "The request line and headers are too large.")
    public static let payloadTooLarge = HTTPProtocolError(
        status: 413, code: "payload_too_large", message: "The request body is too large.")
    public static let requestTimeout = HTTPProtocolError(
        status: 408, code: "request_timeout", message: "The request was not received in time.")
    public static let versionNotSupported = HTTPProtocolError(
        status: 505, code: "invalid_parameter", message: "Only HTTP/1.0 and HTTP/1.1 are supported.")
    public static let transferCodingNotImplemented = HTTPProtocolError(
        status: 501, code: "invalid_parameter", message: "Only the chunked transfer coding is supported.")
    public static let unavailable = HTTPProtocolError(
        status: 503, code: "unavailable", message: "The server is at its connection limit; try again shortly.")
    /// The handler did not answer within ``HTTPServerConfiguration/handlerTimeout``. Unlike the
    /// others, this one keeps the connection open: the request was read whole, so the stream is
    /// at a request boundary.
    public static let handlerTimeout = HTTPProtocolError(
        status: 503, code: "unavailable", message: "The request took too long to handle; try again shortly.")
    /// The server's buffer budget is short and this connection has held part of a request
    /// longest: it is closed to make room (``HTTPBufferBudget``).
    public static let overloaded = HTTPProtocolError(
        status: 503, code: "unavailable", message: "The server is short of memory for unfinished requests; try again shortly.")
    public static let internalError = HTTPProtocolError(
        status: 500, code: "internal", message: "An unexpected error occurred.")
}
