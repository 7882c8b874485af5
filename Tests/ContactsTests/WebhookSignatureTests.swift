import Contacts
import Crypto
import Foundation
import TestSupport
import XCTest

/// Webhook signatures as receivers check them: verified by the `standardwebhooks` package from
/// PyPI (API.md §11 names the Standard Webhooks scheme), not by our own code.
final class WebhookSignatureTests: XCTestCase {
    /// Where `make test` installs the package when the machine lacks it.
    static let pythonPath = ContactsTestCase.repositoryFile(".build/python")

    func verify(secret: String, id: String, timestamp: Int64, body: String, signature: String) throws -> String {
        let script = """
            from sys import argv
            from standardwebhooks import Webhook
            secret, msg_id, ts, body, sig = argv[1:6]
            headers = {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": sig}
            try:
                Webhook(secret).verify(body, headers)
                print("valid")
            except Exception as error:
                print("invalid: %s" % error)
            """
        let outcome = try ChildProcess.run("/usr/bin/env", ["python3", "-c", script, secret, id, String(timestamp), body, signature],
                                           environment: ["PYTHONPATH": Self.pythonPath])
        guard outcome.status == 0 else {
            throw TestRequirement.unmet("python3 with the standardwebhooks package (make test installs it): \(outcome.standardError)")
        }
        return outcome.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testASignatureVerifiesWithTheStandardWebhooksLibraryAndATamperedOneDoesNot() throws {
        let secret = WebhookStore.newSecret()
        let body = #"{"type":"contact.created","timestamp":"2026-12-02T10:00:00Z","data":{"listing_id":1,"contact_id":7,"contact":{"contact_first_name":"Zoë"}}}"#
        let now = Int64(Date().timeIntervalSince1970)
        let signature = try XCTUnwrap(WebhookSignature.sign(secret: secret, id: "evt_42", timestamp: now, body: Array(body.utf8)))
        XCTAssertNotNil(signature.wholeMatch(of: /v1,[A-Za-z0-9+\/]{43}=/), signature)
        XCTAssertEqual(try verify(secret: secret, id: "evt_42", timestamp: now, body: body, signature: signature), "valid")
        XCTAssertTrue(try verify(secret: secret, id: "evt_43", timestamp: now, body: body, signature: signature).hasPrefix("invalid"))
        XCTAssertTrue(try verify(secret: secret, id: "evt_42", timestamp: now, body: body + " ", signature: signature).hasPrefix("invalid"))
        XCTAssertTrue(try verify(secret: WebhookStore.newSecret(), id: "evt_42", timestamp: now, body: body, signature: signature)
            .hasPrefix("invalid"))
        XCTAssertNil(WebhookSignature.sign(secret: "not-a-secret", id: "x", timestamp: now, body: []))
    }

    func testBase64RoundTripsThroughOpenSSL() {
        for length in 0..<70 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            XCTAssertEqual(Base64.decode(Base64.encode(bytes)), bytes, "\(length)")
        }
        XCTAssertEqual(Base64.encode(Array("foobar".utf8)), "Zm9vYmFy")
        XCTAssertEqual(Base64.encode(Array("fo".utf8)), "Zm8=")
        XCTAssertNil(Base64.decode("abc"))
        XCTAssertNil(Base64.decode("ab!="))
    }
}
