import Codecs

/// The import readers (API.md §12) under any bytes: fed whole or in pieces cut where the input
/// says, a reader gives the same records, each either read or reported malformed, and never
/// more records than line ends plus one.
enum ImportReaderExercise {
    /// Piece sizes from the input's own bytes, so libFuzzer explores the cuts too.
    static func pieces(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var index = 0
        var step = 0
        while index < bytes.count {
            let size = 1 + Int(bytes[step % bytes.count] % 13)
            result.append(bytes[index..<min(bytes.count, index + size)])
            index += size
            step += 1
        }
        return result
    }

    static func csv(_ bytes: [UInt8]) {
        var whole = CSVReader(maxRecordBytes: 256)
        let expected = whole.feed(bytes) + whole.finish()
        var pieced = CSVReader(maxRecordBytes: 256)
        var records: [CSVReader.Record] = []
        for piece in pieces(bytes) { records += pieced.feed(piece) }
        records += pieced.finish()
        precondition(records == expected, "CSV records depend on how the bytes were cut")
        precondition(expected.count <= bytes.count(where: { $0 == 0x0A || $0 == 0x0D }) + 1, "more records than lines")
        for case let .fields(fields) in expected { precondition(!fields.isEmpty) }
    }

    static func ndjson(_ bytes: [UInt8]) {
        var whole = NDJSONReader(maxLineBytes: 256)
        let expected = whole.feed(bytes) + whole.finish()
        var pieced = NDJSONReader(maxLineBytes: 256)
        var records: [NDJSONReader.Record] = []
        for piece in pieces(bytes) { records += pieced.feed(piece) }
        records += pieced.finish()
        precondition(records == expected, "NDJSON records depend on how the bytes were cut")
        precondition(expected.count <= bytes.count(where: { $0 == 0x0A }) + 1, "more records than lines")
    }
}
