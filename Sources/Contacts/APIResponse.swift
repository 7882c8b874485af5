import HTTP
import Operations

/// Builds the API's response bodies: `{"status":"success","message":…,"data":{…}}` for
/// success, ``APIError/rendered`` for errors; always `application/json; charset=utf-8`.
public enum APIResponse {
    static func success(_ status: Int, _ message: String, data dataMembers: String) -> HTTPResponse {
        var body = successOpening(message)
        body.append(contentsOf: dataMembers.utf8)
        body.append(contentsOf: "}}".utf8)
        return json(status, body)
    }

    /// A success whose `data` holds `name` set to `value`, JSON text already encoded as UTF-8
    /// (a page of contacts: copied once into the body, never through a `String`), then `rest`.
    static func success(_ status: Int, _ message: String, dataMember name: String, value: [UInt8], rest: String) -> HTTPResponse {
        var body = successOpening(message)
        body.reserveCapacity(body.count + name.utf8.count + value.count + rest.utf8.count + 5)
        body.append(contentsOf: (JSONText.quoted(name) + ":").utf8)
        body.append(contentsOf: value)
        body.append(contentsOf: rest.utf8)
        body.append(contentsOf: "}}".utf8)
        return json(status, body)
    }

    /// `{"status":"success","message":…,"data":{` — a success body up to its data members.
    private static func successOpening(_ message: String) -> [UInt8] {
        Array((#"{"status":"success","message":"# + JSONText.quoted(message) + #","data":{"#).utf8)
    }

    static func error(_ error: APIError) -> HTTPResponse {
        var response = json(error.status, error.rendered)
        switch error.status {
        case 405: response.headers.add("Allow", ContactsAPI.contactsRoute.allow)  // other routes set their own
        case 503: response.headers.add("Retry-After", "1")
        case 429: break  // Retry-After comes from the key's bucket
        default: break
        }
        return response
    }

    static func json(_ status: Int, _ body: String) -> HTTPResponse {
        json(status, Array(body.utf8))
    }

    static func json(_ status: Int, _ body: [UInt8]) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/json; charset=utf-8")
        return HTTPResponse(status: HTTPStatus(code: status), headers: headers, body: body)
    }

    /// The HTTP server's own errors (400, 408, 413, 431, 503, …) in the same shape.
    @Sendable
    public static func protocolError(_ error: HTTPProtocolError) -> HTTPResponse {
        Self.error(APIError(status: error.status.code, code: code(for: error.kind), message: error.message))
    }

    /// The contract's code for each of the server's own errors: a malformed request, an
    /// unsupported version or transfer coding are all `invalid_parameter` (the request itself
    /// is the bad input); every `503` is `unavailable`.
    static func code(for kind: HTTPProtocolError.Kind) -> APIError.Code {
        switch kind {
        case .malformed, .versionNotSupported, .transferCodingNotImplemented: .invalidParameter
        case .headersTooLarge: .headersTooLarge
        case .payloadTooLarge: .payloadTooLarge
        case .requestTimeout: .requestTimeout
        case .connectionLimit, .handlerTimeout, .overloaded: .unavailable
        case .internalError: .internal
        }
    }
}
