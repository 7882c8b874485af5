import Codecs
import HTTP

/// Builds the API's response bodies: `{"status":"success","message":…,"data":{…}}` for
/// success, ``APIError/body`` for errors; always `application/json; charset=utf-8`.
public enum APIResponse {
    /// A success whose `data` members `writeData` writes (none: `"data":{}`). `capacity`: the
    /// bytes the members will take, when known (a page of contacts), so the body grows once.
    static func success(_ status: Int, _ message: String, capacity: Int = 0,
                        data writeData: (inout JSONWriter) -> Void = { _ in }) -> HTTPResponse {
        var writer = JSONWriter(capacity: 64 + message.utf8.count + capacity)
        writer.beginObject()
        writer.key("status")
        writer.string("success")
        writer.key("message")
        writer.string(message)
        writer.key("data")
        writer.beginObject()
        writeData(&writer)
        writer.endObject()
        writer.endObject()
        return json(status, writer.bytes)
    }

    static func error(_ error: APIError) -> HTTPResponse {
        var response = json(error.status, error.body)
        if let allow = error.allow { response.headers.add("Allow", allow) }
        if let seconds = error.retryAfterSeconds {
            response.headers.add("Retry-After", String(seconds))
        } else if error.status == 503 {
            response.headers.add("Retry-After", "1")
        }
        return response
    }

    static func json(_ status: Int, _ body: [UInt8]) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/json; charset=utf-8")
        return HTTPResponse(status: HTTPStatus(code: status), headers: headers, body: body)
    }

    /// The HTTP server's own errors (400, 408, 413, 431, 503, …) in the same shape.
    @Sendable
    public static func protocolError(_ error: HTTPProtocolError) -> HTTPResponse {
        Self.error(RequestFailure(error).answer)
    }
}
