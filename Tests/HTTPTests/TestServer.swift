import Foundation
import HTTP
import Synchronization

/// A real ``HTTPServer`` on an ephemeral loopback port with a handler that shows what it got,
/// and the server's own errors rendered by ``TestErrorResponse``.
///
/// Routes: `/echo` answers the method, target, body and peer as JSON; `/slow?ms=N` waits first;
/// `/throw` throws; `/large?bytes=N` returns N bytes, a new array each time; `/static` returns
/// ``staticBody``, the same array every time (like a document served from memory); `/gated`
/// waits until the test opens ``gate`` (cancellation does not stop it); `/unsafe-header` tries
/// to set a header with CR LF in it. Streaming (``TestServer+Streams.swift``): `/upload` takes
/// its body as it arrives, `/pieces` writes its body piece by piece. Everything else: 200 with
/// `{"ok":true}`.
final class TestServer {
    let server: HTTPServer
    var port: Int { server.port }
    /// `/slow` requests being handled right now, for tests that must act while one is in flight.
    let slowInFlight: Counter
    /// What `/gated` requests wait for.
    let gate: Gate
    /// What the streaming routes saw.
    let streams: Streams
    /// `/static`'s body: 400,000 bytes, one array for every response.
    static let staticBody = [UInt8]((0..<400_000).map { UInt8(truncatingIfNeeded: $0 % 251) })

    init(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws {
        var configuration = HTTPServerConfiguration(host: "::", port: 0, eventLoops: 2, errorResponse: TestErrorResponse.json)
        configuration.limits.streamedBodyLimit = { $0.path == "/upload" ? Self.uploadLimit : nil }
        configure(&configuration)
        let slowInFlight = Counter()
        self.slowInFlight = slowInFlight
        let gate = Gate()
        self.gate = gate
        let streams = Streams()
        self.streams = streams
        server = HTTPServer(configuration: configuration) {
            try await Self.handle($0, slowInFlight: slowInFlight, gate: gate, streams: streams)
        }
        try server.start()
    }

    /// Holds `/gated` handlers until ``open()``; they wait whether or not their task is cancelled.
    final class Gate: Sendable {
        private let state = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

        /// Handlers waiting right now.
        var waiting: Int { state.withLock { $0.waiting.count } }

        func wait() async {
            await withCheckedContinuation { continuation in
                let resume = state.withLock { state -> Bool in
                    if state.open { return true }
                    state.waiting.append(continuation)
                    return false
                }
                if resume { continuation.resume() }
            }
        }

        func open() {
            let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.open = true
                defer { state.waiting = [] }
                return state.waiting
            }
            waiting.forEach { $0.resume() }
        }
    }

    /// A counter shared with the handler.
    final class Counter: Sendable {
        private let count = Atomic<Int>(0)
        var value: Int { count.load(ordering: .acquiring) }
        func add(_ delta: Int) { count.add(delta, ordering: .releasing) }
    }

    func shutdown() async {
        gate.open()
        await server.shutdown(gracePeriod: .seconds(5))
    }

    struct Thrown: Error {}

    static func handle(_ request: HTTPRequest, slowInFlight: Counter, gate: Gate, streams: Streams) async throws -> HTTPResponse {
        let query = request.query.map(String.init) ?? ""
        switch request.path {
        case "/upload":
            return try await upload(request, gate: gate, streams: streams)
        case "/pieces":
            return pieces(request, streams: streams)
        case "/echo":
            let object: [String: Any] = [
                "method": request.method.rawValue, "target": request.target, "peer": request.peerAddress,
                "body": String(decoding: request.body, as: UTF8.self), "bodyLength": request.body.count,
                "version": request.head.version.description,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return HTTPResponse(status: 200, headers: HTTPHeaders([("Content-Type", "application/json")]), body: Array(data))
        case "/slow":
            let milliseconds = Int(query.replacingOccurrences(of: "ms=", with: "")) ?? 100
            slowInFlight.add(1)
            defer { slowInFlight.add(-1) }
            try? await Task.sleep(for: .milliseconds(milliseconds))
            return .json(status: 200, #"{"slept":\#(milliseconds)}"#)
        case "/gated":
            await gate.wait()
            return .json(status: 200, #"{"gated":\#(request.body.count)}"#)
        case "/static":
            return HTTPResponse(status: 200, body: staticBody)
        case "/throw":
            throw Thrown()
        case "/large":
            let count = Int(query.replacingOccurrences(of: "bytes=", with: "")) ?? 1_000_000
            return HTTPResponse(status: 200, body: [UInt8](repeating: UInt8(ascii: "x"), count: count))
        case "/unsafe-header":
            return HTTPResponse(status: 200, headers: HTTPHeaders([("X-Echo", "a\r\nSet-Cookie: evil=1"), ("X-Fine", "yes")]), body: [])
        default:
            return .json(status: 200, #"{"ok":true}"#)
        }
    }
}
