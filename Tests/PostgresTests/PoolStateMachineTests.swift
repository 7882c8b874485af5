@testable import Postgres
import XCTest

/// The pool's rules, driven without a database, threads or a real clock.
final class PoolStateMachineTests: XCTestCase {
    typealias Machine = PoolStateMachine<FakeConnection>

    func testWaitersAreServedFirstInFirstOut() {
        var machine = Machine(maxConnections: 1)
        let opened = machine.acquire(1, deadline: 100)
        XCTAssertEqual(opened.connectionsToOpen, 1)
        let connection = FakeConnection("a")
        XCTAssertEqual(machine.connectionOpened(connection, now: 5).leases.map(\.waiter), [1])
        XCTAssertEqual(machine.acquire(2, deadline: 100).connectionsToOpen, 0, "at the maximum: no new connection")
        XCTAssertEqual(machine.acquire(3, deadline: 100).connectionsToOpen, 0)
        XCTAssertEqual(machine.waiterCount, 2)

        let second = machine.release(connection, reusable: true, now: 10)
        XCTAssertEqual(second.leases.map(\.waiter), [2])
        XCTAssertTrue(second.leases.first?.connection === connection)
        XCTAssertEqual(machine.release(connection, reusable: true, now: 20).leases.map(\.waiter), [3])
        XCTAssertTrue(machine.release(connection, reusable: true, now: 30).leases.isEmpty)
        XCTAssertEqual(machine.idleCount, 1)
        XCTAssertEqual(machine.leasedCount, 0)
    }

    func testNeverOpensMoreThanTheMaximum() {
        var machine = Machine(maxConnections: 3)
        var opens = 0
        for waiter in 1...10 { opens += machine.acquire(UInt64(waiter), deadline: 100).connectionsToOpen }
        XCTAssertEqual(opens, 3)
        XCTAssertEqual(machine.openingCount, 3)
        XCTAssertEqual(machine.waiterCount, 10)
    }

    func testIdleConnectionsAreReusedLastInFirstOutWithTheirIdleTime() {
        var machine = Machine(maxConnections: 2)
        _ = machine.acquire(1, deadline: 100)
        _ = machine.acquire(2, deadline: 100)
        let a = FakeConnection("a"), b = FakeConnection("b")
        _ = machine.connectionOpened(a, now: 1)
        _ = machine.connectionOpened(b, now: 2)
        _ = machine.release(a, reusable: true, now: 10)
        _ = machine.release(b, reusable: true, now: 20)
        let lease = machine.acquire(3, deadline: 100).leases.first
        XCTAssertTrue(lease?.connection === b)
        XCTAssertEqual(lease?.idleSince, 20)
    }

    func testExpiredWaitersFailWithTheAcquireTimeoutInOrder() {
        var machine = Machine(maxConnections: 1)
        _ = machine.acquire(1, deadline: 100)
        _ = machine.connectionOpened(FakeConnection("a"), now: 0)
        _ = machine.acquire(2, deadline: 200)
        _ = machine.acquire(3, deadline: 300)
        XCTAssertEqual(machine.nextDeadline, 200)
        XCTAssertTrue(machine.expireWaiters(now: 199).failures.isEmpty)
        let expired = machine.expireWaiters(now: 250)
        XCTAssertEqual(expired.failures.map(\.0), [2])
        XCTAssertEqual(expired.failures.map(\.1), [.acquireTimeout])
        XCTAssertEqual(machine.nextDeadline, 300)
    }

    func testACancelledWaiterLeavesTheQueue() {
        var machine = Machine(maxConnections: 1)
        _ = machine.acquire(1, deadline: 100)
        let connection = FakeConnection("a")
        _ = machine.connectionOpened(connection, now: 0)
        _ = machine.acquire(2, deadline: 100)
        _ = machine.acquire(3, deadline: 100)
        XCTAssertTrue(machine.removeWaiter(2))
        XCTAssertFalse(machine.removeWaiter(2), "removing twice finds nothing")
        XCTAssertEqual(machine.release(connection, reusable: true, now: 1).leases.map(\.waiter), [3])
    }

