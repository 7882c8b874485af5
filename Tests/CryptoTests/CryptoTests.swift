import Crypto
import XCTest

/// libcrypto through CCrypto: SHA-256 against FIPS 180-4's published test vectors, and the
/// secure generator's output.
final class CryptoTests: XCTestCase {
    func testSHA256MatchesTheFIPSTestVectors() {
        XCTAssertEqual(hex(SHA256.hash([UInt8]())), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(hex(SHA256.hash("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(hex(SHA256.hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(hex(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testAHasherFedInPiecesGivesTheOneShotDigest() {
        let message = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for step in [1, 63, 64, 4096, 100_000] {
            let hasher = SHA256Hasher()
            for start in stride(from: 0, to: message.count, by: step) {
                hasher.update(Array(message[start..<min(message.count, start + step)]))
            }
            XCTAssertEqual(hasher.finalize(), SHA256.hash(message), "pieces of \(step)")
        }
        XCTAssertEqual(SHA256Hasher().finalize().map { String(format: "%02x", $0) }.joined(),
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "nothing fed: the empty message")
    }

    func testAnyCollectionOfBytesHashesLikeItsArray() {
        let text = "crm_0123456789abcdefghijABCDEFGHIJ"
        XCTAssertEqual(SHA256.hash(text.utf8), SHA256.hash(Array(text.utf8)))
        XCTAssertEqual(SHA256.hash(Array(text.utf8)[4...]), SHA256.hash(Array(text.utf8.dropFirst(4))))
    }

    func testSecureRandomBytesDifferAndCoverEveryValue() {
        let first = SecureRandom.bytes(4096), second = SecureRandom.bytes(4096)
        XCTAssertEqual(first.count, 4096)
        XCTAssertNotEqual(first, second)
        // 8,192 uniform bytes miss one of the 256 values with probability about 256 × e^-32.
        XCTAssertEqual(Set(first + second).count, 256)
        var generator = SecureRandom()
        let draws = (0..<3000).map { _ in generator.next(upperBound: UInt64(62)) }
        XCTAssertTrue(draws.allSatisfy { $0 < 62 })
        XCTAssertEqual(Set(draws).count, 62, "3,000 draws below 62 reach every value (a miss: about 62 × e^-49)")
    }
}

/// Lower-case hex of `bytes`, as the published test vectors print digests.
func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}
