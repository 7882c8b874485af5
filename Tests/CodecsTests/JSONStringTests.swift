import Codecs
import XCTest

/// A lone JSON string, as SQL returns a refused parameter's name.
final class JSONStringTests: XCTestCase {
    func testALoneStringIsDecodedWithItsEscapes() throws {
        XCTAssertEqual(try FlatJSONObject.parseString(Array(#""email""#.utf8)), "email")
        XCTAssertEqual(try FlatJSONObject.parseString(Array(#" "a\"b\u00e9" "#.utf8)), "a\"bé")
    }

    func testAnythingButOneStringIsRefused() {
        for text in ["email", #""email"x"#, "12", "null", #"{"a":"b"}"#, #""open"#, ""] {
            XCTAssertThrowsError(try FlatJSONObject.parseString(Array(text.utf8)), text)
        }
    }
}
