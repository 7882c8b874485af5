/// One row of a ``PostgresResult``, decoded column by column into Swift values.
///
/// ```swift
/// let id = try row.decode(Int64.self, column: "contact_id")
/// let email = try row.decode(String?.self, column: "email")   // NULL → nil
/// ```
public struct PostgresRow: Sendable {
    let result: PostgresResult
    public let index: Int

    /// Decodes the column at `column` (0-based). SQL NULL decodes only into an `Optional`.
    public func decode<Value: PostgresDecodable>(_ type: Value.Type, column: Int) throws(PostgresError) -> Value {
        guard column >= 0, column < result.columnCount else {
            throw PostgresError.decoding("column \(column) out of range (\(result.columnCount) columns)")
        }
        guard let text = result.text(row: index, column: column) else {
            let name = result.columnName(at: column)
            throw PostgresError.decoding("column \(name) is NULL, not \(Value.self)", column: name)
        }
        guard let value = Value(postgresText: text) else {
            let name = result.columnName(at: column)
            throw PostgresError.decoding("column \(name) is not a valid \(Value.self)", column: name)
        }
        return value
    }

    /// Decodes a nullable column at `column`: nil for SQL NULL.
    public func decode<Value: PostgresDecodable>(_ type: Value?.Type, column: Int) throws(PostgresError) -> Value? {
        guard column >= 0, column < result.columnCount else {
            throw PostgresError.decoding("column \(column) out of range (\(result.columnCount) columns)")
        }
        guard result.text(row: index, column: column) != nil else { return nil }
        return try decode(Value.self, column: column)
    }

    /// Decodes the column called `name`.
    public func decode<Value: PostgresDecodable>(_ type: Value.Type, column name: String) throws(PostgresError) -> Value {
        try decode(Value.self, column: try columnIndex(name))
    }

    /// Decodes the nullable column called `name`: nil for SQL NULL.
    public func decode<Value: PostgresDecodable>(_ type: Value?.Type, column name: String) throws(PostgresError) -> Value? {
        try decode(Value?.self, column: try columnIndex(name))
    }

    /// True when the column at `column` is SQL NULL.
    public func isNull(column: Int) -> Bool {
        guard column >= 0, column < result.columnCount else { return true }
        return result.text(row: index, column: column) == nil
    }

    private func columnIndex(_ name: String) throws(PostgresError) -> Int {
        guard let column = result.columnIndex(named: name) else {
            throw PostgresError.decoding("no column named \(name)", column: name)
        }
        return column
    }
}
