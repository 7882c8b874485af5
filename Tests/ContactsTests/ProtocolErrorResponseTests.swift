import Contacts
import HTTP
import XCTest

/// The HTTP server's own errors as the API renders them (``APIResponse/protocolError(_:)``):
/// the server reports a kind, the API chooses the envelope and the contract's code.
final class ProtocolErrorResponseTests: XCTestCase {
    func testEveryKindRendersTheAPIsErrorEnvelopeByteForByte() {
        let cases: [(HTTPProtocolError, String)] = [
            (.malformed("Malformed request line."),
             #"{"status":"error","code":"invalid_parameter","message":"Malformed request line.","data":{}}"#),
            (.headersTooLarge,
             #"{"status":"error","code":"headers_too_large","message":"The request line and headers are too large.","data":{}}"#),
            (.payloadTooLarge, #"{"status":"error","code":"payload_too_large","message":"The request body is too large.","data":{}}"#),
            (.requestTimeout, #"{"status":"error","code":"request_timeout","message":"The request was not received in time.","data":{}}"#),
            (.versionNotSupported,
             #"{"status":"error","code":"invalid_parameter","message":"Only HTTP/1.0 and HTTP/1.1 are supported.","data":{}}"#),
            (.transferCodingNotImplemented,
             #"{"status":"error","code":"invalid_parameter","message":"Only the chunked transfer coding is supported.","data":{}}"#),
            (.connectionLimit,
             #"{"status":"error","code":"unavailable","message":"The server is at its connection limit; try again shortly.","data":{}}"#),
            (.handlerTimeout,
             #"{"status":"error","code":"unavailable","message":"The request took too long to handle; try again shortly.","data":{}}"#),
            (.overloaded, #"{"status":"error","code":"unavailable","message":"The server is short of memory for unfinished requests; try again shortly.","data":{}}"#),
            (.internalError, #"{"status":"error","code":"internal","message":"An unexpected error occurred.","data":{}}"#),
        ]
        for (error, body) in cases {
            let response = APIResponse.protocolError(error)
            XCTAssertEqual(response.status, error.status, body)
            XCTAssertEqual(String(decoding: response.body, as: UTF8.self), body)
            var expected = [("Content-Type", "application/json; charset=utf-8")]
            if error.status == 503 { expected.append(("Retry-After", "1")) }
            XCTAssertEqual(Array(response.headers).map { "\($0.0): \($0.1)" }, expected.map { "\($0.0): \($0.1)" }, body)
        }
    }
}
