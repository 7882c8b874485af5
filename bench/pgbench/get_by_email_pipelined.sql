\set after 0
\set limit 100
\set n1 random(0, :seed - 1)
\set n2 random(0, :seed - 1)
\set n3 random(0, :seed - 1)
\set n4 random(0, :seed - 1)
\set n5 random(0, :seed - 1)
\set n6 random(0, :seed - 1)
\set n7 random(0, :seed - 1)
\set n8 random(0, :seed - 1)
\startpipeline
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND lower(c.email) = lower('bench' || :n1 || '@example.com') ORDER BY c.contact_id LIMIT :limit::int + 1;
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND lower(c.email) = lower('bench' || :n2 || '@example.com') ORDER BY c.contact_id LIMIT :limit::int + 1;
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND lower(c.email) = lower('bench' || :n3 || '@example.com') ORDER BY c.contact_id LIMIT :limit::int + 1;
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND lower(c.email) = lower('bench' || :n4 || '@example.com') ORDER BY c.contact_id LIMIT :limit::int + 1;
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND lower(c.email) = lower('bench' || :n5 || '@example.com') ORDER BY c.contact_id LIMIT :limit::int + 1;
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND lower(c.email) = lower('bench' || :n6 || '@example.com') ORDER BY c.contact_id LIMIT :limit::int + 1;
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND lower(c.email) = lower('bench' || :n7 || '@example.com') ORDER BY c.contact_id LIMIT :limit::int + 1;
SELECT c.contact_id, crm_contact_json(c)::text FROM contacts c WHERE EXISTS (SELECT FROM crm_granted_listing(decode(:key_hash, 'hex'), 1::bigint)) AND c.listing_id = 1::bigint AND c.contact_id > :after::bigint AND lower(c.email) = lower('bench' || :n8 || '@example.com') ORDER BY c.contact_id LIMIT :limit::int + 1;
\endpipeline
