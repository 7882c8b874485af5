/// An error from the PostgreSQL client: a server error with its SQLSTATE and fields, a lost or
/// refused connection, or a value that could not be decoded.
///
/// Callers branch on ``kind`` and, for server errors, on ``sqlState`` and ``constraint``:
///
/// ```swift
/// catch let error as PostgresError where error.sqlState == .uniqueViolation { … }
/// ```
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, at the level a caller acts on.
    public enum Kind: Sendable, Equatable {
        /// The server rejected a statement; ``sqlState`` says why.
        case server
        /// No connection could be made (refused, unreachable, authentication, timeout).
        case connectionFailed
        /// An established connection broke: server restart, `pg_terminate_backend`, network.
        case connectionClosed
        /// A result value could not be converted to the Swift type asked for.
        case decoding
        /// libpq refused a call in a way that is neither of the above (e.g. out of memory).
        case client
        /// The statement never ran: it shared a pipeline Sync with an earlier statement that
        /// failed. Running it again is safe.
        case notRun
    }

    public let kind: Kind
    /// The five-character SQLSTATE of a server error.
    public let sqlState: SQLState?
    /// The primary message (server errors: `PG_DIAG_MESSAGE_PRIMARY`).
    public let message: String
    public let detail: String?
    public let hint: String?
    /// The constraint a server error names, e.g. the unique index a duplicate violated.
    public let constraint: String?
    public let table: String?
    public let column: String?

    public init(
        kind: Kind, sqlState: SQLState? = nil, message: String, detail: String? = nil,
        hint: String? = nil, constraint: String? = nil, table: String? = nil, column: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
    }

    /// True for the two connection kinds, where a new connection may succeed where this one failed.
    public var isConnectionError: Bool {
        kind == .connectionFailed || kind == .connectionClosed
    }

    /// True when the server gave up on the statement after its `statement_timeout` or
    /// `lock_timeout` (or an operator cancelled it): the work may succeed when tried again.
    public var isTimeout: Bool {
        sqlState == .queryCanceled || sqlState == .lockNotAvailable
    }

    public var description: String {
        var text = "PostgreSQL \(kind)"
        if let sqlState { text += " \(sqlState.code)" }
        text += ": \(message)"
        if let detail { text += " (\(detail))" }
        return text
    }
}

/// A PostgreSQL SQLSTATE code (https://www.postgresql.org/docs/current/errcodes-appendix.html).
public struct SQLState: Hashable, Sendable, CustomStringConvertible {
    public let code: String

    public init(_ code: String) { self.code = code }

    /// The two-character class, e.g. `23` for integrity constraint violations.
    public var errorClass: Substring { code.prefix(2) }

    public var description: String { code }

    public static let uniqueViolation = SQLState("23505")
    public static let checkViolation = SQLState("23514")
    public static let notNullViolation = SQLState("23502")
    public static let foreignKeyViolation = SQLState("23503")
    public static let serializationFailure = SQLState("40001")
    public static let deadlockDetected = SQLState("40P01")
    public static let queryCanceled = SQLState("57014")
    public static let lockNotAvailable = SQLState("55P03")
    public static let adminShutdown = SQLState("57P01")
    public static let undefinedTable = SQLState("42P01")
    public static let syntaxError = SQLState("42601")
}
