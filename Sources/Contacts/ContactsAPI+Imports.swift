import HTTP

/// `POST /crm/{listing_id}/imports`, `GET …/imports/{import_id}` and `…/errors` (API.md §12).
/// The upload's body streams into the database as it arrives (``ImportUpload``); the `202`
/// comes once every row is committed, and ``ImportWorker`` applies them in the background.
extension ContactsAPI {
    func createImport(_ context: RequestContext) async throws -> HTTPResponse {
        guard let listing = context.listing, let key = context.presentedKey else { throw APIError.forbidden }
        let request = context.request
        let (upload, idempotencyKey) = try await validated(key.digest, listing: listing, scope: .write) {
            () throws(APIError) -> (ImportUpload, String?) in
            let parameters = try RequestParameters(request)  // the query string: the body is the file
            let upload = ImportUpload(format: try ImportFormat(contentType: request.headers["Content-Type"]),
                                      mode: try ImportMode(parameter: parameters["mode"]),
                                      clientAddress: clientAddress(of: request), maxRows: maxImportRows)
            return (upload, try IdempotencyKey.value(in: request.headers))
        }
        guard let body = request.bodyStream else { throw APIError.invalid("body", "The file is empty.") }
        let uploader = ImportStore.Uploader(keyHash: key.digest, keyPrefix: key.prefix, requestID: context.requestID,
                                            idempotencyKey: idempotencyKey)
        let outcome: ImportStore.UploadOutcome
        do {
            outcome = try await imports.upload(upload, body: body, listing: listing, by: uploader)
        } catch let failure as HTTPRequestBody.Failure {
            switch failure {
            case .timedOut: throw HTTPProtocolError.requestTimeout
            case .protocolError(let error): throw error
            case .disconnected: throw HTTPProtocolError.malformed("The client left before the whole file arrived.")
            }
        }
        switch outcome {
        case .accepted(let job):
            importWorker?.wake()
            return Self.importAccepted(job, listing: listing, replayed: false)
        case .replayed(let job): return Self.importAccepted(job, listing: listing, replayed: true)
        case .refused: throw try await refusal(key.digest, listing: listing, needing: .write)
        case .keyReused: throw APIError.idempotencyKeyReused
        case .inFlight: throw APIError.idempotencyKeyInFlight
        }
    }

    func importStatus(_ context: RequestContext) async throws -> HTTPResponse {
        let (key, listing, job) = try await requestedImport(context)
        guard let job else { throw try await missingImport(key, listing: listing) }
        return APIResponse.success(200, "Import \(job.status).") { data in
            data.key("import")
            job.write(to: &data)
        }
    }

    /// The rejected rows as NDJSON, streamed page by page in row order (the job may still run:
    /// rows rejected later are in a later read).
    func importErrors(_ context: RequestContext) async throws -> HTTPResponse {
        let (key, listing, job) = try await requestedImport(context)
        guard let job else { throw try await missingImport(key, listing: listing) }
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/x-ndjson; charset=utf-8")
        let imports = imports
        return .streamed(status: 200, headers: headers) { writer in
            var after: Int64 = 0
            while true {
                let page = try await imports.errors(importID: job.importID, after: after, limit: 2_000)
                guard let last = page.last else { return }
                var out: [UInt8] = []
                out.reserveCapacity(page.count * 120)
                for error in page { error.write(to: &out) }
                try await writer.write(out)
                after = last.row
            }
        }
    }

    private func requestedImport(_ context: RequestContext) async throws -> (APIKey, Int64, ImportJob?) {
        guard let listing = context.listing, let key = context.presentedKey else { throw APIError.forbidden }
        let importID = try await validated(key.digest, listing: listing, scope: .read) { () throws(APIError) in
            _ = try RequestParameters(context.request)
            guard let id = try ContactValidation.contactID(context.pathParameter("import_id").map(String.init), name: "import_id") else {
                throw APIError.invalid("import_id", "import_id must be a whole number from 1 to 9223372036854775807.")
            }
            return id
        }
        return (key, listing, try await imports.job(keyHash: key.digest, listing: listing, importID: importID))
    }

    /// No import came back: a key without `read` is refused, anyone else learns there is none.
    private func missingImport(_ key: APIKey, listing: Int64) async throws -> APIError {
        try await requireAccess(key.digest, listing: listing, scope: .read)
        return APIError(status: 404, code: .notFound, message: "This listing has no such import.")
    }

    private static func importAccepted(_ job: ImportJob, listing: Int64, replayed: Bool) -> HTTPResponse {
        var response = APIResponse.success(202, "Import queued: \(job.rows) row(s) stored.") { data in
            data.key("import")
            job.writeAccepted(to: &data)
        }
        response.headers.add("Location", "/crm/\(listing)/imports/\(job.importID)")
        if replayed { response.headers.add("Idempotent-Replayed", "true") }
        return response
    }
}
