import Dispatch
import Reactor
import Synchronization
import XCTest

/// Jobs that arrive while a loop shuts down are run by its final drain or refused, never
/// silently dropped, so a task preferring the loop always resumes (on the global executor
/// once the loop is gone).
final class EventLoopShutdownTests: XCTestCase {
    func testAJobSubmittedAfterTheLastDrainIsRefusedNotDropped() {
        let loop = EventLoop(name: "test-closing")
        let ran = Atomic<Int>(0)
        XCTAssertTrue(loop.executeIfRunning { ran.add(1, ordering: .relaxed) })
        loop.shutdown()
        XCTAssertEqual(ran.load(ordering: .relaxed), 1, "a job taken before shutdown runs in the final drain")
        XCTAssertFalse(loop.executeIfRunning { ran.add(1, ordering: .relaxed) }, "after the last drain nothing is taken in")
        XCTAssertEqual(ran.load(ordering: .relaxed), 1)
    }

    func testTasksHoppingOntoALoopWhileItShutsDownAllFinish() async throws {
        for round in 0..<50 {
            let loop = EventLoop(name: "test-hop-\(round)")
            let finished = Count()
            let tasks = (0..<20).map { _ in
                Task(executorPreference: loop) {
                    for _ in 0..<50 { await Task.yield() }
                    finished.increment()
                }
            }
            // Shut down from another thread while the tasks keep enqueueing onto the loop.
            let stopped = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                loop.shutdown()
                stopped.signal()
            }
            let clock = ContinuousClock(), deadline = clock.now + .seconds(10)
            while finished.value < tasks.count, clock.now < deadline {
                try await Task.sleep(for: .milliseconds(1))
            }
            XCTAssertEqual(finished.value, tasks.count, "round \(round): every task resumed after the shutdown")
            XCTAssertEqual(stopped.wait(timeout: .now() + 10), .success)
            for task in tasks { await task.value }
        }
    }
}

/// A counter tasks on any thread may bump.
private final class Count: Sendable {
    private let count = Mutex(0)

    func increment() { count.withLock { $0 += 1 } }

    var value: Int { count.withLock { $0 } }
}
