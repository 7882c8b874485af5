import Crypto
import HTTP
import Postgres

/// One upload's way into `import_rows` (API.md §12): the body read piece by piece as the client
/// sends it, each row validated by the single-contact API's own rules (``ContactOperation``, so
/// a bad row gets the same code and message as a `POST`/`PUT` would) and written to
/// PostgreSQL through `COPY … FROM STDIN` about 128 KiB at a time. Memory stays flat: the
/// socket is read only as fast as the database takes the rows.
public struct ImportUpload: Sendable {
    public let format: ImportFormat
    public let mode: ImportMode
    /// The uploader's address: a created contact's `ip_address` when its row gives none.
    let clientAddress: String
    /// Rows the upload may hold.
    let maxRows: Int

    /// What the staging found: the rows written and the fingerprint of the upload (mode,
    /// format and every byte of the file), for `Idempotency-Key`.
    public struct Staged: Sendable {
        public let rows: Int
        public let fingerprint: [UInt8]
    }

    public init(format: ImportFormat, mode: ImportMode, clientAddress: String, maxRows: Int) {
        self.format = format
        self.mode = mode
        self.clientAddress = clientAddress
        self.maxRows = maxRows
    }

    /// Streams the file, whose pieces `next` returns (nil at its end), into `import_rows` for
    /// `importID` of `listing`, on `connection` (inside the caller's transaction). Throws
    /// ``APIError`` for the whole file's faults (`400`, `413`) and `next`'s error when the client
    /// breaks off.
    public func stage(_ next: () async throws -> [UInt8]?, listing: Int64, importID: Int64,
                      on connection: PostgresConnection) async throws -> Staged {
        let hasher = fingerprintHasher()
        var reader = ImportRecordReader(format: format)
        var rowNumber = 0
        var out: [UInt8] = []
        out.reserveCapacity(160 * 1024)
        func stage(_ records: [ImportRecordReader.Record]) throws(APIError) {
            for record in records {
                rowNumber += 1
                guard rowNumber <= maxRows else {
                    throw APIError(status: 413, code: .payloadTooLarge, message: "An import holds at most \(maxRows) rows.")
                }
                append(record, row: rowNumber, listing: listing, importID: importID, to: &out)
            }
        }
        try await connection.copyIn(ImportStagingRow.copyStatement) { writer in
            while let piece = try await next() {
                hasher.update(piece)
                try stage(reader.feed(piece))
                if out.count >= 128 * 1024 {
                    try await writer.write(out)
                    out.removeAll(keepingCapacity: true)
                }
            }
            try stage(reader.finish())
            try await writer.write(out)
        }
        return Staged(rows: rowNumber, fingerprint: hasher.finalize())
    }

    /// Reads `body` to its end for its fingerprint alone (a retry whose first upload is stored).
    func fingerprint(of body: HTTPRequestBody) async throws -> [UInt8] {
        let hasher = fingerprintHasher()
        while let piece = try await body.next() { hasher.update(piece) }
        return hasher.finalize()
    }

    private func fingerprintHasher() -> SHA256Hasher {
        let hasher = SHA256Hasher()
        hasher.update(Array("import\n\(mode.rawValue)\n\(format.rawValue)\n".utf8))
        return hasher
    }

    private func append(_ record: ImportRecordReader.Record, row: Int, listing: Int64, importID: Int64, to out: inout [UInt8]) {
        do throws(APIError) {
            guard case .row(let pairs) = record else {
                if case .unreadable(let why) = record { throw APIError.invalid("row", why) }
                return
            }
            let parameters = try RequestParameters(pairs: pairs)
            let operation = try ContactOperation(method: mode.method, parameters: parameters, clientAddress: clientAddress)
            ImportStagingRow.append(listing: listing, importID: importID, row: row, operation: operation, to: &out)
        } catch {
            // An unreadable record has no parameter to name (API.md §12: `parameter: null`).
            let refusal = record.isUnreadable ? APIError(status: 400, code: .invalidParameter, message: error.message) : error
            ImportStagingRow.append(listing: listing, importID: importID, row: row, error: refusal, to: &out)
        }
    }
}

extension ImportRecordReader.Record {
    var isUnreadable: Bool {
        if case .unreadable = self { return true }
        return false
    }
}
