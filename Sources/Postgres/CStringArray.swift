/// Lends libpq an array of C string pointers, valid for the duration of one call.
///
/// nil becomes a NULL pointer (SQL NULL for a parameter). The `[String]` form appends the
/// terminating NULL that libpq's keyword/value arrays need.
enum CStringArray {
    static func with<Result>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> Result) -> Result {
        // One buffer for all strings: one allocation instead of one per parameter.
        var buffer: [UInt8] = []
        buffer.reserveCapacity(strings.reduce(0) { $0 + ($1?.utf8.count ?? 0) + 1 })
        var offsets: [Int?] = []
        offsets.reserveCapacity(strings.count)
        for string in strings {
            guard let string else {
                offsets.append(nil)
                continue
            }
            offsets.append(buffer.count)
            buffer.append(contentsOf: string.utf8)  // a copy of the string's bytes, no array of its own
            buffer.append(0)
        }
        return buffer.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { storage in
                body(offsets.map { offset in offset.map { storage.baseAddress! + $0 } })
            }
        }
    }

    static func with<Result>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> Result) -> Result {
        with(strings.map(Optional.some) + [nil], body)
    }
}
