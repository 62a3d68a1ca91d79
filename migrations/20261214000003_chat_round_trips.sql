-- A chat message in two round trips (issue 20). Before, the user's message took one transaction of five statements
-- (BEGIN, the gate, the context query, the insert, COMMIT) and the reply another of four. Now each is one call of a
-- route function, committed on its own as before: the user's message (and its audit row, and its idempotency key)
-- is committed before the model is called, and the reply in a second call once the model answered.
-- SECURITY INVOKER like the functions of 20261214000001: row-level security applies to every statement here.

-- Saves the user's message `p_id` with `p_content` to patient `p_patient` and returns what the model call needs:
-- the patient's name and notes and the `p_turns` messages before this one, oldest first (one row per turn; a
-- patient without history is one row whose turn columns are null). Every row carries the message's `created_at`
-- and `metadata` as stored. The gate (`message.send`) runs first; its audit row is written only once the patient
-- is found. A patient not in this clinic, or in the trash, returns no rows and records `access.denied` (committed:
-- the attempt is kept although the request fails). With `p_key`, the idempotency key is recorded with the message
-- (replacing an expired record of the same key); a live record raises DA409 and nothing is saved.
create function chat_send(p_user uuid, p_clinic uuid, p_allowed text[], p_request text, p_patient uuid,
                          p_id uuid, p_content text, p_turns bigint, p_key text, p_hash bytea)
returns table (created_at timestamptz, metadata jsonb, name text, medical_notes text, turn_role text,
               turn_content text)
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
    v_role text := clinic_gate(p_user, p_clinic, p_allowed, 'message.send', p_patient, p_request, false);
    v_name text;
    v_notes text;
    v_created timestamptz;
    v_metadata jsonb;
begin
    select p.name, p.medical_notes into v_name, v_notes
    from patients p where p.clinic_id = p_clinic and p.id = p_patient and p.deleted_at is null;
    if not found then
        insert into audit_events (user_id, clinic_id, action, patient_id, request_id)
        values (p_user, p_clinic, 'access.denied', p_patient, p_request);
        return;
    end if;
    insert into audit_events (user_id, clinic_id, action, patient_id, request_id)
    values (p_user, p_clinic, 'message.send', p_patient, p_request);
    insert into chat_messages (clinic_id, id, patient_id, user_id, role, content)
    values (p_clinic, p_id, p_patient, p_user, 'user', p_content)
    returning chat_messages.created_at, chat_messages.metadata into v_created, v_metadata;
    if p_key is not null then
        insert into idempotency_keys as k (clinic_id, user_id, key, request_hash, user_message_id)
        values (p_clinic, p_user, p_key, p_hash, p_id)
        on conflict (clinic_id, user_id, key) do update
            set request_hash = excluded.request_hash, user_message_id = excluded.user_message_id,
                response = null, created_at = now()
            where k.created_at <= now() - interval '24 hours';
        if not found then
            raise exception 'idempotency key in use' using errcode = 'DA409';
        end if;
    end if;
    -- The turns before this message: the newest `p_turns` other than it, by the (clinic, patient, time) index.
    return query select v_created, v_metadata, v_name, v_notes, h.role, h.content
                 from (select m.role, m.content, m.created_at, m.id from chat_messages m
                       where m.clinic_id = p_clinic and m.patient_id = p_patient and m.id <> p_id
                       order by m.created_at desc, m.id desc
                       limit p_turns) h
                 order by h.created_at, h.id;
    if not found then
        return query select v_created, v_metadata, v_name, v_notes, null::text, null::text;
    end if;
end
$$;

-- Saves the assistant's reply `p_id` to user message `p_reply_to` (gate `message.reply`, with its audit row) and
-- returns its `created_at`. A second reply to the same message violates `chat_messages_reply_to_key` (409).
create function chat_reply(p_user uuid, p_clinic uuid, p_allowed text[], p_request text, p_patient uuid,
                           p_reply_to uuid, p_id uuid, p_content text, p_metadata jsonb)
returns timestamptz
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
declare
    v_role text := clinic_gate(p_user, p_clinic, p_allowed, 'message.reply', p_patient, p_request, true);
    v_created timestamptz;
begin
    insert into chat_messages (clinic_id, id, patient_id, user_id, role, content, metadata, reply_to)
    values (p_clinic, p_id, p_patient, p_user, 'assistant', p_content, p_metadata, p_reply_to)
    returning created_at into v_created;
    return v_created;
end
$$;
