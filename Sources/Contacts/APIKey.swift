import Codecs
import Crypto

/// An API key as the service handles it: random, shown once, stored as its SHA-256.
///
/// Keys look like `crm_` + 43 base-62 characters (256 random bits). The first 12 characters
/// are the key's *prefix*, stored in clear so that people can tell keys apart in
/// `crm key list`; the prefix is far too short to use the key.
public struct APIKey: Sendable, Hashable {
    public let text: String
    /// The SHA-256 of the key's UTF-8 bytes: what `api_keys.key_hash` holds. Computed once.
    public let digest: [UInt8]

    public init(_ text: String) {
        self.text = text
        digest = SHA256.hash(text.utf8)
    }

    /// A new key from OpenSSL's cryptographically secure generator (``SecureRandom``).
    public static func generate() -> APIKey {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        var generator = SecureRandom()
        let body = (0..<43).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] }
        return APIKey("crm_" + String(body))
    }


    /// The part shown in listings.
    public var prefix: String { String(text.prefix(12)) }

    /// The key from an `Authorization: Bearer <key>` header value; nil if absent or malformed.
    /// The scheme is case-insensitive (RFC 9110 §11.1); a key is 1 to 200 visible ASCII characters.
    public static func fromAuthorization(_ header: String?) -> APIKey? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimming(.spacesAndTabs)
        guard !token.isEmpty, token.utf8.count <= 200, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        return APIKey(String(token))
    }
}
