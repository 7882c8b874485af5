import Foundation
@testable import Postgres
import Reactor
import TestSupport
import XCTest

/// A connection's state belongs to its event loop: the loop's thread uses it freely, and any
/// other thread's access traps in debug builds (the tests' builds), instead of racing.
final class ConnectionConfinementTests: XCTestCase {
    private static let childVariable = "CRM_CONFINEMENT_CHILD"

    func testTheLoopThreadUsesTheStateAndAnotherThreadTraps() throws {
        let loop = EventLoop(name: "confinement")
        defer { loop.shutdown() }
        let connection = PostgresConnection(loop: loop)
        if ProcessInfo.processInfo.environment[Self.childVariable] == "1" {
            _ = connection.handle  // off the loop: this process must die here
            XCTFail("reading a connection's state off its loop's thread did not trap")
            return
        }
        let onLoop = expectation(description: "read on the loop")
        loop.execute {
            XCTAssertNil(connection.handle, "not connected yet")
            XCTAssertFalse(connection.state.value.queue.awaitsResults)
            onLoop.fulfill()
        }
        wait(for: [onLoop], timeout: 5)

        try XCTSkipUnless(_isDebugAssertConfiguration(), "assertions are compiled out of release builds")
        // The same test in a child process, which reads the state from this (wrong) thread.
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let outcome = try ChildProcess.run(
            testBinary, ["PostgresTests.ConnectionConfinementTests/testTheLoopThreadUsesTheStateAndAnotherThreadTraps"],
            // No crash backtracer: under AddressSanitizer the Swift runtime's swift-backtrace
            // outlives the child holding its output pipes, and the wait never ends.
            environment: [Self.childVariable: "1", "SWIFT_BACKTRACE": "enable=no"])
        // Killed by the trap's signal; under AddressSanitizer, whose handlers catch it, an exit status.
        XCTAssertNotEqual(outcome.status, 0, "the child died at the wrong-thread read: \(outcome.standardError)")
        XCTAssertTrue(outcome.standardError.contains("LoopBound state read off its event loop's thread"), outcome.standardError)
    }
}
