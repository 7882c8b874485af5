/// What a handler answers. The server adds `Content-Length`, `Date` and, when it will close the
/// connection, `Connection: close`; for `HEAD` it sends the head without the body.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response whose body is `json`, with `Content-Type: application/json; charset=utf-8`.
    public static func json(status: HTTPStatus, _ json: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var headers = headers
        headers.set("Content-Type", "application/json; charset=utf-8")
        return HTTPResponse(status: status, headers: headers, body: Array(json.utf8))
    }
}
