import Crypto
import HTTP

/// A request's `Idempotency-Key` (API.md §9) with the fingerprint of what it asks: the stored
/// answer of the first request with the key is replayed only to a request with the same
/// fingerprint; another gets `422 idempotency_key_reused`.
///
/// The key is 1–255 printable ASCII characters (space to `~`), case-sensitive. The
/// fingerprint is SHA-256 over the method, the path (with the listing id as a number) and the
/// POST's parameters after ``RequestParameters``' parsing — values trimmed, empty ones left
/// out, in the order of their names' bytes — each part length-prefixed so no two requests
/// share one. So `a=1&b=2` and `b=2&a=1`, a form and a JSON body with the same fields, are one
/// request; unknown names are ignored here as everywhere (API.md §2), so a retry that adds a
/// cache-buster such as `_=123` is still the same request.
public struct IdempotencyKey: Sendable, Equatable {
    public static let headerName = "Idempotency-Key"
    public static let maxLength = 255
    /// The parameters a POST reads (API.md §4), the only ones a fingerprint covers.
    static let postParameters: Set<String> = ["first_name", "last_name", "email", "phone", "ip_address"]

    public let value: String
    public let fingerprint: [UInt8]

    /// The request's key and fingerprint; nil without the header; a `400` naming
    /// `Idempotency-Key` for a malformed one or for two different ones.
    public init?(headers: HTTPHeaders, method: HTTPMethod, listing: Int64, parameters: RequestParameters) throws(APIError) {
        guard let value = try Self.value(in: headers) else { return nil }
        self.value = value
        let known = parameters.nonEmptyPairs.filter { Self.postParameters.contains($0.0) }
        fingerprint = Self.fingerprint(method: method, path: "/crm/\(listing)", parameters: known)
    }

    /// The header's value, checked; nil without the header (an import's key, whose fingerprint
    /// is its file's, ``ImportUpload``).
    static func value(in headers: HTTPHeaders) throws(APIError) -> String? {
        let given = headers.values(for: Self.headerName)
        guard let value = given.first else { return nil }
        guard given.allSatisfy({ $0 == value }) else {
            throw APIError.invalid(Self.headerName, "Idempotency-Key is given twice with different values.")
        }
        guard (1...Self.maxLength).contains(value.utf8.count), value.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
            throw APIError.invalid(Self.headerName, "Idempotency-Key must be 1 to 255 printable ASCII characters.")
        }
        return value
    }

    static func fingerprint(method: HTTPMethod, path: String, parameters: [(String, String)]) -> [UInt8] {
        var message: [UInt8] = []
        func append(_ text: String) {
            message.append(contentsOf: String(text.utf8.count).utf8)
            message.append(UInt8(ascii: ":"))
            message.append(contentsOf: text.utf8)
        }
        append(method.rawValue)
        append(path)
        for (name, value) in parameters {
            append(name)
            append(value)
        }
        return SHA256.hash(message)
    }
}
