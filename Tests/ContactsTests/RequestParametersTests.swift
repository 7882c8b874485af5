import Contacts
import HTTP
import XCTest

/// The codecs' refusals as the API answers them (the same `400 invalid_parameter`, naming the
/// field or `body`, with the codec's message), and the merge of query and body.
final class RequestParametersTests: XCTestCase {
    private func parameters(_ target: String = "/crm/1", type: String? = nil, _ body: [UInt8] = []) throws(APIError) -> RequestParameters {
        var headers = HTTPHeaders()
        if let type { headers.add("Content-Type", type) }
        let head = HTTPRequestHead(method: "POST", target: target, version: .http1_1, headers: headers)
        return try RequestParameters(HTTPRequest(head: head, body: body, peerAddress: "127.0.0.1"))
    }

    private func refusal(_ target: String = "/crm/1", type: String? = nil, _ body: String = "") -> APIError? {
        do {
            _ = try parameters(target, type: type, Array(body.utf8))
            return nil
        } catch {
            return error
        }
    }

    func testAMalformedBodyIsA400NamingTheBody() {
        let cases: [(String?, String, String, String)] = [
            (nil, "/crm/1?email=%ZZ", "", "The query string has a malformed percent-escape."),
            ("application/x-www-form-urlencoded", "/crm/1", "email=%C3%28", "The form body is not valid UTF-8."),
            ("application/json", "/crm/1", "[1]", "The JSON body must be an object."),
            ("multipart/form-data; boundary=xyz", "/crm/1", "no boundary here", "The multipart body does not contain its boundary."),
        ]
        for (type, target, body, message) in cases {
            let error = refusal(target, type: type, body)
            XCTAssertEqual(error, APIError(status: 400, code: .invalidParameter, message: message, parameter: "body"), message)
            XCTAssertEqual(error?.rendered,
                           #"{"status":"error","code":"invalid_parameter","message":"\#(message)","parameter":"body","data":{}}"#)
        }
    }

    func testARefusedFieldIsA400NamingTheField() {
        let file = "--abc\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"me.jpg\"\r\n\r\nx\r\n--abc--\r\n"
        XCTAssertEqual(refusal(type: "multipart/form-data; boundary=abc", file),
                       APIError(status: 400, code: .invalidParameter,
                                message: "photo is a file: file uploads are not accepted, only text fields.", parameter: "photo"))
        XCTAssertEqual(refusal(type: "application/json", #"{"email": true}"#),
                       APIError(status: 400, code: .invalidParameter,
                                message: "email must be a string, a number or null, not a boolean.", parameter: "email"))
    }

    func testQueryAndBodyMergeTrimmedAndAJSONNullIsAbsent() throws {
        let merged = try parameters("/crm/1?first_name=%C2%A0Ann+&limit=5", type: "application/json; charset=UTF-8",
                                    Array(#"{"first_name": "Ann", "email": null, "phone": 15550001234}"#.utf8))
        XCTAssertEqual(merged["first_name"], "Ann")
        XCTAssertNil(merged["email"])
        XCTAssertEqual(merged["phone"], "15550001234")
        XCTAssertEqual(merged["limit"], "5")
        XCTAssertEqual(refusal("/crm/1?email=a%40b.co", type: "application/x-www-form-urlencoded", "email=c%40d.co"),
                       APIError.invalid("email", "email is given twice with different values."))
        XCTAssertEqual(refusal(type: "text/plain", "email=a"), APIError.unsupportedMediaType)
    }
}
