import FoundationEssentials

/// One versioned schema change: a file `NNN_description.sql` of the migrations directory.
public struct Migration: Sendable, Hashable {
    /// The number the file name starts with; migrations apply in ascending order.
    public let version: Int
    /// The file name, e.g. `001_schema.sql`.
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Reads every `NNN_*.sql` file of `directory`, ordered by version. Two files with one
    /// version number are an error, so a merge can never apply them in an arbitrary order.
    public static func load(from directory: String) throws(MigrationError) -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw MigrationError(reason: .directoryUnreadable, detail: "cannot read migrations directory \(directory): \(error)")
        }
        var migrations: [Migration] = []
        for name in names where name.hasSuffix(".sql") {
            let digits = name.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let version = Int(digits), name.dropFirst(digits.count).first == "_" else { continue }
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            guard let data = FileManager.default.contents(atPath: path),
                  let sql = String(data: data, encoding: .utf8)
            else {
                throw MigrationError(reason: .directoryUnreadable, detail: "cannot read \(path) as UTF-8")
            }
            if let clash = migrations.first(where: { $0.version == version }) {
                throw MigrationError(reason: .duplicateVersion, detail: "\(clash.name) and \(name) share version \(version)")
            }
            migrations.append(Migration(version: version, name: name, sql: sql))
        }
        return migrations.sorted { $0.version < $1.version }
    }
}

/// Why migrating failed: the files, their history, or the database.
public struct MigrationError: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case directoryUnreadable
        case duplicateVersion
        /// A migration already applied no longer matches its file: applied files must never change.
        case appliedMigrationChanged
        /// The database holds a migration this build does not know (a newer build migrated it).
        case unknownAppliedMigration
        /// A statement of the migration failed; ``underlying`` has the server's error.
        case statementFailed
    }

    public let reason: Reason
    public let detail: String
    public var underlying: PostgresError?

    public init(reason: Reason, detail: String, underlying: PostgresError? = nil) {
        self.reason = reason
        self.detail = detail
        self.underlying = underlying
    }

    public var description: String {
        guard let underlying else { return detail }
        return "\(detail): \(underlying)"
    }
}
