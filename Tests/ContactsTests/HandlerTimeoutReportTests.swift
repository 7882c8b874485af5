import Foundation
import Postgres
import TestSupport
import XCTest

/// The `503` of the handler deadline is an answer like any other: it carries the request's id,
/// has its access log line and is counted in `crm_http_requests_total`; the handler that
/// finishes later logs what became of the request, marked as not what the client got, and is
/// not counted again.
final class HandlerTimeoutReportTests: ContactsTestCase {
    override var handlerTimeout: Duration { .milliseconds(500) }
    /// A session holding a lock on the contacts table; let go in `tearDown` if a test fails first.
    private var holder: PostgresConnection?

    override func tearDown() async throws {
        await holder?.close()
        try await super.tearDown()
    }

    func testTheDeadlines503IsLoggedCountedAndTaggedAndTheLateAnswerMarked() throws {
        let database = self.database!
        let holder = try blocking { try await database.holdTableLock("contacts") }
        self.holder = holder
        let named = try post(1, [("email", "named@example.com")], requestID: "stuck-named-1")
        XCTAssertEqual(named.status, 503)
        XCTAssertEqual(named.json["message"] as? String, "The request took too long to handle; try again shortly.")
        XCTAssertEqual(named.header("X-Request-Id"), "stuck-named-1", "the client's own id")
        let anonymous = try post(1, [("email", "anonymous@example.com")], requestID: nil)
        XCTAssertEqual(anonymous.status, 503)
        let generated = try XCTUnwrap(anonymous.header("X-Request-Id"), "a generated id")
        XCTAssertNotNil(generated.wholeMatch(of: /[0-9a-f]{32}/), generated)

        // Logged and counted when answered, before the handlers finish.
        for id in ["stuck-named-1", generated] {
            let line = try XCTUnwrap(accessLog.all.first { $0.contains("request_id=\(id) ") }, accessLog.all.joined())
            XCTAssertTrue(line.contains(" method=POST ") && line.contains(" route=/crm/{listing_id} ") && line.hasSuffix(" status=503\n"), line)
            XCTAssertFalse(line.contains("client_status"), line)
            XCTAssertTrue(line.contains(" key_prefix=\(keyA.prefix) "), line)
        }
        let counted = metrics.render()
        XCTAssertTrue(counted.contains(#"crm_http_requests_total{route="/crm/{listing_id}",method="POST",status="503"} 2"#), counted)

        // The lock goes: both writes happen after all, and their handlers log what they did.
        _ = try blocking { try await holder.simpleQuery("COMMIT") }
        try waitUntil("both late handlers logged (\(accessLog.all.count) lines)", observe: { self.accessLog.all.count }) { $0 == 4 }
        for id in ["stuck-named-1", generated] {
            let lines = accessLog.all.filter { $0.contains("request_id=\(id) ") }
            XCTAssertEqual(lines.count, 2, lines.joined())
            XCTAssertTrue(lines.last?.contains(" client_status=503 ") == true, "the late line says the client got 503: \(lines)")
            XCTAssertTrue(lines.last?.hasSuffix(" status=201\n") == true, "and what the handler did: \(lines)")
        }
        let after = metrics.render()
        XCTAssertTrue(after.contains(#"crm_http_requests_total{route="/crm/{listing_id}",method="POST",status="503"} 2"#), after)
        XCTAssertFalse(after.contains(#"method="POST",status="201""#), "the late answers are not counted as answers")
        XCTAssertEqual(try contactCount(1), 2, "the 503 meant: outcome unknown")
    }

    private func post(_ listing: Int64, _ fields: [(String, String)], requestID: String?) throws -> RawHTTPClient.Response {
        try call("POST", "/crm/\(listing)", key: keyFor(listing), body: .form(fields),
                 headers: requestID.map { [("X-Request-Id", $0)] } ?? [])
    }
}
