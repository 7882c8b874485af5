/// `application/x-www-form-urlencoded` (the WHATWG URL standard's form encoding), as used by
/// query strings and form bodies: `+` is a space, `%XX` a byte, and the bytes must be UTF-8.
public enum FormURLEncoding {
    /// The name/value pairs of `bytes`, in order. `source` names the input in error messages.
    @inlinable
    public static func parse(_ bytes: some Collection<UInt8>, source: String) throws(BodyDecodingError) -> [(String, String)] {
        // One compiled parser over contiguous bytes, whatever collection the caller holds (a
        // generic one would run unspecialized from another module, several times slower).
        let parsed = bytes.withContiguousStorageIfAvailable { pairs(in: $0, source: source) }
            ?? Array(bytes).withUnsafeBufferPointer { pairs(in: $0, source: source) }
        return try parsed.get()
    }

    @usableFromInline
    static func pairs(in bytes: UnsafeBufferPointer<UInt8>, source: String) -> Result<[(String, String)], BodyDecodingError> {
        Result { () throws(BodyDecodingError) in try parsePairs(bytes, source: source) }
    }

    private static func parsePairs(_ bytes: UnsafeBufferPointer<UInt8>, source: String) throws(BodyDecodingError) -> [(String, String)] {
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

    private static func decode<Bytes: Collection<UInt8>>(_ bytes: Bytes, source: String) throws(BodyDecodingError) -> String {
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
                      let upper = ASCII.hexValue(bytes[high]), let lower = ASCII.hexValue(bytes[bytes.index(after: high)])
                else {
                    throw BodyDecodingError.malformed("The \(source) has a malformed percent-escape.")
                }
                decoded.append(upper << 4 | lower)
                index = bytes.index(after: high)
            } else {
                decoded.append(byte)
            }
            index = bytes.index(after: index)
        }
        guard let text = String(validating: decoded, as: UTF8.self) else {
            throw BodyDecodingError.malformed("The \(source) is not valid UTF-8.")
        }
        return text
    }
}
