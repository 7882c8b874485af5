import Foundation
import TestSupport
import XCTest

/// The SQL of the imports' apply (sql/016) against its own proof, `scripts/import_apply_check.sql`:
/// every rule of the single-contact API, in both modes, chunked, rolled back and resumed, with
/// tangled rows and the fallback, compared with the same rows applied one by one through
/// `crm_api_create`/`crm_api_upsert` (it asserts in `DO` blocks and stops at the first failure).
final class ImportApplyTests: XCTestCase {
    func testTheImportApplysSQLProofPasses() async throws {
        let database = try await TestDatabase.create()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/import_apply_check.sql").path
        let psql = ["/usr/bin/psql", "/usr/lib/postgresql/15/bin/psql"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "psql"
        let outcome = try ChildProcess.run(psql, [database.connectionString, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", script])
        await database.drop()
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        XCTAssertTrue(outcome.standardOutput.contains("import_apply_check: all checks passed"),
                      outcome.standardOutput + outcome.standardError)
    }
}
