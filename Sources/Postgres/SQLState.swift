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
    /// A write refused because the server is a read-only standby (or the transaction is read-only).
    public static let readOnlySQLTransaction = SQLState("25006")
    public static let undefinedTable = SQLState("42P01")
    public static let syntaxError = SQLState("42601")
}
