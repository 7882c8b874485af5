@testable import HTTP
import XCTest

/// The connection's life cycle, driven without sockets, threads or a real clock: every event
/// comes with a made-up time (nanoseconds), and the test checks what the machine asks for.
final class HTTPConnectionStateMachineTests: XCTestCase {
    typealias Machine = HTTPConnectionStateMachine

    private let timeouts = Machine.Timeouts(request: 10_000, idle: 60_000, handler: 15_000, linger: 1_000)
    private let keepAlive = Machine.RequestFacts(isHead: false, keepAlive: true, isHTTP1_0: false)

    /// A machine that has received a whole request at `now` and handed it to the handler.
    private func handling(_ facts: Machine.RequestFacts? = nil, at now: UInt64 = 100) -> (Machine, UInt64) {
        var machine = Machine(timeouts: timeouts, now: 0)
        machine.headReceived(facts ?? keepAlive, now: now)
        let serial = machine.requestReceived(now: now)
        return (machine, serial)
    }

    func testAKeepAliveRequestGoesFromReadingThroughHandlingAndWritingBackToReading() {
        var machine = Machine(timeouts: timeouts, now: 0)
        XCTAssertEqual(machine.phase, .reading)
        XCTAssertTrue(machine.isIdle(inputPending: false))
        XCTAssertFalse(machine.isIdle(inputPending: true), "bytes of a request are waiting to be parsed")
        machine.headReceived(keepAlive, now: 100)
        XCTAssertFalse(machine.isIdle(inputPending: false), "a request is arriving")
        let serial = machine.requestReceived(now: 150)
        XCTAssertEqual(machine.phase, .handling)
        XCTAssertTrue(machine.awaits(serial))
        XCTAssertEqual(machine.respond(status: 200, now: 200), Machine.Framing(includeBody: true, connection: nil))
        XCTAssertEqual(machine.phase, .writing)
        XCTAssertFalse(machine.awaits(serial), "answered")
        XCTAssertEqual(machine.written(now: 300), .readNext)
        XCTAssertEqual(machine.phase, .reading)
        XCTAssertEqual(machine.deadline, 300 + timeouts.idle, "idle from the response's end")
        XCTAssertTrue(machine.isIdle(inputPending: false))
    }

    func testARequestMustArriveWholeWithinTheRequestTimeoutFromItsFirstByte() {
        var machine = Machine(timeouts: timeouts, now: 0)
        machine.awaitingBytes(midRequest: true, now: 1_000)
        machine.awaitingBytes(midRequest: true, now: 5_000)
        XCTAssertEqual(machine.requestDeadline, 11_000, "more bytes do not move the deadline")
        XCTAssertEqual(machine.timeout(now: 10_999), .none)
        XCTAssertEqual(machine.timeout(now: 11_000), .requestTimedOut)
        XCTAssertEqual(machine.fail(now: 11_000), Machine.Framing(includeBody: true, connection: "close"))
        XCTAssertEqual(machine.written(now: 11_100), .linger)
    }

    func testBetweenRequestsTheIdleTimeoutClosesQuietly() {
        var machine = Machine(timeouts: timeouts, now: 0)
        machine.awaitingBytes(midRequest: true, now: 100)
        machine.awaitingBytes(midRequest: false, now: 500)
        XCTAssertNil(machine.requestDeadline, "the request was whole: no request timeout between requests")
        XCTAssertEqual(machine.timeout(now: 500 + timeouts.idle - 1), .none)
        XCTAssertEqual(machine.timeout(now: 500 + timeouts.idle), .close)
    }

    func testAHandlerThatMissesItsDeadlineTimesOutAndItsLateAnswerIsNotTakenForTheNext() {
        var (machine, first) = handling(at: 1_000)
        XCTAssertEqual(machine.timeout(now: 1_000 + timeouts.handler - 1), .none)
        XCTAssertEqual(machine.timeout(now: 1_000 + timeouts.handler), .handlerTimedOut(elapsed: timeouts.handler))
        XCTAssertEqual(machine.respond(status: 503, now: 17_000), Machine.Framing(includeBody: true, connection: nil),
                       "the connection carries on: the request was read whole")
        XCTAssertEqual(machine.written(now: 17_100), .readNext)
        machine.headReceived(keepAlive, now: 18_000)
        let second = machine.requestReceived(now: 18_000)
        XCTAssertNotEqual(first, second)
        XCTAssertFalse(machine.awaits(first), "the first handler's late answer is dropped")
        XCTAssertTrue(machine.awaits(second))
    }

    func testWhileHandlingOnlyTheHandlerTimeoutApplies() {
        var machine = Machine(timeouts: Machine.Timeouts(request: 10, idle: 50, handler: 1_000), now: 0)
        machine.awaitingBytes(midRequest: true, now: 100)
        _ = machine.requestReceived(now: 105)
        XCTAssertNil(machine.requestDeadline)
        XCTAssertEqual(machine.timeout(now: 1_104), .none, "neither the request nor the idle deadline closes it")
        XCTAssertEqual(machine.timeout(now: 1_105), .handlerTimedOut(elapsed: 1_000))
    }

