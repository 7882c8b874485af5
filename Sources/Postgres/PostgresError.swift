/// An error from the PostgreSQL client: a server error with its SQLSTATE and fields, a lost or
/// refused connection, or a value that could not be decoded.
///
/// A struct over a private enum, like ``ConnectionPoolError``: callers compare ``kind`` with
/// `==` (or `switch` on it with a `default`) and ask the accessors, so a new kind of error
/// does not break them. For server errors they branch on ``sqlState`` and ``constraint``:
///
/// ```swift
/// catch let error as PostgresError where error.sqlState == .uniqueViolation { … }
/// catch let error as PostgresError where error.isConnectionError { … }
/// ```
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    private enum Reason: String, Sendable {
        case server, connectionFailed, connectionClosed, decoding, client, notRun
    }

    /// What went wrong, at the level a caller acts on. Its description is the kind's name
    /// (`server`, `connectionFailed`, …), stable for logs and metrics.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private let reason: Reason

        private init(_ reason: Reason) { self.reason = reason }

        /// The server rejected a statement; ``PostgresError/sqlState`` says why.
        public static let server = Kind(.server)
        /// No connection could be made (refused, unreachable, authentication, timeout).
        public static let connectionFailed = Kind(.connectionFailed)
        /// An established connection broke: server restart, `pg_terminate_backend`, network.
        public static let connectionClosed = Kind(.connectionClosed)
        /// A result value could not be converted to the Swift type asked for.
        public static let decoding = Kind(.decoding)
        /// libpq refused a call in a way that is neither of the above (e.g. out of memory).
        public static let client = Kind(.client)
        /// The statement never ran: it shared a pipeline Sync with an earlier statement that
        /// failed. Running it again is safe.
        public static let notRun = Kind(.notRun)

        public var description: String { reason.rawValue }
    }

    /// The fields, in one immutable box: an error is one word wherever it travels (inside
    /// every `Result` a query completes with), and only a failure pays for the box.
    private final class Storage: Sendable {
        let kind: Kind
        let sqlState: SQLState?
        let message: String
        let detail: String?
        let hint: String?
        let constraint: String?
        let table: String?
        let column: String?

        init(kind: Kind, sqlState: SQLState?, message: String, detail: String?, hint: String?,
             constraint: String?, table: String?, column: String?) {
            self.kind = kind
            self.sqlState = sqlState
            self.message = message
            self.detail = detail
            self.hint = hint
            self.constraint = constraint
            self.table = table
            self.column = column
        }
    }

    private let storage: Storage

    public var kind: Kind { storage.kind }
    /// The five-character SQLSTATE of a server error.
    public var sqlState: SQLState? { storage.sqlState }
    /// The primary message (server errors: `PG_DIAG_MESSAGE_PRIMARY`).
    public var message: String { storage.message }
    public var detail: String? { storage.detail }
    public var hint: String? { storage.hint }
    /// The constraint a server error names, e.g. the unique index a duplicate violated.
    public var constraint: String? { storage.constraint }
    public var table: String? { storage.table }
    public var column: String? { storage.column }

    public init(
        kind: Kind, sqlState: SQLState? = nil, message: String, detail: String? = nil,
        hint: String? = nil, constraint: String? = nil, table: String? = nil, column: String? = nil
    ) {
        storage = Storage(kind: kind, sqlState: sqlState, message: message, detail: detail, hint: hint,
                          constraint: constraint, table: table, column: column)
    }

    /// True for the two connection kinds, where a new connection may succeed where this one failed.
    public var isConnectionError: Bool {
        kind == .connectionFailed || kind == .connectionClosed
    }

    /// True when the server refused a write as read-only (`25006`): a standby, say an old
    /// primary that came back as one after a failover. The connection is on the wrong server,
    /// and nothing it did can have been written, so a new connection (libpq's
    /// `target_session_attrs=read-write` picks the primary) may succeed where this one failed.
    public var isReadOnlyServer: Bool {
        kind == .server && sqlState == .readOnlySQLTransaction
    }

    /// True when the server gave up on the statement after its `statement_timeout` or
    /// `lock_timeout` (or an operator cancelled it): the work may succeed when tried again.
    public var isTimeout: Bool {
        sqlState == .queryCanceled || sqlState == .lockNotAvailable
    }

    /// True when the statement never reached the server's executor (a pipeline group's
    /// earlier statement failed): running it again is safe.
    public var isNotRun: Bool { kind == .notRun }

    public var description: String {
        var text = "PostgreSQL \(kind)"
        if let sqlState { text += " \(sqlState.code)" }
        text += ": \(message)"
        if let detail { text += " (\(detail))" }
        return text
    }
}

extension PostgresError {
    /// A call libpq (or this client) refused: a NUL byte in SQL, COPY, an unexpected outcome.
    public static func client(_ message: String) -> PostgresError {
        PostgresError(kind: .client, message: message)
    }

    /// A result value that could not be converted; `column` names it when known.
    public static func decoding(_ message: String, column: String? = nil) -> PostgresError {
        PostgresError(kind: .decoding, message: message, column: column)
    }

    /// No connection could be made.
    public static func connectionFailed(_ message: String) -> PostgresError {
        PostgresError(kind: .connectionFailed, message: message)
    }

    /// An established connection broke; a server's goodbye keeps its SQLSTATE and detail.
    public static func connectionClosed(_ message: String, sqlState: SQLState? = nil, detail: String? = nil) -> PostgresError {
        PostgresError(kind: .connectionClosed, sqlState: sqlState, message: message, detail: detail)
    }

    /// A statement skipped because an earlier one of its pipeline group failed.
    public static func notRun(_ message: String) -> PostgresError {
        PostgresError(kind: .notRun, message: message)
    }

    /// This error as the end of a connection: the same SQLSTATE, message and detail, kind
    /// ``Kind/connectionClosed``.
    var asConnectionClosed: PostgresError {
        .connectionClosed(message, sqlState: sqlState, detail: detail)
    }
}
