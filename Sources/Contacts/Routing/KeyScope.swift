/// What a key must be allowed to do for a request (API.md §8): `read` for GET/HEAD on a
/// listing's contacts, `write` for POST/PUT/DELETE, `webhooks` to manage the listing's webhook
/// endpoints. The route table names the scope of each (route, method); keys store theirs in
/// `api_keys.scopes` (sql/010, PostgreSQL's enum `crm_key_scope`, whose labels are the raw
/// values), and the SQL of each operation checks it with the grant.
public enum KeyScope: String, Sendable, Hashable, CaseIterable, Comparable {
    case read
    case write
    case webhooks

    /// The scopes a key gets when none are named: what every version 1 key could do.
    public static let defaults: [KeyScope] = [.read, .write]

    /// In declaration order, the order `crm key list` shows them.
    public static func < (lhs: KeyScope, rhs: KeyScope) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
