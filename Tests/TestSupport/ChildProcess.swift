import Foundation
import Glibc

/// Runs a program and captures what it printed: for tests that drive the `crm` executable or
/// PostgreSQL's own tools.
///
/// Built on `posix_spawn` and `waitpid` rather than Foundation's `Process`, whose
/// `waitUntilExit` was seen to hang here when called from a test's async context.
public struct ChildProcess {
    public struct Outcome: Sendable {
        /// The exit status, or 128 + the signal number when a signal ended the process.
        public let status: Int32
        public let standardOutput: String
        public let standardError: String
    }

    /// The `crm` executable built beside the test bundle (`swift build` puts both in one folder).
    public static var crmExecutable: String {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return testBinary.deletingLastPathComponent().appendingPathComponent("crm").path
    }

    /// Runs `executable` with `arguments` to completion; `environment` entries are added to this process's.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        try start(executable, arguments, environment: environment).wait()
    }

    /// Starts a process without waiting for it (to run several at once).
    public static func start(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Running {
        var output: [Int32] = [0, 0]
        var error: [Int32] = [0, 0]
        guard pipe(&output) == 0, pipe(&error) == 0 else {
            throw ChildProcessError(description: "pipe failed: errno \(errno)")
        }
        // Close-on-exec, so no other child (nor a daemon a child starts) keeps these pipes open.
        for fd in output + error { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, error[1], 2)

        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        // Its own process group, so that ``Running/kill(_:)`` reaches whatever it started too
        // (runuser's child, say), and no stray process keeps the pipes open.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(output[1])
        close(error[1])
        guard result == 0 else {
            close(output[0])
            close(error[0])
            throw ChildProcessError(description: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return Running(pid: pid, output: output[0], error: error[0])
    }

    /// A started process; ``wait()`` reads its output to the end and reaps it.
    public struct Running {
        public let pid: pid_t
        let output: Int32
        let error: Int32

        /// Sends `signal` to the process and everything in its process group.
        public func kill(_ signal: Int32) {
            _ = Glibc.kill(-pid, signal)
        }

        public func wait() -> Outcome {
            var buffers: [Int32: [UInt8]] = [output: [], error: []]
            var open = [output, error]
            while !open.isEmpty {
                var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
                guard poll(&fds, nfds_t(fds.count), -1) >= 0 || errno == EINTR else { break }
                for entry in fds where entry.revents != 0 {
                    var chunk = [UInt8](repeating: 0, count: 65_536)
                    let count = read(entry.fd, &chunk, chunk.count)
                    if count > 0 {
                        buffers[entry.fd]!.append(contentsOf: chunk.prefix(count))
                    } else if count == 0 || errno != EINTR {
                        close(entry.fd)
                        open.removeAll { $0 == entry.fd }
                    }
                }
            }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0, errno == EINTR {}
            let signal = status & 0x7f
            return Outcome(
                status: signal == 0 ? (status >> 8) & 0xff : 128 + signal,
                standardOutput: String(decoding: buffers[output]!, as: UTF8.self),
                standardError: String(decoding: buffers[error]!, as: UTF8.self))
        }
    }
}

/// Starting a child process failed.
public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String

    public init(description: String) {
        self.description = description
    }
}
