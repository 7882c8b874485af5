import Foundation
import Glibc
import TestSupport
import XCTest

/// `crm serve` whose standard output is a pipe nobody reads: the access log must never stop
/// requests; it drops lines and counts them instead.
final class AccessLogStallTests: XCTestCase {
    private var database: TestDatabase!
    private var process: ChildProcess.Running?

    override func setUp() async throws {
        database = try await TestDatabase.create()
    }

    override func tearDown() async throws {
        process?.kill(SIGKILL)
        _ = process?.wait()  // reads the pipe at last, so the process can be reaped
        await database?.drop()
    }

    func testAStdoutNobodyReadsNeverStopsRequestsAndDroppedLinesAreCounted() throws {
        let port = try FreePort.next()
        // ChildProcess gives the server a pipe for standard output, read only in `wait()`.
        let serve = try ChildProcess.start(ChildProcess.crmExecutable, ["serve"], environment: [
            "DATABASE_URL": database.connectionString, "CRM_HOST": "127.0.0.1", "CRM_PORT": String(port),
            "CRM_MIGRATIONS_DIR": TestDatabase.migrationsDirectory,
        ])
        process = serve
        let client = try connect(port: port, within: 20)

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

    /// A keep-alive connection to the server once it answers `/healthz`.
    private func connect(port: Int, within seconds: Double) throws -> RawHTTPClient {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let client = try? RawHTTPClient(port: port), (try? client.send("GET /healthz HTTP/1.1\r\n\r\n")) != nil,
               (try? client.readResponse())?.status == 200 {
                return client
            }
            usleep(50_000)
        }
        throw ChildProcessError(description: "crm serve did not come up on port \(port)")
    }
}
