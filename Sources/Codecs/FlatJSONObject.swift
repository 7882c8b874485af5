/// A strict parser for the one JSON shape the API accepts as a body: an object whose values
/// are strings, numbers or null (RFC 8259). A number keeps its literal text (`12` stays "12");
/// null means absent. Anything else (nesting, booleans, trailing commas, bad escapes, invalid
/// UTF-8, text after the object) is refused, naming the body, or the member whose value is
/// an object, an array or a boolean.
public struct FlatJSONObject {
    private let bytes: [UInt8]
    private var index = 0

    public static func parse(_ bytes: [UInt8]) throws(BodyDecodingError) -> [(String, String?)] {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw BodyDecodingError.malformed("The JSON body is not valid UTF-8.")
        }
        var parser = FlatJSONObject(bytes: bytes)
        return try parser.object()
    }

    /// A lone JSON string (RFC 8259), escapes decoded: `"email"` is `email`. Anything else
    /// (another kind of value, text after the string) is refused.
    public static func parseString(_ bytes: [UInt8]) throws(BodyDecodingError) -> String {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw BodyDecodingError.malformed("The JSON text is not valid UTF-8.") }
        var parser = FlatJSONObject(bytes: bytes)
        parser.skipWhitespace()
        guard parser.peek() == UInt8(ascii: "\"") else { throw parser.fail("The JSON text must be a string.") }
        let text = try parser.string()
        parser.skipWhitespace()
        guard parser.peek() == nil else { throw parser.fail("The JSON text must end after its string.") }
        return text
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private mutating func object() throws(BodyDecodingError) -> [(String, String?)] {
        skipWhitespace()
        guard next() == UInt8(ascii: "{") else { throw fail("The JSON body must be an object.") }
        var members: [(String, String?)] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                skipWhitespace()
                let name = try string()
                skipWhitespace()
                guard next() == UInt8(ascii: ":") else { throw fail("Expected ':' after a member name.") }
                skipWhitespace()
                members.append((name, try value(for: name)))
                skipWhitespace()
                switch next() {
                case UInt8(ascii: ","): continue
                case UInt8(ascii: "}"): break
                default: throw fail("Expected ',' or '}' in the JSON object.")
                }
                break
            }
        }
        skipWhitespace()
        guard index == bytes.count else { throw fail("Unexpected text after the JSON object.") }
        return members
    }

    private mutating func value(for name: String) throws(BodyDecodingError) -> String? {
        switch peek() ?? 0 {
        case UInt8(ascii: "\""):
            return try string()
        case UInt8(ascii: "n"):
            guard literal("null") else { throw fail("Malformed JSON value for \(name).") }
            return nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try number()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            throw BodyDecodingError.field(name, "\(name) must be a string, a number or null, not an object or array.")
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            throw BodyDecodingError.field(name, "\(name) must be a string, a number or null, not a boolean.")
        default:
            throw fail("Malformed JSON value for \(name).")
        }
    }

    private mutating func string() throws(BodyDecodingError) -> String {
        guard next() == UInt8(ascii: "\"") else { throw fail("Expected a JSON string.") }
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []
        func flush() { scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars); run.removeAll() }
        while true {
            guard let byte = next() else { throw fail("Unterminated JSON string.") }
            switch byte {
            case UInt8(ascii: "\""):
                flush()
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush()
                guard let escape = next() else { throw fail("Unterminated JSON string.") }
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"): scalars.append(try unicodeEscape())
                default: throw fail("Invalid escape in a JSON string.")
                }
            case 0..<0x20:
                throw fail("Unescaped control character in a JSON string.")
            default:
                run.append(byte)
            }
        }
    }

    /// `\uXXXX`, joining a UTF-16 surrogate pair; a lone surrogate is refused.
    private mutating func unicodeEscape() throws(BodyDecodingError) -> Unicode.Scalar {
        let high = try hex4()
        if (0xD800..<0xDC00).contains(high) {
            guard next() == UInt8(ascii: "\\"), next() == UInt8(ascii: "u") else { throw fail("Lone surrogate in a JSON string.") }
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw fail("Lone surrogate in a JSON string.") }
            return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
        }
        guard let scalar = Unicode.Scalar(high) else { throw fail("Lone surrogate in a JSON string.") }
        return scalar
    }

    private mutating func hex4() throws(BodyDecodingError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = next() else { throw fail("Truncated \\u escape.") }
            guard let digit = ASCII.hexValue(byte) else { throw fail("Invalid \\u escape.") }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, returned as written.
    private mutating func number() throws(BodyDecodingError) -> String {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), isDigit(first) else { throw fail("Malformed JSON number.") }
        index += 1
        if first != UInt8(ascii: "0") { while let byte = peek(), isDigit(byte) { index += 1 } }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard let byte = peek(), isDigit(byte) else { throw fail("Malformed JSON number.") }
            while let byte = peek(), isDigit(byte) { index += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard let byte = peek(), isDigit(byte) else { throw fail("Malformed JSON number.") }
            while let byte = peek(), isDigit(byte) { index += 1 }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    private mutating func literal(_ word: String) -> Bool {
        let expected = Array(word.utf8)
        guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else { return false }
        index += expected.count
        return true
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func next() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    private func fail(_ message: String) -> BodyDecodingError { .malformed(message) }
}
