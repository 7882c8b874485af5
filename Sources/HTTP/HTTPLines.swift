import Codecs

/// The line-level pieces of HTTP/1.1 framing the request parser reads a chunked body with
/// (RFC 9112 §7.1): a line up to its LF, and a chunk-size line.
enum HTTPLines {
    /// The line starting at `start` without its terminator, and the index after it; nil if its
    /// end has not arrived within `maxLength` bytes.
    static func nextLine(_ buffer: ArraySlice<UInt8>, from start: Int, maxLength: Int) -> (ArraySlice<UInt8>, Int)? {
        let limit = min(buffer.endIndex, start + maxLength + 2)
        var position = start
        while position < limit {
            if buffer[position] == .lf {
                let end = position > start && buffer[position - 1] == .cr ? position - 1 : position
                return (buffer[start..<end], position + 1)
            }
            position += 1
        }
        return nil
    }

    /// Hex digits, optionally followed by `;` extensions (ignored); at most 16 digits.
    static func chunkSize(_ line: ArraySlice<UInt8>) -> Int? {
        let digits = line.prefix { $0 != UInt8(ascii: ";") && $0 != .space && $0 != .tab }
        guard !digits.isEmpty, digits.count <= 16 else { return nil }
        var size: UInt64 = 0
        for digit in digits {
            guard let value = ASCII.hexValue(digit) else { return nil }
            size = size << 4 | UInt64(value)
        }
        let rest = line.dropFirst(digits.count)
        guard rest.allSatisfy({ $0 >= 0x20 || $0 == .tab }) else { return nil }
        return size > UInt64(Int.max) ? Int.max : Int(size)
    }
}
