import CLibPQ

/// A column of a result: its name and the OID of its type.
public struct PostgresColumn: Sendable, Hashable {
    public let name: String
    public let typeOID: UInt32
}

/// The complete outcome of one statement: its rows (copied out of libpq, in text format), its
/// columns and its command tag. Safe to pass between tasks.
public struct PostgresResult: Sendable {
    /// The columns, names and types; built on demand (a decoding error's message, a lookup by
    /// name), since most results are read by position and 11 names a page cost 11 `String`s.
    public var columns: [PostgresColumn] {
        (0..<columnCount).map { PostgresColumn(name: columnName(at: $0), typeOID: columnTypes[$0]) }
    }
    public let columnCount: Int
    /// The columns' names back to back; `columnNameEnds[i]` is where name `i` ends.
    private let columnNames: [UInt8]
    private let columnNameEnds: [Int]
    private let columnTypes: [UInt32]
    public let rowCount: Int
    /// The command tag, e.g. `INSERT 0 1`, `SELECT 3`.
    public let commandTag: String
    /// Rows affected by INSERT/UPDATE/DELETE/SELECT/…; nil for commands that report none.
    public let affectedRows: Int?

    /// All cell values back to back; `cells[row * columnCount + column]` locates one.
    private let storage: [UInt8]
    private let cells: [Cell]

    struct Cell: Sendable {
        let offset: Int
        /// -1 for SQL NULL.
        let length: Int
    }

    /// Copies a `PGresult` (whose status is TUPLES_OK or COMMAND_OK). Does not clear it.
    init(copying result: OpaquePointer) {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columnNames: [UInt8] = []
        var columnNameEnds: [Int] = []
        var columnTypes: [UInt32] = []
        columnNameEnds.reserveCapacity(columnCount)
        columnTypes.reserveCapacity(columnCount)
        for column in 0..<Int32(columnCount) {
            let name = UnsafeRawPointer(PQfname(result, column)!).assumingMemoryBound(to: UInt8.self)
            var length = 0
            while name[length] != 0 { length += 1 }
            columnNames.append(contentsOf: UnsafeBufferPointer(start: name, count: length))
            columnNameEnds.append(columnNames.count)
            columnTypes.append(PQftype(result, column))
        }
        var storage: [UInt8] = []
        var cells: [Cell] = []
        cells.reserveCapacity(rowCount * columnCount)
        for row in 0..<Int32(rowCount) {
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(result, row, column) != 0 {
                    cells.append(Cell(offset: 0, length: -1))
                    continue
                }
                let length = Int(PQgetlength(result, row, column))
                cells.append(Cell(offset: storage.count, length: length))
                PQgetvalue(result, row, column).withMemoryRebound(to: UInt8.self, capacity: length) {
                    storage.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                }
            }
        }
        self.columnCount = columnCount
        self.columnNames = columnNames
        self.columnNameEnds = columnNameEnds
        self.columnTypes = columnTypes
        self.rowCount = rowCount
        self.storage = storage
        self.cells = cells
        self.commandTag = String(cString: PQcmdStatus(result))
        let tuples = String(cString: PQcmdTuples(result))
        self.affectedRows = Int(tuples)
    }

    /// A result without rows or columns, e.g. of a command; `commandTag` as the server would send it.
    init(commandTag: String, affectedRows: Int? = nil) {
        columnCount = 0
        columnNames = []
        columnNameEnds = []
        columnTypes = []
        rowCount = 0
        storage = []
        cells = []
        self.commandTag = commandTag
        self.affectedRows = affectedRows
    }

    /// The row at `index` (0-based).
    public subscript(index: Int) -> PostgresRow {
        precondition(index >= 0 && index < rowCount, "row \(index) out of 0..<\(rowCount)")
        return PostgresRow(result: self, index: index)
    }

    /// The rows in order.
    public var rows: [PostgresRow] { (0..<rowCount).map { PostgresRow(result: self, index: $0) } }

    /// The bytes of all cells together: what rendering every cell once at least takes.
    public var textByteCount: Int { storage.count }

    /// The first row, if any.
    public var first: PostgresRow? { rowCount > 0 ? self[0] : nil }

    /// The name of the column at `index`.
    public func columnName(at index: Int) -> String {
        String(decoding: columnNames[(index == 0 ? 0 : columnNameEnds[index - 1])..<columnNameEnds[index]], as: UTF8.self)
    }

    /// The index of the column called `name`.
    public func columnIndex(named name: String) -> Int? {
        (0..<columnCount).first { columnName(at: $0) == name }
    }

    /// Calls `body` with a view of every cell's text that counts no references per cell: for
    /// rendering a page cell by cell. The view is valid only inside `body`.
    public func withTextCells<Result>(_ body: (TextCells) throws -> Result) rethrows -> Result {
        try storage.withUnsafeBufferPointer { bytes in
            try cells.withUnsafeBufferPointer { cells in
                try body(TextCells(bytes: bytes, cells: cells, columnCount: columnCount))
            }
        }
    }

    /// The cells of a result as pointers into its storage (``withTextCells(_:)``).
    public struct TextCells {
        let bytes: UnsafeBufferPointer<UInt8>
        let cells: UnsafeBufferPointer<Cell>
        let columnCount: Int

        /// One cell's text, or nil for SQL NULL.
        public subscript(row: Int, column: Int) -> UnsafeBufferPointer<UInt8>? {
            let cell = cells[row * columnCount + column]
            guard cell.length >= 0 else { return nil }
            return UnsafeBufferPointer(rebasing: bytes[cell.offset..<cell.offset + cell.length])
        }
    }

    /// The raw text of one cell (a view of the result's storage, not a copy), or nil for SQL NULL.
    func text(row: Int, column: Int) -> ArraySlice<UInt8>? {
        let cell = cells[row * columnCount + column]
        guard cell.length >= 0 else { return nil }
        return storage[cell.offset..<cell.offset + cell.length]
    }
}
