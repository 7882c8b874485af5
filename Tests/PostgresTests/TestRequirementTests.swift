import Foundation
import TestSupport
import XCTest

/// `make test` must not go green with tests that did not run: without a database, a test that
/// needs one fails there, and is only skipped under a plain `swift test`.
final class TestRequirementTests: XCTestCase {
    /// Runs one database test in a child copy of this test bundle, with DATABASE_URL empty.
    private func runWithoutDatabase(strict: Bool) throws -> String {
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let outcome = try ChildProcess.run(bundle, ["PostgresTests.ConnectionPoolTests/testTheLeaseComesBackWhenTheBodyThrows"],
                                           environment: ["DATABASE_URL": "", "CRM_TESTS_REQUIRE_DATABASE": strict ? "1" : ""])
        return "exit \(outcome.status)\n" + outcome.standardOutput + outcome.standardError
    }

    func testAMissingDatabaseFailsUnderMakeTestAndIsSkippedOtherwise() throws {
        let strict = try runWithoutDatabase(strict: true)
        XCTAssertTrue(strict.hasPrefix("exit 1\n"), strict)
        XCTAssertTrue(strict.contains("and 1 failure (1 unexpected)"), strict)
        XCTAssertTrue(strict.contains("DATABASE_URL is not set"), strict)
        let plain = try runWithoutDatabase(strict: false)
        XCTAssertTrue(plain.hasPrefix("exit 0\n"), plain)
        XCTAssertTrue(plain.contains("Executed 1 test, with 1 test skipped and 0 failures"), plain)
    }
}
