import HTTP

/// The error renderer of the tests' stand-in application: the server's own errors in a JSON
/// shape, `{"status":"error","code":"…","message":"…","data":{}}` (a `503` with
/// `Retry-After: 1`), so the tests can tell from a response which ``HTTPProtocolError/Kind``
/// the server reported. The server itself renders no JSON: an application supplies this.
enum TestErrorResponse {
    @Sendable
    static func json(_ error: HTTPProtocolError) -> HTTPResponse {
        var response = HTTPResponse.json(
            status: error.status, #"{"status":"error","code":"\#(code(error.kind))","message":"\#(error.message)","data":{}}"#)
        if error.status == .serviceUnavailable { response.headers.set("Retry-After", "1") }
        return response
    }

    static func code(_ kind: HTTPProtocolError.Kind) -> String {
        switch kind {
        case .malformed, .versionNotSupported, .transferCodingNotImplemented: "invalid_parameter"
        case .headersTooLarge: "headers_too_large"
        case .payloadTooLarge: "payload_too_large"
        case .requestTimeout: "request_timeout"
        case .connectionLimit, .handlerTimeout, .overloaded: "unavailable"
        case .internalError: "internal"
        }
    }
}
