/// Why a body (or query string) could not be decoded: the field at fault, or none when the
/// input as a whole is malformed, and a message for people. The codecs know nothing of HTTP
/// statuses or the API's error codes; their caller maps this to its own error.
///
/// ```swift
/// throw BodyDecodingError.malformed("The JSON body must be an object.")
/// throw BodyDecodingError.field("photo", "photo is a file: file uploads are not accepted, only text fields.")
/// ```
public struct BodyDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field whose value is refused; nil when the input itself is malformed.
    public let field: String?
    public let message: String

    public init(field: String?, message: String) {
        self.field = field
        self.message = message
    }

    /// The input as a whole is malformed (bad escapes, invalid UTF-8, a broken structure).
    public static func malformed(_ message: String) -> BodyDecodingError {
        BodyDecodingError(field: nil, message: message)
    }

    /// The input is well formed, but `name`'s value is of a kind that is not accepted.
    public static func field(_ name: String, _ message: String) -> BodyDecodingError {
        BodyDecodingError(field: name, message: message)
    }

    public var description: String { message }
}
