import Codecs
import Foundation
import XCTest

final class JSONWriterTests: XCTestCase {
    private func text(_ write: (inout JSONWriter) -> Void) -> String {
        var writer = JSONWriter()
        write(&writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    func testCommasAndColonsAreTheWritersBusiness() {
        let written = text { json in
            json.beginObject()
            json.key("status")
            json.string("success")
            json.key("data")
            json.beginObject()
            json.key("ids")
            json.beginArray()
            json.number(1)
            json.number(Int64(-2))
            json.beginArray()
            json.endArray()
            json.beginObject()
            json.endObject()
            json.endArray()
            json.key("next")
            json.null()
            json.key("ok")
            json.bool(true)
            json.key("no")
            json.bool(false)
            json.endObject()
            json.endObject()
        }
        XCTAssertEqual(written, #"{"status":"success","data":{"ids":[1,-2,[],{}],"next":null,"ok":true,"no":false}}"#)
    }

    func testJSONTextIsCopiedAsItIsAndUnescapedStringsAreQuoted() {
        let written = text { json in
            json.beginArray()
            json.json(#"{"contact_id":1}"#)
            json.json(Array("[]".utf8))
            json.string(unescaped: { $0.append(contentsOf: "2026-01-02T03:04:05.678Z".utf8) })
            json.endArray()
        }
        XCTAssertEqual(written, #"[{"contact_id":1},[],"2026-01-02T03:04:05.678Z"]"#)
    }

    func testStringsEscapeQuotesBackslashesControlsAndTheJavaScriptLineBreaks() {
        XCTAssertEqual(text { $0.string("plain ascii") }, #""plain ascii""#)
        XCTAssertEqual(text { $0.string("q\"b\\s/") }, #""q\"b\\s/""#)
        XCTAssertEqual(text { $0.string("\n\r\t\u{08}\u{0C}\u{00}\u{1F}\u{7F}") }, #""\n\r\t\u0008\u000c\u0000\u001f\#u{7F}""#)
        XCTAssertEqual(text { $0.string("a\u{2028}b\u{2029}c\u{2027}") }, #""a\u2028b\u2029c\#u{2027}""#)
        XCTAssertEqual(text { $0.string("émoji 😀 and 中文") }, "\"émoji 😀 and 中文\"")
        XCTAssertEqual(text { $0.string("\u{E2}") }, "\"\u{E2}\"", "â (C3 A2) is not the start of U+2028")
        XCTAssertEqual(text { $0.key("k\"ey"); $0.string("") }, #""k\"ey":"""#)
    }

    func testEveryScalarIsEscapedByTheRuleAndReadsBackAsItself() throws {
        for value in UInt32(0)...0x3000 {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let expected: String
            switch value {
            case 0x22: expected = #"\""#
            case 0x5C: expected = #"\\"#
            case 0x0A: expected = #"\n"#
            case 0x0D: expected = #"\r"#
            case 0x09: expected = #"\t"#
            case 0..<0x20, 0x2028, 0x2029: expected = "\\u" + String(repeating: "0", count: 4 - String(value, radix: 16).count) + String(value, radix: 16)
            default: expected = String(scalar)
            }
            let written = text { $0.string("<\(scalar)>") }
            XCTAssertEqual(written, "\"<\(expected)>\"", "U+\(String(value, radix: 16))")
            let decoded = try JSONSerialization.jsonObject(with: Data(written.utf8), options: .fragmentsAllowed) as? String
            XCTAssertEqual(decoded, "<\(scalar)>", "U+\(String(value, radix: 16))")
        }
    }

    func testAppendingToABufferKeepsWhatWasThereAndStartsAFreshValue() {
        var buffer = Array("{\"a\":1}\n".utf8)
        JSONWriter.append(to: &buffer) { json in
            json.beginObject()
            json.key("b")
            json.number(2)
            json.endObject()
        }
        XCTAssertEqual(String(decoding: buffer, as: UTF8.self), "{\"a\":1}\n{\"b\":2}")
    }

    func testValuesAreWrittenWithTheirMembersInOrder() throws {
        let data: JSONObject = ["contact_id": .number(12), "results": .array([.string("x"), .null, .bool(true)]),
                                "nested": .object(["a": .null]), "empty": .object([:])]
        XCTAssertEqual(text { $0.object(data) }, #"{"contact_id":12,"results":["x",null,true],"nested":{"a":null},"empty":{}}"#)
        XCTAssertEqual(text { $0.value(.object([:])) }, "{}")
        XCTAssertTrue(([:] as JSONObject).isEmpty)
        XCTAssertEqual(data.members.map(\.name), ["contact_id", "results", "nested", "empty"])
    }
}
