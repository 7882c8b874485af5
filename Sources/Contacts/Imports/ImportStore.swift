import Codecs
import HTTP
import Postgres

/// The imports' SQL (sql/016): an upload staged in one transaction, a job's state, its
/// rejected rows, and the worker's step. The job row is inserted only for a key granted the
/// listing with the `write` scope (checked by the same statement), before a byte of the body
/// is read.
public struct ImportStore: Sendable {
    /// What an upload came to.
    enum UploadOutcome {
        /// Staged and committed: the job is queued.
        case accepted(ImportJob)
        /// The same `Idempotency-Key` and the same file as a stored upload: its job.
        case replayed(ImportJob)
        /// The key's grant or scope is missing: nothing was read or written.
        case refused
        /// The `Idempotency-Key` was used for another file, listing or request.
        case keyReused
        /// An upload with the same `Idempotency-Key` is still being staged.
        case inFlight
    }

    /// Who uploads: the key, and the request id its change events carry.
    public struct Uploader: Sendable {
        let keyHash: [UInt8]
        let keyPrefix: String
        let requestID: String
        let idempotencyKey: String?
    }

    public let pool: ConnectionPool

    public init(pool: ConnectionPool) {
        self.pool = pool
    }

    /// Stages `body` as a new import of `listing`, all in one transaction: committed only once
    /// every row is stored, so a client that breaks off leaves no job and no row.
    func upload(_ upload: ImportUpload, body: HTTPRequestBody, listing: Int64, by uploader: Uploader) async throws -> UploadOutcome {
        try await pool.withConnection { connection in
            try await connection.transaction { connection in
                // The COPY lasts as long as the client sends: no statement_timeout for it.
                try await connection.simpleQuery("SET LOCAL statement_timeout = 0")
                if let key = uploader.idempotencyKey {
                    let locked = try await connection.query(Self.lockKey, [PostgresBytes(uploader.keyHash), key])
                    guard locked.rowCount == 1 else { return .refused }
                    guard try locked[0].decode(Bool.self, column: 0) else { return .inFlight }
                    let earlier = try await connection.query(Self.earlierUpload, [PostgresBytes(uploader.keyHash), key])
                    if earlier.rowCount == 1 {
                        let fingerprint = try await upload.fingerprint(of: body)
                        let sameRequest = try earlier[0].decode(Int64.self, column: 0) == listing
                            && (try earlier[0].decode(PostgresBytes?.self, column: 1)) == PostgresBytes(fingerprint)
                        return sameRequest ? .replayed(try ImportJob(row: earlier[0], from: 2)) : .keyReused
                    }
                }
                guard let job = try await Self.stage(upload, from: body.next, listing: listing, by: uploader, on: connection) else {
                    return .refused
                }
                return .accepted(job)
            }
        }
    }

    /// Inserts the job and stages the file into it on `connection`, inside its transaction; nil
    /// when `uploader`'s key may not write to the listing (nothing is read then). Without an
    /// uploader (`crm import`, an operator), no key is checked.
    public static func stage(_ upload: ImportUpload, from next: () async throws -> [UInt8]?, listing: Int64,
                             by uploader: Uploader?, on connection: PostgresConnection) async throws -> ImportJob? {
        let inserted = try await connection.query(Self.insertJob, [
            listing, upload.mode.rawValue, uploader?.keyPrefix, uploader?.requestID ?? "crm-import", upload.clientAddress,
            uploader.map { PostgresBytes($0.keyHash) }, uploader?.idempotencyKey,
        ])
        guard inserted.rowCount == 1 else { return nil }
        let importID = try inserted[0].decode(Int64.self, column: 0)
        let staged = try await upload.stage(next, listing: listing, importID: importID, on: connection)
        let job = try await connection.query(Self.finishStaging, [importID, staged.rows, PostgresBytes(staged.fingerprint), listing])
        return try ImportJob(row: job[0])
    }

