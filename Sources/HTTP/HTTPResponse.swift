/// What a handler answers. The server adds `Content-Length`, `Date` and, when it will close the
/// connection, `Connection: close`; for `HEAD` it sends the head without the body.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Writes the body piece by piece instead of ``body`` (which is then ignored): the server
    /// sends it with chunked transfer coding, running this once the head is on its way, and
    /// each write returns once the client's socket took it. A producer that throws cuts the
    /// response short (the connection closes: the client sees an unfinished body).
    public var bodyWriter: (@Sendable (HTTPResponseBodyWriter) async throws -> Void)?

    public init(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response whose body `produce` writes as it goes (``bodyWriter``).
    public static func streamed(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(),
                                _ produce: @escaping @Sendable (HTTPResponseBodyWriter) async throws -> Void) -> HTTPResponse {
        var response = HTTPResponse(status: status, headers: headers)
        response.bodyWriter = produce
        return response
    }

    /// A response whose body is `json`, with `Content-Type: application/json; charset=utf-8`.
    public static func json(status: HTTPStatus, _ json: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var headers = headers
        headers.set("Content-Type", "application/json; charset=utf-8")
        return HTTPResponse(status: status, headers: headers, body: Array(json.utf8))
    }
}
