import Contacts
import Foundation
import HTTP
import Postgres
import TestSupport
import XCTest

/// Metrics, access log and request ids, through the service as it runs.
final class OperationsEndpointTests: ContactsTestCase {
    /// `name{labels} value` lines of Prometheus text, checked line by line; returns the samples.
    private func parseExposition(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [String: Double] {
        var samples: [String: Double] = [:]
        var declared: Set<String> = []
        for row in text.split(separator: "\n") {
            if row.hasPrefix("# HELP ") || row.hasPrefix("# TYPE ") {
                let parts = row.split(separator: " ")
                XCTAssertGreaterThanOrEqual(parts.count, 4, String(row), file: file, line: line)
                if row.hasPrefix("# TYPE ") {
                    XCTAssertTrue(["counter", "gauge", "histogram"].contains(String(parts[3])), String(row), file: file, line: line)
                    declared.insert(String(parts[2]))
                }
                continue
            }
            let match = row.wholeMatch(of: /([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+]+|\+Inf|NaN)/)
            XCTAssertNotNil(match, "not exposition format: \(row)", file: file, line: line)
            guard let match else { continue }
            let family = String(match.1).replacing(/_(bucket|sum|count)$/, with: "")
            XCTAssertTrue(declared.contains(family) || declared.contains(String(match.1)), "undeclared \(match.1)", file: file, line: line)
            samples[String(row.split(separator: " ").dropLast().joined(separator: " "))] = Double(String(row.split(separator: " ").last!))
        }
        return samples
    }

    func testMetricsMoveWithTrafficAndParse() throws {
        XCTAssertEqual(try post(1, [("email", "m@example.com")]).status, 201)
        XCTAssertEqual(try get(1).status, 200)
        XCTAssertEqual(try get(1).status, 200)
        XCTAssertEqual(try call("GET", "/crm/1", key: nil).status, 403)
        // Each call closed its connection; the server notices on its own loop.
        let server = self.server!
        try waitUntil("the server has closed the earlier connections", observe: { server.openConnections }) { $0 == 0 }
        let scrape = try call("GET", "/metrics", key: nil)
        XCTAssertEqual(scrape.status, 200)
        XCTAssertEqual(scrape.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        let samples = parseExposition(scrape.bodyText)
        XCTAssertEqual(samples[#"crm_http_requests_total{route="/crm/{listing_id}",method="GET",status="200"}"#], 2)
        XCTAssertEqual(samples[#"crm_http_requests_total{route="/crm/{listing_id}",method="POST",status="201"}"#], 1)
        XCTAssertEqual(samples[#"crm_http_requests_total{route="/crm/{listing_id}",method="GET",status="403"}"#], 1)
        XCTAssertEqual(samples[#"crm_http_request_duration_seconds_count{route="/crm/{listing_id}",method="GET"}"#], 3)
        XCTAssertEqual(samples[#"crm_db_pool_max_connections"#], 8)
        XCTAssertNotNil(samples[#"crm_db_pool_connections{state="idle"}"#])
        XCTAssertEqual(samples[#"crm_http_open_connections"#], 1, "the scrape's own connection")
        XCTAssertGreaterThan(samples[#"crm_http_request_body_bytes_total{route="/crm/{listing_id}"}"#] ?? 0, 0)
        let again = parseExposition(try call("GET", "/metrics", key: nil).bodyText)
        XCTAssertEqual(again[#"crm_http_requests_total{route="/metrics",method="GET",status="200"}"#], 1, "the first scrape was counted")
    }

    func testUnknownMethodsCannotGrowTheLabelSet() throws {
        for method in ["FOO", "BAR", "X\(UInt32.random(in: 0...9999))"] {
            XCTAssertEqual(try call(method, "/crm/1", key: keyA).status, 405)
        }
        let text = try call("GET", "/metrics", key: nil).bodyText
        XCTAssertTrue(text.contains(#"crm_http_requests_total{route="/crm/{listing_id}",method="OTHER",status="405"} 3"#), text)
        XCTAssertFalse(text.contains("FOO"))
    }

    func testEachRequestLogsOneLineWithItsFieldsAndNeverTheKey() throws {
        let response = try call("POST", "/crm/1", key: keyA, body: .form([("email", "log@example.com")]),
                                headers: [("X-Request-Id", "trace-42")])
        XCTAssertEqual(response.header("X-Request-Id"), "trace-42", "echoed")
        _ = try call("GET", "/crm/2", key: keyA)
        let lines = accessLog.all
        XCTAssertEqual(lines.count, 2)
        let first = lines[0]
        for field in ["msg=request", "request_id=trace-42", "peer=127.0.0.1", "method=POST", "route=/crm/{listing_id}",
                      "listing=1", "key_prefix=\(keyA.prefix)", "status=201", "bytes_in=", "bytes_out=", "duration_ms="] {
            XCTAssertTrue(first.contains(field), "\(field) in \(first)")
        }
        XCTAssertTrue(lines[1].contains("status=403"))
        for line in lines {
            XCTAssertFalse(line.contains(keyA.text), "the key never reaches the log")
        }
    }

    func testAnUnusableRequestIDIsReplacedWithAGeneratedOne() throws {
        let response = try call("GET", "/healthz", key: nil, headers: [("X-Request-Id", "no spaces allowed")])
        let id = response.header("X-Request-Id") ?? ""
        XCTAssertNotNil(id.wholeMatch(of: /[0-9a-f]{32}/), id)
        let generated = try call("GET", "/healthz", key: nil).header("X-Request-Id")
        XCTAssertNotNil(generated)
        XCTAssertNotEqual(generated, id)
    }
}

/// A key with `rate_limit` 2 and a burst of 2.
final class RateLimitTests: ContactsTestCase {
    override var rateLimitBurst: Int? { 2 }

    func testALimitedKeyGets429WithHeadersAndRecoversAfterTheWindow() throws {
        let database = self.database!, keyHash = keyA.digest
        try blocking {
            let connection = try await database.connect()
            try await connection.query("UPDATE api_keys SET rate_limit = 2 WHERE key_hash = $1::bytea", [PostgresBytes(keyHash)])
            await connection.close()
        }
        let responses = try (0..<3).map { _ in try get(1) }
        XCTAssertEqual(responses.map(\.status), [404, 404, 429])
        XCTAssertEqual(responses[0].header("RateLimit-Limit"), "2")
        XCTAssertEqual(responses[0].header("RateLimit-Remaining"), "1")
        XCTAssertEqual(responses[1].header("RateLimit-Remaining"), "0")
        let refused = responses[2]
        XCTAssertEqual(refused.json["code"] as? String, "rate_limited")
        XCTAssertEqual(refused.header("Retry-After"), "1")
        XCTAssertEqual(refused.header("RateLimit-Reset"), "1")
        XCTAssertNil(try get(2).header("RateLimit-Limit"), "keyB has no limit")
        // A token comes back after 1/rate = 0.5 s: refused until then, served after.
        let refusedAt = Date()
        var refusals = 1
        let served = try waitUntil("the key's bucket has a token again", timeout: .seconds(3), observe: { try get(1) }) { response in
            if response.status == 429 { refusals += 1 }
            return response.status != 429
        }
        XCTAssertEqual(served.status, 404, "served again")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(refusedAt), 0.4, "the limit held until a token was back")
        let samples = try call("GET", "/metrics", key: nil).bodyText
        XCTAssertTrue(samples.contains("crm_rate_limited_total \(refusals)\n"), "\(refusals) refusals: \(samples)")
    }
}

/// /readyz follows the database: 503 while it is down, 200 once it is back.
final class ReadinessTests: XCTestCase {
    func testReadinessTurns503WithTheDatabaseStoppedAndBackTo200() async throws {
        _ = try TestDatabase.baseURL()
        let cluster = try TemporaryPostgresCluster()
        defer { cluster.destroy() }
        try cluster.start()
        let application = CRMApplication(configuration: ApplicationConfiguration(
            database: PostgresConfiguration(connectionString: cluster.connectionString, connectTimeout: .seconds(1)),
            pool: .init(maxConnections: 2, acquireTimeout: .seconds(1))), loops: [TestDatabase.loop])
        let pool = application.pool
        let request = { (path: String) async -> Int in
            let head = HTTPRequestHead(method: "GET", target: path, version: .http1_1, headers: HTTPHeaders())
            return await application.handle(HTTPRequest(head: head, body: [], peerAddress: "127.0.0.1")).status.code
        }
        let up = await request("/readyz")
        XCTAssertEqual(up, 200)
        try cluster.stop()
        let down = await request("/readyz")
        XCTAssertEqual(down, 503)
        let health = await request("/healthz")
        XCTAssertEqual(health, 200, "the process itself is fine")
        try cluster.start()
        try await waitUntil("/readyz answers 200 once the database is back", timeout: .seconds(10), observe: { await request("/readyz") }) {
            $0 == 200
        }
        await pool.shutdown()
    }
}
