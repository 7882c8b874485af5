\set n random(0, :seed - 1)
\set r random(1, 1000)
SELECT outcome, contact_id, payload::text FROM crm_api_upsert(decode(:key_hash, 'hex'), 1::bigint, NULL::bigint, 'Updated' || :r, NULL, 'bench' || :n || '@example.com', NULL, '127.0.0.1'::inet, true, false, true, false, false, 'bench', '0123456789abcdef0000000000000001');
