import Contacts
import Foundation
import HTTP
import Synchronization
import TestSupport

/// A webhook receiver for the tests: an HTTP server on loopback that keeps every delivery it
/// gets (headers, body, arrival) and answers as the test tells it, request by request.
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable, CustomStringConvertible {
        let id: String
        let timestamp: String
        let signature: String
        let contentType: String
        let body: String
        let arrived: ContinuousClock.Instant

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
        var type: String { json["type"] as? String ?? "" }
        var data: [String: Any] { json["data"] as? [String: Any] ?? [:] }
        var description: String { "\(id) \(body)" }
    }

    /// The answer to the `number`th request (0 first), after an optional wait.
    typealias Answer = @Sendable (_ number: Int) async -> HTTPResponse

    /// What arrived, and how many requests were held at once (now, at most).
    private final class Log: Sendable {
        let received = Mutex<[Delivery]>([])
        let concurrency = Mutex<(now: Int, most: Int)>((0, 0))
    }

    let server: HTTPServer
    private let log = Log()

    init(answer: @escaping Answer = { _ in HTTPResponse(status: 204) }) throws {
        let log = self.log
        server = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0, eventLoops: 1)) { request in
            let number = log.received.withLock { list in
                list.append(Delivery(id: request.headers["webhook-id"] ?? "", timestamp: request.headers["webhook-timestamp"] ?? "",
                                     signature: request.headers["webhook-signature"] ?? "",
                                     contentType: request.headers["Content-Type"] ?? "",
                                     body: String(decoding: request.body, as: UTF8.self), arrived: .now))
                return list.count - 1
            }
            log.concurrency.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
            defer { log.concurrency.withLock { $0.now -= 1 } }
            return await answer(number)
        }
        try server.start()
    }

    var url: String { "http://127.0.0.1:\(server.port)/hook" }
    var deliveries: [Delivery] { log.received.withLock { $0 } }
    /// The most requests it held at once.
    var mostAtOnce: Int { log.concurrency.withLock { $0.most } }

    /// Waits until `count` deliveries arrived; returns them.
    @discardableResult
    func waitFor(_ count: Int, timeout: Duration = .seconds(10)) throws -> [Delivery] {
        try waitUntil("\(count) deliveries", timeout: timeout, observe: { deliveries }) { $0.count >= count }
    }

    func stop() async {
        await server.shutdown(gracePeriod: .seconds(1))
    }

    /// How many of `deliveries` the `standardwebhooks` package (PyPI) finds validly signed with `secret`.
    static func validSignatures(_ deliveries: [Delivery], secret: String) throws -> Int {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("deliveries-\(UUID().uuidString).json")
        let list = deliveries.map { ["id": $0.id, "timestamp": $0.timestamp, "signature": $0.signature, "body": $0.body] }
        try JSONSerialization.data(withJSONObject: list).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let script = """
            from json import load
            from sys import argv, stderr
            from standardwebhooks import Webhook
            secret, path = argv[1:3]
            valid = 0
            for d in load(open(path)):
                try:
                    Webhook(secret).verify(d["body"], {"webhook-id": d["id"], "webhook-timestamp": d["timestamp"],
                                                       "webhook-signature": d["signature"]})
                    valid += 1
                except Exception as error:
                    print("invalid: %s" % error, file=stderr)
            print(valid)
            """
        let outcome = try ChildProcess.run("/usr/bin/env", ["python3", "-c", script, secret, file.path],
                                           environment: ["PYTHONPATH": WebhookSignatureTests.pythonPath])
        guard outcome.status == 0, let valid = Int(outcome.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestRequirement.unmet("python3 with the standardwebhooks package (make test installs it): \(outcome.standardError)")
        }
        return valid
    }
}
