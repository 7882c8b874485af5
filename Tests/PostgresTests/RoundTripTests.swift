import FoundationEssentials
import Postgres
import TestSupport
import XCTest

/// Values sent as parameters come back unchanged.
final class RoundTripTests: XCTestCase {
    private var database: TestDatabase!
    private var connection: PostgresConnection!

    override func setUp() async throws {
        database = try await TestDatabase.create(migrated: false)
        connection = try await database.connect()
    }

    override func tearDown() async throws {
        await connection?.close()
        await database?.drop()
    }

    func testNullsOfEveryTypeComeBackAsNil() async throws {
        let row = try await connection.query(
            "SELECT $1::text, $2::bigint, $3::boolean, $4::timestamptz, $5::float8",
            [nil, nil, nil, nil, nil])[0]
        XCTAssertNil(try row.decode(String?.self, column: 0))
        XCTAssertNil(try row.decode(Int64?.self, column: 1))
        XCTAssertNil(try row.decode(Bool?.self, column: 2))
        XCTAssertNil(try row.decode(Date?.self, column: 3))
        XCTAssertNil(try row.decode(Double?.self, column: 4))
    }

    func testUnicodeTextSurvivesByteForByte() async throws {
        let samples = [
            "emoji 😀👩‍👩‍👧‍👦🏳️‍🌈",
            "combining e\u{0301} vs precomposed \u{00E9}",
            "中文 العربية עברית हिन्दी",
            "quotes ' \" \\ and $1 and %_",
            "",
        ]
        for sample in samples {
            let row = try await connection.query("SELECT $1::text, octet_length($1::text)", [sample])[0]
            let back = try row.decode(String.self, column: 0)
            XCTAssertEqual(Array(back.utf8), Array(sample.utf8), sample)
            XCTAssertEqual(try row.decode(Int.self, column: 1), sample.utf8.count)
        }
    }

    func testAOneMegabyteTextRoundTrips() async throws {
        let big = String(repeating: "0123456789abcdeé", count: 1_048_576 / 17 + 1)
        let row = try await connection.query("SELECT $1::text, md5($1::text)", [big])[0]
        XCTAssertEqual(try row.decode(String.self, column: 0), big)
        XCTAssertGreaterThan(big.utf8.count, 1_048_576)
    }

    func testInt64ExtremesRoundTrip() async throws {
        for value in [Int64.min, Int64.min + 1, -1, 0, 1, Int64.max - 1, Int64.max] {
            let row = try await connection.query("SELECT $1::bigint, ($1::bigint)::text", [value])[0]
            XCTAssertEqual(try row.decode(Int64.self, column: 0), value)
            XCTAssertEqual(try row.decode(String.self, column: 1), String(value))
        }
        let overflow = try await connection.query("SELECT '9223372036854775808'::numeric::text")[0]
        XCTAssertThrowsError(try overflow.decode(Int64.self, column: 0), "one past Int64.max does not decode")
    }

    func testBooleansDoublesAndBytes() async throws {
        let row = try await connection.query("SELECT $1::boolean, $2::boolean, $3::float8, $4::bytea",
                                             [true, false, 0.1, PostgresBytes([0, 1, 0xfe, 0xff])])[0]
        XCTAssertEqual(try row.decode(Bool.self, column: 0), true)
        XCTAssertEqual(try row.decode(Bool.self, column: 1), false)
        XCTAssertEqual(try row.decode(Double.self, column: 2), 0.1)
        XCTAssertEqual(try row.decode(PostgresBytes.self, column: 3), PostgresBytes([0, 1, 0xfe, 0xff]))
    }

    func testTimestampsRoundTripToTheMicrosecondInAnySessionTimeZone() async throws {
        try await connection.simpleQuery("SET TIME ZONE 'Asia/Kolkata'")  // +05:30 in the server's text
        let date = Date(timeIntervalSince1970: 1_764_444_601.123456)
        let row = try await connection.query("SELECT $1::timestamptz, extract(epoch FROM $1::timestamptz)::text", [date])[0]
        let back = try row.decode(Date.self, column: 0)
        XCTAssertEqual(back.timeIntervalSince1970, date.timeIntervalSince1970, accuracy: 0.000_001)
        XCTAssertEqual(try row.decode(String.self, column: 1), "1764444601.123456")
        let old = try await connection.query("SELECT '1969-07-20 20:17:40+00'::timestamptz")[0].decode(Date.self, column: 0)
        XCTAssertEqual(old.timeIntervalSince1970, -14_182_940)
    }
}
