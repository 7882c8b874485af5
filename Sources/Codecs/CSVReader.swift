/// Reads CSV records (RFC 4180) from bytes that arrive in pieces, for imports (API.md §12): the
/// caller feeds each piece as it comes off the socket and gets the records it completed, so no
/// file is ever held whole; at the end, ``finish()`` gives the last record.
///
/// The format: fields separated by `,`; records by CRLF or LF; a field that starts with `"`
/// is quoted and may hold `,`, `"` written `""`, CR and LF. A UTF-8 byte order mark at the start
/// is skipped, and a line with no character at all is not a record. A record that cannot be
/// read is a ``Record/malformed(_:)`` in its place, and reading goes on with the next one:
/// a quote inside an unquoted field, anything but `,` or the record's end after a closing
/// quote, a field that is not UTF-8, a record longer than `maxRecordBytes`, and a quote still
/// open at the end of the input. Field counts are the caller's to check (against the header).
public struct CSVReader: Sendable {
    /// One record: its fields, or why it could not be read.
    public enum Record: Sendable, Equatable {
        case fields([String])
        case malformed(String)
    }

    private enum State: Sendable {
        /// At the start of a field (nothing of it read).
        case fieldStart
        /// In an unquoted field.
        case unquoted
        /// In a quoted field.
        case quoted
        /// Just after a quote inside a quoted field: `"` (an escaped quote), `,` or the end.
        case quoteInQuoted
        /// After a CR outside quotes: LF ends the record.
        case carriageReturn
        /// The record is malformed: skip to its end (outside quotes when `inQuotes` is false).
        case skipping(inQuotes: Bool)
    }

    public let maxRecordBytes: Int
    private var state = State.fieldStart
    private var fields: [String] = []
    private var field: [UInt8] = []
    private var recordBytes = 0
    private var problem: String?
    /// Bytes of a possible byte order mark seen at the very start (until 3 are seen).
    private var start: [UInt8] = []
    private var started = false
    /// Whether the current record has any byte besides its line end (an empty line is no record).
    private var hasContent = false

    public init(maxRecordBytes: Int = 65_536) {
        self.maxRecordBytes = maxRecordBytes
    }

    /// Reads `bytes`; returns the records they completed, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Record] {
        var records: [Record] = []
        for byte in bytes {
            if !started {
                start.append(byte)
                if start.count < 3 && [0xEF, 0xBB, 0xBF].starts(with: start) { continue }
                started = true
                let pending = start == [0xEF, 0xBB, 0xBF] ? [] : start
                start = []
                for early in pending { read(early, into: &records) }
                continue
            }
            read(byte, into: &records)
        }
        return records
    }

    /// The end of the input: the last record (one without a line end), if any.
    public mutating func finish() -> [Record] {
        var records: [Record] = []
        if !started {
            started = true
            let pending = start == [0xEF, 0xBB, 0xBF] ? [] : start
            start = []
            for early in pending { read(early, into: &records) }
        }
        switch state {
        case .quoted:
            records.append(.malformed(problem ?? "a quoted field is not closed before the end of the input"))
        case .skipping:
            records.append(.malformed(problem ?? "the record cannot be read"))
        default:
            if hasContent { endRecord(into: &records) }
        }
        reset()
        return records
    }

    private mutating func read(_ byte: UInt8, into records: inout [Record]) {
        recordBytes += 1
        if byte != UInt8(ascii: "\n") && byte != UInt8(ascii: "\r") { hasContent = true }
        if recordBytes > maxRecordBytes, problem == nil {
            malformed("the record is longer than \(maxRecordBytes) bytes")
        }
        switch state {
        case .fieldStart, .unquoted:
            switch byte {
            case UInt8(ascii: ","): endField()
            case UInt8(ascii: "\n"): endRecord(into: &records)
            case UInt8(ascii: "\r"): state = .carriageReturn
            case UInt8(ascii: "\""):
                if case .fieldStart = state {
                    state = .quoted
                } else {
                    malformed("a quote inside an unquoted field")
                }
            default:
                field.append(byte)
                state = .unquoted
            }
        case .carriageReturn:
            if byte == UInt8(ascii: "\n") {
                endRecord(into: &records)
            } else {
                field.append(UInt8(ascii: "\r"))  // a lone CR is data
                hasContent = true
                state = .unquoted
                recordBytes -= 1
                read(byte, into: &records)
            }
        case .quoted:
            if byte == UInt8(ascii: "\"") { state = .quoteInQuoted } else { field.append(byte) }
        case .quoteInQuoted:
            switch byte {
            case UInt8(ascii: "\""):
                field.append(byte)
                state = .quoted
            case UInt8(ascii: ","): endField()
            case UInt8(ascii: "\n"): endRecord(into: &records)
            case UInt8(ascii: "\r"): state = .carriageReturn
            default: malformed("a closing quote followed by something other than a comma or the end of the record")
            }
        case let .skipping(inQuotes):
            if byte == UInt8(ascii: "\"") {
                state = .skipping(inQuotes: !inQuotes)
            } else if byte == UInt8(ascii: "\n") && !inQuotes {
                endRecord(into: &records)
            }
        }
    }

    /// Marks the record malformed and skips to its end: a quote opened within the skipped part
    /// hides line ends until it closes, as it would in a reader that took the record whole.
    private mutating func malformed(_ why: String) {
        if problem == nil { problem = why }
        let inQuotes: Bool
        switch state {
        case .quoted: inQuotes = true
        case let .skipping(open): inQuotes = open
        default: inQuotes = false
        }
        state = .skipping(inQuotes: inQuotes)
        field = []
        fields = []
    }

    private mutating func endField() {
        if problem == nil {
            guard let text = String(validating: field, as: UTF8.self) else {
                malformed("a field is not UTF-8")
                return
            }
            fields.append(text)
        }
        field.removeAll(keepingCapacity: true)
        state = .fieldStart
    }

    private mutating func endRecord(into records: inout [Record]) {
        endField()
        if let problem {
            records.append(.malformed(problem))
        } else if hasContent {
            records.append(.fields(fields))
        }
        reset()
    }

    private mutating func reset() {
        state = .fieldStart
        fields = []
        field.removeAll(keepingCapacity: true)
        recordBytes = 0
        problem = nil
        hasContent = false
    }
}
