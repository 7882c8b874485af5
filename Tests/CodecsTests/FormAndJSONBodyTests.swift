import Codecs
import XCTest

/// `application/x-www-form-urlencoded` on its own: pairs in order, `+` and `%XX`, UTF-8.
final class FormURLEncodingTests: XCTestCase {
    private func pairs(_ text: String) throws(BodyDecodingError) -> [String] {
        try FormURLEncoding.parse(text.utf8, source: "form body").map { "\($0.0)=\($0.1)" }
    }

    func testPairsKeepTheirOrderAndDecodePlusAndPercentEscapes() throws {
        XCTAssertEqual(try pairs("b=2&a=1&&c"), ["b=2", "a=1", "c="])
        XCTAssertEqual(try pairs("name=Ann+Lee&email=a%40b.co&mixed=%c3%A9"), ["name=Ann Lee", "email=a@b.co", "mixed=é"])
        XCTAssertEqual(try pairs("k%3Dey=v%26alue=more"), ["k=ey=v&alue=more"])
        XCTAssertEqual(try pairs(""), [])
    }

    func testABadEscapeOrInvalidUTF8IsRefusedNamingTheSource() {
        for text in ["a=%ZZ", "a=%4", "a=%", "%G0=1"] {
            XCTAssertThrowsError(try FormURLEncoding.parse(text.utf8, source: "query string"), text) { error in
                XCTAssertEqual(error as? BodyDecodingError, .malformed("The query string has a malformed percent-escape."), text)
            }
        }
        for bytes: [UInt8] in [Array("e=%C3%28".utf8), [0x65, 0x3d, 0xc3, 0x28]] {
            XCTAssertThrowsError(try FormURLEncoding.parse(bytes, source: "form body")) { error in
                XCTAssertEqual(error as? BodyDecodingError, .malformed("The form body is not valid UTF-8."))
            }
        }
    }
}

/// The one JSON body shape: a flat object of strings, numbers and nulls.
final class FlatJSONObjectTests: XCTestCase {
    private func members(_ text: String) throws(BodyDecodingError) -> [String] {
        try FlatJSONObject.parse(Array(text.utf8)).map { "\($0.0)=\($0.1 ?? "<null>")" }
    }

    private func refusal(_ bytes: [UInt8]) -> BodyDecodingError? {
        do {
            _ = try FlatJSONObject.parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    func testStringsNumbersAndNullsAreReadAsWritten() throws {
        XCTAssertEqual(try members(#" { "email" : "a@b.co", "phone": 15550001234, "n": -1.5e+3, "z": 0, "gone": null } "#),
                       ["email=a@b.co", "phone=15550001234", "n=-1.5e+3", "z=0", "gone=<null>"])
        XCTAssertEqual(try members(#"{"e":"q\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"}"#), ["e=q\"\\/\u{08}\u{0C}\n\r\té😀"])
        XCTAssertEqual(try members("{}"), [])
        XCTAssertEqual(try members(#"{"a":"1","a":"2"}"#), ["a=1", "a=2"], "repeats are the caller's to judge")
    }

    func testAnythingElseIsRefusedNamingTheBodyOrTheMember() {
        let malformed: [(String, String)] = [
            ("[1,2]", "The JSON body must be an object."),
            (#"{"email": "a@b.co""#, "Expected ',' or '}' in the JSON object."),
            (#"{"email": "a@b.co"} trailing"#, "Unexpected text after the JSON object."),
            (#"{"a" 1}"#, "Expected ':' after a member name."),
            (#"{"a": nul}"#, "Malformed JSON value for a."),
            (#"{"a": 01}"#, "Expected ',' or '}' in the JSON object."),
            (#"{"a": 1.}"#, "Malformed JSON number."),
            (#"{"a": "\x"}"#, "Invalid escape in a JSON string."),
            (#"{"a": "\u12G4"}"#, #"Invalid \u escape."#),
            (#"{"a": "\u12"#, #"Truncated \u escape."#),
            (#"{"a": "\uD800"}"#, "Lone surrogate in a JSON string."),
            ("{\"a\": \"tab\there\"}", "Unescaped control character in a JSON string."),
            (#"{"a": "open"#, "Unterminated JSON string."),
            (#"{1: 2}"#, "Expected a JSON string."),
        ]
        for (text, message) in malformed {
            XCTAssertEqual(refusal(Array(text.utf8)), .malformed(message), text)
        }
        XCTAssertEqual(refusal([0x7b, 0x22, 0x65, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), .malformed("The JSON body is not valid UTF-8."))
        XCTAssertEqual(refusal(Array(#"{"email": {"nested": 1}}"#.utf8)),
                       .field("email", "email must be a string, a number or null, not an object or array."))
        XCTAssertEqual(refusal(Array(#"{"email": ["a"]}"#.utf8)),
                       .field("email", "email must be a string, a number or null, not an object or array."))
        XCTAssertEqual(refusal(Array(#"{"ok": false}"#.utf8)), .field("ok", "ok must be a string, a number or null, not a boolean."))
    }
}
