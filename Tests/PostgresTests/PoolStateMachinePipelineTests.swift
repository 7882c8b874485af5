@testable import Postgres
import XCTest

/// The pipelined connection's life cycle inside the pool's state machine, driven without a
/// database, threads or a real clock: opened once for everyone waiting, opened again after it
/// closed or failed, closed by shutdown, and never counted against `maxConnections`.
final class PoolStateMachinePipelineTests: XCTestCase {
    typealias Machine = PoolStateMachine<FakeConnection>

    private func describe(_ action: Machine.PipelineAction) -> String {
        switch action {
        case .use(let connection): "use \(connection.name)"
        case .wait: "wait"
        case .open: "open"
        case .fail(let error): "fail \(error)"
        }
    }

    func testOneAttemptOpensItForEveryoneWaitingAndLaterCallersUseItAtOnce() {
        var machine = Machine(maxConnections: 2)
        XCTAssertNil(machine.pipelineConnection)
        XCTAssertEqual(describe(machine.waitForPipeline(1)), "open")
        XCTAssertEqual(describe(machine.waitForPipeline(2)), "wait", "one attempt at a time")
        XCTAssertEqual(describe(machine.waitForPipeline(3)), "wait")
        let connection = FakeConnection("pipe")
        let opened = machine.pipelineOpened(connection)
        XCTAssertEqual(opened.pipelineLeases, [1, 2, 3])
        XCTAssertTrue(opened.pipelineConnection === connection)
        XCTAssertTrue(opened.closes.isEmpty)
        XCTAssertTrue(machine.pipelineConnection === connection)
        XCTAssertEqual(describe(machine.waitForPipeline(4)), "use pipe")
    }

    func testAFailedAttemptFailsItsWaitersAndTheNextCallerTriesAgain() {
        var machine = Machine(maxConnections: 1)
        _ = machine.waitForPipeline(1)
        _ = machine.waitForPipeline(2)
        let failed = machine.pipelineOpenFailed()
        XCTAssertEqual(failed.pipelineConnectFailures, [1, 2])
        XCTAssertTrue(failed.pipelineLeases.isEmpty)
        XCTAssertNil(machine.pipelineConnection)
        XCTAssertEqual(describe(machine.waitForPipeline(3)), "open")
    }

    func testAClosedPipelinedConnectionIsReplacedAndAStaleReportIsIgnored() {
        var machine = Machine(maxConnections: 1)
        _ = machine.waitForPipeline(1)
        let first = FakeConnection("first")
        _ = machine.pipelineOpened(first)
        machine.pipelineConnectionClosed(first)
        XCTAssertNil(machine.pipelineConnection)
        XCTAssertEqual(describe(machine.waitForPipeline(2)), "open")
        let second = FakeConnection("second")
        _ = machine.pipelineOpened(second)
        machine.pipelineConnectionClosed(first)  // a late report about the old one
        XCTAssertTrue(machine.pipelineConnection === second)
    }

    func testItIsNotCountedAgainstTheMaximumNorInThePoolsCounts() {
        var machine = Machine(maxConnections: 1)
        _ = machine.waitForPipeline(1)
        _ = machine.pipelineOpened(FakeConnection("pipe"))
        XCTAssertEqual(machine.acquire(2, deadline: 100).connectionsToOpen, 1, "the pooled connection is still there to open")
        XCTAssertEqual(machine.openingCount, 1)
        XCTAssertEqual(machine.idleCount + machine.leasedCount, 0)
        XCTAssertTrue(machine.expireWaiters(now: 99).failures.isEmpty)
        XCTAssertEqual(machine.expireWaiters(now: 100).failures.map(\.0), [2], "pooled waiters time out as before")
    }

    func testShutdownClosesTheOpenPipelinedConnectionAndRefusesCallers() {
        var machine = Machine(maxConnections: 1)
        _ = machine.waitForPipeline(1)
        let connection = FakeConnection("pipe")
        _ = machine.pipelineOpened(connection)
        let shutdown = machine.shutdown()
        XCTAssertTrue(shutdown.closes.contains { $0 === connection })
        XCTAssertTrue(shutdown.shutdownComplete)
        XCTAssertNil(machine.pipelineConnection)
        XCTAssertEqual(describe(machine.waitForPipeline(2)), "fail \(ConnectionPoolError.poolShutdown)")
    }

    func testShutdownWaitsForAnAttemptInProgressThenClosesWhatItOpened() {
        var machine = Machine(maxConnections: 1)
        _ = machine.waitForPipeline(1)
        _ = machine.waitForPipeline(2)
        XCTAssertFalse(machine.shutdown().shutdownComplete, "an attempt is still in progress")
        let late = FakeConnection("late")
        let opened = machine.pipelineOpened(late)
        XCTAssertTrue(opened.closes.first === late)
        XCTAssertTrue(opened.pipelineLeases.isEmpty)
        XCTAssertEqual(opened.failures.map(\.0), [1, 2])
        XCTAssertEqual(opened.failures.map(\.1), [.poolShutdown, .poolShutdown])
        XCTAssertTrue(opened.shutdownComplete)
        XCTAssertEqual(machine.state, .shutDown)
    }

    func testShutdownCompletesWhenTheAttemptInProgressFails() {
        var machine = Machine(maxConnections: 1)
        _ = machine.waitForPipeline(1)
        XCTAssertFalse(machine.shutdown().shutdownComplete)
        let failed = machine.pipelineOpenFailed()
        XCTAssertEqual(failed.pipelineConnectFailures, [1])
        XCTAssertTrue(failed.shutdownComplete)
    }
}
