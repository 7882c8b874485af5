import Foundation
import Glibc
import TestSupport
import XCTest

/// `crm serve` whose standard output is a pipe nobody reads: the access log must never stop
/// requests; it drops lines and counts them instead.
final class AccessLogStallTests: XCTestCase {
    private var database: TestDatabase!
    private var server: ServeProcess?

    override func setUp() async throws {
        database = try await TestDatabase.create()
    }

    override func tearDown() async throws {
        server?.stop()
        await database?.drop()
    }

    func testAStdoutNobodyReadsNeverStopsRequestsAndDroppedLinesAreCounted() throws {
        // Standard output is a pipe that ServeProcess reads only when it stops the server.
        let server = try ServeProcess(databaseURL: database.connectionString)
        self.server = server
        let client = try server.connect()

        // ~230 bytes a line: 8,000 lines are 1.8 MB, many times the pipe's 64 KiB and the
        // log's own queue. Each request must still be answered within the client's 5 s.
        for index in 0..<8_000 {
            try client.send("GET /healthz HTTP/1.1\r\n\r\n")
            let response = try client.readResponse()
            guard response.status == 200 else { return XCTFail("request \(index) answered \(response.status)") }
        }
        try client.send("GET /metrics HTTP/1.1\r\n\r\n")
        let metrics = try client.readResponse()
        XCTAssertEqual(metrics.status, 200)
        let line = metrics.bodyText.split(separator: "\n").first { $0.hasPrefix("crm_access_log_dropped_total ") }
        let dropped = line.flatMap { Double($0.split(separator: " ")[1]) }
        XCTAssertNotNil(dropped, metrics.bodyText)
        XCTAssertGreaterThan(dropped ?? 0, 1_000, "most lines past the pipe and the queue were dropped, and counted")
        XCTAssertLessThan(dropped ?? .infinity, 8_001)
    }
}
