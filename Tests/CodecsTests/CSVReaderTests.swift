import Codecs
import XCTest

/// CSV as imports read it (RFC 4180, API.md §12): records from bytes fed in any pieces, a bad
/// record reported in its place without stopping the rest.
final class CSVReaderTests: XCTestCase {
    func read(_ text: String, maxRecordBytes: Int = 65_536) -> [CSVReader.Record] {
        read(Array(text.utf8), maxRecordBytes: maxRecordBytes)
    }

    func read(_ bytes: [UInt8], maxRecordBytes: Int = 65_536) -> [CSVReader.Record] {
        var reader = CSVReader(maxRecordBytes: maxRecordBytes)
        return reader.feed(bytes) + reader.finish()
    }

    func testFieldsQuotesAndLineEnds() {
        XCTAssertEqual(read("email,first_name\r\na@example.com,Ada\nb@example.com,\"Lovelace, Ada\"\n"), [
            .fields(["email", "first_name"]), .fields(["a@example.com", "Ada"]), .fields(["b@example.com", "Lovelace, Ada"]),
        ])
        XCTAssertEqual(read("\"say \"\"hi\"\"\",\"two\nlines\",\"\",,x"), [.fields(["say \"hi\"", "two\nlines", "", "", "x"])])
        XCTAssertEqual(read("a,b"), [.fields(["a", "b"])], "the last record needs no line end")
        XCTAssertEqual(read("a,b\r"), [.fields(["a", "b"])], "a CR at the very end ends the record")
        XCTAssertEqual(read("a\rb,c\n"), [.fields(["a\rb", "c"])], "a lone CR inside a line is data")
        XCTAssertEqual(read("Zoë,名前\n"), [.fields(["Zoë", "名前"])])
    }

    func testAByteOrderMarkAndEmptyLinesAreSkipped() {
        XCTAssertEqual(read([0xEF, 0xBB, 0xBF] + Array("email\n\nx@example.com\r\n\r\n".utf8)),
                       [.fields(["email"]), .fields(["x@example.com"])])
        XCTAssertEqual(read([0xEF, 0xBB]), [.malformed("a field is not UTF-8")], "half a mark is not one")
        XCTAssertEqual(read(""), [])
        XCTAssertEqual(read("\n\r\n"), [])
        XCTAssertEqual(read("\"\"\n,\n"), [.fields([""]), .fields(["", ""])], "an empty quoted field is a record")
    }

    func testABadRecordIsReportedInItsPlaceAndTheNextOnesAreRead() {
        XCTAssertEqual(read("a\"b,c\nd,e\n"), [.malformed("a quote inside an unquoted field"), .fields(["d", "e"])])
        XCTAssertEqual(read("\"a\"b,c\nd,e\n"), [
            .malformed("a closing quote followed by something other than a comma or the end of the record"), .fields(["d", "e"]),
        ])
        XCTAssertEqual(read([0x61, 0xFF, 0x2C, 0x62, 0x0A, 0x63, 0x0A]), [.malformed("a field is not UTF-8"), .fields(["c"])])
        XCTAssertEqual(read("ok\n\"never closed,x\ny\n"), [
            .fields(["ok"]), .malformed("a quoted field is not closed before the end of the input"),
        ])
        XCTAssertEqual(read("12345678\nabc\n", maxRecordBytes: 5), [.malformed("the record is longer than 5 bytes"), .fields(["abc"])])
        XCTAssertEqual(read("x\"y,\"long\nquoted\",z\nnext\n"), [.malformed("a quote inside an unquoted field"), .fields(["next"])],
                       "a quote opened in a skipped record hides its line ends until it closes")
    }

    func testPiecesOfAnySizeGiveTheSameRecords() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ab,\"\r\n é".utf8)
        for _ in 0..<300 {
            let bytes = (0..<Int.random(in: 0...60, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            let whole = read(bytes, maxRecordBytes: 20)
            var reader = CSVReader(maxRecordBytes: 20)
            var pieces: [CSVReader.Record] = []
            var index = 0
            while index < bytes.count {
                let end = min(bytes.count, index + Int.random(in: 1...7, using: &generator))
                pieces += reader.feed(bytes[index..<end])
                index = end
            }
            pieces += reader.finish()
            XCTAssertEqual(pieces, whole, "\(bytes)")
        }
    }
}
