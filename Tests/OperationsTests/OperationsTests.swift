import Foundation
import Operations
import Synchronization
import XCTest

final class MetricsRegistryTests: XCTestCase {
    func testCountersCollectedFamiliesAndGaugesRenderInExpositionFormat() {
        let metrics = MetricsRegistry()
        metrics.declareCounter("demo_requests_total", help: "Requests.")
        metrics.declareCollected("demo_seconds", help: "Durations.", type: "histogram") {
            [(suffix: "_bucket", labels: [("le", "0.1")], value: 1), (suffix: "_bucket", labels: [("le", "1")], value: 2),
             (suffix: "_bucket", labels: [("le", "+Inf")], value: 3), (suffix: "_sum", labels: [], value: 5.55),
             (suffix: "_count", labels: [], value: 3)]
        }
        metrics.declareGauge("demo_open", help: "Open things.") { [([("kind", "a")], 3)] }
        metrics.increment("demo_requests_total", labels: [("route", "/x"), ("status", "200")])
        metrics.increment("demo_requests_total", labels: [("route", "/x"), ("status", "200")], by: 2)
        metrics.increment("demo_requests_total", labels: [("route", "q\"uote\\"), ("status", "500")])
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

final class AccessLogTests: XCTestCase {
    private func entry(peer: String = "::1", listing: String = "12") -> AccessLog.Entry {
        AccessLog.Entry(requestID: "r-1", peer: peer, method: "GET", route: "/crm/{listing_id}", listing: listing,
                        keyPrefix: "crm_abcd", status: 200, durationMilliseconds: 1.5, bytesIn: 0, bytesOut: 42)
    }

    private func capture(_ format: AccessLog.Format, _ entries: [AccessLog.Entry]) -> String {
        let batches = Mutex<[String]>([])
        let log = AccessLog(format: format, flushInterval: nil) { bytes in batches.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) } }
        entries.forEach(log.record)
        return batches.withLock { $0.joined() }
    }

    func testLogfmtLinesHaveSortedFieldsAndQuoteWhatNeedsQuoting() {
        let line = capture(.logfmt, [entry(peer: "two words \"q\"\nnext=line")])
        XCTAssertNotNil(line.wholeMatch(of: /time=\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z level=info msg=request bytes_in=0 bytes_out=42 duration_ms=1\.500 key_prefix=crm_abcd listing=12 method=GET peer="two words \\"q\\"\\nnext=line" request_id=r-1 route=\/crm\/{listing_id} status=200\n/), line)
    }

    func testJSONLinesAreOneObjectEach() throws {
        let line = capture(.json, [entry(listing: "tab\there")])
        XCTAssertTrue(line.hasSuffix("}\n"))
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        XCTAssertEqual(object?["msg"], "request")
        XCTAssertEqual(object?["status"], "200")
        XCTAssertEqual(object?["listing"], "tab\there")
        XCTAssertEqual(object?["duration_ms"], "1.500")
        XCTAssertEqual(object?["level"], "info")
    }

