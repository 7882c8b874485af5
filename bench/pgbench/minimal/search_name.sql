\set n random(0, :seed - 1)
\set a (:n * 2654435761) % 16777216
\set b (:n * 40503 + 12345) % 16777216
\set offset random(1, 8)
SELECT c.* FROM plain.api_keys k JOIN plain.api_key_grants g ON g.key_id = k.key_id AND g.listing_id = 1 LEFT JOIN LATERAL (SELECT contact_id, unique_id, first_name, last_name, email, phone, ip_address, source, status, created_at, updated_at FROM plain.contacts WHERE listing_id + 0 = g.listing_id AND lower(last_name) LIKE '%' || replace(replace(replace(lower(substr(lpad(to_hex(:a::bigint), 6, '0') || lpad(to_hex(:b::bigint), 6, '0'), :offset::int, 5)), '\', '\\'), '%', '\%'), '_', '\_') || '%' ORDER BY contact_id + 0 LIMIT 21) c ON true WHERE k.key_hash = decode(:key_hash, 'hex') AND k.revoked_at IS NULL;
