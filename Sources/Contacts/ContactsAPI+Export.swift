import HTTP

/// `GET /crm/{listing_id}/export` (API.md §12): every contact GET's filters match, from one
/// `REPEATABLE READ` snapshot, streamed with chunked transfer coding straight from `COPY (SELECT
/// …) TO STDOUT` (CSV as PostgreSQL writes it; NDJSON lines unescaped from `COPY`'s text). Each
/// piece is written to the client before the next is read from the database, so a slow reader
/// holds the database back rather than this process buffering the listing. `X-Change-Cursor`
/// is the change-feed cursor of the snapshot (``ExportQuery/snapshot``). A `HEAD` gets the same
/// head, its snapshot ended as soon as the cursor is read.
extension ContactsAPI {
    func export(_ context: RequestContext) async throws -> HTTPResponse {
        guard let listing = context.listing, let key = context.presentedKey else { throw APIError.forbidden }
        let query = try await validated(key.digest, listing: listing, scope: .read) { () throws(APIError) -> ExportQuery in
            let parameters = try RequestParameters(context.request)
            guard case .search(let filters) = try ContactOperation(method: .get, parameters: parameters, clientAddress: "") else {
                throw APIError.internal
            }
            return ExportQuery(listing: listing, filters: filters, format: try ExportFormat(parameter: parameters["format"]))
        }
        let session = ExportSession(connection: try await store.pool.lease(), pool: store.pool)
        guard let cursor = try await query.begin(on: session.connection, keyHash: key.digest) else {
            session.release()
            throw try await refusal(key.digest, listing: listing, needing: .read)
        }
        var headers = HTTPHeaders()
        headers.add("Content-Type", query.format.contentType)
        headers.add("X-Change-Cursor", cursor.description)
        if context.request.method == .head {
            // The head is all a HEAD gets: the snapshot ends here and the connection goes back
            // to be lent again (left in its transaction, the pool would close it).
            defer { session.release() }
            try await session.connection.simpleQuery("ROLLBACK")
            return .streamed(status: 200, headers: headers) { _ in }
        }
        return .streamed(status: 200, headers: headers) { writer in
            defer { session.release() }
            try await query.copy(on: session.connection) { try await writer.write($0) }
        }
    }
}