    func testAJSONLineHasTimeLevelAndMessageThenSortedFieldsNumbersQuoted() {
        var late = entry(peer: "q\"\\\u{7}", listing: "tab\there")
        late.clientStatus = 503
        let line = capture(.json, [late])
        XCTAssertNotNil(line.wholeMatch(of: /\{"time":"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z","level":"info","msg":"request","bytes_in":"0","bytes_out":"42","client_status":"503","duration_ms":"1\.500","key_prefix":"crm_abcd","listing":"tab\\there","method":"GET","peer":"q\\"\\\\\\u0007","request_id":"r-1","route":"\/crm\/{listing_id}","status":"200"\}\n/), line)
    }

    func testLinesAreWrittenInBatchesOnFlushOrWhenTheBufferFills() {
        let batches = Mutex<[String]>([])
        let log = AccessLog(format: .logfmt, flushInterval: .seconds(3600), bufferLimit: 1_000_000) { bytes in
            batches.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) }
        }
        for _ in 0..<3 { log.record(entry()) }
        XCTAssertEqual(batches.withLock { $0.count }, 0, "nothing written before a flush")
        log.flush()
        XCTAssertEqual(batches.withLock { $0.map { $0.split(separator: "\n").count } }, [3], "one batch of three whole lines")

        let written = expectation(description: "a full buffer is written without waiting for the interval")
        let small = AccessLog(format: .logfmt, flushInterval: .seconds(3600), bufferLimit: 1) { bytes in
            batches.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) }
            written.fulfill()
        }
        small.record(entry())
        wait(for: [written], timeout: 5)
        XCTAssertEqual(batches.withLock { $0.count }, 2)
        small.close()
    }

    func testAStalledSinkNeverBlocksRecordingLinesPastTheBoundAreDroppedAndCounted() {
        let stalled = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        let writtenLines = Mutex(0)
        // A pipe nobody reads: the first write blocks until the test lets it go.
        let log = AccessLog(format: .logfmt, flushInterval: .milliseconds(10), bufferLimit: 1024, maxPendingBytes: 4096) { bytes in
            if writtenLines.withLock({ $0 }) == 0 {
                entered.signal()
                stalled.wait()
            }
            writtenLines.withLock { $0 += bytes.filter { $0 == UInt8(ascii: "\n") }.count }
        }
        log.record(entry())
        XCTAssertEqual(entered.wait(timeout: .now() + 5), .success, "the writer thread is stuck in the sink")
        // Recording goes on from another thread, bounded in time: were it to wait for the
        // sink, it would not be done when the sink is released below.
        let recorded = DispatchSemaphore(value: 0)
        let line = entry()
        Thread.detachNewThread {
            for _ in 0..<1_000 { log.record(line) }
            recorded.signal()
        }
        XCTAssertEqual(recorded.wait(timeout: .now() + 5), .success, "1,000 lines recorded while the sink is stalled")
        let dropped = log.droppedLines
        XCTAssertGreaterThan(dropped, 900, "4 KB hold ~30 lines; the rest are dropped")
        stalled.signal()
        log.close(within: .seconds(5))
        XCTAssertEqual(writtenLines.withLock { $0 } + dropped, 1_001, "every line written or counted")
    }

    func testThePeriodicFlushWritesWithoutFurtherRequests() throws {
        let written = expectation(description: "flushed")
        let log = AccessLog(format: .logfmt, flushInterval: .milliseconds(20)) { _ in written.fulfill() }
        log.record(entry())
        wait(for: [written], timeout: 5)
        log.close()
    }
}

final class RequestMetricsTests: XCTestCase {
    func testCountsDurationsAndBytesRenderByRouteMethodAndStatus() {
        let registry = MetricsRegistry()
        let requests = RequestMetrics(routes: ["/a", "/b"], buckets: [0.1, 1])
        requests.register(in: registry, requests: "req_total", duration: "req_seconds", requestBytes: "in_bytes", responseBytes: "out_bytes")
        requests.record(route: 0, methodIndex: RequestMetrics.methodIndex("GET"), status: 200, seconds: 0.05, bytesIn: 0, bytesOut: 10)
        requests.record(route: 0, methodIndex: RequestMetrics.methodIndex("GET"), status: 404, seconds: 0.5, bytesIn: 3, bytesOut: 20)
        requests.record(route: 1, methodIndex: RequestMetrics.methodIndex("BREW"), status: 405, seconds: 5, bytesIn: 0, bytesOut: 1)
        XCTAssertEqual(registry.render(), """
            # HELP req_total HTTP requests answered, by route template, method and status.
            # TYPE req_total counter
            req_total{route="/a",method="GET",status="200"} 1
            req_total{route="/a",method="GET",status="404"} 1
            req_total{route="/b",method="OTHER",status="405"} 1
            # HELP req_seconds Time to answer a request, by route template and method.
            # TYPE req_seconds histogram
            req_seconds_bucket{route="/a",method="GET",le="0.1"} 1
            req_seconds_bucket{route="/a",method="GET",le="1"} 2
            req_seconds_bucket{route="/a",method="GET",le="+Inf"} 2
            req_seconds_sum{route="/a",method="GET"} 0.55
            req_seconds_count{route="/a",method="GET"} 2
            req_seconds_bucket{route="/b",method="OTHER",le="0.1"} 0
            req_seconds_bucket{route="/b",method="OTHER",le="1"} 0
            req_seconds_bucket{route="/b",method="OTHER",le="+Inf"} 1
            req_seconds_sum{route="/b",method="OTHER"} 5
            req_seconds_count{route="/b",method="OTHER"} 1
            # HELP in_bytes Request body bytes received, by route template.
            # TYPE in_bytes counter
            in_bytes{route="/a"} 3
            in_bytes{route="/b"} 0
            # HELP out_bytes Response body bytes sent, by route template.
            # TYPE out_bytes counter
            out_bytes{route="/a"} 30
            out_bytes{route="/b"} 1

            """)
    }
}
