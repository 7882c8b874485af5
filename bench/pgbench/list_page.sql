\set after random(:min_id - 1, :max_id - 100)
\set limit 100
SELECT c.contact_id, c.unique_id, c.first_name, c.last_name, c.email, c.phone, c.created_at AT TIME ZONE 'UTC', c.updated_at AT TIME ZONE 'UTC', host(c.ip_address), c.source, c.status FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint, 'read')) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint ORDER BY c.contact_id LIMIT :limit::int + 1;
