import Contacts
import Foundation
import TestSupport
import XCTest

extension TestDatabase {
    /// A new key for `listing`, made the way an operator makes one: `crm key create` in a child process.
    static func createKeyWithCommandLine(listing: Int64, in database: TestDatabase,
                                         file: StaticString = #filePath, line: UInt = #line) throws -> APIKey {
        let outcome = try ChildProcess.run(ChildProcess.crmExecutable, ["key", "create", "--listing", String(listing)],
                                           environment: database.commandEnvironment)
        XCTAssertEqual(outcome.status, 0, outcome.standardError, file: file, line: line)
        return APIKey(outcome.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
