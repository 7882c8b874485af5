import Dispatch
import Foundation
import Operations
import Synchronization
import XCTest

final class ErrorLogTests: XCTestCase {
    private func line(_ format: AccessLog.Format, _ fields: [(String, String)]) -> String {
        let lines = Mutex<[String]>([])
        let log = ErrorLog(format: format, writesInBackground: false) { bytes in
            lines.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) }
        }
        log.record("internal_error", fields)
        let written = lines.withLock { $0 }
        XCTAssertEqual(written.count, 1, "one write per line")
        return written.first ?? ""
    }

    func testALogfmtLineHasTheFieldsInOrderAndEscapesValues() {
        let text = line(.logfmt, [("request_id", "r-1"), ("sqlstate", "22012"), ("constraint", "odd \"name\"\nsecond=line")])
        XCTAssertNotNil(text.wholeMatch(of: /time=\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z level=error msg=internal_error request_id=r-1 sqlstate=22012 constraint="odd \\"name\\"\\nsecond=line"\n/), text)
    }

    func testAJSONLineIsOneObject() throws {
        let text = line(.json, [("request_id", "r-2"), ("table", "tab\there")])
        XCTAssertTrue(text.hasSuffix("}\n"))
        XCTAssertEqual(text.filter { $0 == "\n" }.count, 1)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        XCTAssertEqual(object["level"], "error")
        XCTAssertEqual(object["msg"], "internal_error")
        XCTAssertEqual(object["request_id"], "r-2")
        XCTAssertEqual(object["table"], "tab\there")
        XCTAssertEqual(Set(object.keys), ["time", "level", "msg", "request_id", "table"])
    }

    func testAJSONLineHasTheFieldsInOrderEscapedAsJSON() {
        let text = line(.json, [("request_id", "r-3"), ("constraint", "odd \"name\"\n\u{1}\u{2028}")])
        XCTAssertNotNil(text.wholeMatch(of: /\{"time":"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z","level":"error","msg":"internal_error","request_id":"r-3","constraint":"odd \\"name\\"\\n\\u0001\\u2028"\}\n/), text)
    }

    /// A stalled standard error never holds up the caller: lines wait for the writer thread,
    /// and past the limit they are dropped and counted.
    func testAStalledSinkNeverBlocksRecordAndDropsPastTheLimit() throws {
        let release = DispatchSemaphore(value: 0)
        let written = Mutex<[String]>([])
        let log = ErrorLog(format: .logfmt, maxPendingBytes: 300) { bytes in
            release.wait()
            written.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) }
        }
        let started = Date()
        for index in 0..<100 { log.record("internal_error", [("request_id", "r-\(index)")]) }
        XCTAssertLessThan(Date().timeIntervalSince(started), 1, "record did not wait for the sink")
        XCTAssertGreaterThan(log.droppedLines, 90, "most lines were dropped while the sink was stuck")
        for _ in 0..<100 { release.signal() }
        log.close()
        let lines = written.withLock { $0.joined() }.split(separator: "\n")
        XCTAssertEqual(lines.count + log.droppedLines, 100, "every line written or counted")
        XCTAssertTrue(lines.first?.contains("request_id=r-0") ?? false, "\(lines)")
    }
}
