import Contacts
import Foundation
import Postgres
import TestSupport
import XCTest

/// Tenancy as a property: random sequences of creates, updates, deletes and searches with keyA
/// (listing 1), keyB (listing 2) and keyAB (both), aimed at listings 1, 2 and 3 (granted to no
/// key), by emails shared across listings and by ids of other listings' contacts. After every
/// step the whole table is compared with the one before: a key never reads or changes a
/// contact outside its grants. The seed is printed on failure; CRM_PROPERTY_SEED replays one.
final class IsolationPropertyTests: ContactsTestCase {
    /// Every contact, by listing, as comparable text.
    private func snapshot() throws -> [Int64: [Int64: String]] {
        let database = self.database!
        return try blocking {
            let connection = try await database.connect()
            let rows = try await connection.query("""
                SELECT listing_id, contact_id,
                       concat_ws('|', email, phone, first_name, last_name, updated_at::text) FROM contacts
                """).rows
            await connection.close()
            var byListing: [Int64: [Int64: String]] = [:]
            for row in rows {
                byListing[try row.decode(Int64.self, column: 0), default: [:]][try row.decode(Int64.self, column: 1)] =
                    try row.decode(String.self, column: 2)
            }
            return byListing
        }
    }

    /// The contact ids a response shows: data.contact, data.results[] or data.contact_ids[].
    private func shownIDs(_ response: RawHTTPClient.Response) -> [Int64] {
        let data = self.data(response)
        var ids: [Int64] = []
        if let contact = data["contact"] as? [String: Any], let id = contact["contact_id"] as? NSNumber { ids.append(id.int64Value) }
        for result in data["results"] as? [[String: Any]] ?? [] {
            if let id = result["contact_id"] as? NSNumber { ids.append(id.int64Value) }
        }
        for id in data["contact_ids"] as? [NSNumber] ?? [] { ids.append(id.int64Value) }
        return ids
    }

    func testNoKeyEverReadsOrChangesAContactOutsideItsGrants() throws {
        let seed = ProcessInfo.processInfo.environment["CRM_PROPERTY_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 0...UInt64.max)
        var random = SeededGenerator(seed: seed)
        let keys: [(APIKey, Set<Int64>)] = [(keyA, [1]), (keyB, [2]), (keyAB, [1, 2])]
        let emails = (0..<6).map { "shared\($0)@example.com" }
        // Some contacts in both listings with the same emails, so lookups by email could mix them up.
        for listing: Int64 in [1, 2] {
            for email in emails.prefix(3) { XCTAssertEqual(try post(listing, [("email", email)]).status, 201) }
        }
        var before = try snapshot()
        var statuses: [Int: Int] = [:]
        for step in 0..<150 {
            let (key, grants) = keys.randomElement(using: &random)!
            let listing = Int64.random(in: 1...3, using: &random)
            let granted = grants.contains(listing)
            let email = emails.randomElement(using: &random)!
            let allIDs = before.values.flatMap(\.keys)
            let id = allIDs.randomElement(using: &random).map(String.init) ?? "1"
            let name = "N\(step)"
            let path = "/crm/\(listing)"
            let (description, response): (String, RawHTTPClient.Response)
            switch Int.random(in: 0..<8, using: &random) {
            case 0: (description, response) = ("POST email", try call("POST", path, key: key, body: .form([("email", email), ("first_name", name)])))
            case 1: (description, response) = ("PUT email", try call("PUT", path, key: key, body: .form([("email", email), ("last_name", name)])))
            case 2: (description, response) = ("PUT id \(id)", try call("PUT", path, key: key, body: .form([("id", id), ("first_name", name)])))
            case 3: (description, response) = ("DELETE email", try call("DELETE", path, key: key, body: .form([("email", email)])))
            case 4: (description, response) = ("DELETE id \(id)", try call("DELETE", path, key: key, body: .form([("id", id)])))
            case 5: (description, response) = ("GET email", try call("GET", path + "?email=" + email.replacingOccurrences(of: "@", with: "%40"), key: key))
            case 6: (description, response) = ("GET id \(id)", try call("GET", path + "?id=" + id, key: key))
            default: (description, response) = ("GET list", try call("GET", path, key: key))
            }
            let after = try snapshot()
            let context = "seed \(seed), step \(step): \(description) on listing \(listing) with key \(key.prefix)"
            if !granted {
                XCTAssertEqual(response.status, 403, context)
                XCTAssertEqual(after, before, "a refused request changed nothing: \(context)")
            } else {
                XCTAssertTrue([200, 201, 202, 404, 409].contains(response.status), "\(context): \(response.status) \(response.bodyText)")
                for other in [1, 2, 3] as [Int64] where other != listing {
                    XCTAssertEqual(after[other] ?? [:], before[other] ?? [:], "listing \(other) untouched: \(context)")
                }
                let own = Set((before[listing] ?? [:]).keys).union((after[listing] ?? [:]).keys)
                for shown in shownIDs(response) {
                    XCTAssertTrue(own.contains(shown), "contact \(shown) shown is of listing \(listing): \(context)")
                }
            }
            statuses[response.status, default: 0] += 1
            if (testRun?.totalFailureCount ?? 0) > 0 { break }  // the first failure tells the story
            before = after
        }
        // The run did exercise both sides: refusals, and work done inside the grants.
        XCTAssertGreaterThan(statuses[403] ?? 0, 20, "seed \(seed): \(statuses)")
        XCTAssertGreaterThan((statuses[200] ?? 0) + (statuses[201] ?? 0) + (statuses[202] ?? 0), 20, "seed \(seed): \(statuses)")
    }
}
