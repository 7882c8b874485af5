import Codecs

/// An API error response: status, `code` from the contract's list, a message for people, the
/// parameter at fault (for parameter errors) and extra `data`. Written in one place,
/// ``body``, so every error body has the same shape:
/// `{"status":"error","code":"…","message":"…","parameter":"…","data":{…}}`.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The contract's error codes (API.md §3).
    public enum Code: String, Sendable {
        case invalidParameter = "invalid_parameter"
        case missingParameter = "missing_parameter"
        case forbidden
        case notFound = "not_found"
        case blacklisted
        case duplicate
        case methodNotAllowed = "method_not_allowed"
        case unsupportedMediaType = "unsupported_media_type"
        case payloadTooLarge = "payload_too_large"
        case headersTooLarge = "headers_too_large"
        case requestTimeout = "request_timeout"
        case rateLimited = "rate_limited"
        case unavailable
        case `internal`
        case idempotencyKeyReused = "idempotency_key_reused"
        case idempotencyKeyInFlight = "idempotency_key_in_flight"
        case cursorExpired = "cursor_expired"
    }

    public let status: Int
    public let code: Code
    public let message: String
    public let parameter: String?
    /// The `data` object, e.g. `["contact_id": .number(12)]`.
    public let data: JSONObject
    /// The `Allow` header of a `405`: the methods the route serves.
    public let allow: String?
    /// The `Retry-After` header, in seconds (a `503` without one gets `1`).
    public let retryAfterSeconds: Int?

    public init(status: Int, code: Code, message: String, parameter: String? = nil, data: JSONObject = [:],
                allow: String? = nil, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter
        self.data = data
        self.allow = allow
        self.retryAfterSeconds = retryAfterSeconds
    }

    public static func invalid(_ parameter: String, _ message: String) -> APIError {
        APIError(status: 400, code: .invalidParameter, message: message, parameter: parameter)
    }

    public static func missing(_ parameter: String, _ message: String) -> APIError {
        APIError(status: 400, code: .missingParameter, message: message, parameter: parameter)
    }

    public static func malformedBody(_ message: String) -> APIError {
        APIError(status: 400, code: .invalidParameter, message: message, parameter: "body")
    }

    public static let forbidden = APIError(status: 403, code: .forbidden, message: "Invalid API key or unauthorized access.")

    /// A key granted the listing that lacks the scope the request needs (API.md §8); never
    /// answered to a key without the grant, which gets ``forbidden``.
    public static func missingScope(_ scope: KeyScope) -> APIError {
        APIError(status: 403, code: .forbidden, message: "This API key lacks the \(scope.rawValue) scope.",
                 data: ["scope": .string(scope.rawValue)])
    }

    public static func blacklisted(_ parameter: String) -> APIError {
        APIError(status: 400, code: .blacklisted, message: "The \(parameter) is blacklisted.", parameter: parameter)
    }

    public static func duplicate(contactID: Int64?, message: String = "A contact with this email or phone already exists.") -> APIError {
        APIError(status: 409, code: .duplicate, message: message, data: ["contact_id": contactID.map { .number($0) } ?? .null])
    }

    public static let contactNotFound = APIError(status: 404, code: .notFound, message: "The contact ID provided was not found.")
    public static let noContactsFound = APIError(status: 404, code: .notFound, message: "No contacts found.",
                                                    data: ["results": .array([]), "next_after": .null])
    public static let deleteTargetNotFound = APIError(status: 404, code: .notFound, message: "No contact matches the given identifiers.")
    public static let routeNotFound = APIError(status: 404, code: .notFound, message: "No such endpoint.")
    public static let unsupportedMediaType = APIError(
        status: 415, code: .unsupportedMediaType,
        message: "Send application/x-www-form-urlencoded, application/json or multipart/form-data.")
    public static func rateLimited(_ message: String, retryAfterSeconds: Int) -> APIError {
        APIError(status: 429, code: .rateLimited, message: message, retryAfterSeconds: retryAfterSeconds)
    }

    /// The Idempotency-Key was used before with another method, path or parameters (API.md §9).
    public static let idempotencyKeyReused = APIError(
        status: 422, code: .idempotencyKeyReused,
        message: "This Idempotency-Key was used for a different request; use a new key for new parameters.")
    /// The first request with this Idempotency-Key is still running.
    public static let idempotencyKeyInFlight = APIError(
        status: 409, code: .idempotencyKeyInFlight,
        message: "A request with this Idempotency-Key is still being processed; retry shortly.", retryAfterSeconds: 1)

    /// A change feed cursor older than the events kept (API.md §10).
    public static let cursorExpired = APIError(
        status: 410, code: .cursorExpired,
        message: "This cursor is older than the changes kept; read the listing again (export) and follow its cursor.")

    public static let unavailable = APIError(status: 503, code: .unavailable, message: "The database is unavailable; try again shortly.")
    public static let `internal` = APIError(status: 500, code: .internal, message: "An unexpected error occurred.")

    public var description: String { message }

    /// The JSON body: `{"status":"error","code":…,"message":…,"parameter":…,"data":{…}}`,
    /// `parameter` only when there is one.
    public var body: [UInt8] {
        var writer = JSONWriter(capacity: 64 + message.utf8.count)
        writer.beginObject()
        writer.key("status")
        writer.string("error")
        writer.key("code")
        writer.string(code.rawValue)
        writer.key("message")
        writer.string(message)
        if let parameter {
            writer.key("parameter")
            writer.string(parameter)
        }
        writer.key("data")
        writer.object(data)
        writer.endObject()
        return writer.bytes
    }

    /// ``body`` as text.
    public var rendered: String { String(decoding: body, as: UTF8.self) }
}
