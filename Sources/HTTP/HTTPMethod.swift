/// A request method (RFC 9110 §9), case-sensitive: `GET`, not `get`.
///
/// A string literal is a method, so `request.method == "GET"` and `case "POST":` read as they
/// always did; the common methods are constants (`.get`, `.post`, …), and the parser hands out
/// those constants for them without building a string (``known(_:)``).
public struct HTTPMethod: Sendable, Hashable, RawRepresentable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The method token as sent.
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public init(stringLiteral value: String) {
        rawValue = value
    }

    public var description: String { rawValue }

    public static let get: HTTPMethod = "GET"
    public static let head: HTTPMethod = "HEAD"
    public static let post: HTTPMethod = "POST"
    public static let put: HTTPMethod = "PUT"
    public static let delete: HTTPMethod = "DELETE"
    public static let patch: HTTPMethod = "PATCH"
    public static let options: HTTPMethod = "OPTIONS"
    public static let connect: HTTPMethod = "CONNECT"
    public static let trace: HTTPMethod = "TRACE"

    /// The constant for a method token of RFC 9110 §9 (and PATCH), or nil: lets the parser
    /// name the usual methods without decoding (or allocating) a string for each request. The
    /// token's bytes, packed big-endian into an integer, are matched in one switch (a leading
    /// NUL would pack like a shorter token: never a method).
    static func known(_ token: ArraySlice<UInt8>) -> HTTPMethod? {
        guard token.count <= 7, token.first != 0 else { return nil }
        var packed: UInt64 = 0
        for byte in token { packed = packed << 8 | UInt64(byte) }
        switch packed {
        case 0x47_45_54: return .get  // GET
        case 0x50_55_54: return .put  // PUT
        case 0x50_4f_53_54: return .post  // POST
        case 0x48_45_41_44: return .head  // HEAD
        case 0x50_41_54_43_48: return .patch  // PATCH
        case 0x54_52_41_43_45: return .trace  // TRACE
        case 0x44_45_4c_45_54_45: return .delete  // DELETE
        case 0x4f_50_54_49_4f_4e_53: return .options  // OPTIONS
        case 0x43_4f_4e_4e_45_43_54: return .connect  // CONNECT
        default: return nil
        }
    }
}
