import CLibPQ

/// Reads libpq connection strings (key/value or `postgres://` URI) with `PQconninfoParse`, so
/// this client sees a setting exactly as libpq will.
public enum ConnectionString {
    /// The keyword/value pairs `connectionString` sets, in libpq's keyword order.
    public static func settings(of connectionString: String) throws -> [(keyword: String, value: String)] {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(connectionString, &errorMessage) else {
            let message = errorMessage.map { String(cString: $0) } ?? "unparsable connection string"
            if let errorMessage { PQfreemem(errorMessage) }
            throw PostgresError.client(message)
        }
        defer { PQconninfoFree(options) }
        var pairs: [(keyword: String, value: String)] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                pairs.append((String(cString: keyword), String(cString: value)))
            }
            option += 1
        }
        return pairs
    }

    /// The value `connectionString` gives `keyword`; nil when it gives none or cannot be parsed
    /// (libpq then reports the parse error when connecting).
    public static func value(of keyword: String, in connectionString: String) -> String? {
        (try? settings(of: connectionString))?.first { $0.keyword == keyword }?.value
    }
}
