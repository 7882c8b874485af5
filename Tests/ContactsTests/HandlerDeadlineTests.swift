import Contacts
import Foundation
import Postgres
import TestSupport
import XCTest

/// `crm serve --handler-timeout`: a request stuck behind a lock gets the API's `503` with
/// `Retry-After` in time, tagged with its request id and counted, and its connection goes on
/// serving.
final class HandlerDeadlineTests: XCTestCase {
    private var database: TestDatabase!
    private var server: ServeProcess?
    /// A session holding a lock on the contacts table.
    private var holder: PostgresConnection?

    override func setUp() async throws {
        database = try await TestDatabase.create()
    }

    override func tearDown() async throws {
        await holder?.close()
        server?.stop()
        await database?.drop()
    }

    func testARequestStuckBehindALockGets503InTimeAndTheConnectionServesTheNext() throws {
        let key = try createKey(listing: 3)
        let server = try ServeProcess(databaseURL: database.connectionString, environment: ["CRM_HANDLER_TIMEOUT": "0.5"])
        self.server = server
        let database = self.database!
        let holder = try blocking { try await database.holdTableLock("contacts") }
        self.holder = holder
        let client = try server.connect()
        func create(_ email: String) -> String {
            let body = "email=\(email)"
            return "POST /crm/3 HTTP/1.1\r\nAuthorization: Bearer \(key.text)\r\n"
                + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }
        let started = Date()
        try client.send(create("stuck%40example.com").replacingOccurrences(of: "POST /crm/3 HTTP/1.1\r\n",
                                                                          with: "POST /crm/3 HTTP/1.1\r\nX-Request-Id: stuck-1\r\n"))
        let response = try client.readResponse()
        let took = Date().timeIntervalSince(started)
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(response.header("Retry-After"), "1")
        XCTAssertEqual(response.header("Content-Type"), "application/json; charset=utf-8")
        XCTAssertEqual(response.json["status"] as? String, "error")
        XCTAssertEqual(response.json["code"] as? String, "unavailable")
        XCTAssertEqual(response.json["message"] as? String, "The request took too long to handle; try again shortly.")
        XCTAssertEqual((response.json["data"] as? [String: Any])?.count, 0)
        XCTAssertGreaterThanOrEqual(took, 0.45)
        XCTAssertLessThan(took, 3)
        XCTAssertEqual(response.header("X-Request-Id"), "stuck-1", "crm serve tags the deadline's 503 like its own answers")
        try client.send("GET /metrics HTTP/1.1\r\n\r\n")
        XCTAssertTrue(try client.readResponse().bodyText.contains(
            #"crm_http_requests_total{route="/crm/{listing_id}",method="POST",status="503"} 1"#), "and counts it")

        try client.send("GET /healthz HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 200, "the same connection serves the next request")
        _ = try blocking { try await holder.simpleQuery("COMMIT") }
        try client.send(create("next%40example.com"))
        XCTAssertEqual(try client.readResponse().status, 201, "and, the lock gone, requests that need the database")

        // The deadline answers the client; it does not stop a statement (the statement timeout
        // does): the timed-out write went on once the lock was gone.
        let emails = try waitUntil("both writes in the table", observe: {
            try blocking {
                let connection = try await database.connect()
                let rows = try await connection.query("SELECT email FROM contacts WHERE listing_id = 3 ORDER BY email").rows
                await connection.close()
                return try rows.map { try $0.decode(String.self, column: 0) }
            }
        }) { $0.count >= 2 }
        XCTAssertEqual(emails, ["next@example.com", "stuck@example.com"])
    }

    private func createKey(listing: Int64) throws -> APIKey {
        try TestDatabase.createKeyWithCommandLine(listing: listing, in: database)
    }
}
