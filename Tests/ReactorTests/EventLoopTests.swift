import Glibc
import Reactor
import Synchronization
import XCTest

final class EventLoopTests: XCTestCase {
    private var loop: EventLoop!

    override func setUp() {
        loop = EventLoop(name: "test-loop")
    }

    override func tearDown() {
        loop.shutdown()
        loop = nil
    }

    func testJobsRunInSubmissionOrderOnTheLoopThread() async {
        let seen = Mutex<[Int]>([])
        let onLoop = Mutex<[Bool]>([])
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            for index in 0..<1000 {
                loop.execute { [loop] in
                    seen.withLock { $0.append(index) }
                    onLoop.withLock { $0.append(loop!.inEventLoop) }
                    if index == 999 { done.resume() }
                }
            }
        }
        XCTAssertEqual(seen.withLock { $0 }, Array(0..<1000))
        XCTAssertEqual(onLoop.withLock { $0 }, Array(repeating: true, count: 1000))
        XCTAssertFalse(loop.inEventLoop)
    }

    func testTimersFireInDeadlineOrderAndCancelledOnesNever() async {
        let fired = Mutex<[String]>([])
        let start = ContinuousClock.now
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            loop.execute { [loop] in
                let loop = loop!
                loop.scheduleTimer(after: .milliseconds(60)) { fired.withLock { $0.append("60") }; done.resume() }
                loop.scheduleTimer(after: .milliseconds(20)) { fired.withLock { $0.append("20") } }
                let cancelled = loop.scheduleTimer(after: .milliseconds(10)) { fired.withLock { $0.append("cancelled") } }
                loop.scheduleTimer(after: .milliseconds(40)) { fired.withLock { $0.append("40") } }
                loop.cancelTimer(cancelled)
            }
        }
        XCTAssertEqual(fired.withLock { $0 }, ["20", "40", "60"])
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(60))
    }

    func testReadinessOfARegisteredDescriptorIsReported() async throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        let readEnd = fds[0]
        let received = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], Error>) in
            loop.execute { [loop] in
                let loop = loop!
                do {
                    try loop.register(readEnd, interest: .read) { events in
                        XCTAssertTrue(events.readable)
                        var buffer = [UInt8](repeating: 0, count: 16)
                        let count = read(readEnd, &buffer, buffer.count)
                        loop.deregister(readEnd)
                        continuation.resume(returning: Array(buffer.prefix(max(0, count))))
                    }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            var bytes: [UInt8] = [1, 2, 3]
            XCTAssertEqual(write(fds[1], &bytes, 3), 3)
        }
        XCTAssertEqual(received, [1, 2, 3])
    }

    func testRegisteringAnInvalidDescriptorThrowsWithErrno() async {
        let error = await withCheckedContinuation { (continuation: CheckedContinuation<ReactorError?, Never>) in
            loop.execute { [loop] in
                do {
                    try loop!.register(-1, interest: .read) { _ in }
                    continuation.resume(returning: nil)
                } catch {
                    continuation.resume(returning: error as? ReactorError)
                }
            }
        }
        XCTAssertEqual(error?.operation, "epoll_ctl")
        XCTAssertEqual(error?.errno, EBADF)
    }
}
