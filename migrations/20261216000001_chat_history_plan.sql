-- The chat history's plans and the by-id patient lookups, made independent of statistics (issue 20).
--
-- 1. Inside `chat_send`, the query for the turns before a message (`order by created_at desc, id desc limit p_turns`
--    on one patient) estimated one row (row-level security and generic plans multiply the estimates down), so a
--    bitmap scan of the patient's whole history plus a top-5 sort looked as cheap as the ordered index scan: 9.8 ms a
--    message at 4,400 messages of history, against 0.1 ms. The bench's pgbench connections, planned once the table
--    was big, got it (its chat ceiling swung from 3,554 to 228 messages/s); the api's, planned while it was small,
--    did not. With sorting priced out, as for `patient_page` (20261214000004), the index that already orders the
--    history wins whatever the estimates say.
--
-- 2. `jit = off` beside every `enable_sort = off`: a plan that still needs a sort (here the five turns put back
--    oldest first) carries the disabled node's 1e10 cost, far over `jit_above_cost`, and PostgreSQL then compiled
--    the query with LLVM on every call (167 ms of the first message's 213 ms). These are short index reads;
--    compiling them never pays.
--
-- 3. A lookup of one patient by id that says `deleted_at is null` can be served by every partial index of the
--    table (they all carry `where deleted_at is null`); without statistics `is null` is taken to hold for 0.5% of
--    rows, so each of them looks as small as the one row the primary key finds, and the planner picked one at
--    random: with `patients_clinic_at_key_idx` it read the clinic's 5,000 patients for one (the plans test, with
--    the sizes of a table never analysed). The lookups here state the condition as `(deleted_at is null) is true`:
--    the same rows, but a condition the planner does not match to an index predicate, so the primary key is the
--    only index left. `patient_read` and `chat_send` are redefined for it (their bodies otherwise as before).

create or replace function chat_send(p_user uuid, p_clinic uuid, p_allowed text[], p_request text, p_patient uuid,
                                     p_id uuid, p_content text, p_turns bigint, p_key text, p_hash bytea)
returns table (created_at timestamptz, metadata jsonb, name text, medical_notes text, turn_role text,
               turn_content text)
language plpgsql
set plan_cache_mode = force_generic_plan
set enable_sort = off
set jit = off
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
    from patients p where p.clinic_id = p_clinic and p.id = p_patient and (p.deleted_at is null) is true;
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

create or replace function patient_read(p_user uuid, p_clinic uuid, p_allowed text[], p_request text,
                                        p_audit boolean, p_patient uuid)
returns table (role text, id uuid, name text, email text, phone text, date_of_birth date, medical_notes text,
               created_by uuid, created_at timestamptz, updated_at timestamptz, last_emergency_at timestamptz)
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
    v_role text := clinic_gate(p_user, p_clinic, p_allowed, 'patient.read', p_patient, p_request, false);
    v_found boolean;
begin
    return query select v_role, p.id, p.name, p.email, p.phone, p.date_of_birth, p.medical_notes, p.created_by,
                        p.created_at, p.updated_at, p.last_emergency_at
                 from patients p
                 where p.clinic_id = p_clinic and p.id = p_patient and (p.deleted_at is null) is true;
    v_found := found;
    if p_audit then
        insert into audit_events (user_id, clinic_id, action, patient_id, request_id)
        values (p_user, p_clinic, case when v_found then 'patient.read' else 'access.denied' end, p_patient,
                p_request);
    end if;
    if not v_found then
        return query select v_role, null::uuid, null::text, null::text, null::text, null::date, null::text,
                            null::uuid, null::timestamptz, null::timestamptz, null::timestamptz;
    end if;
end
$$;

alter function patient_page(uuid, uuid, text[], text, boolean, text, bigint, bigint) set jit = off;
alter function patient_email_matches(uuid, text, text, text) set jit = off;

-- The api's own history reads, moved into functions for the same two settings (a statement sent from the api
-- cannot carry them without another round trip). With statistics taken while the clinic was new, `GET .../messages`
-- read the patient's whole history (17,005 rows in the plans test) through a bitmap and sorted it for a page of
-- 50. SECURITY INVOKER, called inside the caller's clinic transaction (`db::ClinicTx`): row-level security and the
-- gate's settings apply as before.

-- A page of patient `p_patient`'s history, newest first (the api turns it round), ending just before message
-- `p_before` (or at the newest); no rows when the patient is not the clinic's, is in the trash, or `p_before` is
-- not one of its messages. Two static queries, not one with `p_before is null or ...`: each keeps its own plan, and
-- the second starts the index scan at `p_before` (a row comparison on the index's columns) instead of filtering
-- every newer row.
create function chat_page(p_clinic uuid, p_patient uuid, p_before uuid, p_limit bigint)
returns table (id uuid, role text, content text, metadata jsonb, created_at timestamptz)
language plpgsql
stable
set enable_sort = off
set jit = off
as $$
#variable_conflict use_column
begin
    if not exists (select 1 from patients p
                   where p.clinic_id = p_clinic and p.id = p_patient and (p.deleted_at is null) is true) then
        return;
    end if;
    if p_before is null then
        return query select m.id, m.role, m.content, m.metadata, m.created_at from chat_messages m
                     where m.clinic_id = p_clinic and m.patient_id = p_patient
                     order by m.created_at desc, m.id desc
                     limit p_limit;
    else
        return query select m.id, m.role, m.content, m.metadata, m.created_at from chat_messages m
                     where m.clinic_id = p_clinic and m.patient_id = p_patient
                       and (m.created_at, m.id) < (select b.created_at, b.id from chat_messages b
                                                   where b.clinic_id = p_clinic and b.id = p_before
                                                     and b.patient_id = p_patient)
                     order by m.created_at desc, m.id desc
                     limit p_limit;
    end if;
end
$$;

-- The patient's name and notes and the `p_turns` messages before message `p_before`, oldest first, for answering a
-- saved message (`/reply`): one row per turn, or one row with null turn columns when there is no earlier message; no
-- rows when the patient is not the clinic's or is in the trash.
create function chat_context(p_clinic uuid, p_patient uuid, p_before uuid, p_turns bigint)
returns table (name text, medical_notes text, turn_role text, turn_content text)
language plpgsql
stable
set enable_sort = off
set jit = off
as $$
#variable_conflict use_column
declare
    v_name text;
    v_notes text;
begin
    select p.name, p.medical_notes into v_name, v_notes
    from patients p where p.clinic_id = p_clinic and p.id = p_patient and (p.deleted_at is null) is true;
    if not found then
        return;
    end if;
    return query select v_name, v_notes, h.role, h.content
                 from (select m.role, m.content, m.created_at, m.id from chat_messages m
                       where m.clinic_id = p_clinic and m.patient_id = p_patient
                         and (m.created_at, m.id) < (select b.created_at, b.id from chat_messages b
                                                     where b.clinic_id = p_clinic and b.id = p_before)
                       order by m.created_at desc, m.id desc
                       limit p_turns) h
                 order by h.created_at, h.id;
    if not found then
        return query select v_name, v_notes, null::text, null::text;
    end if;
end
$$;
