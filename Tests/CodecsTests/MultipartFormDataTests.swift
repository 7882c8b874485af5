import Codecs
import XCTest

/// multipart/form-data bodies (RFC 7578, RFC 2046 §5.1.1), parsed on their own: exact
/// boundary lines, quoted parameters, file parts refused naming their field (the body as a
/// whole otherwise). Through the API they are `400`s: RequestParametersTests.
final class MultipartFormDataTests: XCTestCase {
    private func parameters(_ body: String, boundary: String = "abc") throws(BodyDecodingError) -> [String: String] {
        let fields = try MultipartFormData.parse(Array(body.utf8), boundary: boundary)
        XCTAssertEqual(Set(fields.map(\.0)).count, fields.count, "no field twice here")
        return Dictionary(fields, uniquingKeysWith: { first, _ in first })
    }

    private func refusal(_ body: String, boundary: String = "abc") -> BodyDecodingError? {
        do {
            _ = try parameters(body, boundary: boundary)
            return nil
        } catch {
            return error
        }
    }

    func testABoundaryLineMustMatchExactly() throws {
        // `--abcdef` is neither the delimiter `--abc` nor its close: it is content.
        let body = "--abc\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nfirst\r\n--abcdef\r\nsecond\r\n--abc--\r\n"
        XCTAssertEqual(try parameters(body)["note"], "first\r\n--abcdef\r\nsecond")
        XCTAssertEqual(refusal("--abcdef\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nx@example.com\r\n--abcdef--\r\n")?.message,
                       "The multipart body does not contain its boundary.", "a longer boundary is not ours")
        XCTAssertEqual(refusal("--abc\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nx@example.com\r\n--abcd--\r\n")?.message,
                       "A multipart part is not closed by the boundary.")
        // Not at the start of a line: content too.
        let inline = "--abc\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nx--abc\r\n--abc--"
        XCTAssertEqual(try parameters(inline)["note"], "x--abc")
    }

    func testPreambleEpilogueAndTransportPaddingAreAllowed() throws {
        let body = "a preamble\r\n--abc \t\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\np@example.com\r\n--abc--\r\nan epilogue"
        XCTAssertEqual(try parameters(body)["email"], "p@example.com")
        XCTAssertEqual(try parameters("--abc--\r\n")["email"], nil, "no parts at all")
    }

    func testAQuotedParameterKeepsItsSemicolonsAndEscapes() throws {
        let body = """
            --abc\r\nContent-Disposition: form-data; name="a;b"\r\n\r\nsemicolon\r\n\
            --abc\r\nContent-Disposition: form-data; note="; name=email; x="; name="first_name"\r\n\r\nSemi\r\n\
            --abc\r\nContent-Disposition: FORM-DATA; NAME="esc\\"aped"\r\n\r\nquote\r\n--abc--\r\n
            """
        let parsed = try parameters(body)
        XCTAssertEqual(parsed["a;b"], "semicolon")
        XCTAssertEqual(parsed["first_name"], "Semi")
        XCTAssertNil(parsed["email"], "a name inside a quoted value is not a parameter")
        XCTAssertEqual(parsed["esc\"aped"], "quote")
    }

    func testAFilePartIsRefusedNamingItsField() {
        for disposition in [#"form-data; name="photo"; filename="me.jpg""#, #"form-data; filename*=UTF-8''me.jpg; name=photo"#,
                            #"form-data; name="photo"; filename="""#] {
            let body = "--abc\r\nContent-Disposition: \(disposition)\r\nContent-Type: image/jpeg\r\n\r\n\u{1}binary\r\n--abc--\r\n"
            XCTAssertEqual(refusal(body), .field("photo", "photo is a file: file uploads are not accepted, only text fields."), disposition)
        }
    }

    func testMalformedDispositionsAreRefusedNamingTheBody() {
        let cases: [(String, String)] = [
            (#"form-data; name="unterminated"#, "A multipart part's Content-Disposition header is malformed."),
            (#"form-data; name"#, "A multipart part's Content-Disposition header is malformed."),
            (#"form-data name="x""#, "A multipart part's Content-Disposition header is malformed."),
            (#"attachment; name="email""#, "A multipart part has no form-data name."),
            (#"form-data; name="""#, "A multipart part has no form-data name."),
            (#"form-data"#, "A multipart part has no form-data name."),
        ]
        for (disposition, message) in cases {
            XCTAssertEqual(refusal("--abc\r\nContent-Disposition: \(disposition)\r\n\r\nv\r\n--abc--\r\n"), .malformed(message), disposition)
        }
        XCTAssertEqual(refusal("--abc\r\n\r\nno headers\r\n--abc--")?.message, "A multipart part has no form-data name.")
        XCTAssertEqual(refusal("--abc\r\nContent-Disposition: form-data; name=x\r\n--abc--")?.message, "A multipart part has no end of headers.")
    }
}
