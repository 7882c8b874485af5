import Contacts
import Foundation
import Synchronization
import TestSupport
import XCTest

/// Holds a body until the test lets it finish: ``open()`` releases every ``wait()``, past and
/// future. One lock guards both whether it is open and who waits, so an `open()` can never
/// fall between a `wait()` finding it closed and registering (that waiter would hang). A wait
/// is bounded: it throws ``LatchTimeout`` after `timeout`.
private final class Latch: Sendable {
    struct LatchTimeout: Error, CustomStringConvertible {
        var description: String { "the latch was not opened in time" }
    }

    private struct Waiter {
        let continuation: CheckedContinuation<Void, any Error>
        let timer: Task<Void, Never>
    }

    private enum State {
        case closed([Int: Waiter])
        case open
    }

    private let state = Mutex(State.closed([:]))
    private let nextWaiter = Atomic<Int>(0)
    let timeout: Duration

    init(timeout: Duration = .seconds(10)) {
        self.timeout = timeout
    }

    func wait() async throws {
        let id = nextWaiter.add(1, ordering: .relaxed).newValue
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let timer = Task { [timeout] in
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                self.expire(id)
            }
            let registered = state.withLock { state -> Bool in
                guard case .closed(var waiters) = state else { return false }
                waiters[id] = Waiter(continuation: continuation, timer: timer)
                state = .closed(waiters)
                return true
            }
            if !registered {
                timer.cancel()
                continuation.resume()
            }
        }
    }

    func open() {
        let waiters = state.withLock { state -> [Waiter] in
            defer { state = .open }
            guard case .closed(let waiters) = state else { return [] }
            return Array(waiters.values)
        }
        for waiter in waiters {
            waiter.timer.cancel()
            waiter.continuation.resume()
        }
    }

    private func expire(_ id: Int) {
        let expired = state.withLock { state -> Waiter? in
            guard case .closed(var waiters) = state, let waiter = waiters.removeValue(forKey: id) else { return nil }
            state = .closed(waiters)
            return waiter
        }
        expired?.continuation.resume(throwing: LatchTimeout())
    }
}

final class SingleFlightTests: XCTestCase {
    private final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func add() { value.add(1, ordering: .relaxed) }
        var count: Int { value.load(ordering: .relaxed) }
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
                        try await latch.wait()
                        return 42
                    }
                }
            }
            try await waitUntil("49 callers waiting", timeout: .seconds(10)) { () async in flight.statistics.waiting == 49 }
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
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    do {
                        _ = try await flight.run("key") { try await latch.wait(); throw Refused() }
                        return false
                    } catch {
                        return error is Refused
                    }
                }
            }
            try await waitUntil("9 callers waiting", timeout: .seconds(10)) { () async in flight.statistics.waiting == 9 }
            latch.open()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(outcomes, Array(repeating: true, count: 10))
        let otherValue = try await other
        XCTAssertEqual(otherValue, 5)
    }

    /// The leader's own refusal (say, its client ran out of allowance) is not the waiters': one
    /// of them runs the call itself, and the rest share that one's result.
    func testAFailureThatIsNotSharedMakesAWaiterRunTheCallItself() async throws {
        struct Mine: Error {}
        let flight = SingleFlight<String, String>()
        let runs = Counter()
        let leaderStarted = Latch(), leaderMayFail = Latch(), secondMayFinish = Latch()
        let leader = Task {
            try await flight.run("key", sharesFailure: { !($0 is Mine) }) {
                runs.add()
                leaderStarted.open()
                try await leaderMayFail.wait()
                throw Mine()
            }
        }
        try await leaderStarted.wait()
        let waiters = (0..<5).map { index in
            Task {
                try await flight.run("key", sharesFailure: { !($0 is Mine) }) {
                    runs.add()
                    try await secondMayFinish.wait()
                    return "run by waiter \(index)"
                }
            }
        }
        try await waitUntil("5 callers waiting for the leader", timeout: .seconds(10)) { () async in flight.statistics.waiting == 5 }
        leaderMayFail.open()
        do {
            _ = try await leader.value
            XCTFail("the leader gets its own failure")
        } catch {
            XCTAssertTrue(error is Mine, "\(error)")
        }
        try await waitUntil("one waiter running the call, 4 waiting for it", timeout: .seconds(10)) { () async in
            flight.statistics == (running: 1, waiting: 4)
        }
        secondMayFinish.open()
        var results: Set<String> = []
        for waiter in waiters { results.insert(try await waiter.value) }
        XCTAssertEqual(results.count, 1, "one waiter ran the call, the others shared its result: \(results)")
        XCTAssertEqual(runs.count, 2)
        XCTAssertEqual(flight.statistics.running, 0)
    }

    /// A leader cancelled (its request's deadline passed) fails with its cancellation; callers
    /// that were not cancelled do not get it: one of them runs the call.
    func testACancelledLeadersFailureIsNotSharedWithWaitersThatWereNot() async throws {
        let flight = SingleFlight<String, Int>()
        let runs = Counter()
        let leaderStarted = Latch()
        let leader = Task {
            try await flight.run("key") {
                runs.add()
                leaderStarted.open()
                // Stands for a lookup that ends when its task is cancelled (the pool's wait does).
                try await Task.sleep(for: .seconds(30))
                return 1
            }
        }
        try await leaderStarted.wait()
        let waiters = (0..<5).map { _ in
            Task { try await flight.run("key") { runs.add(); return 2 } }
        }
        try await waitUntil("5 callers waiting for the leader", timeout: .seconds(10)) { () async in flight.statistics.waiting == 5 }
        leader.cancel()
        do {
            _ = try await leader.value
            XCTFail("the leader was cancelled")
        } catch {
            XCTAssertTrue(error is CancellationError, "\(error)")
        }
        for waiter in waiters {
            let value = try await waiter.value
            XCTAssertEqual(value, 2, "a waiter ran the call itself")
        }
        XCTAssertGreaterThanOrEqual(runs.count, 2)
        XCTAssertLessThanOrEqual(runs.count, 6)
    }

    /// The latch itself: an `open()` on another thread racing a `wait()` is never missed. (The
    /// latch this replaces, which read "opened" and stored its waiter under two locks, hung in
    /// 2 of 5 runs of 10,000 rounds.)
    func testALatchOpenedWhileAWaitBeginsReleasesIt() async throws {
        for round in 0..<20_000 {
            let latch = Latch(timeout: .seconds(5))
            async let waited: Void = latch.wait()
            Thread.detachNewThread { latch.open() }
            do {
                try await waited
            } catch {
                return XCTFail("round \(round): \(error)")
            }
        }
    }
}
