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
        // Byte by byte (the header is ASCII when valid): `Bearer` in any case after any spaces,
        // a space, then the token between spaces and tabs.
        let bytes = header.utf8
        guard let schemeStart = bytes.firstIndex(where: { $0 != space }),
              let schemeEnd = bytes[schemeStart...].firstIndex(of: space),
              bytes[schemeStart..<schemeEnd].elementsEqual(bearer, by: { $0 | 0x20 == $1 })
        else { return nil }
        let rest = bytes[bytes.index(after: schemeEnd)...]
        guard let tokenStart = rest.firstIndex(where: { $0 != space && $0 != tab }),
              let tokenLast = rest.lastIndex(where: { $0 != space && $0 != tab })
        else { return nil }
        let token = bytes[tokenStart...tokenLast]
        guard token.count <= 200, token.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        return APIKey(String(decoding: token, as: UTF8.self))
    }
}

private let space = UInt8(ascii: " ")
private let tab = UInt8(ascii: "\t")
private let bearer = Array("bearer".utf8)
