import Contacts
import Dispatch
import Foundation
import Glibc
import HTTP
import Operations
import Postgres
import Synchronization
import TestSupport
import XCTest

/// Sends `count` `GET /readyz` at once, each on a connection and a thread of its own; `meanwhile`
/// runs once they are sent. Returns the responses.
private func readyz(port: Int, _ count: Int, meanwhile: () throws -> Void = {},
                    file: StaticString = #filePath, line: UInt = #line) rethrows -> [RawHTTPClient.Response?] {
    let responses = Mutex<[RawHTTPClient.Response?]>(Array(repeating: nil, count: count))
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        Thread.detachNewThread {
            defer { group.leave() }
            let client = try? RawHTTPClient(port: port, timeout: 30)
            try? client?.send("GET /readyz HTTP/1.1\r\nHost: test\r\n\r\n")
            let response = try? client?.readResponse()
            responses.withLock { $0[index] = response }
        }
    }
    try meanwhile()
    XCTAssertEqual(group.wait(timeout: .now() + 60), .success, "every /readyz was answered", file: file, line: line)
    return responses.withLock { $0 }
}

/// Leases all 8 connections of a test case's pool, so that anything else must queue for one.
private func leaseEveryConnection(of pool: ConnectionPool) throws -> [PostgresConnection] {
    try blocking {
        var connections: [PostgresConnection] = []
        for _ in 0..<8 { connections.append(try await pool.lease()) }
        return connections
    }
}

/// Item 11: `/readyz` sends at most one ping at a time, answers every caller meanwhile from it,
/// and leaves nothing in the pool's queue once it has answered.
final class ReadinessProbeTests: ContactsTestCase {
    override var readinessTimeout: Duration { .seconds(20) }

    func testConcurrentCallersShareOnePingQueuedBehindABusyPool() throws {
        let pool = self.pool!, probe = application.api.readinessProbe
        // Every pool connection leased: the ping has to wait in the pool's queue.
        let leased = try leaseEveryConnection(of: pool)
        let responses = try readyz(port: server.port, 50) {
            try waitUntil("50 callers waiting for the ping", timeout: .seconds(10)) { probe.statistics.waiting == 50 }
            try waitUntil("the ping queued for a connection", timeout: .seconds(10)) { pool.statistics.waiting >= 1 }
            XCTAssertEqual(probe.statistics.pings, 1)
            XCTAssertEqual(pool.statistics.waiting, 1, "one ping queued for a connection, not one per caller")
            pool.release(leased[0])
        }
        XCTAssertEqual(responses.map { $0?.status }, Array(repeating: 200, count: 50))
        XCTAssertEqual(responses[0]?.json["message"] as? String, "The database answers.")
        XCTAssertEqual(probe.statistics, ReadinessProbe.Statistics(pings: 1, waiting: 0))
        XCTAssertEqual(pool.statistics.waiting, 0)
        XCTAssertEqual(try metric("crm_readiness_pings_total"), 1)
        leased.dropFirst().forEach(pool.release)
        XCTAssertEqual(try call("GET", "/readyz", key: nil).status, 200)
        XCTAssertEqual(probe.statistics.pings, 2, "the next caller after an answer sends a new ping")
    }
}

/// `/readyz` callers that time out while the ping waits for a pool connection take it out of
/// the queue with them.
final class ReadinessTimeoutTests: ContactsTestCase {
    override var readinessTimeout: Duration { .seconds(2) }

    func testCallersThatGiveUpLeaveNothingInThePoolsQueue() throws {
        let pool = self.pool!, probe = application.api.readinessProbe
        let leased = try leaseEveryConnection(of: pool)
        let responses = try readyz(port: server.port, 50) {
            try waitUntil("50 callers waiting for the ping", timeout: .seconds(10)) { probe.statistics.waiting == 50 }
            try waitUntil("the ping queued for a connection", timeout: .seconds(10)) { pool.statistics.waiting >= 1 }
            XCTAssertEqual(pool.statistics.waiting, 1, "one ping queued for a connection, not one per caller")
        }
        // Checked right after the last answer, without waiting: the queue was left before it.
        XCTAssertEqual(pool.statistics.waiting, 0, "no ping left queued once /readyz has answered")
        XCTAssertEqual(responses.map { $0?.status }, Array(repeating: 503, count: 50))
        XCTAssertEqual(responses[0]?.header("Retry-After"), "1")
        XCTAssertEqual(responses[0]?.json["code"] as? String, "unavailable")
        XCTAssertEqual(probe.statistics, ReadinessProbe.Statistics(pings: 1, waiting: 0))
        XCTAssertEqual(pool.statistics.acquireTimeouts, 0, "the ping left the queue; it did not time out there")
        XCTAssertEqual(try metric("crm_db_errors_total{class=\"connection\"}"), 0, "a busy pool is no database error")
        leased.forEach(pool.release)
        XCTAssertEqual(try call("GET", "/readyz", key: nil).status, 200)
    }
}

