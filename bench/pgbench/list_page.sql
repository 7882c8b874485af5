\set after random(:min_id - 1, :max_id - 100)
\set limit 100
SELECT c.contact_id, c.unique_id, c.first_name, c.last_name, c.email, c.phone, c.created_at AT TIME ZONE 'UTC', c.updated_at AT TIME ZONE 'UTC', host(c.ip_address), c.source, c.status FROM contacts c WHERE EXISTS (SELECT FROM api_keys k JOIN api_key_grants g ON g.key_id = k.key_id AND g.listing_id = 1::bigint WHERE k.key_hash = decode(:key_hash, 'hex') AND k.revoked_at IS NULL AND 'read'::crm_key_scope = ANY (k.scopes)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint ORDER BY c.contact_id LIMIT :limit::int + 1;
