import HTTP

/// Runs a validated ``ContactOperation``: one store call (which checks the key's grant in the
/// same statement), then the response.
extension ContactsAPI {
    func perform(_ operation: ContactOperation, keyHash: [UInt8], listing: Int64) async throws -> HTTPResponse {
        switch operation {
        case let .create(firstName, lastName, email, phone, ipAddress):
            return try render(await store.create(keyHash: keyHash, listing: listing, firstName: firstName, lastName: lastName,
                                                 email: email, phone: phone, ipAddress: ipAddress))
        case let .upsert(id, firstName, lastName, email, phone, ipAddress, ipGiven):
            return try render(await store.upsert(keyHash: keyHash, listing: listing, id: id, firstName: firstName, lastName: lastName,
                                                 email: email, phone: phone, ipAddress: ipAddress, ipGiven: ipGiven))
        case let .delete(id, email, phone):
            let outcome = try await store.delete(keyHash: keyHash, listing: listing, id: id, email: email, phone: phone)
            if outcome == .notFound { throw APIError.deleteTargetNotFound }
            return try render(outcome)
        case .search(let filters):
            return try await search(filters, keyHash: keyHash, listing: listing)
        }
    }

    /// GET/HEAD: list or search, one page.
    private func search(_ filters: ContactStore.SearchFilters, keyHash: [UInt8], listing: Int64) async throws -> HTTPResponse {
        guard let page = try await store.search(keyHash: keyHash, listing: listing, filters: filters) else {
            throw APIError.forbidden
        }
        guard page.count > 0 else { throw APIError.noContactsFound }
        return APIResponse.success(200, "\(page.count) record(s) found.", dataMember: "results", value: page.resultsJSON,
                                   rest: #","next_after":"# + (page.nextAfter.map(String.init) ?? "null"))
    }

    private func render(_ outcome: ContactStore.WriteOutcome) throws -> HTTPResponse {
        switch outcome {
        case .forbidden: throw APIError.forbidden
        case .created(let contact): return APIResponse.success(201, "New contact successfully created.", data: #""contact":"# + contact)
        case .updated(let contact): return APIResponse.success(200, "Contact successfully updated.", data: #""contact":"# + contact)
        case .deleted(let ids): return APIResponse.success(202, "Contact deleted successfully.", data: #""contact_ids":"# + ids)
        case .notFound: throw APIError.contactNotFound
        case .duplicate(let existing): throw APIError.duplicate(contactID: existing)
        case .conflict(let existing):
            throw APIError.duplicate(contactID: existing, message: "The email and the phone belong to two different contacts.")
        case .blacklisted(let parameter): throw APIError.blacklisted(parameter)
        case .invalid(let parameter):
            throw APIError.invalid(parameter, "\(parameter) is not valid.")
        case .lastContactPoint(let parameter):
            throw APIError.invalid(parameter, "email and phone cannot both be cleared: a contact keeps at least one.")
        }
    }
}
