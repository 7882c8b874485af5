import HTTP

/// The parameters of one request, from its query string and its body, merged: values trimmed
/// of surrounding white space, a name given twice with different values refused, unknown
/// names kept but never looked at.
///
/// The body is read according to its `Content-Type`: form-urlencoded, JSON (a flat object) or
/// multipart/form-data; a `charset` parameter is accepted (the bytes must be UTF-8 anyway).
/// A non-empty body of another type is a `415`.
public struct RequestParameters: Sendable {
    private var values: [String: String] = [:]

    public init(_ request: HTTPRequest) throws(APIError) {
        if let query = request.query {
            try merge(FormURLEncoding.parse(query.utf8, source: "query string").map { ($0.0, Optional($0.1)) })
        }
        guard !request.body.isEmpty else { return }
        let (mediaType, parameters) = Self.mediaType(request.headers["Content-Type"])
        switch mediaType {
        case "application/x-www-form-urlencoded":
            try merge(FormURLEncoding.parse(request.body, source: "form body").map { ($0.0, Optional($0.1)) })
        case "application/json":
            try merge(FlatJSONObject.parse(request.body))
        case "multipart/form-data":
            try merge(MultipartFormData.parse(request.body, boundary: parameters["boundary"] ?? "").map { ($0.0, Optional($0.1)) })
        default:
            throw APIError.unsupportedMediaType
        }
    }

    /// For tests and tools: parameters from name/value pairs.
    public init(pairs: [(String, String)]) throws(APIError) {
        try merge(pairs.map { ($0.0, Optional($0.1)) })
    }

    /// The trimmed value of `name`, or nil when it was not given (or given as JSON null).
    /// An empty string means "given, but empty".
    public subscript(name: String) -> String? { values[name] }

    private mutating func merge(_ pairs: [(String, String?)]) throws(APIError) {
        for (name, value) in pairs {
            guard let value else { continue }
            let trimmed = Self.trimmed(value)
            if let existing = values[name], existing != trimmed {
                throw APIError.invalid(name, "\(name) is given twice with different values.")
            }
            values[name] = trimmed
        }
    }

    /// Without leading and trailing white space (any Unicode white space: NBSP, ideographic…).
    static func trimmed(_ value: String) -> String {
        // Most values neither start nor end with anything but an ASCII letter or digit: keep them.
        if let first = value.utf8.first, let last = value.utf8.last, isPlainASCII(first), isPlainASCII(last) {
            return value
        }
        var scalars = Substring(value).unicodeScalars[...]
        while let first = scalars.first, first.properties.isWhitespace { scalars = scalars.dropFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }

    /// A printable ASCII byte other than space: never white space, never part of a longer character.
    private static func isPlainASCII(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7f
    }

    /// `type/subtype` in lower case and its parameters (names lower-cased, quotes removed).
    static func mediaType(_ header: String?) -> (String, [String: String]) {
        guard let header else { return ("", [:]) }
        let parts = header.split(separator: ";")
        let type = parts.first.map { $0.trimmingSpacesAndTabs().lowercased() } ?? ""
        var parameters: [String: String] = [:]
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            var value = pair[1].trimmingSpacesAndTabs()
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            parameters[pair[0].trimmingSpacesAndTabs().lowercased()] = value
        }
        return (type, parameters)
    }
}
