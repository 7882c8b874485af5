/// `multipart/form-data` (RFC 7578) with text fields: each part's `Content-Disposition` names
/// the field, its content is the value (UTF-8). Parts are found by the boundary the
/// `Content-Type` declares; anything not shaped like that is a `400` naming the body.
enum MultipartFormData {
    static func parse(_ body: [UInt8], boundary: String) throws(APIError) -> [(String, String)] {
        guard !boundary.isEmpty, boundary.utf8.count <= 70 else {
            throw APIError.malformedBody("The multipart boundary is missing or too long.")
        }
        let delimiter = Array("--\(boundary)".utf8)
        guard var position = find(delimiter, in: body, from: 0) else {
            throw APIError.malformedBody("The multipart body does not contain its boundary.")
        }
        var fields: [(String, String)] = []
        while true {
            position += delimiter.count
            // "--" after a delimiter closes the body.
            if position + 1 < body.count, body[position] == UInt8(ascii: "-"), body[position + 1] == UInt8(ascii: "-") {
                return fields
            }
            guard let lineEnd = find([13, 10], in: body, from: position) else {
                throw APIError.malformedBody("The multipart body ends inside a part.")
            }
            // The headers end with an empty line; searching from the delimiter line's own CRLF
            // also finds a part with no headers at all (which then lacks its name).
            guard let headersEnd = find([13, 10, 13, 10], in: body, from: lineEnd) else {
                throw APIError.malformedBody("A multipart part has no end of headers.")
            }
            let headersStart = min(lineEnd + 2, headersEnd)
            let contentStart = headersEnd + 4
            guard let next = find([13, 10] + delimiter, in: body, from: contentStart) else {
                throw APIError.malformedBody("A multipart part is not closed by the boundary.")
            }
            let headers = String(decoding: body[headersStart..<headersEnd], as: UTF8.self)
            guard let name = fieldName(in: headers) else {
                throw APIError.malformedBody("A multipart part has no form-data name.")
            }
            guard let value = String(validating: body[contentStart..<next], as: UTF8.self) else {
                throw APIError.malformedBody("The multipart field \(name) is not valid UTF-8 text.")
            }
            fields.append((name, value))
            position = next + 2
        }
    }

    /// The `name` parameter of the part's `Content-Disposition: form-data` header.
    private static func fieldName(in headers: String) -> String? {
        for line in headers.split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-disposition" else { continue }
            for parameter in parts[1].split(separator: ";").dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                guard pair.count == 2, pair[0].trimmingSpacesAndTabs().lowercased() == "name" else { continue }
                var value = pair[1].trimmingSpacesAndTabs()
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                return value
            }
        }
        return nil
    }

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
