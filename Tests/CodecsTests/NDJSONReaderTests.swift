import Codecs
import XCTest

/// NDJSON as imports read it (API.md §12): one flat JSON object per line, a bad line reported
/// in its place without stopping the rest, the same records whatever the pieces.
final class NDJSONReaderTests: XCTestCase {
    func read(_ text: String, maxLineBytes: Int = 65_536) -> [NDJSONReader.Record] {
        var reader = NDJSONReader(maxLineBytes: maxLineBytes)
        return reader.feed(Array(text.utf8)) + reader.finish()
    }

    func testEachLineIsAnObjectAndABadLineDoesNotStopTheOthers() {
        let records = read("{\"email\":\"a@example.com\",\"first_name\":\"Zoë\"}\r\n\n{\"phone\":null}\n[1]\n{\"email\":\"b@example.com\"}")
        XCTAssertEqual(records.count, 4)
        XCTAssertEqual(records[0], .members([.init("email", "a@example.com"), .init("first_name", "Zoë")]))
        XCTAssertEqual(records[1], .members([.init("phone", nil)]))
        guard case let .malformed(why) = records[2] else { return XCTFail("\(records[2])") }
        XCTAssertTrue(why.hasPrefix("the line is not one JSON object"), why)
        XCTAssertEqual(records[3], .members([.init("email", "b@example.com")]), "the last line needs no line end")
        XCTAssertEqual(read("{\"email\":\"x\"}\n", maxLineBytes: 5), [.malformed("the line is longer than 5 bytes")])
        XCTAssertEqual(read(" \t\n\n"), [])
    }

    func testPiecesOfAnySizeGiveTheSameRecords() {
        let text = Array("{\"a\":\"1\"}\n{\"b\":2,\"c\":true}\r\nnot json\n{\"d\":\"x\\ny\"}".utf8)
        var whole = NDJSONReader()
        let expected = whole.feed(text) + whole.finish()
        for size in 1...9 {
            var reader = NDJSONReader()
            var records: [NDJSONReader.Record] = []
            for start in stride(from: 0, to: text.count, by: size) {
                records += reader.feed(text[start..<min(text.count, start + size)])
            }
            XCTAssertEqual(records + reader.finish(), expected, "pieces of \(size)")
        }
        XCTAssertEqual(expected.count, 4)
    }
}
