/// `application/x-www-form-urlencoded` (the WHATWG URL standard's form encoding), as used by
/// query strings and form bodies: `+` is a space, `%XX` a byte, and the bytes must be UTF-8.
enum FormURLEncoding {
    /// The name/value pairs of `bytes`, in order. `source` names the input in error messages.
    static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes, source: String) throws(APIError) -> [(String, String)] {
        var pairs: [(String, String)] = []
        for segment in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let equals = segment.firstIndex(of: UInt8(ascii: "="))
            let rawName = equals.map { segment[segment.startIndex..<$0] } ?? segment[...]
            let rawValue = equals.map { segment[segment.index(after: $0)...] } ?? segment[segment.endIndex...]
            let name = try decode(rawName, source: source)
            let value = try decode(rawValue, source: source)
            pairs.append((name, value))
        }
        return pairs
    }

    private static func decode<Bytes: Collection<UInt8>>(_ bytes: Bytes, source: String) throws(APIError) -> String {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                decoded.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%") {
                let high = bytes.index(after: index)
                guard high != bytes.endIndex, bytes.index(after: high) != bytes.endIndex,
                      let upper = hexValue(bytes[high]), let lower = hexValue(bytes[bytes.index(after: high)])
                else {
                    throw APIError.malformedBody("The \(source) has a malformed percent-escape.")
                }
                decoded.append(upper << 4 | lower)
                index = bytes.index(after: high)
            } else {
                decoded.append(byte)
            }
            index = bytes.index(after: index)
        }
        guard let text = String(validating: decoded, as: UTF8.self) else {
            throw APIError.malformedBody("The \(source) is not valid UTF-8.")
        }
        return text
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
