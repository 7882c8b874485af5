/// What a key must be allowed to do for a request (API.md §8): `read` for GET/HEAD on a
/// listing's contacts, `write` for POST/PUT/DELETE. The route table names the scope of each
/// (route, method); version 1 keys hold both, so no request is refused for a scope yet.
public enum KeyScope: String, Sendable, Hashable, CaseIterable {
    case read
    case write
    case webhooks
}
