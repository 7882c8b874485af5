import HTTP

/// How an import's file is written (API.md §12), from its `Content-Type`.
public enum ImportFormat: String, Sendable {
    /// `text/csv`: RFC 4180 with a header row naming the columns.
    case csv
    /// `application/x-ndjson`: one JSON object per line.
    case ndjson

    /// The columns an import reads; any other is ignored.
    static let columns = ["id", "first_name", "last_name", "email", "phone", "ip_address"]

    /// The format a `Content-Type` names (a `charset` parameter is accepted); `415` for any other.
    init(contentType: String?) throws(APIError) {
        let mediaType = contentType?.split(separator: ";").first.map { $0.trimming(.spacesAndTabs).lowercased() }
        switch mediaType {
        case "text/csv": self = .csv
        case "application/x-ndjson": self = .ndjson
        default: throw APIError(status: 415, code: .unsupportedMediaType, message: "Send the file as text/csv or application/x-ndjson.")
        }
    }
}

/// How an import applies its rows (API.md §12): each as `PUT` (``upsert``) or as `POST` (``create``).
public enum ImportMode: String, Sendable {
    case upsert
    case create

    /// The `mode` parameter; absent or empty is ``upsert``.
    init(parameter: String?) throws(APIError) {
        guard let parameter, !parameter.isEmpty else {
            self = .upsert
            return
        }
        guard let mode = ImportMode(rawValue: parameter) else {
            throw APIError.invalid("mode", "mode must be upsert or create.")
        }
        self = mode
    }

    /// The method whose rules each row follows.
    var method: HTTPMethod { self == .create ? .post : .put }
}
