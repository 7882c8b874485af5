/// Reads NDJSON (one JSON object per line) from bytes that arrive in pieces, for imports
/// (API.md §12): each complete line becomes the object's members, read as the API reads a
/// JSON body (``FlatJSONObject``: strings, numbers, booleans and null; no nesting), or a
/// ``Record/malformed(_:)`` in its place when the line is not one such object or is longer
/// than `maxLineBytes`; reading goes on with the next line. Lines end with LF (a CR before it
/// is dropped); an empty line is not a record.
public struct NDJSONReader: Sendable {
    /// One line: its members in order, or why it could not be read.
    public enum Record: Sendable, Equatable {
        case members([Member])
        case malformed(String)
    }

    /// A member of a line's object (nil: JSON null).
    public struct Member: Sendable, Equatable {
        public let name: String
        public let value: String?

        public init(_ name: String, _ value: String?) {
            self.name = name
            self.value = value
        }
    }

    public let maxLineBytes: Int
    private var line: [UInt8] = []
    private var tooLong = false

    public init(maxLineBytes: Int = 65_536) {
        self.maxLineBytes = maxLineBytes
    }

    /// Reads `bytes`; returns the records of the lines they completed, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Record] {
        var records: [Record] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if let record = endLine() { records.append(record) }
            } else if line.count < maxLineBytes {
                line.append(byte)
            } else {
                tooLong = true
            }
        }
        return records
    }

    /// The end of the input: the last line (one without a line end), if any.
    public mutating func finish() -> [Record] {
        endLine().map { [$0] } ?? []
    }

    private mutating func endLine() -> Record? {
        defer {
            line.removeAll(keepingCapacity: true)
            tooLong = false
        }
        if tooLong { return .malformed("the line is longer than \(maxLineBytes) bytes") }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        guard !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }) else {
            return nil
        }
        do {
            return .members(try FlatJSONObject.parse(line).map { Member($0.0, $0.1) })
        } catch {
            return .malformed("the line is not one JSON object of strings, numbers, booleans and nulls: \(error)")
        }
    }
}
