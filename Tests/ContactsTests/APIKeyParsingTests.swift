import Contacts
import XCTest

/// `Authorization: Bearer <key>` read byte by byte (APIKey.fromAuthorization): what it takes and
/// what it refuses.
final class APIKeyParsingTests: XCTestCase {
    func testTheSchemeInAnyCaseThenTheToken() {
        let accepted: [(String, String)] = [
            ("Bearer crm_abc", "crm_abc"),
            ("bearer crm_abc", "crm_abc"),
            ("BEARER crm_abc", "crm_abc"),
            ("  Bearer   crm_abc \t", "crm_abc"),
            ("Bearer \tcrm_abc", "crm_abc"),
            ("Bearer " + String(repeating: "k", count: 200), String(repeating: "k", count: 200)),
        ]
        for (header, key) in accepted {
            XCTAssertEqual(APIKey.fromAuthorization(header)?.text, key, header)
        }
    }

    func testEverythingElseIsNoKey() {
        let refused: [String?] = [
            nil, "", "Bearer", "Bearer ", "Bearer  \t ", "Basic crm_abc", "Bearer\tcrm_abc", "Bearerx crm_abc",
            "Beare crm_abc", "Bearer crm abc", "Bearer crm_é", "Bearer crm\u{7f}", "Bearer " + String(repeating: "k", count: 201),
            "Bëarer crm_abc",
        ]
        for header in refused {
            XCTAssertNil(APIKey.fromAuthorization(header), header ?? "nil")
        }
    }
}
