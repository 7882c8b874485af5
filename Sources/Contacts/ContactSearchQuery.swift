import Postgres

/// The SQL of a `GET`: one statement per combination of filters present (at most 64, each
/// prepared once per connection), so that PostgreSQL plans each with the indexes it needs
/// instead of one catch-all plan. The key's grant gates the query in the same statement.
/// Search terms are parameters, never SQL text; `crm_like_literal` makes `%`, `_` and `\`
/// in them literal characters.
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
        let sql = """
            WITH page AS (
                SELECT c AS contact, row_number() OVER (ORDER BY c.contact_id) AS position
                  FROM contacts c
                 WHERE crm_key_grants($1::bytea, $2::bigint) AND c.listing_id = $2::bigint
                   AND c.contact_id > $3::bigint\(filter)
                 ORDER BY c.contact_id
                 LIMIT $4::int + 1)
            SELECT crm_key_grants($1::bytea, $2::bigint),
                   coalesce((SELECT json_agg(crm_contact_json(contact) ORDER BY position) FROM page WHERE position <= $4::int), '[]')::text,
                   (SELECT count(*) FROM page WHERE position <= $4::int)::int,
                   (SELECT (contact).contact_id FROM page WHERE position = $4::int AND EXISTS (SELECT 1 FROM page WHERE position > $4::int))
            """
        return (PreparedStatement(name: "crm_search_\(mask)", sql: sql), parameters)
    }
}
