import Codecs
import XCTest

final class WhiteSpaceTests: XCTestCase {
    func testSpacesAndTabsAreHTTPsOptionalWhiteSpaceOnly() {
        XCTAssertEqual(" \t chunked \t".trimming(.spacesAndTabs), "chunked")
        XCTAssertEqual("\r\nvalue\n".trimming(.spacesAndTabs), "\r\nvalue\n", "line breaks are not OWS")
        XCTAssertEqual("\u{00A0}x\u{00A0}".trimming(.spacesAndTabs), "\u{00A0}x\u{00A0}")
        XCTAssertEqual(" \t ".trimming(.spacesAndTabs), "")
        XCTAssertEqual("".trimming(.spacesAndTabs), "")
        XCTAssertEqual(" a b ".trimming(.spacesAndTabs), "a b", "inner spaces stay")
        XCTAssertEqual(Substring(" é ").trimming(.spacesAndTabs), "é")
    }

    func testUnicodeWhiteSpaceIncludesNoBreakAndIdeographicSpaces() {
        XCTAssertEqual("\u{00A0}\u{3000}Ann\u{2003}\n".trimming(.unicode), "Ann")
        XCTAssertEqual("\u{200B}Ann".trimming(.unicode), "\u{200B}Ann", "a zero-width space is not White_Space")
        XCTAssertEqual("plain".trimming(.unicode), "plain")
        XCTAssertEqual(" \u{301}x".trimming(.unicode), "\u{301}x", "scalars, not characters, are trimmed")
    }

    func testNewlinesAndSpacesAreTrimmedFromTheEndOnly() {
        XCTAssertEqual("FATAL:  no such role\n".trimmingEnd(.newlinesAndSpaces), "FATAL:  no such role")
        XCTAssertEqual("\nmessage \r\n\u{0B}\u{0C}\u{85}\u{2028}\u{2029} ".trimmingEnd(.newlinesAndSpaces), "\nmessage")
        XCTAssertEqual("message\t".trimmingEnd(.newlinesAndSpaces), "message\t", "a tab is not a line break")
        XCTAssertEqual("\n \n".trimmingEnd(.newlinesAndSpaces), "")
    }

    func testEachSetAgreesWithItsDefinitionOnEveryScalarAtEitherEnd() {
        let newlines: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029, 0x20]
        for value in UInt32(0)...0x3100 {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let text = "\(scalar)x\(scalar)"
            let isOWS = value == 0x20 || value == 0x09
            XCTAssertEqual(text.trimming(.spacesAndTabs), isOWS ? "x" : Substring(text), "U+\(value)")
            XCTAssertEqual(text.trimming(.unicode), scalar.properties.isWhitespace ? "x" : Substring(text), "U+\(value)")
            XCTAssertEqual(text.trimmingEnd(.newlinesAndSpaces), newlines.contains(value) ? "\(scalar)x" : Substring(text), "U+\(value)")
        }
    }

    func testBytesAreTrimmedOfTheSetsASCIIMembersOnly() {
        XCTAssertEqual(Array(Array(" \tvalue\t ".utf8).trimming(.spacesAndTabs)), Array("value".utf8))
        XCTAssertEqual(Array(Array("\u{00A0}v".utf8).trimming(.unicode)), Array("\u{00A0}v".utf8), "no byte of a longer character")
        XCTAssertEqual(Array(Array("\r\nv\n".utf8).trimming(.unicode)), Array("v".utf8))
        XCTAssertEqual(Array(Array("   ".utf8)[1...].trimming(.spacesAndTabs)), [])
    }
}