    /// Applies `importID` on `connection` (steps of `chunk` rows, its listing's older jobs before
    /// it first) until it is finished; returns it.
    public static func apply(_ importID: Int64, chunk: Int, on connection: PostgresConnection) async throws -> ImportJob {
        while true {
            let job = try await connection.query(
                "SELECT j.listing_id, \(ImportJob.selectList) FROM import_jobs j WHERE j.import_id = $1", [importID])
            guard job.rowCount == 1 else { throw PostgresError.client("import \(importID) is gone") }
            let state = try ImportJob(row: job[0], from: 1)
            if state.status == "completed" || state.status == "failed" { return state }
            let listing = try job[0].decode(Int64.self, column: 0)
            if try await !ImportWorker.step(listing: listing, chunk: chunk, on: connection) {
                try await Task.sleep(for: .milliseconds(100))  // another process holds the job's step
            }
        }
    }

    /// The rejected rows of `importID` as NDJSON lines, in row order.
    public static func errorLines(_ importID: Int64, on connection: PostgresConnection) async throws -> [String] {
        let result = try await connection.query(selectErrors, [importID, 0, Int.max])
        return try result.rows.map { row in
            var line: [UInt8] = []
            try ImportRowError(row: row).write(to: &line)
            return String(decoding: line.dropLast(), as: UTF8.self)
        }
    }

    /// The import, if it belongs to `listing` and the key may read the listing (nil otherwise:
    /// ``ContactStore/access(keyHash:listing:)`` tells a refusal from a missing import).
    func job(keyHash: [UInt8], listing: Int64, importID: Int64) async throws -> ImportJob? {
        let result = try await pool.withConnection { try await $0.query(Self.selectJob, [PostgresBytes(keyHash), listing, importID]) }
        return try result.rows.first.map { try ImportJob(row: $0) }
    }

    /// Rejected rows after row `after`, at most `limit`, in row order: (row, code, parameter, message).
    func errors(importID: Int64, after: Int64, limit: Int) async throws -> [ImportRowError] {
        let result = try await pool.withConnection { try await $0.query(Self.selectErrors, [importID, after, limit]) }
        return try result.rows.map(ImportRowError.init(row:))
    }

    // MARK: SQL

    static let lockKey = """
        SELECT pg_try_advisory_xact_lock(crm_idempotency_lock_id(k.key_id, $2)) FROM api_keys k WHERE k.key_hash = $1::bytea
        """

    static let earlierUpload = """
        SELECT j.listing_id, j.fingerprint, \(ImportJob.selectList)
          FROM import_jobs j JOIN api_keys k ON k.key_id = j.key_id
         WHERE k.key_hash = $1::bytea AND j.idempotency_key = $2
        """

    static let insertJob = """
        INSERT INTO import_jobs (listing_id, mode, key_prefix, request_id, client_ip, key_id, idempotency_key)
        SELECT $1, $2, $3, $4, nullif($5, '')::inet, (SELECT k.key_id FROM api_keys k WHERE k.key_hash = $6::bytea), $7
         WHERE $6::bytea IS NULL OR crm_key_grants($6::bytea, $1, 'write')
        RETURNING import_id
        """

    /// The job's columns are rendered outside the UPDATE: Citus refuses a non-IMMUTABLE function
    /// (`to_char` of a timestamp) in RETURNING.
    static let finishStaging = """
        WITH j AS (
            UPDATE import_jobs SET rows = $2, fingerprint = $3::bytea WHERE import_id = $1 AND listing_id = $4 RETURNING *)
        SELECT \(ImportJob.selectList) FROM j
        """

    static let selectJob = """
        SELECT \(ImportJob.selectList) FROM import_jobs j
         WHERE j.listing_id = $2 AND j.import_id = $3
           AND EXISTS (SELECT FROM api_keys k JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = $2::bigint
                        WHERE k.key_hash = $1::bytea AND k.revoked_at IS NULL AND 'read'::crm_key_scope = ANY (k.scopes))
        """

    static let selectErrors = """
        SELECT e.row_no, e.outcome, e.contact_id, to_json(e.parameter)::text, e.code, e.message
          FROM import_errors e
         WHERE e.import_id = $1 AND e.row_no > $2
         ORDER BY e.row_no
         LIMIT $3
        """
}
