\set r random(1, 1000000000000)
SELECT outcome, contact_id, payload::text FROM crm_api_create(decode(:key_hash, 'hex'), 1::bigint, 'Load', 'Test', 'pg-' || :client_id || '-' || :r || '@example.com', NULL, '127.0.0.1'::inet, 'bench', '0123456789abcdef0000000000000001');
