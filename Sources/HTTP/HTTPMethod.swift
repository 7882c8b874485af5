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
    /// name the usual methods without decoding (or allocating) a string for each request.
    static func known(_ token: ArraySlice<UInt8>) -> HTTPMethod? {
        switch token.count {
        case 3:
            if token.elementsEqual("GET".utf8) { return .get }
            if token.elementsEqual("PUT".utf8) { return .put }
        case 4:
            if token.elementsEqual("POST".utf8) { return .post }
            if token.elementsEqual("HEAD".utf8) { return .head }
        case 5:
            if token.elementsEqual("PATCH".utf8) { return .patch }
            if token.elementsEqual("TRACE".utf8) { return .trace }
        case 6:
            if token.elementsEqual("DELETE".utf8) { return .delete }
        case 7:
            if token.elementsEqual("OPTIONS".utf8) { return .options }
            if token.elementsEqual("CONNECT".utf8) { return .connect }
        default:
            break
        }
        return nil
    }
}
