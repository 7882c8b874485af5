-- 007: PUT without races.
--
-- 004's upsert looked the contact up without a lock and locked it in a second statement, so a
-- DELETE committed in between left it updating nothing (and answering 200 with an all-null
-- contact); and concurrent PUTs creating one new email could give up with a 409 after three
-- unique violations. This version is race-free by construction:
--
-- * The lookup locks what it finds (`FOR UPDATE` in the same statement). A row deleted by a
--   transaction that commits while we wait is skipped, so the PUT behaves as if it had arrived
--   after the DELETE: it creates the contact (201) when it has an email or phone, else 404.
-- * A row we hold locked cannot go away, so the UPDATE always finds it.
-- * The INSERT is `ON CONFLICT DO NOTHING`: when a concurrent writer committed the same email
--   or phone first, nothing is raised and we look again; the next lookup sees that row (each
--   statement of a READ COMMITTED function takes a new snapshot) and updates it. Without an id,
--   a PUT therefore never answers 409 for a contact that another PUT created meanwhile.
-- * With an id that is not (or no longer) in the listing, a conflicting insert means another
--   contact holds the email or phone: 409 with that contact's id, as before.
--
-- The loop only turns again when a row it conflicted with was deleted before it could be read,
-- i.e. when other writers made progress.
CREATE OR REPLACE FUNCTION crm_api_upsert(
    p_key_hash bytea, p_listing_id bigint, p_contact_id bigint,
    p_first_name text, p_last_name text, p_email text, p_phone text, p_ip inet,
    p_set_first_name boolean, p_set_last_name boolean, p_set_email boolean, p_set_phone boolean,
    p_set_ip boolean)
RETURNS TABLE (outcome text, contact_id bigint, payload json)
LANGUAGE plpgsql AS $$
DECLARE
    c contacts;
    v_target bigint;
    v_matches bigint[];
    v_holder bigint;
    v_column text;
    v_constraint text;
BEGIN
    IF NOT crm_key_grants(p_key_hash, p_listing_id) THEN
        RETURN QUERY SELECT 'forbidden', NULL::bigint, NULL::json;
        RETURN;
    END IF;
    LOOP
        -- Find the contact and lock it in one statement.
        IF p_contact_id IS NOT NULL THEN
            SELECT x.contact_id INTO v_target FROM contacts x
             WHERE x.listing_id = p_listing_id AND x.contact_id = p_contact_id FOR UPDATE;
        ELSE
            SELECT array_agg(m.contact_id ORDER BY m.contact_id) INTO v_matches
              FROM (SELECT x.contact_id FROM contacts x
                     WHERE x.listing_id = p_listing_id
                       AND (lower(x.email) = lower(p_email) OR x.phone = p_phone)
                     ORDER BY x.contact_id FOR UPDATE) m;
            IF cardinality(v_matches) > 1 THEN
                RETURN QUERY SELECT 'conflict', v_matches[1], NULL::json;
                RETURN;
            END IF;
            v_target := v_matches[1];
        END IF;

        BEGIN
            IF v_target IS NOT NULL THEN
                UPDATE contacts x SET
                    first_name = CASE WHEN p_set_first_name THEN p_first_name ELSE x.first_name END,
                    last_name  = CASE WHEN p_set_last_name  THEN p_last_name  ELSE x.last_name  END,
                    email      = CASE WHEN p_set_email      THEN p_email      ELSE x.email      END,
                    phone      = CASE WHEN p_set_phone      THEN p_phone      ELSE x.phone      END,
                    ip_address = CASE WHEN p_set_ip         THEN p_ip         ELSE x.ip_address END
                 WHERE x.listing_id = p_listing_id AND x.contact_id = v_target
                RETURNING * INTO STRICT c;
                RETURN QUERY SELECT 'updated', c.contact_id, crm_contact_json(c);
                RETURN;
            ELSIF p_email IS NULL AND p_phone IS NULL THEN
                RETURN QUERY SELECT 'not_found', NULL::bigint, NULL::json;
                RETURN;
            END IF;
            INSERT INTO contacts (listing_id, first_name, last_name, email, phone, ip_address)
            VALUES (p_listing_id, p_first_name, p_last_name, p_email, p_phone, p_ip)
            ON CONFLICT DO NOTHING
            RETURNING * INTO c;
            IF FOUND THEN
                RETURN QUERY SELECT 'created', c.contact_id, crm_contact_json(c);
                RETURN;
            END IF;
            -- A committed contact holds the email or phone.
            IF p_contact_id IS NOT NULL THEN
                v_holder := crm_contact_holding(p_listing_id, p_email, p_phone);
                IF v_holder IS NOT NULL THEN
                    RETURN QUERY SELECT 'duplicate', v_holder, NULL::json;
                    RETURN;
                END IF;
            END IF;
            -- Without an id: that contact is the one to update; look again.
        EXCEPTION
            WHEN unique_violation THEN
                -- The UPDATE gave the contact an email or phone that another contact holds.
                RETURN QUERY SELECT 'duplicate',
                    (SELECT x.contact_id FROM contacts x
                      WHERE x.listing_id = p_listing_id AND x.contact_id IS DISTINCT FROM v_target
                        AND (lower(x.email) = lower(p_email) OR x.phone = p_phone)
                      ORDER BY x.contact_id LIMIT 1),
                    NULL::json;
                RETURN;
            WHEN SQLSTATE 'CRMBL' THEN
                GET STACKED DIAGNOSTICS v_column = COLUMN_NAME;
                RETURN QUERY SELECT 'blacklisted', NULL::bigint, to_json(v_column);
                RETURN;
            WHEN check_violation THEN
                GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
                IF v_constraint = 'contacts_email_or_phone' THEN
                    -- Clearing the last of email and phone.
                    RETURN QUERY SELECT 'last_contact_point', v_target,
                        to_json(CASE WHEN p_set_email THEN 'email' ELSE 'phone' END);
                ELSE
                    RETURN QUERY SELECT 'invalid', v_target, to_json(crm_constraint_parameter(v_constraint));
                END IF;
                RETURN;
        END;
    END LOOP;
END
$$;
