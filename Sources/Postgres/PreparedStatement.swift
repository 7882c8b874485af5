/// A statement that each connection prepares once, under ``name``, the first time it runs it, and
/// then executes by name (`PQsendQueryPrepared`): the server parses and plans it once per connection.
///
/// ```swift
/// static let contactByEmail = PreparedStatement(
///     name: "contact_by_email",
///     sql: "SELECT contact_id FROM contacts WHERE listing_id = $1 AND lower(email) = lower($2)")
/// ```
public struct PreparedStatement: Sendable, Hashable {
    /// The server-side name; unique per statement text within the application.
    public let name: String
    public let sql: String

    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }
}
