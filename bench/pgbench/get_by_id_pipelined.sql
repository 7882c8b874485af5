\set after 0
\set limit 100
\set id1 random(:min_id, :max_id)
\set id2 random(:min_id, :max_id)
\set id3 random(:min_id, :max_id)
\set id4 random(:min_id, :max_id)
\set id5 random(:min_id, :max_id)
\set id6 random(:min_id, :max_id)
\set id7 random(:min_id, :max_id)
\set id8 random(:min_id, :max_id)
\startpipeline
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND c.contact_id = :id1::bigint ORDER BY c.contact_id LIMIT :limit::int + 1;
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND c.contact_id = :id2::bigint ORDER BY c.contact_id LIMIT :limit::int + 1;
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND c.contact_id = :id3::bigint ORDER BY c.contact_id LIMIT :limit::int + 1;
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND c.contact_id = :id4::bigint ORDER BY c.contact_id LIMIT :limit::int + 1;
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND c.contact_id = :id5::bigint ORDER BY c.contact_id LIMIT :limit::int + 1;
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND c.contact_id = :id6::bigint ORDER BY c.contact_id LIMIT :limit::int + 1;
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND c.contact_id = :id7::bigint ORDER BY c.contact_id LIMIT :limit::int + 1;
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND c.contact_id = :id8::bigint ORDER BY c.contact_id LIMIT :limit::int + 1;
\endpipeline
