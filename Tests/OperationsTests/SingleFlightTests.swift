import Foundation
import Operations
import Synchronization
import XCTest

final class SingleFlightTests: XCTestCase {
    /// Holds a body until the test lets it finish.
    private final class Latch: Sendable {
        private let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)
        private let opened = Mutex(false)

        func wait() async {
            await withCheckedContinuation { continuation in
                let open = opened.withLock { $0 }
                if open { continuation.resume() } else { waiter.withLock { $0 = continuation } }
            }
        }

        func open() {
            opened.withLock { $0 = true }
            waiter.withLock { $0.take() }?.resume()
        }
    }

    private final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func add() { value.add(1, ordering: .relaxed) }
        var count: Int { value.load(ordering: .relaxed) }
    }

    private func waitUntil(_ message: String, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(10)
        while !condition() {
            guard Date() < deadline else { return XCTFail("timed out waiting: \(message)") }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    func testCallersArrivingWhileACallRunsShareItsResult() async throws {
        let flight = SingleFlight<String, Int>()
        let runs = Counter()
        let latch = Latch()
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    try await flight.run("key") {
                        runs.add()
                        await latch.wait()
                        return 42
                    }
                }
            }
            try await waitUntil("49 callers waiting") { flight.statistics.waiting == 49 }
            XCTAssertEqual(flight.statistics.running, 1)
            latch.open()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(results, Array(repeating: 42, count: 50))
        XCTAssertEqual(runs.count, 1)
        XCTAssertEqual(flight.statistics.running, 0)
        let again = try await flight.run("key") { runs.add(); return 7 }
        XCTAssertEqual(again, 7, "a call after the first returned runs again")
        XCTAssertEqual(runs.count, 2)
    }

    func testAnErrorReachesEveryCallerAndOtherKeysRunApart() async throws {
        struct Refused: Error, Equatable {}
        let flight = SingleFlight<String, Int>()
        let latch = Latch()
        async let other = flight.run("other") { 5 }
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    do {
                        _ = try await flight.run("key") { await latch.wait(); throw Refused() }
                        return false
                    } catch {
                        return error is Refused
                    }
                }
            }
            try? await waitUntil("9 callers waiting") { flight.statistics.waiting == 9 }
            latch.open()
            return await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(outcomes, Array(repeating: true, count: 10))
        let otherValue = try await other
        XCTAssertEqual(otherValue, 5)
    }
}
