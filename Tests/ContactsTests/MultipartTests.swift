import Contacts
import Foundation
import HTTP
import TestSupport
import XCTest

/// The same rules through the server: what is refused writes nothing.
final class MultipartRequestTests: ContactsTestCase {
    private func post(boundary: String, _ body: String) throws -> RawHTTPClient.Response {
        try call("POST", "/crm/1", key: keyA, body: .raw(contentType: "multipart/form-data; boundary=\(boundary)", bytes: Array(body.utf8)))
    }

    func testALongerBoundaryLineIsContentNotAPart() throws {
        // Before the fix, `--abcdef` opened a part, and email came twice with different values.
        let response = try post(boundary: "abc", """
            --abcdef\r\nContent-Disposition: form-data; name="email"\r\n\r\nwrong@example.com\r\n\
            --abc\r\nContent-Disposition: form-data; name="email"\r\n\r\nright@example.com\r\n--abc--\r\n
            """)
        XCTAssertEqual(response.status, 201, response.bodyText)
        XCTAssertEqual(contact(response)["contact_email"] as? String, "right@example.com")
        XCTAssertEqual(try contactCount(), 1)
    }

    func testAQuotedSemicolonDoesNotSplitTheDisposition() throws {
        let response = try post(boundary: "abc", """
            --abc\r\nContent-Disposition: form-data; name="email"\r\n\r\nq@example.com\r\n\
            --abc\r\nContent-Disposition: form-data; note="; name=email; x="; name="first_name"\r\n\r\nSemi\r\n--abc--\r\n
            """)
        XCTAssertEqual(response.status, 201, response.bodyText)
        XCTAssertEqual(contact(response)["contact_email"] as? String, "q@example.com")
        XCTAssertEqual(contact(response)["contact_first_name"] as? String, "Semi")
    }

    func testAFileUploadIs400NamingTheFieldAndWritesNothing() throws {
        let response = try post(boundary: "abc", """
            --abc\r\nContent-Disposition: form-data; name="email"\r\n\r\nf@example.com\r\n\
            --abc\r\nContent-Disposition: form-data; name="last_name"; filename="cv.txt"\r\n\r\nDoe\r\n--abc--\r\n
            """)
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(response.json["code"] as? String, "invalid_parameter")
        XCTAssertEqual(response.json["parameter"] as? String, "last_name")
        XCTAssertEqual(response.json["message"] as? String, "last_name is a file: file uploads are not accepted, only text fields.")
        XCTAssertEqual(try contactCount(), 0)
    }
}
