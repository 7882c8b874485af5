import Codecs
import FoundationEssentials

/// A Swift value that can be sent as a query parameter, in PostgreSQL's text format.
///
/// Parameters are always sent separately from the SQL text (`PQsendQueryParams`,
/// `PQsendQueryPrepared`), never spliced into it, so no value can change a statement's meaning.
public protocol PostgresEncodable: Sendable {
    /// The value in PostgreSQL's text input format for its type.
    var postgresText: String { get }
}

extension String: PostgresEncodable {
    public var postgresText: String { self }
}

extension Substring: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Int: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Int64: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Int32: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Bool: PostgresEncodable {
    public var postgresText: String { self ? "t" : "f" }
}

extension Double: PostgresEncodable {
    public var postgresText: String {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return String(self)
    }
}

extension Date: PostgresEncodable {
    /// UTC with microseconds, e.g. `2026-11-29 19:30:00.123456+00`, PostgreSQL's own precision.
    public var postgresText: String { PostgresTimestamp.format(self) }
}

/// Bytes for a `bytea` parameter, sent in PostgreSQL's hex format (`\x0a1b…`).
public struct PostgresBytes: PostgresEncodable, Hashable {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var postgresText: String {
        var text: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        text.reserveCapacity(2 + bytes.count * 2)
        ASCII.appendHexDigits(of: bytes, to: &text)
        return String(decoding: text, as: UTF8.self)
    }
}
