import HTTP

/// The four operations on `/crm/{listing_id}`, each: validate, one store call, render.
extension ContactsAPI {
    /// POST: create.
    func create(_ context: RequestContext) async throws -> HTTPResponse {
        let parameters = context.parameters
        let firstName = try ContactValidation.personName("first_name", parameters["first_name"])
        let lastName = try ContactValidation.personName("last_name", parameters["last_name"])
        let email = try ContactValidation.email(parameters["email"])
        let phone = try ContactValidation.phone(parameters["phone"])
        let ipAddress = try ContactValidation.ipAddress(parameters["ip_address"]) ?? context.clientAddress
        guard email != nil || phone != nil else { throw APIError.missing("email", "email or phone is required.") }
        let outcome = try await store.create(keyHash: context.keyHash, listing: context.listing, firstName: firstName,
                                             lastName: lastName, email: email, phone: phone, ipAddress: ipAddress)
        return try render(outcome)
    }

    /// PUT: update by id, or by email/phone; create when not found.
    func upsert(_ context: RequestContext) async throws -> HTTPResponse {
        let parameters = context.parameters
        let id = try ContactValidation.contactID(parameters["id"])
        let firstName = try ContactValidation.field(parameters, "first_name") { (text) throws(APIError) in try ContactValidation.personName("first_name", text) }
        let lastName = try ContactValidation.field(parameters, "last_name") { (text) throws(APIError) in try ContactValidation.personName("last_name", text) }
        let email = try ContactValidation.field(parameters, "email") { (text) throws(APIError) in try ContactValidation.email(text) }
        let phone = try ContactValidation.field(parameters, "phone") { (text) throws(APIError) in try ContactValidation.phone(text) }
        let givenIP = try ContactValidation.ipAddress(parameters["ip_address"])
        if email == .cleared, phone == .cleared {
            throw APIError.invalid("email", "email and phone cannot both be cleared: a contact keeps at least one.")
        }
        if id == nil, email.value == nil, phone.value == nil {
            throw APIError.missing("email", "id, email or phone is required.")
        }
        let outcome = try await store.upsert(
            keyHash: context.keyHash, listing: context.listing, id: id, firstName: firstName, lastName: lastName,
            email: email, phone: phone, ipAddress: givenIP ?? context.clientAddress, ipGiven: givenIP != nil)
        return try render(outcome)
    }

    /// DELETE: the contact all given identifiers match.
    func delete(_ context: RequestContext) async throws -> HTTPResponse {
        let parameters = context.parameters
        let id = try ContactValidation.contactID(parameters["id"])
        let email = try ContactValidation.email(parameters["email"])
        let phone = try ContactValidation.phone(parameters["phone"])
        guard id != nil || email != nil || phone != nil else {
            throw APIError.missing("id", "id, email or phone is required.")
        }
        let outcome = try await store.delete(keyHash: context.keyHash, listing: context.listing, id: id, email: email, phone: phone)
        if outcome == .notFound { throw APIError.deleteTargetNotFound }
        return try render(outcome)
    }

    /// GET/HEAD: list or search, one page.
    func search(_ context: RequestContext) async throws -> HTTPResponse {
        let parameters = context.parameters
        var filters = ContactStore.SearchFilters()
        filters.id = try ContactValidation.contactID(parameters["id"])
        filters.email = try ContactValidation.email(parameters["email"])
        filters.phone = try ContactValidation.phone(parameters["phone"])
        filters.firstName = try ContactValidation.personName("first_name", parameters["first_name"])
        filters.lastName = try ContactValidation.personName("last_name", parameters["last_name"])
        // "first last" can be two full names and a space long.
        filters.name = try ContactValidation.personName("name", parameters["name"], maxLength: 2 * ContactValidation.nameMaxLength + 1)
        filters.limit = Int(try ContactValidation.integer("limit", parameters["limit"], in: 1...1000) ?? 100)
        filters.after = try ContactValidation.integer("after", parameters["after"], in: 0...Int64.max) ?? 0
        guard let page = try await store.search(keyHash: context.keyHash, listing: context.listing, filters: filters) else {
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
