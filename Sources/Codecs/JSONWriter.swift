/// Writes JSON text (RFC 8259) straight into bytes: objects, arrays, strings (escaped),
/// integers, booleans, null, and JSON text that is already JSON (PostgreSQL's rendering of a
/// row). Commas and colons are the writer's business, never the caller's.
///
/// ```swift
/// var writer = JSONWriter()
/// writer.beginObject()
/// writer.key("status"); writer.string("success")
/// writer.key("data"); writer.beginObject(); writer.key("contact_id"); writer.number(12); writer.endObject()
/// writer.endObject()
/// writer.bytes   // {"status":"success","data":{"contact_id":12}}
/// ```
///
/// Strings escape `"`, `\` and the control characters (`\n`, `\r`, `\t`, otherwise `\u00XX`),
/// and U+2028 and U+2029 (`\u2028`, `\u2029`), which JavaScript once did not allow in strings;
/// everything else is copied as UTF-8.
public struct JSONWriter {
    /// The text written so far.
    public var bytes: [UInt8]
    /// Whether the next value or key follows another in the same object or array.
    @usableFromInline var needsComma = false

    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Lets `write` add JSON text at the end of `buffer`, which is moved in and out, not copied
    /// (a log line at the end of a batch).
    @inlinable
    public static func append(to buffer: inout [UInt8], _ write: (inout JSONWriter) -> Void) {
        var writer = JSONWriter()
        swap(&writer.bytes, &buffer)
        write(&writer)
        swap(&writer.bytes, &buffer)
    }

    @inlinable
    public mutating func beginObject() {
        open(UInt8(ascii: "{"))
    }

    @inlinable
    public mutating func endObject() {
        close(UInt8(ascii: "}"))
    }

    @inlinable
    public mutating func beginArray() {
        open(UInt8(ascii: "["))
    }

    @inlinable
    public mutating func endArray() {
        close(UInt8(ascii: "]"))
    }

    /// A member's name; its value comes next.
    @inlinable
    public mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// A member's name written as JSON text with its colon (`"name":`), copied as it is.
    @inlinable
    public mutating func key(prepared text: StaticString) {
        separate()
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        needsComma = false
    }


    @inlinable
    public mutating func string(_ value: String) {
        separate()
        appendQuoted(value)
        needsComma = true
    }

    /// A string whose contents `write` appends, unescaped: only for text that never needs
    /// escaping (digits, a timestamp), written without building a `String`. Debug builds check.
    @inlinable
    public mutating func string(unescaped write: (inout [UInt8]) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        let start = bytes.count
        write(&bytes)
        assert(!bytes[start...].contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") },
               "JSONWriter.string(unescaped:) got text that needs escaping")
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// A string given as UTF-8 bytes (a database cell), escaped like ``string(_:)``, without
    /// building a `String`.
    public mutating func string(utf8 text: UnsafeBufferPointer<UInt8>) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        appendEscaped(text)
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    @inlinable
    public mutating func number(_ value: Int64) {
        separate()
        ASCII.appendDecimal(value, to: &bytes)
        needsComma = true
    }

    @inlinable
    public mutating func number(_ value: Int) {
        number(Int64(value))
    }

    @inlinable
    public mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: value ? Self.trueText : Self.falseText)
        needsComma = true
    }

    @inlinable
    public mutating func null() {
        separate()
        bytes.append(contentsOf: Self.nullText)
        needsComma = true
    }

    /// A value that is JSON text already, copied as it is (a written contact as PostgreSQL
    /// rendered it, the digits of a number cell).
    @inlinable
    public mutating func json(_ text: some Collection<UInt8>) {
        separate()
        bytes.append(contentsOf: text)
        needsComma = true
    }

    /// ``json(_:)`` for JSON text held in a `String`.
    @inlinable
    public mutating func json(_ text: String) {
        json(text.utf8)
    }

    @usableFromInline static let trueText: [UInt8] = Array("true".utf8)
    @usableFromInline static let falseText: [UInt8] = Array("false".utf8)
    @usableFromInline static let nullText: [UInt8] = Array("null".utf8)

    @inlinable
    mutating func open(_ bracket: UInt8) {
        separate()
        bytes.append(bracket)
        needsComma = false
    }

    @inlinable
    mutating func close(_ bracket: UInt8) {
        bytes.append(bracket)
        needsComma = true
    }

    @inlinable
    mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    /// `text` as a JSON string literal, quotes included (RFC 8259 §7).
    @usableFromInline
    mutating func appendQuoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        if text.utf8.withContiguousStorageIfAvailable({ appendEscaped($0) }) == nil {
            appendEscaped(Array(text.utf8))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Copies runs of bytes that need no escape at once; escapes the rest.
    private mutating func appendEscaped(_ utf8: some RandomAccessCollection<UInt8>) {
        var runStart = utf8.startIndex
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            var length = 1
            if byte >= 0x20, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
                // U+2028 and U+2029 are E2 80 A8 and E2 80 A9.
                guard byte == 0xE2, utf8.distance(from: index, to: utf8.endIndex) >= 3,
                      utf8[utf8.index(index, offsetBy: 1)] == 0x80, utf8[utf8.index(index, offsetBy: 2)] & 0xFE == 0xA8
                else {
                    utf8.formIndex(after: &index)
                    continue
                }
                length = 3
            }
            bytes.append(contentsOf: utf8[runStart..<index])
            appendEscape(length == 3 ? 0x2028 | UInt32(utf8[utf8.index(index, offsetBy: 2)] & 1) : UInt32(byte))
            index = utf8.index(index, offsetBy: length)
            runStart = index
        }
        bytes.append(contentsOf: utf8[runStart..<utf8.endIndex])
    }

    private mutating func appendEscape(_ scalar: UInt32) {
        bytes.append(UInt8(ascii: "\\"))
        switch scalar {
        case 0x22: bytes.append(UInt8(ascii: "\""))
        case 0x5C: bytes.append(UInt8(ascii: "\\"))
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        default:
            bytes.append(UInt8(ascii: "u"))
            ASCII.appendHexDigits(of: UInt64(scalar), width: 4, to: &bytes)
        }
    }
}
