import Reactor
import Synchronization
import XCTest

final class LoopBoundTests: XCTestCase {
    func testTheLoopReadsAndChangesItsValue() throws {
        let loop = EventLoop(name: "loop-bound-test")
        defer { loop.shutdown() }
        let counter = LoopBound(0, on: loop)
        let seen = Mutex<[Int]>([])
        let done = expectation(description: "jobs ran")
        for _ in 0..<3 {
            loop.execute {
                counter.value += 1
                seen.withLock { $0.append(counter.value) }
            }
        }
        loop.execute { done.fulfill() }
        wait(for: [done], timeout: 5)
        XCTAssertEqual(seen.withLock { $0 }, [1, 2, 3])
    }

    func testTheLoopThreadIsRecognisedAndOtherThreadsAreNot() {
        let loop = EventLoop(name: "loop-bound-thread")
        defer { loop.shutdown() }
        XCTAssertFalse(loop.inEventLoop, "the test's thread is not the loop's")
        let onLoop = Mutex<Bool?>(nil)
        let done = expectation(description: "job ran")
        loop.execute {
            onLoop.withLock { $0 = loop.inEventLoop }
            done.fulfill()
        }
        wait(for: [done], timeout: 5)
        XCTAssertEqual(onLoop.withLock { $0 }, true)
    }
}