/// Item 2 of the review: a ping abandoned while it waits for a connection is forgotten at once,
/// so a caller arriving while it unwinds sends its own instead of being told "not ready" by it.
final class ReadinessAbandonedPingTests: ContactsTestCase {
    override var poolSize: Int { 1 }

    func testACallerAfterAnAbandonedPingSendsItsOwn() async throws {
        let pool = self.pool!
        let leased = try await pool.lease()
        // A probe of its own with a short timeout; the pool's one connection is leased, so every
        // ping waits in the queue until its caller gives up and abandons it. The window this
        // test aims at is short: with the ping forgotten only once it had unwound, about one
        // round in twenty found it (every run failed within 20 of these 200 rounds).
        let probe = ReadinessProbe(pool: pool, timeout: .milliseconds(10), errors: DatabaseErrorCounter())
        let rounds = 200
        for round in 1...rounds {
            let abandoning = await probe.check()
            // Right away, while the abandoned ping may still be unwinding.
            let next = await probe.check()
            XCTAssertEqual([abandoning, next], [false, false], "round \(round): no connection was free")
            guard probe.statistics.pings == 2 * round else {
                XCTFail("round \(round): the second caller joined the abandoned ping instead of sending its own (\(probe.statistics))")
                break
            }
        }
        try await waitUntil("the abandoned pings out of the pool's queue") { () async in pool.statistics.waiting == 0 }
        pool.release(leased)
        let pings = probe.statistics.pings
        let ready = await probe.check()
        XCTAssertTrue(ready, "a connection free: the next caller's ping gets it")
        XCTAssertEqual(probe.statistics, ReadinessProbe.Statistics(pings: pings + 1, waiting: 0))
    }
}

/// `/readyz` against databases that are not there: one that never answers (a socket that
/// accepts connections and says nothing) and one that refuses them.
final class ReadinessUnreachableTests: XCTestCase {
    private var servers: [HTTPServer] = []
    private var pools: [ConnectionPool] = []
    private var sockets: [Int32] = []

    override func tearDown() async throws {
        for server in servers { await server.shutdown(gracePeriod: .seconds(1)) }
        for pool in pools { await pool.shutdown() }
        sockets.forEach { _ = close($0) }
    }

    /// The service with its own server, over a pool to PostgreSQL at `port` on 127.0.0.1.
    private func serve(databasePort: Int, readinessTimeout: Duration) throws -> (HTTPServer, CRMApplication, ConnectionPool) {
        let connection = PostgresConfiguration(connectionString: "host=127.0.0.1 port=\(databasePort) dbname=nothing user=nobody",
                                               connectTimeout: .seconds(3))
        let application = CRMApplication(configuration: ApplicationConfiguration(
            database: connection, pool: .init(maxConnections: 4), http: HTTPServerConfiguration(host: "127.0.0.1", port: 0),
            readinessTimeout: readinessTimeout), loops: [TestDatabase.loop])
        pools.append(application.pool)
        try application.start()
        servers.append(application.server)
        return (application.server, application, application.pool)
    }

    /// A TCP port that accepts connections (the kernel completes them) and never says a word.
    private func silentPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        sockets.append(fd)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0, listen(fd, 64) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        XCTAssertEqual(bound, 0, "errno \(errno)")
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func testADatabaseThatNeverAnswersCostsOnePingAndNoQueuedWaiter() throws {
        let (server, application, pool) = try serve(databasePort: try silentPort(), readinessTimeout: .seconds(2))
        let probe = application.api.readinessProbe
        let responses = try readyz(port: server.port, 50) {
            try waitUntil("50 callers waiting for the ping", timeout: .seconds(10)) { probe.statistics.waiting == 50 }
        }
        XCTAssertEqual(pool.statistics.waiting, 0, "no ping left queued once /readyz has answered")
        XCTAssertEqual(responses.map { $0?.status }, Array(repeating: 503, count: 50))
        XCTAssertEqual(probe.statistics, ReadinessProbe.Statistics(pings: 1, waiting: 0))
    }

    func testARefusedConnectionIsCountedOncePerPingAsAConnectionError() throws {
        let (server, application, pool) = try serve(databasePort: try FreePort.next(), readinessTimeout: .seconds(5))
        let response = try RawHTTPClient(port: server.port)
        try response.send("GET /readyz HTTP/1.1\r\nHost: test\r\n\r\n")
        XCTAssertEqual(try response.readResponse().status, 503)
        XCTAssertEqual(application.api.readinessProbe.statistics.pings, 1)
        XCTAssertEqual(application.api.databaseErrors.snapshot, ["connection": 1])
        XCTAssertEqual(pool.statistics.waiting, 0)
        let metrics = try RawHTTPClient(port: server.port)
        try metrics.send("GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
        XCTAssertTrue(try metrics.readResponse().bodyText.contains("crm_db_errors_total{class=\"connection\"} 1\n"))
    }
}