    func testAResponseTheClientDoesNotReadIsClosedAtTheIdleTimeout() {
        var (machine, _) = handling()
        _ = machine.respond(status: 200, now: 2_000)
        XCTAssertEqual(machine.timeout(now: 2_000 + timeouts.idle - 1), .none)
        XCTAssertEqual(machine.timeout(now: 2_000 + timeouts.idle), .close)
    }

    func testFramingFollowsTheRequest() {
        let cases: [(Machine.RequestFacts, HTTPStatus, Machine.Framing)] = [
            (Machine.RequestFacts(isHead: true, keepAlive: true, isHTTP1_0: false), 200, .init(includeBody: false, connection: nil)),
            (keepAlive, 100, .init(includeBody: false, connection: nil)),
            (Machine.RequestFacts(isHead: false, keepAlive: true, isHTTP1_0: true), 200, .init(includeBody: true, connection: "keep-alive")),
            (Machine.RequestFacts(isHead: false, keepAlive: false, isHTTP1_0: true), 200, .init(includeBody: true, connection: "close")),
            (Machine.RequestFacts(isHead: false, keepAlive: false, isHTTP1_0: false), 404, .init(includeBody: true, connection: "close")),
        ]
        for (facts, status, framing) in cases {
            var (machine, _) = handling(facts)
            XCTAssertEqual(machine.respond(status: status, now: 200), framing, "\(facts) \(status)")
        }
        var (head, _) = handling(Machine.RequestFacts(isHead: true, keepAlive: true, isHTTP1_0: false))
        XCTAssertEqual(head.fail(now: 200), Machine.Framing(includeBody: false, connection: "close"), "a HEAD's error has no body either")
    }

    func testAConnectionThatMustCloseLingersThenCloses() {
        var (machine, _) = handling(Machine.RequestFacts(isHead: false, keepAlive: false, isHTTP1_0: false))
        _ = machine.respond(status: 200, now: 200)
        XCTAssertEqual(machine.written(now: 300), .linger)
        XCTAssertEqual(machine.phase, .lingering)
        XCTAssertEqual(machine.ioEvent(readable: true, writable: false, hangup: false, paused: false), .discard)
        XCTAssertEqual(machine.timeout(now: 300 + timeouts.linger - 1), .none)
        XCTAssertEqual(machine.timeout(now: 300 + timeouts.linger), .close)
    }

    func testShutdownClosesAnIdleConnectionAtOnceAndABusyOneAfterItsResponse() {
        var idle = Machine(timeouts: timeouts, now: 0)
        XCTAssertTrue(idle.drain(inputPending: false))
        var (busy, serial) = handling()
        XCTAssertFalse(busy.drain(inputPending: false))
        XCTAssertTrue(busy.awaits(serial), "the request in flight is still answered")
        XCTAssertEqual(busy.respond(status: 200, now: 300).connection, "close")
        XCTAssertEqual(busy.written(now: 400), .linger)
    }

    func testWhatSocketReadinessMeansInEachPhase() {
        var machine = Machine(timeouts: timeouts, now: 0)
        XCTAssertEqual(machine.ioEvent(readable: true, writable: false, hangup: false, paused: false), .read)
        XCTAssertEqual(machine.ioEvent(readable: false, writable: true, hangup: false, paused: false), .none)
        XCTAssertEqual(machine.ioEvent(readable: true, writable: false, hangup: true, paused: true), .finishPaused(hangup: true))
        XCTAssertEqual(machine.ioEvent(readable: false, writable: false, hangup: false, paused: true), .none)
        machine.headReceived(keepAlive, now: 10)
        _ = machine.requestReceived(now: 10)
        XCTAssertEqual(machine.ioEvent(readable: true, writable: false, hangup: false, paused: false), .stopReading,
                       "a pipelined request waits in the kernel while this one is handled")
        XCTAssertEqual(machine.ioEvent(readable: true, writable: false, hangup: true, paused: false), .close)
        _ = machine.respond(status: 200, now: 20)
        XCTAssertEqual(machine.ioEvent(readable: false, writable: true, hangup: false, paused: false), .flush)
        XCTAssertEqual(machine.ioEvent(readable: true, writable: false, hangup: false, paused: false), .none, "not read while writing")
        XCTAssertEqual(machine.ioEvent(readable: false, writable: false, hangup: true, paused: false), .close)
    }

    func testAPausedRequestGetsTheSameTimeAsAnyOther() {
        var machine = Machine(timeouts: timeouts, now: 0)
        machine.requestBegan(now: 2_000)
        machine.awaitingBytes(midRequest: true, now: 4_000)
        XCTAssertEqual(machine.requestDeadline, 2_000 + timeouts.request)
        XCTAssertEqual(machine.timeout(now: 2_000 + timeouts.request), .requestTimedOut)
    }

    func testAClosedConnectionClosesOnceAndAsksForNothingMore() {
        var (machine, serial) = handling()
        XCTAssertTrue(machine.close())
        XCTAssertFalse(machine.close(), "closing twice is a no-op")
        XCTAssertFalse(machine.awaits(serial), "a handler's answer after closing is dropped")
        XCTAssertEqual(machine.timeout(now: .max), .none)
        XCTAssertEqual(machine.ioEvent(readable: true, writable: true, hangup: true, paused: false), .none)
        XCTAssertFalse(machine.isIdle(inputPending: false))
    }
}
