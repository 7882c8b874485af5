import Codecs
import HTTP

/// Runs a validated ``ContactOperation``: one store call (which checks the key's grant and
/// scope in the same statement), then the response.
extension ContactsAPI {
    func perform(_ operation: ContactOperation, keyHash: [UInt8], listing: Int64,
                 idempotency: IdempotencyKey? = nil, actor: ChangeActor = .none) async throws -> HTTPResponse {
        let outcome: ContactStore.WriteOutcome
        switch operation {
        case let .create(firstName, lastName, email, phone, ipAddress):
            if let idempotency {
                let (stored, replayed) = try await store.create(
                    keyHash: keyHash, listing: listing, idempotency: idempotency, firstName: firstName, lastName: lastName,
                    email: email, phone: phone, ipAddress: ipAddress, actor: actor)
                if replayed { return Self.replay(stored) }
                outcome = stored
            } else {
                outcome = try await store.create(keyHash: keyHash, listing: listing, firstName: firstName, lastName: lastName,
                                                 email: email, phone: phone, ipAddress: ipAddress, actor: actor)
            }
        case let .upsert(id, firstName, lastName, email, phone, ipAddress, ipGiven):
            outcome = try await store.upsert(keyHash: keyHash, listing: listing, id: id, firstName: firstName, lastName: lastName,
                                             email: email, phone: phone, ipAddress: ipAddress, ipGiven: ipGiven, actor: actor)
        case let .delete(id, email, phone, erase):
            outcome = try await store.delete(keyHash: keyHash, listing: listing, id: id, email: email, phone: phone, erase: erase,
                                             actor: actor)
            if outcome == .notFound { throw APIError.deleteTargetNotFound }
        case .search(let filters):
            return try await search(filters, keyHash: keyHash, listing: listing)
        }
        if outcome == .forbidden {
            // No grant, or no write scope: which one decides the 403 (one more round trip,
            // only for a refused write).
            throw try await refusal(keyHash, listing: listing, needing: .write)
        }
        return try Self.render(outcome)
    }

    /// GET/HEAD: list or search, one page.
    private func search(_ filters: ContactStore.SearchFilters, keyHash: [UInt8], listing: Int64) async throws -> HTTPResponse {
        let page: ContactStore.Page
        switch try await store.search(keyHash: keyHash, listing: listing, filters: filters) {
        case .page(let found): page = found
        case .refused(let access): throw access.refusal(needing: .read)
        }
        guard page.count > 0 else { throw APIError.noContactsFound }
        return APIResponse.success(200, "\(page.count) record(s) found.", capacity: page.resultsByteCount + 32) { data in
            data.key("results")
            page.writeResults(to: &data)
            data.key("next_after")
            if let nextAfter = page.nextAfter { data.number(nextAfter) } else { data.null() }
        }
    }

    /// A stored answer given again (API.md §9): rendered as the first time, success or
    /// `409`, with `Idempotent-Replayed: true`.
    private static func replay(_ outcome: ContactStore.WriteOutcome) -> HTTPResponse {
        var response: HTTPResponse
        do {
            response = try render(outcome)
        } catch let error as APIError {
            response = APIResponse.error(error)
        } catch {
            response = APIResponse.error(.internal)
        }
        response.headers.add("Idempotent-Replayed", "true")
        return response
    }

    private static func render(_ outcome: ContactStore.WriteOutcome) throws -> HTTPResponse {
        switch outcome {
        case .created(let contact): return Self.success(201, "New contact successfully created.", "contact", contact)
        case .updated(let contact): return Self.success(200, "Contact successfully updated.", "contact", contact)
        case .deleted(let ids): return Self.success(202, "Contact deleted successfully.", "contact_ids", ids)
        default: throw refusal(for: outcome) ?? APIError.internal
        }
    }

    /// The error a write's refusal is answered with (nil for a success); an import's rejected
    /// rows are reported with the same (``ImportRowError``).
    static func refusal(for outcome: ContactStore.WriteOutcome) -> APIError? {
        switch outcome {
        case .created, .updated, .deleted: nil
        case .forbidden: APIError.forbidden
        case .notFound: APIError.contactNotFound
        case .duplicate(let existing): APIError.duplicate(contactID: existing)
        case .conflict(let existing):
            APIError.duplicate(contactID: existing, message: "The email and the phone belong to two different contacts.")
        case .blacklisted(let parameter): APIError.blacklisted(parameter)
        case .invalid(let parameter): APIError.invalid(parameter, "\(parameter) is not valid.")
        case .lastContactPoint(let parameter):
            APIError.invalid(parameter, "email and phone cannot both be cleared: a contact keeps at least one.")
        case .inFlight: APIError.idempotencyKeyInFlight
        case .idempotencyKeyReused: APIError.idempotencyKeyReused
        case .suppressed: APIError.internal  // ContactStore.delete goes on to the delete: never answered
        }
    }

    /// A success whose `data` is `name` with `json`, a value as PostgreSQL rendered it.
    private static func success(_ status: Int, _ message: String, _ name: String, _ json: String) -> HTTPResponse {
        APIResponse.success(status, message, capacity: name.utf8.count + json.utf8.count + 4) { data in
            data.key(name)
            data.json(json)
        }
    }
}
