import Contacts
import Foundation
import Synchronization
import TestSupport
import XCTest

/// Three `crm serve` processes on one database, as behind a load balancer (API.md §14): a
/// key's rate limit holds for the key across all of them, and an import job is applied once.
extension ServeProcessTests {
    func testThreeInstancesHoldAKeysRateLimitBetweenThem() throws {
        let ports = try (0..<3).map { _ in try serve().1 }
        let rate = 20
        let created = try ChildProcess.run(ChildProcess.crmExecutable,
                                           ["key", "create", "--listing", "5", "--rate-limit", String(rate)],
                                           environment: database.commandEnvironment)
        XCTAssertEqual(created.status, 0, created.standardError)
        let key = created.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        let get = "GET /crm/5 HTTP/1.1\r\nAuthorization: Bearer \(key)\r\n\r\n"
        let admitted = Atomic<Int>(0), limited = Atomic<Int>(0), other = Atomic<Int>(0)
        let start = Date()
        let deadline = start.addingTimeInterval(6)
        DispatchQueue.concurrentPerform(iterations: 9) { worker in
            guard let client = try? RawHTTPClient(port: ports[worker % 3]) else {
                other.add(1, ordering: .relaxed)
                return
            }
            while Date() < deadline {
                guard (try? client.send(get)) != nil, let response = try? client.readResponse() else {
                    other.add(1, ordering: .relaxed)
                    return
                }
                switch response.status {
                case 404: admitted.add(1, ordering: .relaxed)
                case 429: limited.add(1, ordering: .relaxed)
                default: other.add(1, ordering: .relaxed)
                }
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        // One shared bucket: its burst (one second's worth) and then the rate.
        let allowed = Double(rate) * (1 + elapsed)
        let count = admitted.load(ordering: .relaxed)
        print("rate limit across three instances: \(count) admitted in \(elapsed) s; one bucket allows \(allowed)")
        XCTAssertEqual(other.load(ordering: .relaxed), 0, "every answer a 404 (admitted) or a 429")
        XCTAssertGreaterThan(limited.load(ordering: .relaxed), count, "the load was well over the limit")
        XCTAssertLessThanOrEqual(Double(count), allowed * 1.1,
                                 "\(count) admitted in \(elapsed) s by three instances; one bucket allows \(allowed)")
        XCTAssertGreaterThanOrEqual(Double(count), allowed * 0.9,
                                    "\(count) admitted in \(elapsed) s by three instances; one bucket allows \(allowed)")
    }

    func testThreeInstancesApplyAnImportOnceBetweenThem() throws {
        let ports = try (0..<3).map { _ in try serve().1 }
        let key = try createKey(listing: 7)
        let rows = 3000
        let csv = "email,first_name\n" + (0..<rows).map { "three\($0)@example.com,N\($0)" }.joined(separator: "\n") + "\n"
        var ids: [String] = []
        for (n, port) in ports.enumerated() {
            let file = csv.replacingOccurrences(of: "three", with: "i\(n)three")
            let client = try RawHTTPClient(port: port)
            try client.send("POST /crm/7/imports HTTP/1.1\r\nAuthorization: Bearer \(key.text)\r\n"
                            + "Content-Type: text/csv\r\nContent-Length: \(file.utf8.count)\r\n\r\n\(file)")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 202, String(decoding: response.body, as: UTF8.self))
            let body = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            let job = try XCTUnwrap((body?["data"] as? [String: Any])?["import"] as? [String: Any])
            ids.append(String(try XCTUnwrap(job["import_id"] as? Int)))
        }
        try waitUntil("the three imports are completed", timeout: .seconds(60), observe: {
            try ids.map { id in
                let client = try RawHTTPClient(port: ports[0])
                try client.send("GET /crm/7/imports/\(id) HTTP/1.1\r\nAuthorization: Bearer \(key.text)\r\n\r\n")
                return String(decoding: try client.readResponse().body, as: UTF8.self)
            }
        }) { $0.allSatisfy { $0.contains("\"status\":\"completed\"") } }
        let database = self.database!
        let (contacts, events) = try blocking {
            let connection = try await database.connect()
            let contacts = try await connection.query("SELECT count(*) FROM contacts WHERE listing_id = 7")[0].decode(Int.self, column: 0)
            let events = try await connection.query(
                "SELECT count(*) FROM contact_changes WHERE listing_id = 7 AND change_type = 'contact.created'")[0].decode(Int.self, column: 0)
            await connection.close()
            return (contacts, events)
        }
        XCTAssertEqual(contacts, 3 * rows)
        XCTAssertEqual(events, 3 * rows, "one created event per contact: no row applied twice")
    }
}
