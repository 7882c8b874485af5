import Foundation
import Glibc

/// `crm serve` as a child process on a free loopback port, started and waited for until it
/// answers `/healthz`: for tests of what only the real executable does (its settings, its
/// standard output, which stays an unread pipe until ``stop()``).
public final class ServeProcess {
    public let process: ChildProcess.Running
    public let port: Int

    /// Starts `crm serve` on `databaseURL` with the repository's migrations; `environment`
    /// adds settings (`CRM_…`). Waits up to 20 s for `/healthz`.
    public init(databaseURL: String, environment: [String: String] = [:]) throws {
        port = try FreePort.next()
        var settings = TestDatabase.commandEnvironment(databaseURL: databaseURL)
        settings.merge(["CRM_HOST": "127.0.0.1", "CRM_PORT": String(port)].merging(environment) { $1 }) { $1 }
        process = try ChildProcess.start(ChildProcess.crmExecutable, ["serve"], environment: settings)
        do {
            try waitUntil("crm serve answers /healthz on port \(port)", timeout: .seconds(20)) { [port] in
                guard let client = try? RawHTTPClient(port: port), (try? client.send("GET /healthz HTTP/1.1\r\n\r\n")) != nil else {
                    return false
                }
                return (try? client.readResponse())?.status == 200
            }
        } catch {
            stop()
            throw ChildProcessError(description: "crm serve did not come up: \(error)")
        }
    }

    /// A new keep-alive connection to the server.
    public func connect(timeout: Double = 5) throws -> RawHTTPClient {
        try RawHTTPClient(port: port, timeout: timeout)
    }

    /// Kills the process and reads what it printed.
    @discardableResult
    public func stop() -> ChildProcess.Outcome {
        process.kill(SIGKILL)
        return process.wait()
    }
}
