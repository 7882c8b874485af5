import Contacts
import Dispatch
import Foundation
import Glibc
import Postgres
import Synchronization
import TestSupport
import XCTest

/// `crm serve` as a process, the way operators run it: several instances on one database,
/// SIGTERM under load, and the container's steps as a non-root user.
final class ServeProcessTests: XCTestCase {
    var database: TestDatabase!
    var processes: [ChildProcess.Running] = []

    override func setUp() async throws {
        database = try await TestDatabase.create()
    }

    override func tearDown() async throws {
        for process in processes { process.kill(SIGKILL) }
        for process in processes { _ = process.wait() }
        await database?.drop()
    }

    /// Starts `crm serve` on a free port and waits until it answers `/healthz`.
    func serve(executable: String = ChildProcess.crmExecutable, prefix: [String] = [],
                       environment: [String: String] = [:]) throws -> (ChildProcess.Running, Int) {
        let port = try FreePort.next()
        var env = database.commandEnvironment
        env.merge(["CRM_HOST": "127.0.0.1", "CRM_PORT": String(port), "CRM_SHUTDOWN_GRACE": "5"].merging(environment) { $1 }) { $1 }
        let process = prefix.isEmpty
            ? try ChildProcess.start(executable, ["serve"], environment: env)
            : try ChildProcess.start(prefix[0], Array(prefix.dropFirst()) + [executable, "serve"], environment: env)
        processes.append(process)
        try waitUntil("crm serve answers /healthz on port \(port)", timeout: .seconds(20)) {
            guard let client = try? RawHTTPClient(port: port), (try? client.send("GET /healthz HTTP/1.1\r\n\r\n")) != nil else {
                return false
            }
            return (try? client.readResponse())?.status == 200
        }
        return (process, port)
    }

    /// Backends of this test's database waiting for a lock on `contacts` (from pg_locks).
    func blockedOnContacts() throws -> Int {
        let database = self.database!
        return try blocking {
            let connection = try await database.connect(applicationName: "lock-watcher")
            let count = try await connection.query("""
                SELECT count(*) FROM pg_locks l
                 WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND l.relation = 'contacts'::regclass AND NOT l.granted
                """)[0].decode(Int.self, column: 0)
            await connection.close()
            return count
        }
    }

    private func status(port: Int, _ request: String) throws -> Int {
        let client = try RawHTTPClient(port: port)
        try client.send(request)
        return try client.readResponse().status
    }

    func createKey(listing: Int64) throws -> APIKey {
        try TestDatabase.createKeyWithCommandLine(listing: listing, in: database)
    }

    func testARevocationIsSeenByEveryInstanceWithinOneSecond() throws {
        let ports = try (0..<3).map { _ in try serve().1 }
        let key = try createKey(listing: 5)
        let get = "GET /crm/5 HTTP/1.1\r\nAuthorization: Bearer \(key.text)\r\n\r\n"
        for port in ports { XCTAssertEqual(try status(port: port, get), 404, "authorized, nothing there yet") }
        let revoked = try ChildProcess.run(ChildProcess.crmExecutable, ["key", "revoke", key.text],
                                           environment: database.commandEnvironment)
        XCTAssertEqual(revoked.status, 0, revoked.standardError)
        let revokedAt = Date()
        var refused: Set<Int> = []
        while refused.count < 3, Date().timeIntervalSince(revokedAt) < 5 {
            for port in ports where try status(port: port, get) == 403 { refused.insert(port) }
        }
        XCTAssertEqual(refused, Set(ports))
        XCTAssertLessThan(Date().timeIntervalSince(revokedAt), 1.0, "seen within a second on all three instances")
    }

