\set n random(0, :seed - 1)
\set r random(1, 1000)
UPDATE plain.contacts c SET first_name = 'Updated' || :r, updated_at = now() FROM plain.api_keys k JOIN plain.api_key_grants g ON g.key_id = k.key_id AND g.listing_id = 1 WHERE k.key_hash = decode(:key_hash, 'hex') AND k.revoked_at IS NULL AND c.listing_id = g.listing_id AND lower(c.email) = lower('bench' || :n || '@example.com') RETURNING c.contact_id, c.unique_id, c.first_name, c.last_name, c.email, c.phone, c.ip_address, c.source, c.status, c.created_at, c.updated_at;
