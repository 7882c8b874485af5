import Postgres
import Synchronization
import TestSupport
import XCTest

final class ConnectionPoolTests: XCTestCase {
    private var database: TestDatabase!

    override func setUp() async throws {
        database = try await TestDatabase.create(migrated: false)
    }

    override func tearDown() async throws {
        await database?.drop()
    }

    private func makePool(size: Int, acquireTimeout: Duration = .seconds(5), applicationName: String) -> ConnectionPool {
        var configuration = database.configuration
        configuration.applicationName = applicationName
        return ConnectionPool(
            configuration: ConnectionPoolConfiguration(maxConnections: size, acquireTimeout: acquireTimeout),
            connection: configuration, loop: TestDatabase.loop)
    }

    func testTwoHundredConcurrentTasksShareEightConnections() async throws {
        let name = "pool-test-\(UInt32.random(in: 0...UInt32.max))"
        let pool = makePool(size: 8, applicationName: name)
        let monitor = try await database.connect(applicationName: "monitor")
        let maxSeen = Mutex(0)
        let running = Atomic<Bool>(true)
        let watcher = Task {
            while running.load(ordering: .relaxed) {
                let count = try await monitor.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", [name])[0].decode(Int.self, column: 0)
                maxSeen.withLock { $0 = max($0, count) }
            }
        }
        let sums = try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<200 {
                group.addTask {
                    try await pool.withConnection { connection in
                        // pg_sleep keeps leases overlapping, so the pool really is saturated.
                        try await connection.query("SELECT pg_sleep(0.005), $1::int + 1", [task])[0].decode(Int.self, column: 1)
                    }
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        running.store(false, ordering: .relaxed)
        try await watcher.value
        XCTAssertEqual(sums.sorted(), Array(1...200))
        XCTAssertEqual(maxSeen.withLock { $0 }, 8, "saturated, and never more than the pool size")
        let stats = pool.statistics
        XCTAssertEqual(stats.inUse, 0)
        XCTAssertEqual(stats.waiting, 0)
        XCTAssertEqual(stats.size, 8)
        await pool.shutdown()
        XCTAssertEqual(pool.statistics.size, 0)
        // The sockets are closed when shutdown returns; the backends exit a moment later.
        try await waitUntil("shutdown's connections leave pg_stat_activity", observe: {
            try await monitor.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", [name])[0]
                .decode(Int.self, column: 0)
        }) { $0 == 0 }
        await monitor.close()
    }

    func testAWaiterGivesUpAfterTheAcquireTimeout() async throws {
        let pool = makePool(size: 1, acquireTimeout: .milliseconds(300), applicationName: "timeout-test")
        let holder = try await pool.lease()
        let start = ContinuousClock.now
        do {
            _ = try await pool.withConnection { try await $0.query("SELECT 1") }
            XCTFail("the only connection is held")
        } catch let error as ConnectionPoolError {
            XCTAssertEqual(error, .acquireTimeout)
        }
        let waited = ContinuousClock.now - start
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(300))
        XCTAssertLessThan(waited, .milliseconds(1000))
        XCTAssertEqual(pool.statistics.acquireTimeouts, 1)
        XCTAssertEqual(pool.statistics.waiting, 0)
        pool.release(holder)
        let afterTimeout = try await pool.withConnection { try await $0.query("SELECT 7")[0].decode(Int.self, column: 0) }
        XCTAssertEqual(afterTimeout, 7)
        await pool.shutdown()
    }

    func testACancelledWaiterLeavesTheQueueAndTheLeaseGoesToTheNext() async throws {
        let pool = makePool(size: 1, applicationName: "cancel-test")
        let holder = try await pool.lease()
        let cancelled = Task { try await pool.withConnection { _ in 1 } }
        let patient = Task { try await pool.withConnection { _ in 2 } }
        try await waitUntil("both tasks wait for the connection", observe: { () async in pool.statistics.waiting }) { $0 == 2 }
        cancelled.cancel()
        do {
            _ = try await cancelled.value
            XCTFail("cancelled while waiting")
        } catch let error as ConnectionPoolError {
            XCTAssertEqual(error, .cancelled)
        }
        XCTAssertEqual(pool.statistics.waiting, 1)
        pool.release(holder)
        let patientResult = try await patient.value
        XCTAssertEqual(patientResult, 2)
        XCTAssertEqual(pool.statistics.inUse, 0)
        await pool.shutdown()
    }

    func testTheLeaseComesBackWhenTheBodyThrows() async throws {
        struct Failure: Error {}
        let pool = makePool(size: 1, applicationName: "throw-test")
        do {
            _ = try await pool.withConnection { _ in throw Failure() }
        } catch is Failure {}
        XCTAssertEqual(pool.statistics.inUse, 0)
        XCTAssertEqual(pool.statistics.idle, 1)
        let afterThrow = try await pool.withConnection { try await $0.query("SELECT 1")[0].decode(Int.self, column: 0) }
        XCTAssertEqual(afterThrow, 1)
        await pool.shutdown()
    }

    func testAConnectionLeftInATransactionIsNotLentAgain() async throws {
        let pool = makePool(size: 1, applicationName: "tx-test")
        let firstPID = try await pool.withConnection { connection in
            try await connection.simpleQuery("BEGIN")
            return try await connection.query("SELECT pg_backend_pid()")[0].decode(Int32.self, column: 0)
        }
        let secondPID = try await pool.withConnection { connection in
            XCTAssertTrue(connection.isIdleOutsideTransaction)
            return try await connection.query("SELECT pg_backend_pid()")[0].decode(Int32.self, column: 0)
        }
        XCTAssertNotEqual(firstPID, secondPID)
        await pool.shutdown()
    }

    func testAfterPgTerminateBackendTheNextQuerySucceeds() async throws {
        let pool = makePool(size: 1, applicationName: "terminate-test")
        let pid = try await pool.withConnection { try await $0.query("SELECT pg_backend_pid()")[0].decode(Int32.self, column: 0) }
        let admin = try await database.connect()
        let terminated = try await admin.query("SELECT pg_terminate_backend($1)", [pid])[0].decode(Bool.self, column: 0)
        XCTAssertEqual(terminated, true)
        // pg_terminate_backend only signals; wait until the backend has really gone.
        try await waitUntil("backend \(pid) leaves pg_stat_activity", observe: {
            try await admin.query("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [pid])[0].decode(Int.self, column: 0)
        }) { $0 == 0 }
        await admin.close()
        let newPID = try await pool.withConnection { try await $0.query("SELECT pg_backend_pid()")[0].decode(Int32.self, column: 0) }
        XCTAssertNotEqual(newPID, pid)
        await pool.shutdown()
    }

    func testShutdownWaitsForLeasesAndThenRefusesNewOnes() async throws {
        let pool = makePool(size: 2, applicationName: "shutdown-test")
        let leased = try await pool.lease()
        let finished = Atomic<Bool>(false)
        let shutdown = Task {
            await pool.shutdown()
            finished.store(true, ordering: .releasing)
        }
        // Shutdown has begun once a new lease is refused; it then waits for the one out.
        try await waitUntil("shutdown refuses new leases") {
            do {
                pool.release(try await pool.lease())
                return false
            } catch let error as ConnectionPoolError {
                XCTAssertEqual(error, .poolShutdown)
                return true
            }
        }
        XCTAssertFalse(finished.load(ordering: .acquiring), "shutdown waits for the lease")
        let stillWorks = try await leased.query("SELECT 1")[0].decode(Int.self, column: 0)
        XCTAssertEqual(stillWorks, 1, "the lease still works")
        pool.release(leased)
        await shutdown.value
        XCTAssertTrue(finished.load(ordering: .acquiring))
        XCTAssertTrue(leased.isClosed)
    }
}
