/// A statement that each connection prepares once, under ``name``, the first time it runs it, and
/// then executes by name (`PQsendQueryPrepared`): the server parses and plans it once per connection.
///
/// ```swift
/// static let contactByEmail = PreparedStatement(
///     name: "contact_by_email",
///     sql: "SELECT contact_id FROM contacts WHERE listing_id = $1 AND lower(email) = lower($2)")
/// ```
///
/// A statement whose best plan depends on its parameter values (a `LIKE` pattern's selectivity,
/// say) is made with `plannedEachTime: true`: it is then always sent whole as the unnamed
/// statement, which PostgreSQL plans for the values at hand, instead of settling on a generic
/// plan after five executions. Likewise every statement when the connection's
/// ``PostgresConfiguration/statementMode`` is `.unnamed`.
public struct PreparedStatement: Sendable, Hashable {
    /// The server-side name; unique per statement text within the application.
    public let name: String
    public let sql: String
    /// Parsed and planned at every execution, with the parameters' values.
    public let plannedEachTime: Bool
    /// A quick read that may share a pipelined connection with other callers' statements
    /// (``ConnectionPool/execute(_:_:)``): it must only read, and finish quickly, since the
    /// statements behind it on that connection wait for it.
    public let pipelined: Bool

    public init(name: String, sql: String, plannedEachTime: Bool = false, pipelined: Bool = false) {
        self.name = name
        self.sql = sql
        self.plannedEachTime = plannedEachTime
        self.pipelined = pipelined && !plannedEachTime
    }
}