    func testAFailedConnectionAttemptFailsTheOldestWaiterAndRetriesForTheRest() {
        var machine = Machine(maxConnections: 1)
        _ = machine.acquire(1, deadline: 100)
        _ = machine.acquire(2, deadline: 100)
        let failed = machine.connectionOpenFailed()
        XCTAssertEqual(failed.connectFailures, [1])
        XCTAssertEqual(failed.connectionsToOpen, 1, "waiter 2 gets its own attempt")
        let failedAgain = machine.connectionOpenFailed()
        XCTAssertEqual(failedAgain.connectFailures, [2])
        XCTAssertEqual(failedAgain.connectionsToOpen, 0)
        XCTAssertEqual(machine.openingCount, 0)
    }

    func testABrokenConnectionIsClosedAndReplacedForWaiters() {
        var machine = Machine(maxConnections: 1)
        _ = machine.acquire(1, deadline: 100)
        let broken = FakeConnection("broken")
        _ = machine.connectionOpened(broken, now: 0)
        _ = machine.acquire(2, deadline: 100)
        let released = machine.release(broken, reusable: false, now: 1)
        XCTAssertTrue(released.closes.first === broken)
        XCTAssertTrue(released.leases.isEmpty)
        XCTAssertEqual(released.connectionsToOpen, 1)
        XCTAssertEqual(machine.connectionOpened(FakeConnection("fresh"), now: 2).leases.map(\.waiter), [2])
    }

    func testAnIdleConnectionFoundClosedIsForgotten() {
        var machine = Machine(maxConnections: 2)
        _ = machine.acquire(1, deadline: 100)
        let connection = FakeConnection("a")
        _ = machine.connectionOpened(connection, now: 0)
        _ = machine.release(connection, reusable: true, now: 1)
        machine.idleConnectionClosed(connection)
        XCTAssertEqual(machine.idleCount, 0)
        XCTAssertEqual(machine.acquire(2, deadline: 100).connectionsToOpen, 1)
    }

    func testReleasingTwiceOrSomethingNeverLentIsIgnored() {
        var machine = Machine(maxConnections: 2)
        _ = machine.acquire(1, deadline: 100)
        let connection = FakeConnection("a")
        _ = machine.connectionOpened(connection, now: 0)
        _ = machine.release(connection, reusable: true, now: 1)
        let again = machine.release(connection, reusable: true, now: 2)
        XCTAssertTrue(again.leases.isEmpty && again.closes.isEmpty)
        XCTAssertEqual(machine.idleCount, 1, "not parked twice")
        XCTAssertEqual(machine.leasedCount, 0)
        _ = machine.release(FakeConnection("stranger"), reusable: true, now: 3)
        XCTAssertEqual(machine.idleCount, 1)
        let first = machine.acquire(2, deadline: 100).leases.first
        let second = machine.acquire(3, deadline: 100)
        XCTAssertTrue(first?.connection === connection)
        XCTAssertTrue(second.leases.isEmpty, "the one connection is not lent to two callers")
        XCTAssertEqual(second.connectionsToOpen, 1)
    }

    func testShutdownFailsWaitersClosesIdleAndWaitsForLeases() {
        var machine = Machine(maxConnections: 2)
        _ = machine.acquire(1, deadline: 100)
        _ = machine.acquire(2, deadline: 100)
        let leased = FakeConnection("leased"), idle = FakeConnection("idle")
        _ = machine.connectionOpened(leased, now: 0)
        _ = machine.connectionOpened(idle, now: 0)
        _ = machine.release(idle, reusable: true, now: 1)
        _ = machine.acquire(3, deadline: 100)  // takes `idle`
        _ = machine.acquire(4, deadline: 100)  // waits
        let shutdown = machine.shutdown()
        XCTAssertEqual(shutdown.failures.map(\.0), [4])
        XCTAssertEqual(shutdown.failures.map(\.1), [.poolShutdown])
        XCTAssertFalse(shutdown.shutdownComplete)
        XCTAssertEqual(machine.acquire(5, deadline: 100).failures.map(\.1), [.poolShutdown])
        let first = machine.release(leased, reusable: true, now: 2)
        XCTAssertTrue(first.closes.first === leased)
        XCTAssertFalse(first.shutdownComplete)
        let last = machine.release(idle, reusable: true, now: 3)
        XCTAssertTrue(last.shutdownComplete)
        XCTAssertEqual(machine.state, .shutDown)
    }
}
