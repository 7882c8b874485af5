import HTTP

/// A request to `/crm/{listing_id}` whose parameters passed the contract's validation (API.md
/// §2): what to do, with every value in its stored form, ready for one ``ContactStore`` call.
///
/// Building one touches no database, so ``ContactsAPI`` can validate first and still answer
/// `403` before `400` to a caller without a grant: it asks for the grant only when validation
/// failed (a good request stays one round trip). Public for the fuzzer, which exercises these
/// checks directly: through the router they are answered only to a caller whose grant the
/// database confirmed.
public enum ContactOperation: Sendable, Equatable {
    /// POST.
    case create(firstName: String?, lastName: String?, email: String?, phone: String?, ipAddress: String)
    /// PUT: `ipAddress` is what a new contact records; an existing one takes it only when `ipGiven`.
    case upsert(id: Int64?, firstName: FieldInput, lastName: FieldInput, email: FieldInput, phone: FieldInput,
                ipAddress: String, ipGiven: Bool)
    /// DELETE: the contact every given identifier matches; with `erase`, its email and phone
    /// are suppressed in the listing too (API.md §13).
    case delete(id: Int64?, email: String?, phone: String?, erase: Bool)
    /// GET and HEAD.
    case search(ContactStore.SearchFilters)

    /// Validates the parameters of a request with `method` (one of POST, PUT, DELETE, GET, HEAD).
    /// `clientAddress` is the contact's address when the request gives no `ip_address`.
    public init(method: HTTPMethod, parameters: RequestParameters, clientAddress: String) throws(APIError) {
        switch method {
        case .post: self = try Self.create(parameters, clientAddress: clientAddress)
        case .put: self = try Self.upsert(parameters, clientAddress: clientAddress)
        case .delete: self = try Self.delete(parameters)
        default: self = try .search(Self.filters(parameters))
        }
    }

    private static func create(_ parameters: RequestParameters, clientAddress: String) throws(APIError) -> ContactOperation {
        let firstName = try ContactValidation.personName("first_name", parameters["first_name"])
        let lastName = try ContactValidation.personName("last_name", parameters["last_name"])
        let email = try ContactValidation.email(parameters["email"])
        let phone = try ContactValidation.phone(parameters["phone"])
        let ipAddress = try ContactValidation.ipAddress(parameters["ip_address"]) ?? clientAddress
        guard email != nil || phone != nil else { throw APIError.missing("email", "email or phone is required.") }
        return .create(firstName: firstName, lastName: lastName, email: email, phone: phone, ipAddress: ipAddress)
    }

    private static func upsert(_ parameters: RequestParameters, clientAddress: String) throws(APIError) -> ContactOperation {
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
        return .upsert(id: id, firstName: firstName, lastName: lastName, email: email, phone: phone,
                       ipAddress: givenIP ?? clientAddress, ipGiven: givenIP != nil)
    }

    private static func delete(_ parameters: RequestParameters) throws(APIError) -> ContactOperation {
        let id = try ContactValidation.contactID(parameters["id"])
        let email = try ContactValidation.email(parameters["email"])
        let phone = try ContactValidation.phone(parameters["phone"])
        guard id != nil || email != nil || phone != nil else {
            throw APIError.missing("id", "id, email or phone is required.")
        }
        return .delete(id: id, email: email, phone: phone, erase: try ContactValidation.boolean("erase", parameters["erase"]) ?? false)
    }

    private static func filters(_ parameters: RequestParameters) throws(APIError) -> ContactStore.SearchFilters {
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
        return filters
    }
}
