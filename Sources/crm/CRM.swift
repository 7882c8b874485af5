import ArgumentParser
import Dispatch
import Glibc

/// The process entry point: runs ``CRM`` in a task and blocks the main thread until it ends.
///
/// Not an `async` main on purpose: on Linux that parks the main thread in libdispatch's
/// signal loop, which valgrind 3.19 cannot follow (it crashes at the first `pthread_create`),
/// and `make bench-instructions` counts instructions under valgrind.
@main
enum Main {
    static func main() {
        let finished = DispatchSemaphore(value: 0)
        Task.detached {
            await CRM.main()
            finished.signal()
        }
        finished.wait()
    }
}

/// The `crm` executable: one binary for serving, migrating and administration.
///
/// Failures end with a non-zero exit status and exactly one line on standard error,
/// `Error: …` (usage errors exit 64, everything else 1); `--help` prints to standard output.
struct CRM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crm",
        abstract: "Contacts CRM API service.",
        subcommands: [ServeCommand.self, MigrateCommand.self, KeyCommand.self, BlacklistCommand.self, WebhookCommand.self,
                      ImportCommand.self, ExportCommand.self]
    )

    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help
            let message = self.message(for: error)
            let line = message.split(separator: "\n").first.map(String.init) ?? "\(error)"
            FileHandleOutput.standardError("Error: \(line)\n")
            Glibc.exit(code.rawValue)
        }
    }
}

/// A command that could not do what was asked; the message is its one line on standard error.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
