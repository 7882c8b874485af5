import Crypto
import Foundation
import XCTest

/// HMAC-SHA256 against RFC 4231's test vectors (section 4, HMAC-SHA-256 rows), a Standard
/// Webhooks signature, and the constant-time comparison that checks codes.
final class HMACSHA256Tests: XCTestCase {
    private func bytes(_ byte: UInt8, _ count: Int) -> [UInt8] { [UInt8](repeating: byte, count: count) }

    func testRFC4231TestCases1To4() {
        XCTAssertEqual(hex(HMACSHA256.authenticationCode(for: "Hi There".utf8, key: bytes(0x0b, 20))),
                       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        XCTAssertEqual(hex(HMACSHA256.authenticationCode(for: "what do ya want for nothing?".utf8, key: "Jefe".utf8)),
                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        XCTAssertEqual(hex(HMACSHA256.authenticationCode(for: bytes(0xdd, 50), key: bytes(0xaa, 20))),
                       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe")
        XCTAssertEqual(hex(HMACSHA256.authenticationCode(for: bytes(0xcd, 50), key: (UInt8(1)...25).map { $0 })),
                       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b")
    }

    func testRFC4231TestCase5TruncatedTo128Bits() {
        let code = HMACSHA256.authenticationCode(for: "Test With Truncation".utf8, key: bytes(0x0c, 20))
        XCTAssertEqual(code.count, HMACSHA256.codeLength)
        XCTAssertEqual(hex(Array(code.prefix(16))), "a3b6167473100ee06e0c796c2955552b")
    }

    func testRFC4231TestCases6And7KeysLongerThanABlock() {
        let key = bytes(0xaa, 131)
        XCTAssertEqual(hex(HMACSHA256.authenticationCode(for: "Test Using Larger Than Block-Size Key - Hash Key First".utf8, key: key)),
                       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        let data = "This is a test using a larger than block-size key and a larger than block-size data."
            + " The key needs to be hashed before being used by the HMAC algorithm."
        XCTAssertEqual(hex(HMACSHA256.authenticationCode(for: data.utf8, key: key)),
                       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2")
    }

    func testAnEmptyKeyAndAnEmptyMessageAreValidInputs() {
        XCTAssertEqual(hex(HMACSHA256.authenticationCode(for: [UInt8](), key: [UInt8]())),
                       "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    func testAnyCollectionOfBytesGivesTheCodeOfItsArray() {
        let text = "msg_1.1614265330.{}", key = "secret-key"
        let expected = HMACSHA256.authenticationCode(for: Array(text.utf8), key: Array(key.utf8))
        XCTAssertEqual(HMACSHA256.authenticationCode(for: text.utf8, key: key.utf8), expected)
        XCTAssertEqual(HMACSHA256.authenticationCode(for: Array(("xx" + text).utf8)[2...], key: key.utf8.lazy.map { $0 }), expected)
    }

    /// The example of the Standard Webhooks specification: what v2's `webhook-signature` carries.
    func testAStandardWebhooksSignature() throws {
        let secret = try XCTUnwrap(Data(base64Encoded: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))  // whsec_…
        let content = #"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}"#
        let code = HMACSHA256.authenticationCode(for: content.utf8, key: secret)
        XCTAssertEqual("v1," + Data(code).base64EncodedString(), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    func testIsValidAcceptsTheCodeAndRefusesAnyOtherOne() {
        let message = Array("payload".utf8), key = Array("key".utf8)
        let code = HMACSHA256.authenticationCode(for: message, key: key)
        XCTAssertTrue(HMACSHA256.isValid(code, for: message, key: key))
        for index in [0, 15, 31] {
            var forged = code
            forged[index] ^= 0x01
            XCTAssertFalse(HMACSHA256.isValid(forged, for: message, key: key), "one bit flipped at byte \(index)")
        }
        XCTAssertFalse(HMACSHA256.isValid(code.prefix(16), for: message, key: key), "a truncated code")
        XCTAssertFalse(HMACSHA256.isValid(code, for: message + [0], key: key), "another message")
        XCTAssertFalse(HMACSHA256.isValid(code, for: message, key: Array("kez".utf8)), "another key")
    }

    func testConstantTimeEqualityComparesEveryByteAndTheLength() {
        let base: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        XCTAssertTrue(ConstantTime.isEqual(base, base))
        XCTAssertTrue(ConstantTime.isEqual(base, base[...]), "any collection of the same bytes")
        XCTAssertTrue(ConstantTime.isEqual([UInt8](), [UInt8]()))
        for index in base.indices {
            var other = base
            other[index] ^= 0x80
            XCTAssertFalse(ConstantTime.isEqual(base, other), "differs at byte \(index)")
        }
        XCTAssertFalse(ConstantTime.isEqual(base, base.dropLast()))
        XCTAssertFalse(ConstantTime.isEqual(base, base + [0]))
        XCTAssertFalse(ConstantTime.isEqual([UInt8](), [0]))
    }
}
