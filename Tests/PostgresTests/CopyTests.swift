import Postgres
import TestSupport
import XCTest

/// `copyIn` / `copyOut` against a real server: rows arrive whole, errors on either side leave
/// the connection usable (or closed, for a copy out abandoned midway), and nothing else is sent
/// while a copy runs.
final class CopyTests: XCTestCase {
    private var database: TestDatabase!
    private var connection: PostgresConnection!

    override func setUp() async throws {
        database = try await TestDatabase.create(migrated: false)
        connection = try await database.connect()
        try await connection.simpleQuery("CREATE TABLE copied (n int PRIMARY KEY, label text)")
    }

    override func tearDown() async throws {
        await connection?.close()
        await database?.drop()
    }

    private func count() async throws -> Int {
        try await connection.query("SELECT count(*) FROM copied")[0].decode(Int.self, column: 0)
    }

    func testCopyInSendsEveryRowInPiecesOfAnySize() async throws {
        // 200,000 rows in writes of about 64 KiB, one of them cut in the middle of a row.
        var rows: [UInt8] = []
        for n in 1...200_000 { rows.append(contentsOf: "\(n)\tlabel \(n)\n".utf8) }
        let result = try await connection.copyIn("COPY copied (n, label) FROM STDIN") { writer in
            var start = 0
            while start < rows.count {
                let end = min(rows.count, start + 65_537)
                try await writer.write(Array(rows[start..<end]))
                start = end
            }
        }
        XCTAssertEqual(result.commandTag, "COPY 200000")
        let rowCount = try await count()
        XCTAssertEqual(rowCount, 200_000)
        let last = try await connection.query("SELECT label FROM copied WHERE n = 200000")[0].decode(String.self, column: 0)
        XCTAssertEqual(last, "label 200000")
    }

    func testACopyInTheClientAbandonsKeepsNoRowAndTheConnectionGoesOn() async throws {
        struct Gone: Error {}
        do {
            try await connection.copyIn("COPY copied (n, label) FROM STDIN") { writer in
                try await writer.write(Array("1\tone\n2\ttwo\n".utf8))
                throw Gone()
            }
            XCTFail("the body's error is rethrown")
        } catch is Gone {}
        let rowCount = try await count()
        XCTAssertEqual(rowCount, 0)
    }

    func testARowTheServerRefusesFailsTheCopyWithItsSQLState() async throws {
        do {
            try await connection.copyIn("COPY copied (n, label) FROM STDIN") { writer in
                try await writer.write(Array("1\tone\n1\tagain\n".utf8))
            }
            XCTFail("a duplicate key fails the copy")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .server)
            XCTAssertEqual(error.sqlState, .uniqueViolation)
        }
        let rowCount = try await count()
        XCTAssertEqual(rowCount, 0)
        do {
            try await connection.copyIn("COPY copied (n, label) FROM STDIN") { writer in
                try await writer.write(Array("x\tnot a number\n".utf8))
            }
            XCTFail("malformed data fails the copy")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState?.code, "22P02", error.message)
        }
        let rowCountAfter = try await count()
        XCTAssertEqual(rowCountAfter, 0, "the connection is usable after either failure")
    }

    func testACopyStatementWithAnErrorFailsBeforeAnyData() async throws {
        do {
            try await connection.copyIn("COPY no_such_table FROM STDIN") { _ in XCTFail("no data phase") }
            XCTFail("an unknown table fails")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState?.code, "42P01")
        }
        do {
            try await connection.copyIn("SELECT 1") { _ in XCTFail("no data phase") }
            XCTFail("a statement that is not a COPY fails")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .client)
        }
        let rowCount = try await count()
        XCTAssertEqual(rowCount, 0)
    }

    func testCopyInInsideATransactionIsRolledBackWithIt() async throws {
        struct Abandon: Error {}
        do {
            try await connection.transaction { connection in
                try await connection.copyIn("COPY copied (n, label) FROM STDIN") { writer in
                    try await writer.write(Array("1\tone\n".utf8))
                }
                let inside = try await connection.query("SELECT count(*) FROM copied")[0].decode(Int.self, column: 0)
                XCTAssertEqual(inside, 1)
                throw Abandon()
            }
        } catch is Abandon {}
        let rowCount = try await count()
        XCTAssertEqual(rowCount, 0)
    }

    func testCopyOutHandsOverEveryRowInOrder() async throws {
        try await connection.simpleQuery("INSERT INTO copied SELECT g, 'label ' || g FROM generate_series(1, 100000) g")
        var received: [UInt8] = []
        var pieces = 0
        let result = try await connection.copyOut("COPY (SELECT n, label FROM copied ORDER BY n) TO STDOUT") { reader in
            while let rows = try await reader.next() {
                XCTAssertEqual(rows.last, UInt8(ascii: "\n"), "only whole rows")
                received.append(contentsOf: rows)
                pieces += 1
            }
        }
        XCTAssertEqual(result.commandTag, "COPY 100000")
        let lines = String(decoding: received, as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines.count, 100_000)
        XCTAssertEqual(lines.first, "1\tlabel 1")
        XCTAssertEqual(lines.last, "100000\tlabel 100000")
        XCTAssertGreaterThan(pieces, 10, "delivered in pieces, not gathered whole")
        let rowCount = try await count()
        XCTAssertEqual(rowCount, 100_000, "the connection goes on")
    }

    func testACopyOutLeftUnreadIsDrainedAndOneAbandonedClosesTheConnection() async throws {
        try await connection.simpleQuery("INSERT INTO copied SELECT g, 'x' FROM generate_series(1, 50000) g")
        let result = try await connection.copyOut("COPY copied TO STDOUT") { reader in
            _ = try await reader.next()
        }
        XCTAssertEqual(result.commandTag, "COPY 50000")
        let rowCount = try await count()
        XCTAssertEqual(rowCount, 50_000)
        struct Gone: Error {}
        do {
            try await connection.copyOut("COPY copied TO STDOUT") { reader in
                _ = try await reader.next()
                throw Gone()
            }
            XCTFail("the body's error is rethrown")
        } catch is Gone {}
        XCTAssertTrue(connection.isClosed, "a copy out cannot be stopped short: the connection is given up")
    }

    func testASlowReaderHoldsTheServerBackInsteadOfBuffering() async throws {
        // 40 MB of rows; a reader that has taken only the first rows leaves the rest in the
        // server (or the kernel's socket buffers), not in this process.
        let result = try await connection.copyOut("COPY (SELECT g, repeat('x', 400) FROM generate_series(1, 100000) g) TO STDOUT") { reader in
            _ = try await reader.next()
            let before = Self.residentBytes()
            try await Task.sleep(for: .milliseconds(500))
            let after = Self.residentBytes()
            XCTAssertLessThan(after - before, 8 << 20, "waiting, the connection does not read the copy into memory")
            while try await reader.next() != nil {}
        }
        XCTAssertEqual(result.commandTag, "COPY 100000")
    }

    private static func residentBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return 0 }
        return pages * 4096
    }
}