    func testAFullRunLogsEveryRequestButNeverTheKey() throws {
        let (process, port) = try serve(environment: ["CRM_LOG_FORMAT": "json"])
        let key = try createKey(listing: 7)
        func form(_ method: String, _ body: String) -> String {
            "\(method) /crm/7 HTTP/1.1\r\nAuthorization: Bearer \(key.text)\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }
        let requests = [
            form("POST", "email=log%40secret.com"),
            form("PUT", "email=log%40secret.com&last_name=X"),
            "GET /crm/7?email=log%40secret.com&api_key=\(key.text) HTTP/1.1\r\nAuthorization: Bearer \(key.text)\r\n\r\n",
            "GET /crm/8 HTTP/1.1\r\nAuthorization: Bearer \(key.text)\r\n\r\n",
            "GET /crm/7 HTTP/1.1\r\nAuthorization: Bearer \(key.text)x\r\n\r\n",
            "GET /crm/7 HTTP/1.1\r\nAuthorization: \(key.text)\r\n\r\n",
            "GET /crm/7 HTTP/1.1\r\nAuthorization: Basic \(key.text)\r\n\r\n",
            "GET /nowhere/\(key.text) HTTP/1.1\r\nAuthorization: Bearer \(key.text)\r\n\r\n",
            form("DELETE", "email=log%40secret.com"),
        ]
        let statuses = try requests.map { try status(port: port, $0) }
        XCTAssertEqual(statuses, [201, 200, 200, 403, 403, 403, 403, 404, 202])
        XCTAssertEqual(kill(process.pid, SIGTERM), 0)
        let outcome = process.wait()
        processes.removeAll()
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        let lines = outcome.standardOutput.split(separator: "\n")
        XCTAssertEqual(lines.count, requests.count + 1, "one line per request (and the readiness probe), flushed at exit")
        XCTAssertTrue(lines.allSatisfy { $0.contains(#""msg":"request""#) }, outcome.standardOutput)
        XCTAssertTrue(outcome.standardOutput.contains(#""key_prefix":"\#(key.prefix)""#), "the prefix identifies the key")
        XCTAssertFalse(outcome.standardOutput.contains(key.text), "the key is in no access log line")
        XCTAssertFalse(outcome.standardError.contains(key.text), "nor in the progress messages")
        XCTAssertFalse(outcome.standardOutput.contains(String(key.text.dropFirst(12))), "nor any part of it past the prefix")
    }

    func testSIGTERMAnswersTheRequestInFlightAndExitsZero() throws {
        // Watches pg_locks for `contacts` on one node: on Citus the write waits on a worker's shard.
        try XCTSkipIf(TestDatabase.isCitus, "holds and watches a table lock on a single node")
        let (process, port) = try serve()
        let key = try createKey(listing: 6)
        // Hold the contacts table so that the POST below is in flight when the signal arrives.
        let database = self.database!
        let holder = Mutex<PostgresConnection?>(nil)
        try blocking {
            let connection = try await database.holdTableLock("contacts")
            holder.withLock { $0 = connection }
        }
        let result = Mutex<RawHTTPClient.Response?>(nil)
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let client = try? RawHTTPClient(port: port, timeout: 10)
            try? client?.send("POST /crm/6 HTTP/1.1\r\nAuthorization: Bearer \(key.text)\r\n"
                              + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\nemail=sig%40term.com")
            let response = try? client?.readResponse()
            result.withLock { $0 = response }
            finished.signal()
        }
        try waitUntil("the POST waits for the contacts lock (pg_locks)", observe: blockedOnContacts) { $0 == 1 }
        XCTAssertEqual(kill(process.pid, SIGTERM), 0)
        try waitUntil("the server stops accepting after SIGTERM") { (try? RawHTTPClient(port: port)) == nil }
        try blocking {
            let connection = holder.withLock { $0 }!
            try await connection.simpleQuery("COMMIT")
            await connection.close()
        }
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success)
        let response = result.withLock { $0 }
        XCTAssertEqual(response?.status, 201, "the request in flight was answered")
        XCTAssertEqual(response?.header("Connection"), "close")
        let outcome = process.wait()
        processes.removeAll()
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        XCTAssertTrue(outcome.standardError.contains("stopped"))
        XCTAssertTrue(outcome.standardOutput.contains("status=201"), "the access log has the request")
        XCTAssertFalse(outcome.standardOutput.contains(key.text), "the key is in no log line")
        XCTAssertFalse(outcome.standardError.contains(key.text))
    }

    /// Item 12 as operators see it: a `500` leaves one line on standard error naming its cause
    /// (SQLSTATE, constraint, request id), and nothing the request carried.
    func testA500LogsItsCauseOnStandardErrorButNoValue() throws {
        let (process, port) = try serve()
        let key = try createKey(listing: 9)
        let database = self.database!
        try blocking {
            let connection = try await database.connect()
            try await connection.simpleQuery("""
                CREATE FUNCTION crm_test_guard() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'refusing %', NEW.email USING ERRCODE = '22012', CONSTRAINT = 'crm_test_guard';
                END $$
                """)
            // One statement at a time: Citus cannot take DDL on a distributed table in a multi-statement string.
            try await connection.simpleQuery(
                "CREATE TRIGGER crm_test_guard BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION crm_test_guard()")
            await connection.close()
        }
        let body = "email=hidden.person%40example.com&phone=15550009876"
        let client = try RawHTTPClient(port: port)
        try client.send("POST /crm/9 HTTP/1.1\r\nAuthorization: Bearer \(key.text)\r\nX-Request-Id: serve-500\r\n"
                        + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        XCTAssertEqual(try client.readResponse().status, 500)
        XCTAssertEqual(kill(process.pid, SIGTERM), 0)
        let outcome = process.wait()
        processes.removeAll()
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        let errors = outcome.standardError.split(separator: "\n").filter { $0.contains("level=error") }
        XCTAssertEqual(errors.count, 1, outcome.standardError)
        XCTAssertTrue(errors.first?.hasSuffix(
            " level=error msg=internal_error request_id=serve-500 route=/crm/{listing_id} error=postgres.server sqlstate=22012"
            + (TestDatabase.isCitus ? "" : " constraint=crm_test_guard")) ?? false,
            outcome.standardError)
        for secret in ["hidden.person", "15550009876", "refusing", key.text] {
            XCTAssertFalse(outcome.standardError.contains(secret), "\(secret) is not on standard error")
            XCTAssertFalse(outcome.standardOutput.contains(secret), "\(secret) is not in the access log")
        }
    }

    func testRefusedAuthenticationsPerAddressFollowTheSetting() throws {
        let (_, port) = try serve(environment: ["CRM_AUTH_FAILURE_RATE": "2"])
        let started = Date()
        let statuses = try (0..<6).map { _ in
            try status(port: port, "GET /crm/1 HTTP/1.1\r\nAuthorization: Bearer \(APIKey.generate().text)\r\n\r\n")
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertLessThan(elapsed, 2, "6 requests take far less than the 2 s that would refill 4 tokens")
        XCTAssertEqual(Array(statuses.prefix(2)), [403, 403])
        XCTAssertEqual(statuses.filter { $0 == 403 || $0 == 429 }.count, 6, "\(statuses)")
        XCTAssertLessThanOrEqual(Double(statuses.filter { $0 == 403 }.count), 2 + (elapsed * 2).rounded(.down),
                                 "2 refusals, then one more per half second: \(statuses)")
        let refused = try ChildProcess.run(ChildProcess.crmExecutable, ["serve", "--auth-failure-rate", "x"],
                                           environment: ["DATABASE_URL": database.connectionString])
        XCTAssertEqual(refused.status, 64, refused.standardError)
        XCTAssertTrue(refused.standardError.hasPrefix("Error: "), refused.standardError)
    }

    func testTheContainerStepsRunAsANonRootUser() throws {
        try TestRequirement.require(getuid() == 0, "needs root to switch to an unprivileged user")
        // The image's layout: the binary, sql/ and openapi.yaml in one directory any user can read.
        let app = "/tmp/crm-app-\(getpid())"
        try? FileManager.default.removeItem(atPath: app)
        try FileManager.default.createDirectory(atPath: app, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: app) }
        try FileManager.default.copyItem(atPath: ChildProcess.crmExecutable, toPath: app + "/crm")
        try FileManager.default.copyItem(atPath: TestDatabase.migrationsDirectory, toPath: app + "/sql")
        let root = URL(fileURLWithPath: TestDatabase.migrationsDirectory).deletingLastPathComponent().path
        try FileManager.default.copyItem(atPath: root + "/openapi.yaml", toPath: app + "/openapi.yaml")
        _ = try ChildProcess.run("/bin/chmod", ["-R", "a+rX", app])
        let asNobody = ["/usr/sbin/runuser", "-u", "nobody", "--"]
        let environment = ["CRM_MIGRATIONS_DIR": app + "/sql", "DATABASE_URL": database.connectionString]
        let migrate = try ChildProcess.run(asNobody[0], Array(asNobody.dropFirst()) + [app + "/crm", "migrate"], environment: environment)
        XCTAssertEqual(migrate.status, 0, migrate.standardError)
        XCTAssertTrue(migrate.standardOutput.hasPrefix("schema up to date"), migrate.standardOutput)
        let (process, port) = try serve(executable: app + "/crm", prefix: asNobody, environment: environment)
        XCTAssertEqual(try status(port: port, "GET /readyz HTTP/1.1\r\n\r\n"), 200)
        let server = try ChildProcess.run("/usr/bin/pgrep", ["-u", "nobody", "-f", app + "/crm serve"])
        XCTAssertEqual(server.status, 0, "the server runs as nobody")
        XCTAssertFalse(server.standardOutput.isEmpty)
        _ = process
    }
}
