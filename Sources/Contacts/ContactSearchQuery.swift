import Postgres

/// The SQL of a `GET`: one statement per combination of filters present (at most 64, each
/// prepared once per connection), so that PostgreSQL plans each with the indexes it needs
/// instead of one catch-all plan. The key's grant and its `read` scope gate the query in the same statement.
/// Search terms are parameters, never SQL text; `crm_like_literal` makes `%`, `_` and `\`
/// in them literal characters.
///
/// The statement returns the page's rows (``ContactColumns/selectList``); the grant is a
/// one-time filter, so a key without it gets no rows. A window function and `json_agg` over a
/// CTE did the paging in SQL before; returning rows cost PostgreSQL a third as much (pgbench).
enum ContactSearchQuery {
    static func statement(keyHash: [UInt8], listing: Int64, filters: ContactStore.SearchFilters)
        -> (PreparedStatement, [(any PostgresEncodable)?])
    {
        var parameters: [(any PostgresEncodable)?] = [PostgresBytes(keyHash), listing, filters.after, filters.limit]
        var conditions: [String] = []
        var mask = 0
        func add(_ bit: Int, _ value: (any PostgresEncodable)?, _ condition: (String) -> String) {
            guard let value else { return }
            parameters.append(value)
            conditions.append(condition("$\(parameters.count)"))
            mask |= 1 << bit
        }
        add(0, filters.id) { "c.contact_id = \($0)::bigint" }
        add(1, filters.email) { "lower(c.email) = lower(\($0))" }
        add(2, filters.phone) { "c.phone = \($0)" }
        add(3, filters.firstName) { "lower(c.first_name) LIKE '%' || crm_like_literal(lower(\($0))) || '%'" }
        add(4, filters.lastName) { "lower(c.last_name) LIKE '%' || crm_like_literal(lower(\($0))) || '%'" }
        add(5, filters.name) { "crm_full_name(c.first_name, c.last_name) LIKE '%' || crm_like_literal(lower(\($0))) || '%'" }
        let filter = conditions.map { " AND " + $0 }.joined()
        // A substring term of 3 or more letters has trigrams, and its trigram index finds the few
        // rows holding it. PostgreSQL cannot estimate how few (LIKE '%term%' gets a flat guess of
        // about 1%), so it prefers walking the listing in id order until `limit` rows match: a
        // full listing scan for a rare term (p99 of 300 ms to 1 s in `make bench`). `+ 0` on the
        // sort key takes that path away. It used to be on listing_id too (against intersecting
        // with the whole listing's rows); Citus routes the statement to one shard only on the
        // bare `c.listing_id = $2`, and on plain PostgreSQL the name search still plans with the
        // trigram index (sql/018). Shorter terms match many rows and have no trigrams, so the
        // walk in id order is the right plan for them.
        let trigramSearch = [filters.firstName, filters.lastName, filters.name].contains { ($0?.unicodeScalars.count ?? 0) >= 3 }
        let sortKey = trigramSearch ? "c.contact_id + 0" : "c.contact_id"
        // One more row than the page, so the caller knows whether another page follows.
        let sql = """
            SELECT \(ContactColumns.selectList)
              FROM contacts c
             WHERE EXISTS (SELECT FROM api_keys k JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = $2::bigint
                            WHERE k.key_hash = $1::bytea AND k.revoked_at IS NULL AND 'read'::crm_key_scope = ANY (k.scopes))
               AND c.listing_id = $2::bigint AND c.contact_id > $3::bigint\(filter)
             ORDER BY \(sortKey)
             LIMIT $4::int + 1
            """
        // A substring filter's plan depends on its term: planned each time, for the term at hand.
        let substringFilters = 0b111000
        let name = "crm_search_\(mask)" + (trigramSearch ? "_trigram" : "")
        // A lookup by id, email or phone reads at most a few rows by a unique index: quick
        // enough to share a pipelined connection (ConnectionPool.execute).
        let pointLookup = mask & 0b111 != 0 && mask & substringFilters == 0
        return (PreparedStatement(name: name, sql: sql, plannedEachTime: mask & substringFilters != 0, pipelined: pointLookup), parameters)
    }

    /// The key's scopes in the listing (no row: not granted, ``KeyAccess``): asked only when a
    /// search found nothing, to tell `403` from `404`, and after a refusal, to choose its `403`.
    static let access = PreparedStatement(name: "crm_key_access", sql: """
        SELECT array_to_string(access.scopes, ',') FROM crm_key_access($1::bytea, $2::bigint) AS access(scopes)
        """, pipelined: true)
}
