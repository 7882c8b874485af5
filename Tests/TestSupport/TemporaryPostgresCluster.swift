import Foundation
import Postgres

/// A throwaway PostgreSQL cluster of its own, for tests that stop and start the server.
///
/// Socket-only (no TCP port to collide with), in a fresh directory under /tmp. PostgreSQL
/// refuses to run as root, so as root every server command runs as the `postgres` user.
public final class TemporaryPostgresCluster: Sendable {
    public let directory: String
    public let port = 5432

    /// `initdb` into a new directory; call ``start()`` next.
    public init() throws {
        let template = "/tmp/crm-test-cluster-XXXXXX"
        var buffer = Array(template.utf8CString)
        guard mkdtemp(&buffer) != nil else { throw ClusterError("mkdtemp failed") }
        directory = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if getuid() == 0 {
            try Self.check(ChildProcess.run("/bin/chown", ["postgres:postgres", directory]), "chown")
        }
        try Self.check(Self.runServerTool("initdb", ["-D", "\(directory)/data", "-U", "crm", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]), "initdb")
    }

    /// A connection string for the cluster's `postgres` database.
    public var connectionString: String { "host=\(directory) port=\(port) user=crm dbname=postgres" }

    public func start() throws {
        let options = "-c listen_addresses='' -c unix_socket_directories='\(directory)' -c port=\(port) -c fsync=off"
        try Self.check(Self.runServerTool("pg_ctl", ["-D", "\(directory)/data", "-l", "\(directory)/log", "-o", options, "-w", "start"]), "pg_ctl start")
    }

    /// Stops the server (`fast`: disconnects clients, as a restart or failover would).
    public func stop() throws {
        try Self.check(Self.runServerTool("pg_ctl", ["-D", "\(directory)/data", "-m", "fast", "-w", "stop"]), "pg_ctl stop")
    }

    /// Stops the server if it runs and deletes the directory.
    public func destroy() {
        _ = try? Self.runServerTool("pg_ctl", ["-D", "\(directory)/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs a server program from PostgreSQL's bin directory, as `postgres` when we are root.
    static func runServerTool(_ tool: String, _ arguments: [String]) throws -> ChildProcess.Outcome {
        let path = "\(binDirectory)/\(tool)"
        if getuid() == 0 {
            return try ChildProcess.run("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments)
        }
        return try ChildProcess.run(path, arguments)
    }

    /// `CRM_PG_BINDIR`, else the newest `/usr/lib/postgresql/*/bin` (Debian's layout).
    static var binDirectory: String {
        if let configured = ProcessInfo.processInfo.environment["CRM_PG_BINDIR"] { return configured }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        let newest = versions.compactMap(Int.init).max()
        return newest.map { "/usr/lib/postgresql/\($0)/bin" } ?? "/usr/bin"
    }

    private static func check(_ outcome: ChildProcess.Outcome, _ what: String) throws {
        guard outcome.status == 0 else {
            throw ClusterError("\(what) exited \(outcome.status): \(outcome.standardError)\(outcome.standardOutput)")
        }
    }
}

/// A step of managing a ``TemporaryPostgresCluster`` failed; the message has the tool's output.
public struct ClusterError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
