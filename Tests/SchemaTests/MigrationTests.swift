import Postgres
import TestSupport
import XCTest

/// `crm migrate` as a user runs it: the real executable against a real database.
final class MigrationTests: XCTestCase {
    private var database: TestDatabase!

    override func setUp() async throws {
        database = try await TestDatabase.create(migrated: false)
    }

    override func tearDown() async throws {
        await database?.drop()
    }

    private func migrate() throws -> ChildProcess.Running {
        try ChildProcess.start(ChildProcess.crmExecutable, ["migrate", "--migrations", TestDatabase.migrationsDirectory],
                               environment: ["DATABASE_URL": database.connectionString])
    }

    private func appliedVersions() async throws -> [Int] {
        let connection = try await database.connect()
        let rows = try await connection.query("SELECT version FROM schema_migrations ORDER BY version").rows
        await connection.close()
        return try rows.map { try $0.decode(Int.self, column: 0) }
    }

    private var expectedVersions: [Int] {
        get throws { try Migration.load(from: TestDatabase.migrationsDirectory).map(\.version) }
    }

    func testMigratingTwiceAppliesOnceAndThenIsANoOp() async throws {
        let first = try migrate().wait()
        XCTAssertEqual(first.status, 0, first.standardError)
        let names = try Migration.load(from: TestDatabase.migrationsDirectory).map(\.name)
        XCTAssertEqual(first.standardOutput, names.map { "applied \($0)\n" }.joined())
        let afterFirst = try await appliedVersions()
        XCTAssertEqual(afterFirst, try expectedVersions)

        let second = try migrate().wait()
        XCTAssertEqual(second.status, 0, second.standardError)
        XCTAssertEqual(second.standardOutput, "schema up to date (\(names.count) migrations)\n")
        let afterSecond = try await appliedVersions()
        XCTAssertEqual(afterSecond, try expectedVersions)
    }

    func testTwoMigratorsAtOnceBothSucceedAndApplyTheSchemaOnce() async throws {
        let first = try migrate()
        let second = try migrate()
        let outcomes = [first.wait(), second.wait()]
        for outcome in outcomes { XCTAssertEqual(outcome.status, 0, outcome.standardError) }
        // Each migration is applied by whichever migrator takes the lock first, and only by it:
        // between them the two report every migration exactly once.
        let appliedLines = outcomes.flatMap { $0.standardOutput.split(separator: "\n").filter { $0.hasPrefix("applied ") } }
        let names = try Migration.load(from: TestDatabase.migrationsDirectory).map { "applied \($0.name)" }
        XCTAssertEqual(appliedLines.map(String.init).sorted(), names.sorted(), "every migration applied once, by one of them")
        let applied = try await appliedVersions()
        XCTAssertEqual(applied, try expectedVersions)
    }

    func testAnAppliedMigrationThatChangedStopsTheRun() async throws {
        let migrations = try Migration.load(from: TestDatabase.migrationsDirectory)
        let connection = try await database.connect()
        try await Migrator(migrations: migrations).migrate(on: connection)
        var edited = migrations
        edited[0] = Migration(version: migrations[0].version, name: migrations[0].name, sql: migrations[0].sql + "\n-- edited")
        do {
            try await Migrator(migrations: edited).migrate(on: connection)
            XCTFail("an edited migration must be refused")
        } catch let error as MigrationError {
            XCTAssertEqual(error.reason, .appliedMigrationChanged)
        }
        await connection.close()
    }

    func testAFailingMigrationIsRolledBackAndReported() async throws {
        let connection = try await database.connect()
        let broken = [Migration(version: 1, name: "001_broken.sql", sql: "CREATE TABLE half_done (x int); SELECT no_such_column FROM half_done;")]
        do {
            try await Migrator(migrations: broken).migrate(on: connection)
            XCTFail("must fail")
        } catch let error as MigrationError {
            XCTAssertEqual(error.reason, .statementFailed)
            XCTAssertEqual(error.underlying?.sqlState, SQLState("42703"))
        }
        let exists = try await connection.query("SELECT to_regclass('half_done') IS NOT NULL")[0].decode(Bool.self, column: 0)
        XCTAssertFalse(exists, "the migration's transaction was rolled back")
        let recorded = try await connection.query("SELECT count(*) FROM schema_migrations")[0].decode(Int.self, column: 0)
        XCTAssertEqual(recorded, 0)
        await connection.close()
    }

    func testAnUnreachableDatabaseIsAOneLineErrorAndExitStatus1() throws {
        let outcome = try ChildProcess.run(ChildProcess.crmExecutable, ["migrate", "--database-url", "host=/nonexistent port=1 dbname=x"])
        XCTAssertEqual(outcome.status, 1)
        XCTAssertEqual(outcome.standardOutput, "")
        XCTAssertTrue(outcome.standardError.hasPrefix("Error: "), outcome.standardError)
        XCTAssertTrue(outcome.standardError.contains("/nonexistent"), outcome.standardError)
    }
}
