import Postgres
import TestSupport
import XCTest

/// The pool across a real server outage, on a cluster of the test's own.
final class ServerRestartTests: XCTestCase {
    func testQueriesFailWhileTheServerIsDownAndSucceedSoonAfterItIsBack() async throws {
        _ = try TestDatabase.baseURL()  // same precondition as the other database tests
        let cluster = try TemporaryPostgresCluster()
        defer { cluster.destroy() }
        try cluster.start()
        let pool = ConnectionPool(
            configuration: ConnectionPoolConfiguration(maxConnections: 4, acquireTimeout: .seconds(2)),
            connection: PostgresConfiguration(connectionString: cluster.connectionString, connectTimeout: .seconds(1)),
            loop: TestDatabase.loop)
        let one = { try await pool.withConnection { try await $0.query("SELECT 1")[0].decode(Int.self, column: 0) } }
        let first = try await one()
        XCTAssertEqual(first, 1)

        try cluster.stop()
        for _ in 0..<5 {
            do {
                _ = try await one()
                XCTFail("the server is down")
            } catch let error as PostgresError {
                XCTAssertTrue(error.isConnectionError, "\(error)")
            }
        }
        XCTAssertEqual(pool.statistics.inUse, 0)

        try cluster.start()
        let back = ContinuousClock.now
        let answer = try await waitUntil("a query succeeds after the restart", timeout: .seconds(10), observe: { try? await one() }) {
            $0 != nil
        }
        let recovery = ContinuousClock.now - back
        XCTAssertEqual(answer, 1)
        XCTAssertLessThan(recovery, .seconds(2), "recovered \(recovery) after the server came back")
        await pool.shutdown()
    }
}
