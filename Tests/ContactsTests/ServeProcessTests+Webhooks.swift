import Contacts
import Foundation
import TestSupport
import XCTest

/// Webhooks across `crm serve` processes (API.md §11): three instances on one database share
/// the deliveries, and in normal operation each event reaches the receiver once.
extension ServeProcessTests {
    func testThreeServeProcessesDeliverEachEventOnceBetweenThem() throws {
        let receiver = try WebhookReceiver()
        defer { _ = try? blocking { await receiver.stop() } }
        let environment = ["CRM_WEBHOOK_ALLOW_PRIVATE": "1"]
        let ports = try (0..<3).map { _ in try serve(environment: environment).1 }
        let key = try createKey(listing: 9)
        let added = try ChildProcess.run(ChildProcess.crmExecutable, ["webhook", "add", "--listing", "9", "--url", receiver.url,
                                                                      "--webhook-allow-private"],
                                         environment: database.commandEnvironment)
        XCTAssertEqual(added.status, 0, added.standardError)
        let secret = String(added.standardOutput.split(separator: "\n").last ?? "")
        for n in 0..<100 {
            let body = "email=twice\(n)%40example.com"
            let client = try RawHTTPClient(port: ports[n % 3])
            try client.send("POST /crm/9 HTTP/1.1\r\nAuthorization: Bearer \(key.text)\r\n"
                            + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            XCTAssertEqual(try client.readResponse().status, 201)
        }
        let all = try receiver.waitFor(100, timeout: .seconds(30))
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertEqual(receiver.deliveries.count, 100, "each event once, none twice")
        XCTAssertEqual(Set(all.map(\.id)).count, 100)
        XCTAssertEqual(try WebhookReceiver.validSignatures(receiver.deliveries, secret: secret), 100)
        let database = self.database!
        let queued = try blocking {
            let connection = try await database.connect()
            let count = try await connection.query("SELECT count(*) FROM webhook_deliveries")[0].decode(Int.self, column: 0)
            await connection.close()
            return count
        }
        XCTAssertEqual(queued, 0, "every outcome recorded")
    }
}
