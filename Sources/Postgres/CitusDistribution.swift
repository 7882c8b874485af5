import FoundationEssentials

/// The statements that distribute the schema over a Citus cluster (`sql/citus/distribute.sql`:
/// reference tables, tables distributed by listing, distributed functions), applied by
/// ``Migrator`` after the migrations on a database that has the `citus` extension, and on no
/// other. Citus is a deployment mode: on plain PostgreSQL nothing here runs.
///
/// The file is split after each `;` that ends a line (the file's own rule: no function bodies,
/// no other line ends in `;`); pieces of only comments and blank lines are dropped. The
/// statements run one at a time outside a transaction block, as Citus needs to copy the rows of
/// each table it distributes in a transaction of its own, and every one is idempotent: running
/// the whole file again after each migration is how a later migration's table or function gets
/// distributed.
public struct CitusDistribution: Sendable {
    public let statements: [String]

    public init(sql: String) {
        var statements: [String] = []
        var current = ""
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            current += line + "\n"
            if line.hasSuffix(";") {
                if Self.hasCode(current) { statements.append(current) }
                current = ""
            }
        }
        if Self.hasCode(current) { statements.append(current) }
        self.statements = statements
    }

    /// Whether `piece` holds more than comments and blank lines.
    private static func hasCode(_ piece: String) -> Bool {
        piece.split(separator: "\n").contains { line in
            let text = line.drop { $0 == " " || $0 == "\t" }
            return !text.isEmpty && !text.hasPrefix("--")
        }
    }

    /// `directory/citus/distribute.sql`; nil when there is no such file.
    public static func load(from directory: String) -> CitusDistribution? {
        let path = (directory.hasSuffix("/") ? directory : directory + "/") + "citus/distribute.sql"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return CitusDistribution(sql: String(decoding: data, as: UTF8.self))
    }

    /// Runs the statements when the database has the citus extension; returns whether it did.
    /// Migrators distributing at once take turns on a session advisory lock (the statements
    /// cannot share one transaction): so on Citus, migrate straight to the coordinator, not
    /// through a transaction pooler.
    @discardableResult
    public func apply(on connection: PostgresConnection) async throws -> Bool {
        let citus = try await connection.query("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        guard citus.rowCount > 0 else { return false }
        try await connection.query("SELECT pg_advisory_lock($1)", [Migrator.lockKey])
        for statement in statements {
            do {
                try await connection.simpleQuery(statement)
            } catch let error as PostgresError {
                _ = try? await connection.query("SELECT pg_advisory_unlock($1)", [Migrator.lockKey])
                throw MigrationError(reason: .statementFailed, detail: "sql/citus/distribute.sql failed", underlying: error)
            }
        }
        try await connection.query("SELECT pg_advisory_unlock($1)", [Migrator.lockKey])
        return true
    }
}
