import Codecs
import HTTP

/// The parameters of one request, from its query string and its body, merged: values trimmed
/// of surrounding white space, a name given twice with different values refused, unknown
/// names kept but never looked at.
///
/// The body is read according to its `Content-Type`: form-urlencoded, JSON (a flat object) or
/// multipart/form-data; a `charset` parameter is accepted (the bytes must be UTF-8 anyway).
/// A non-empty body of another type is a `415`. The codecs' refusals (``BodyDecodingError``)
/// become `400 invalid_parameter` naming the field at fault, or `body`.
public struct RequestParameters: Sendable {
    private var values: [String: String] = [:]

    public init(_ request: HTTPRequest) throws(APIError) {
        if let query = request.query {
            try merge(Self.decoded { () throws(BodyDecodingError) in try FormURLEncoding.parse(query.utf8, source: "query string") })
        }
        guard !request.body.isEmpty else { return }
        let (mediaType, parameters) = Self.mediaType(request.headers["Content-Type"])
        switch mediaType {
        case "application/x-www-form-urlencoded":
            try merge(Self.decoded { () throws(BodyDecodingError) in try FormURLEncoding.parse(request.body, source: "form body") })
        case "application/json":
            try merge(Self.decoded { () throws(BodyDecodingError) in try FlatJSONObject.parse(request.body) })
        case "multipart/form-data":
            try merge(Self.decoded { () throws(BodyDecodingError) in
                try MultipartFormData.parse(request.body, boundary: parameters["boundary"] ?? "")
            })
        default:
            throw APIError.unsupportedMediaType
        }
    }

    /// For tests and tools: parameters from name/value pairs.
    public init(pairs: [(String, String)]) throws(APIError) {
        try merge(pairs)
    }

    /// The trimmed value of `name`, or nil when it was not given (or given as JSON null).
    /// An empty string means "given, but empty".
    public subscript(name: String) -> String? { values[name] }

    /// Every parameter with a non-empty value, in the order of their names' UTF-8 bytes: what
    /// the request asks, whatever order and body type carried it (``IdempotencyKey``).
    public var nonEmptyPairs: [(String, String)] {
        values.filter { !$0.value.isEmpty }.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, $0.value) }
    }

    /// What a codec decoded, or its refusal as the API's `400`: the field at fault, or `body`
    /// when the input as a whole is malformed (the query string's too).
    static func decoded<Pairs>(_ decode: () throws(BodyDecodingError) -> Pairs) throws(APIError) -> Pairs {
        do {
            return try decode()
        } catch {
            throw APIError.invalid(error.field ?? "body", error.message)
        }
    }

    private mutating func merge(_ pairs: [(String, String)]) throws(APIError) {
        for (name, value) in pairs { try merge(name, value) }
    }

    private mutating func merge(_ pairs: [(String, String?)]) throws(APIError) {
        for case let (name, value?) in pairs { try merge(name, value) }
    }

    /// One value, without leading and trailing white space (any Unicode white space: NBSP,
    /// ideographic…).
    private mutating func merge(_ name: String, _ value: String) throws(APIError) {
        let trimmed = String(value.trimming(.unicode))
        if let existing = values[name], existing != trimmed {
            throw APIError.invalid(name, "\(name) is given twice with different values.")
        }
        values[name] = trimmed
    }

    /// `type/subtype` in lower case and its parameters (names lower-cased, quotes removed).
    static func mediaType(_ header: String?) -> (String, [String: String]) {
        guard let header else { return ("", [:]) }
        let parts = header.split(separator: ";")
        let type = parts.first.map { $0.trimming(.spacesAndTabs).lowercased() } ?? ""
        var parameters: [String: String] = [:]
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            var value = String(pair[1].trimming(.spacesAndTabs))
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            parameters[pair[0].trimming(.spacesAndTabs).lowercased()] = value
        }
        return (type, parameters)
    }
}
