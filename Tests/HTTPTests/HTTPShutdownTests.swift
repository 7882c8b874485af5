import Foundation
import HTTP
import TestSupport
import XCTest

final class HTTPShutdownTests: XCTestCase {
    func testShutdownFinishesRequestsInFlightClosesIdleOnesAndStopsAccepting() async throws {
        let server = try TestServer()
        let port = server.port
        let idle = try RawHTTPClient(port: port)
        try idle.send("GET / HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try idle.readResponse().status, 200)
        let busy = try RawHTTPClient(port: port)
        try busy.send("GET /slow?ms=500 HTTP/1.1\r\n\r\n")
        try await waitUntil("the slow request is being handled") { () async in server.slowInFlight.value == 1 }

        let started = ContinuousClock.now
        await server.shutdown()
        let took = ContinuousClock.now - started
        XCTAssertGreaterThanOrEqual(took, .milliseconds(300), "waited for the request in flight")
        XCTAssertLessThan(took, .seconds(3))

        let response = try busy.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json["slept"] as? Int, 500)
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(busy.readsEndOfStream())
        XCTAssertTrue(idle.readsEndOfStream(), "the idle connection was closed")
        XCTAssertThrowsError(try RawHTTPClient(port: port), "no longer accepting")
    }

    func testShutdownGivesUpOnRequestsThatOutlastTheGracePeriod() async throws {
        let server = try TestServer()
        let busy = try RawHTTPClient(port: server.port)
        try busy.send("GET /slow?ms=5000 HTTP/1.1\r\n\r\n")
        try await waitUntil("the slow request is being handled") { () async in server.slowInFlight.value == 1 }
        let started = ContinuousClock.now
        await server.server.shutdown(gracePeriod: .milliseconds(300))
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(2))
        XCTAssertTrue(busy.readsEndOfStream())
    }
}
