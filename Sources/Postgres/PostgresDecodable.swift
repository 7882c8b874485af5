import Codecs
import FoundationEssentials

/// A Swift type that a result column in PostgreSQL's text format can be decoded into.
///
/// `nil` means the text is not a valid value of the type; ``PostgresRow`` turns that into a
/// ``PostgresError`` of kind `.decoding` naming the column. SQL NULL decodes only into an
/// `Optional` (see ``PostgresRow/decode(_:column:)``).
public protocol PostgresDecodable {
    init?(postgresText text: ArraySlice<UInt8>)
}

extension String: PostgresDecodable {
    public init?(postgresText text: ArraySlice<UInt8>) {
        self = String(decoding: text, as: UTF8.self)
    }
}

extension Int64: PostgresDecodable {
    public init?(postgresText text: ArraySlice<UInt8>) {
        guard let value = PostgresInteger.parse(text) else { return nil }
        self = value
    }
}

extension Int: PostgresDecodable {
    public init?(postgresText text: ArraySlice<UInt8>) {
        guard let value = PostgresInteger.parse(text) else { return nil }
        self = Int(value)
    }
}

extension Int32: PostgresDecodable {
    public init?(postgresText text: ArraySlice<UInt8>) {
        guard let value = PostgresInteger.parse(text), let narrow = Int32(exactly: value) else { return nil }
        self = narrow
    }
}

extension Bool: PostgresDecodable {
    public init?(postgresText text: ArraySlice<UInt8>) {
        switch text.first {
        case UInt8(ascii: "t") where text.count == 1: self = true
        case UInt8(ascii: "f") where text.count == 1: self = false
        default: return nil
        }
    }
}

extension Double: PostgresDecodable {
    public init?(postgresText text: ArraySlice<UInt8>) {
        guard let value = Double(String(decoding: text, as: UTF8.self)) else { return nil }
        self = value
    }
}

extension Date: PostgresDecodable {
    /// Decodes `timestamptz`, `timestamp` (taken as UTC) and `date` text.
    public init?(postgresText text: ArraySlice<UInt8>) {
        guard let date = PostgresTimestamp.parse(text) else { return nil }
        self = date
    }
}

extension PostgresBytes: PostgresDecodable {
    /// Decodes `bytea` in hex output format (`\x…`), PostgreSQL's default since 9.0.
    public init?(postgresText text: ArraySlice<UInt8>) {
        guard text.count >= 2, text.count % 2 == 0,
              text.first == UInt8(ascii: "\\"), text[text.startIndex + 1] == UInt8(ascii: "x")
        else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity((text.count - 2) / 2)
        var index = text.startIndex + 2
        while index < text.endIndex {
            guard let high = ASCII.hexValue(text[index]), let low = ASCII.hexValue(text[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.init(bytes)
    }
}

/// Decimal integer parsing straight from result bytes, without building a `String`.
enum PostgresInteger {
    static func parse(_ text: ArraySlice<UInt8>) -> Int64? {
        var index = text.startIndex
        guard index < text.endIndex else { return nil }
        let negative = text[index] == UInt8(ascii: "-")
        if negative || text[index] == UInt8(ascii: "+") { index += 1 }
        guard index < text.endIndex else { return nil }
        // Accumulate negatively so that Int64.min parses without overflow.
        var value: Int64 = 0
        while index < text.endIndex {
            let digit = text[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = shifted.subtractingReportingOverflow(Int64(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = next
            index += 1
        }
        if negative { return value }
        return value == .min ? nil : -value
    }
}
