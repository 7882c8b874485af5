\set h random(65536, 1048575)
\set after 0
\set limit 20
WITH page AS (SELECT c AS contact, row_number() OVER (ORDER BY c.contact_id) AS position FROM contacts c WHERE crm_key_grants(decode(:key_hash, 'hex'), 1::bigint) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND lower(c.last_name) LIKE '%' || crm_like_literal(lower(to_hex(:h::int))) || '%' ORDER BY c.contact_id LIMIT :limit::int + 1) SELECT crm_key_grants(decode(:key_hash, 'hex'), 1::bigint), coalesce((SELECT json_agg(crm_contact_json(contact) ORDER BY position) FROM page WHERE position <= :limit::int), '[]')::text, (SELECT count(*) FROM page WHERE position <= :limit::int)::int, (SELECT (contact).contact_id FROM page WHERE position = :limit::int AND EXISTS (SELECT 1 FROM page WHERE position > :limit::int));
