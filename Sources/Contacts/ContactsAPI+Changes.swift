import HTTP

/// `GET /crm/{listing_id}/changes` (API.md §10): a page of the listing's change feed after the
/// `after` cursor, oldest first, with `next_after` always present.
extension ContactsAPI {
    func changes(_ context: RequestContext) async throws -> HTTPResponse {
        guard let listing = context.listing, let key = context.presentedKey else { throw APIError.forbidden }
        let (cursor, limit) = try await validated(key.digest, listing: listing, scope: .read) {
            () throws(APIError) -> (ChangeCursor?, Int) in
            let parameters = try RequestParameters(context.request)
            return (try ChangeCursor.parse(parameters["after"], listing: listing),
                    Int(try ContactValidation.integer("limit", parameters["limit"], in: 1...1000) ?? 100))
        }
        switch try await changeFeed.page(keyHash: key.digest, listing: listing, after: cursor, limit: limit) {
        case .refused:
            throw try await refusal(key.digest, listing: listing, needing: .read)
        case .expired:
            throw APIError.cursorExpired
        case .unknownCursor:
            throw APIError.invalid("after", "after must be a next_after this listing's feed returned.")
        case .page(let page):
            return APIResponse.success(200, "\(page.count) change(s).", capacity: page.count * 512) { data in
                data.key("results")
                page.writeResults(to: &data)
                data.key("next_after")
                data.string(page.nextAfter.description)
            }
        }
    }
}
