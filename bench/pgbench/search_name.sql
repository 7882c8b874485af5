\set n random(0, :seed - 1)
\set a (:n * 2654435761) % 16777216
\set b (:n * 40503 + 12345) % 16777216
\set offset random(1, 8)
\set after 0
\set limit 20
SELECT c.contact_id, c.unique_id, c.first_name, c.last_name, c.email, c.phone, c.created_at AT TIME ZONE 'UTC', c.updated_at AT TIME ZONE 'UTC', host(c.ip_address), c.source, c.status FROM contacts c WHERE EXISTS (SELECT FROM api_keys k JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = 1::bigint WHERE k.key_hash = decode(:key_hash, 'hex') AND k.revoked_at IS NULL AND 'read'::crm_key_scope = ANY (k.scopes)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND lower(c.last_name) LIKE '%' || crm_like_literal(lower(substr(lpad(to_hex(:a::bigint), 6, '0') || lpad(to_hex(:b::bigint), 6, '0'), :offset::int, 5))) || '%' ORDER BY c.contact_id + 0 LIMIT :limit::int + 1;
