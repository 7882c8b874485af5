/// How to reach PostgreSQL: a libpq connection string or `postgres://` URI (e.g. `DATABASE_URL`)
/// plus the settings this client always applies.
///
/// An empty ``connectionString`` leaves everything to libpq's defaults and `PG*` environment
/// variables. Settings in ``overrides`` win over the connection string (tests use it to point
/// at a scratch database: `overrides["dbname"] = "crm_test_1"`).
public struct PostgresConfiguration: Sendable {
    /// How ``PreparedStatement``s reach the server.
    public enum StatementMode: String, Sendable, CaseIterable {
        /// Prepared once per connection under the statement's name, then only executed: the
        /// server parses and plans once (the default).
        case named
        /// Sent whole with every execution as the unnamed statement: for PgBouncer in
        /// transaction pooling mode, where a named statement prepared on one server connection
        /// is missing on the next.
        case unnamed
    }

    public var connectionString: String
    /// Reported in `pg_stat_activity.application_name`, unless the connection string sets one.
    public var applicationName: String
    /// How long connecting (TCP, TLS, authentication) may take before it fails with `.connectionFailed`.
    public var connectTimeout: Duration
    /// libpq keywords applied after the connection string, e.g. `dbname`, `options`.
    public var overrides: [String: String]
    public var statementMode: StatementMode
    /// The session's `statement_timeout` and `lock_timeout` (sent in the startup packet's
    /// `options`, after any the connection string has), so no statement holds a connection for
    /// longer; nil leaves the server's settings. Whole milliseconds; PostgreSQL reports a statement
    /// that hits either as ``PostgresError/isTimeout``.
    public var statementTimeout: Duration?

    public init(
        connectionString: String,
        applicationName: String = "crm",
        connectTimeout: Duration = .seconds(5),
        overrides: [String: String] = [:],
        statementMode: StatementMode = .named,
        statementTimeout: Duration? = nil
    ) {
        self.connectionString = connectionString
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
        self.overrides = overrides
        self.statementMode = statementMode
        self.statementTimeout = statementTimeout
    }

    /// The keyword/value pairs handed to `PQconnectStartParams` with `expand_dbname = 1`.
    /// libpq applies them in order, so later pairs override what the connection string set;
    /// `client_encoding` comes last because every byte this client sends and decodes is UTF-8.
    var libpqParameters: [(String, String)] {
        var parameters = [("application_name", applicationName), ("dbname", connectionString)]
        parameters += overrides.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if let statementTimeout {
            let milliseconds = max(1, statementTimeout.components.seconds * 1000 + statementTimeout.components.attoseconds / 1_000_000_000_000_000)
            let given = overrides["options"] ?? ConnectionString.value(of: "options", in: connectionString) ?? ""
            let timeouts = "-c statement_timeout=\(milliseconds) -c lock_timeout=\(milliseconds)"
            parameters.append(("options", given.isEmpty ? timeouts : given + " " + timeouts))
        }
        parameters.append(("client_encoding", "UTF8"))
        return parameters
    }
}
