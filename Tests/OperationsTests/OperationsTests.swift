import Foundation
import Logging
import Operations
import Synchronization
import XCTest

final class MetricsRegistryTests: XCTestCase {
    func testCountersHistogramsAndGaugesRenderInExpositionFormat() {
        let metrics = MetricsRegistry()
        metrics.declareCounter("demo_requests_total", help: "Requests.")
        metrics.declareHistogram("demo_seconds", help: "Durations.", buckets: [0.1, 1])
        metrics.declareGauge("demo_open", help: "Open things.") { [([("kind", "a")], 3)] }
        metrics.increment("demo_requests_total", labels: [("route", "/x"), ("status", "200")])
        metrics.increment("demo_requests_total", labels: [("route", "/x"), ("status", "200")], by: 2)
        metrics.increment("demo_requests_total", labels: [("route", "q\"uote\\"), ("status", "500")])
        metrics.observe("demo_seconds", 0.05)
        metrics.observe("demo_seconds", 0.5)
        metrics.observe("demo_seconds", 5)
        XCTAssertEqual(metrics.counterValue("demo_requests_total", labels: [("route", "/x"), ("status", "200")]), 3)
        XCTAssertEqual(metrics.render(), """
            # HELP demo_requests_total Requests.
            # TYPE demo_requests_total counter
            demo_requests_total{route="/x",status="200"} 3
            demo_requests_total{route="q\\"uote\\\\",status="500"} 1
            # HELP demo_seconds Durations.
            # TYPE demo_seconds histogram
            demo_seconds_bucket{le="0.1"} 1
            demo_seconds_bucket{le="1"} 2
            demo_seconds_bucket{le="+Inf"} 3
            demo_seconds_sum 5.55
            demo_seconds_count 3
            # HELP demo_open Open things.
            # TYPE demo_open gauge
            demo_open{kind="a"} 3

            """)
    }
}

final class TokenBucketTests: XCTestCase {
    func testABucketAllowsItsBurstThenRefillsAtItsRate() {
        let second: UInt64 = 1_000_000_000
        var bucket = TokenBucket(rate: 2, burst: 3, now: 0)
        XCTAssertEqual((0..<3).map { _ in bucket.take(now: 0).allowed }, [true, true, true])
        let refused = bucket.take(now: 0)
        XCTAssertFalse(refused.allowed)
        XCTAssertEqual(refused.remaining, 0)
        XCTAssertEqual(refused.retryAfterSeconds, 1)
        XCTAssertEqual(refused.resetSeconds, 2, "3 tokens at 2 a second")
        XCTAssertTrue(bucket.take(now: second / 2).allowed, "half a second later one token is back")
        XCTAssertFalse(bucket.take(now: second / 2).allowed)
        let later = bucket.take(now: 10 * second)
        XCTAssertTrue(later.allowed)
        XCTAssertEqual(later.remaining, 2, "full (3) minus this one")
    }
}

final class RequestIDTests: XCTestCase {
    func testAPlainClientIDIsKeptAndAnythingElseReplaced() {
        XCTAssertEqual(RequestID.from("abc-123_X.y:z"), "abc-123_X.y:z")
        for bad in [nil, "", "has space", "line\r\nbreak", String(repeating: "a", count: 129), "ünïcode"] {
            let id = RequestID.from(bad)
            XCTAssertNotEqual(id, bad)
            XCTAssertNotNil(id.wholeMatch(of: /[0-9a-f]{32}/), id)
        }
        XCTAssertNotEqual(RequestID.generate(), RequestID.generate())
    }
}

final class LineLogHandlerTests: XCTestCase {
    private func capture(_ format: LineLogHandler.Format, _ log: (Logger) -> Void) -> String {
        let lines = Mutex<[String]>([])
        let logger = Logger(label: "test") { _ in LineLogHandler(format: format) { line in lines.withLock { $0.append(line) } } }
        log(logger)
        return lines.withLock { $0.joined() }
    }

    func testLogfmtQuotesWhatNeedsQuoting() {
        let line = capture(.logfmt) { $0.info("request", metadata: ["status": "200", "peer": "::1", "note": "two words \"q\""]) }
        XCTAssertNotNil(line.wholeMatch(of: /time=\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z level=info msg=request note="two words \\"q\\"" peer=::1 status=200\n/), line)
    }

    func testJSONLinesAreOneObjectEach() throws {
        let line = capture(.json) { $0.info("request", metadata: ["status": "200", "weird": "tab\there"]) }
        XCTAssertTrue(line.hasSuffix("}\n"))
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        XCTAssertEqual(object?["msg"], "request")
        XCTAssertEqual(object?["status"], "200")
        XCTAssertEqual(object?["weird"], "tab\there")
        XCTAssertEqual(object?["level"], "info")
    }
}

