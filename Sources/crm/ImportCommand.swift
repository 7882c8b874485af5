import ArgumentParser
import Contacts
import Glibc
import Postgres

/// `crm import --listing ID FILE` (API.md §12) for operators: the file staged and applied
/// through the same SQL as an upload (sql/016), then its counts and rejected rows.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import contacts from a CSV or NDJSON file into a listing (created if needed); prints the counts, rejected rows to standard error.")

    @Option(help: "The listing to import into.") var listing: Int64
    @Option(help: "upsert (each row as PUT, the default) or create (each row as POST).") var mode = "upsert"
    @Option(help: "csv or ndjson (default: ndjson for a .ndjson or .jsonl file, else csv).") var format: String?
    @Option(help: "Rows applied per transaction.") var chunk = 10_000
    @Argument(help: "The file.") var file: String
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        guard listing > 0 else { throw ValidationError("--listing must be from 1 to 9223372036854775807") }
        guard let mode = ImportMode(rawValue: mode) else { throw ValidationError("--mode must be upsert or create") }
        let formatName = format ?? (file.hasSuffix(".ndjson") || file.hasSuffix(".jsonl") ? "ndjson" : "csv")
        guard let format = ImportFormat(rawValue: formatName) else { throw ValidationError("--format must be csv or ndjson") }
        guard let input = fopen(file, "rb") else { throw CommandFailure("cannot open \(file)") }
        defer { fclose(input) }
        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        let upload = ImportUpload(format: format, mode: mode, clientAddress: "", maxRows: 1_000_000)
        let job: ImportJob
        do {
            job = try await connection.transaction { connection in
                try await connection.query("INSERT INTO listings (listing_id) VALUES ($1) ON CONFLICT DO NOTHING", [listing])
                let next = { () -> [UInt8]? in
                    var buffer = [UInt8](repeating: 0, count: 256 * 1024)
                    let count = fread(&buffer, 1, buffer.count, input)
                    return count > 0 ? Array(buffer[..<count]) : nil
                }
                guard let job = try await ImportStore.stage(upload, from: next, listing: listing, by: nil, on: connection) else {
                    throw CommandFailure("the import was refused")
                }
                return job
            }
        } catch let error as APIError {
            throw CommandFailure(error.message)
        }
        print("staged import \(job.importID): \(job.rows) row(s); applying")
        let finished = try await ImportStore.apply(job.importID, chunk: chunk, on: connection)
        print("import \(finished.importID) \(finished.status): \(finished.rows) row(s), \(finished.created) created, "
              + "\(finished.updated) updated, \(finished.rejected) rejected")
        for line in try await ImportStore.errorLines(finished.importID, on: connection) {
            FileHandleOutput.standardError(line + "\n")
        }
    }
}

/// `crm export --listing ID` (API.md §12) for operators: every contact of the listing from one
/// snapshot to standard output, the snapshot's change-feed cursor to standard error.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write every contact of a listing to standard output (its change-feed cursor to standard error).")

    @Option(help: "The listing to export.") var listing: Int64
    @Option(help: "csv (the default) or ndjson.") var format = "csv"
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        guard listing > 0 else { throw ValidationError("--listing must be from 1 to 9223372036854775807") }
        guard let format = ExportFormat(rawValue: format) else { throw ValidationError("--format must be csv or ndjson") }
        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        let query = ExportQuery(listing: listing, format: format)
        guard let cursor = try await query.begin(on: connection, keyHash: nil) else { throw CommandFailure("no snapshot") }
        FileHandleOutput.standardError("X-Change-Cursor: \(cursor)\n")
        try await query.copy(on: connection) { rows in
            var written = 0
            while written < rows.count {
                let count = rows.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + written, $0.count - written) }
                guard count > 0 else { throw CommandFailure("cannot write to standard output") }
                written += count
            }
        }
    }
}
