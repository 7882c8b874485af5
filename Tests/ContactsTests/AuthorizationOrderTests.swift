import Contacts
import Foundation
import TestSupport
import XCTest

/// Who is asking comes before what is asked: only the method (405), the listing id (400) and the
/// shape of the Authorization header are judged before the key's grant; an unknown, revoked or
/// ungranted key gets 403 whatever its parameters, so validation answers nobody without a grant.
final class AuthorizationOrderTests: ContactsTestCase {
    /// Requests that a granted key gets a 400 or 415 for, each with what it must say.
    private var badRequests: [(method: String, body: Body, status: Int, parameter: String?)] {
        [
            ("PUT", .form([("first_name", "No identifier")]), 400, "email"),
            ("POST", .form([("first_name", "No email or phone")]), 400, "email"),
            ("POST", .form([("email", "not-an-email")]), 400, "email"),
            ("DELETE", .none, 400, "id"),
            ("GET", .form([("limit", "0")]), 400, "limit"),
            ("POST", .raw(contentType: "text/plain", bytes: Array("email=a@example.com".utf8)), 415, nil),
            ("POST", .json("[1]"), 400, "body"),
        ]
    }

    func testAGrantedKeyLearnsWhatIsWrongWithItsRequest() throws {
        for request in badRequests {
            let response = try call(request.method, "/crm/1", key: keyA, body: request.body)
            XCTAssertEqual(response.status, request.status, "\(request.method) \(request.body): \(response.bodyText)")
            XCTAssertEqual(response.json["parameter"] as? String, request.parameter, "\(request.method) \(request.body)")
        }
    }

    func testUnknownRevokedAndUngrantedKeysGet403WhateverTheirParameters() throws {
        let database = self.database!
        let revoked = try blocking {
            let connection = try await database.connect()
            let store = AdminStore(connection: connection)
            let key = try await store.createKey(listings: [1], name: "revoked", rateLimit: nil)
            _ = try await store.revokeKey(key)
            await connection.close()
            return key
        }
        let keys: [(String, APIKey)] = [("unknown", APIKey.generate()), ("revoked", revoked), ("granted listing 2 only", keyB)]
        let before = try contactCount()
        for (name, key) in keys {
            for request in badRequests {
                let response = try call(request.method, "/crm/1", key: key, body: request.body)
                XCTAssertEqual(response.status, 403, "\(name): \(request.method) \(request.body): \(response.bodyText)")
                XCTAssertEqual(response.json["code"] as? String, "forbidden", name)
                XCTAssertEqual(response.json["message"] as? String, "Invalid API key or unauthorized access.", name)
                XCTAssertNil(response.json["parameter"], "\(name): no parameter is named to a caller without a grant")
            }
        }
        XCTAssertEqual(try contactCount(), before, "nothing written")
    }

    func testMethodListingIDAndAMissingKeyAreJudgedFirst() throws {
        let unknown = APIKey.generate()
        let patch = try call("PATCH", "/crm/1", key: unknown, body: .form([("email", "x")]))
        XCTAssertEqual(patch.status, 405)
        XCTAssertEqual(patch.header("Allow"), "GET, HEAD, POST, PUT, DELETE")
        let badListing = try call("PUT", "/crm/abc", key: unknown, body: .form([("first_name", "x")]))
        XCTAssertEqual(badListing.status, 400)
        XCTAssertEqual(badListing.json["parameter"] as? String, "listing_id")
        let noKey = try call("PUT", "/crm/1", key: nil, body: .form([("first_name", "x")]))
        XCTAssertEqual(noKey.status, 403)
    }
}
