/// `multipart/form-data` (RFC 7578) with text fields: each part's `Content-Disposition:
/// form-data` names the field, its content is the value (UTF-8). Anything not shaped like that
/// is refused naming the body; a part with a `filename` is refused naming its field (file
/// uploads are not accepted).
///
/// Boundaries follow RFC 2046 §5.1.1: a delimiter is `--boundary` at the start of a line,
/// followed only by optional spaces or tabs and CRLF, or by `--` (the last one). So with the
/// boundary `abc`, a line `--abcdef` is content, not a delimiter.
public enum MultipartFormData {
    public static func parse(_ body: [UInt8], boundary: String) throws(BodyDecodingError) -> [(String, String)] {
        guard !boundary.isEmpty, boundary.utf8.count <= 70 else {
            throw BodyDecodingError.malformed("The multipart boundary is missing or too long.")
        }
        let dashBoundary = Array("--\(boundary)".utf8)
        guard var delimiter = nextDelimiter(dashBoundary, in: body, from: 0) else {
            throw BodyDecodingError.malformed("The multipart body does not contain its boundary.")
        }
        var fields: [(String, String)] = []
        while !delimiter.isLast {
            guard let next = nextDelimiter(dashBoundary, in: body, from: delimiter.end) else {
                throw BodyDecodingError.malformed("A multipart part is not closed by the boundary.")
            }
            fields.append(try field(body[delimiter.end..<next.contentEnd]))
            delimiter = next
        }
        return fields
    }

    /// A delimiter line: where the content before it ends (its leading CRLF belongs to the
    /// delimiter), where the next part starts, and whether it closes the body.
    private struct Delimiter {
        let contentEnd: Int
        let end: Int
        let isLast: Bool
    }

    /// The first delimiter at or after `start`: `--boundary` right after a CRLF (or, for the
    /// first, at the body's start), then `--`, or optional spaces and tabs and CRLF. Other
    /// lines are content (or preamble), however they begin.
    private static func nextDelimiter(_ dashBoundary: [UInt8], in body: [UInt8], from start: Int) -> Delimiter? {
        var searchFrom = start
        while let found = find(dashBoundary, in: body, from: searchFrom) {
            searchFrom = found + 1
            let afterCRLF = found - 2 >= start && body[found - 2] == cr && body[found - 1] == lf
            guard afterCRLF || (start == 0 && found == 0) else { continue }
            let contentEnd = afterCRLF ? found - 2 : found
            var index = found + dashBoundary.count
            if index + 1 < body.count, body[index] == dash, body[index + 1] == dash {
                return Delimiter(contentEnd: contentEnd, end: body.count, isLast: true)
            }
            while index < body.count, body[index] == space || body[index] == tab { index += 1 }
            if index + 1 < body.count, body[index] == cr, body[index + 1] == lf {
                return Delimiter(contentEnd: contentEnd, end: index + 2, isLast: false)
            }
        }
        return nil
    }

    /// One part: its headers, an empty line, its content.
    private static func field(_ part: ArraySlice<UInt8>) throws(BodyDecodingError) -> (String, String) {
        let headers: ArraySlice<UInt8>
        let content: ArraySlice<UInt8>
        if part.starts(with: [cr, lf]) {
            headers = part.prefix(0)
            content = part.dropFirst(2)
        } else if let end = find([cr, lf, cr, lf], in: Array(part), from: 0) {
            headers = part.prefix(end)
            content = part.dropFirst(end + 4)
        } else {
            throw BodyDecodingError.malformed("A multipart part has no end of headers.")
        }
        let name = try fieldName(in: headers)
        guard let value = String(validating: content, as: UTF8.self) else {
            throw BodyDecodingError.malformed("The multipart field \(name) is not valid UTF-8 text.")
        }
        return (name, value)
    }

    /// The `name` of the part's `Content-Disposition: form-data` header; a part with a
    /// `filename` (a file upload) is refused, naming its field.
    private static func fieldName(in headers: ArraySlice<UInt8>) throws(BodyDecodingError) -> String {
        let prefix = Array("content-disposition:".utf8)
        for line in headers.split(separator: lf) {
            let line = line.last == cr ? line.dropLast() : line
            guard line.count >= prefix.count, zip(line.prefix(prefix.count), prefix).allSatisfy({ lowercased($0) == $1 }) else {
                continue
            }
            guard let (type, parameters) = disposition(Array(line.dropFirst(prefix.count))) else {
                throw BodyDecodingError.malformed("A multipart part's Content-Disposition header is malformed.")
            }
            guard type == "form-data", let name = parameters.first(where: { $0.0 == "name" })?.1, !name.isEmpty else {
                throw BodyDecodingError.malformed("A multipart part has no form-data name.")
            }
            if parameters.contains(where: { $0.0 == "filename" || $0.0 == "filename*" }) {
                throw BodyDecodingError.field(name, "\(name) is a file: file uploads are not accepted, only text fields.")
            }
            return name
        }
        throw BodyDecodingError.malformed("A multipart part has no form-data name.")
    }

    /// `type; name=value; name="quoted; value"`: the type and parameter names lower-cased,
    /// quoted values unquoted (a backslash escapes the next character). Nil when malformed.
    static func disposition(_ bytes: [UInt8]) -> (String, [(String, String)])? {
        var index = 0
        func skipSpace() { while index < bytes.count, bytes[index] == space || bytes[index] == tab { index += 1 } }
        func token() -> String {
            let start = index
            while index < bytes.count, ![semicolon, equals, space, tab, quote].contains(bytes[index]) { index += 1 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        skipSpace()
        let type = token().lowercased()
        guard !type.isEmpty else { return nil }
        var parameters: [(String, String)] = []
        while true {
            skipSpace()
            guard index < bytes.count else { return (type, parameters) }
            guard bytes[index] == semicolon else { return nil }
            index += 1
            skipSpace()
            if index == bytes.count { return (type, parameters) }  // a trailing ";"
            let name = token().lowercased()
            skipSpace()
            guard !name.isEmpty, index < bytes.count, bytes[index] == equals else { return nil }
            index += 1
            skipSpace()
            var value: [UInt8] = []
            if index < bytes.count, bytes[index] == quote {
                index += 1
                var closed = false
                while index < bytes.count {
                    let byte = bytes[index]
                    index += 1
                    if byte == quote { closed = true; break }
                    if byte == backslash, index < bytes.count { value.append(bytes[index]); index += 1; continue }
                    value.append(byte)
                }
                guard closed else { return nil }
            } else {
                value = Array(token().utf8)
            }
            parameters.append((name, String(decoding: value, as: UTF8.self)))
        }
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    private static let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n"), dash = UInt8(ascii: "-")
    private static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), quote = UInt8(ascii: "\"")
    private static let semicolon = UInt8(ascii: ";"), equals = UInt8(ascii: "="), backslash = UInt8(ascii: "\\")

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var index = start
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == needle[0], haystack[index..<index + needle.count].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
