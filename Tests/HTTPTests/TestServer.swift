import Foundation
import HTTP

/// A real ``HTTPServer`` on an ephemeral loopback port with a handler that shows what it got.
///
/// Routes: `/echo` answers the method, target, body and peer as JSON; `/slow?ms=N` waits first;
/// `/throw` throws; `/large?bytes=N` returns N bytes; `/unsafe-header` tries to set a header
/// with CR LF in it. Everything else: 200 with `{"ok":true}`.
final class TestServer {
    let server: HTTPServer
    var port: Int { server.port }

    init(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws {
        var configuration = HTTPServerConfiguration(host: "::", port: 0, eventLoops: 2)
        configure(&configuration)
        server = HTTPServer(configuration: configuration, handler: Self.handle)
        try server.start()
    }

    func shutdown() async {
        await server.shutdown(gracePeriod: .seconds(5))
    }

    struct Thrown: Error {}

    @Sendable
    static func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        let query = request.query.map(String.init) ?? ""
        switch request.path {
        case "/echo":
            let object: [String: Any] = [
                "method": request.method, "target": request.target, "peer": request.peerAddress,
                "body": String(decoding: request.body, as: UTF8.self), "bodyLength": request.body.count,
                "version": request.head.version.description,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return HTTPResponse(status: 200, headers: HTTPHeaders([("Content-Type", "application/json")]), body: Array(data))
        case "/slow":
            let milliseconds = Int(query.replacingOccurrences(of: "ms=", with: "")) ?? 100
            try? await Task.sleep(for: .milliseconds(milliseconds))
            return .json(status: 200, #"{"slept":\#(milliseconds)}"#)
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
