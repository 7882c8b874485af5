import Foundation
import XCTest

/// What a test needs from the machine (a database, root): missing, it is a skip under a plain
/// `swift test`, but a failure under `make test` (and so CI), which exports
/// `CRM_TESTS_REQUIRE_DATABASE=1`: a green `make test` means every test ran.
public enum TestRequirement {
    /// True under `make test`.
    public static var isStrict: Bool {
        ProcessInfo.processInfo.environment["CRM_TESTS_REQUIRE_DATABASE"] == "1"
    }

    /// The error to throw when `what` is missing: an `XCTSkip`, or under `make test` a failure.
    public static func unmet(_ what: String) -> Error {
        isStrict ? Unmet(description: "\(what) (CRM_TESTS_REQUIRE_DATABASE=1: a missing requirement fails the test)") : XCTSkip(what)
    }

    /// Throws ``unmet(_:)`` unless `condition` holds.
    public static func require(_ condition: Bool, _ what: @autoclosure () -> String) throws {
        if !condition { throw unmet(what()) }
    }

    /// A requirement that `make test` insists on was missing.
    public struct Unmet: Error, CustomStringConvertible {
        public let description: String
    }
}
