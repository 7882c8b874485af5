import Codecs

/// Reads an import's body, as it arrives, into rows of named values (API.md §12): CSV records
/// under their header's names (the known columns only), or NDJSON objects' members (JSON null
/// left out, as a JSON body's). A record that cannot be read (malformed, or a field count other
/// than the header's) is ``Record/unreadable(_:)`` in its row's place. A CSV whose first record
/// names no known column, and a body with no record at all, are the whole file's `400`.
struct ImportRecordReader {
    /// One data row.
    enum Record: Equatable {
        case row([(String, String)])
        case unreadable(String)

        static func == (lhs: Record, rhs: Record) -> Bool {
            switch (lhs, rhs) {
            case (.row(let left), .row(let right)): left.elementsEqual(right) { $0 == $1 }
            case (.unreadable(let left), .unreadable(let right)): left == right
            default: false
            }
        }
    }

    private var csv: CSVReader?
    private var ndjson: NDJSONReader?
    /// CSV: each field's column name, nil for a column the import ignores; nil until the header is read.
    private var header: [String?]?
    /// Whether the body held any record (the header counts).
    private(set) var sawRecord = false

    init(format: ImportFormat) {
        switch format {
        case .csv: csv = CSVReader()
        case .ndjson: ndjson = NDJSONReader()
        }
    }

    /// The rows `bytes` completed.
    mutating func feed(_ bytes: [UInt8]) throws(APIError) -> [Record] {
        if var reader = csv {
            let records = reader.feed(bytes)
            csv = reader
            return try rows(records)
        }
        guard var reader = ndjson else { return [] }
        let records = reader.feed(bytes)
        ndjson = reader
        return rows(records)
    }

    /// The last rows, at the end of the body; `400` if there was no record at all.
    mutating func finish() throws(APIError) -> [Record] {
        var rows: [Record] = []
        if var reader = csv {
            rows = try self.rows(reader.finish())
            csv = reader
        } else if var reader = ndjson {
            rows = self.rows(reader.finish())
            ndjson = reader
        }
        guard sawRecord else { throw APIError.invalid("body", "The file is empty.") }
        return rows
    }

    private mutating func rows(_ records: [CSVReader.Record]) throws(APIError) -> [Record] {
        var rows: [Record] = []
        rows.reserveCapacity(records.count)
        for record in records {
            sawRecord = true
            guard let header else {
                header = try Self.header(record)
                continue
            }
            switch record {
            case .malformed(let why):
                rows.append(.unreadable("The record cannot be read: \(why)."))
            case .fields(let fields) where fields.count != header.count:
                rows.append(.unreadable("The record has \(fields.count) field(s); the header has \(header.count)."))
            case .fields(let fields):
                var pairs: [(String, String)] = []
                for (name, value) in zip(header, fields) {
                    if let name { pairs.append((name, value)) }
                }
                rows.append(.row(pairs))
            }
        }
        return rows
    }

    private mutating func rows(_ records: [NDJSONReader.Record]) -> [Record] {
        records.map { record in
            sawRecord = true
            switch record {
            case .malformed(let why): return .unreadable("The line cannot be read: \(why).")
            case .members(let members): return .row(members.compactMap { member in member.value.map { (member.name, $0) } })
            }
        }
    }

    /// The header's column names: at least one known, none twice.
    private static func header(_ record: CSVReader.Record) throws(APIError) -> [String?] {
        let refusal = APIError.invalid("body", "The first line must be a header naming columns among "
                                       + ImportFormat.columns.joined(separator: ", ") + ".")
        guard case .fields(let fields) = record else { throw refusal }
        let names = fields.map { $0.trimming(.spacesAndTabs).lowercased() }.map { ImportFormat.columns.contains($0) ? $0 : nil }
        guard names.contains(where: { $0 != nil }) else { throw refusal }
        let known = names.compactMap { $0 }
        guard Set(known).count == known.count else {
            throw APIError.invalid("body", "The header names a column twice.")
        }
        return names
    }
}
