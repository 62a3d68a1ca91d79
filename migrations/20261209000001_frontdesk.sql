-- The front desk's patient records: accent-free search, phone digits, sort keys, duplicates, last emergency.
--
-- Search stays index-backed under row-level security (see 20261126000005_search_text.sql): every condition on a
-- row is a LEAKPROOF operator (`texticlike`, `texteq`) on a stored column, never a function of a column, so the
-- planner may apply it through the index before the policy. The folding (lower-case, accents removed) therefore
-- lives in stored generated columns, and the api folds the search term with the same function.
create extension if not exists unaccent;

-- `unaccent(text)` is only STABLE (it reads the dictionary named by search_path), so it cannot feed a generated
-- column or an index. Naming the dictionary and schema makes the result depend on the argument alone: IMMUTABLE
-- is then true for as long as nobody edits the unaccent rules file (rebuild the columns if someone does).
create or replace function patient_fold(text) returns text
    language sql immutable strict parallel safe
    set search_path = public, pg_temp
    as $$ select lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$;

drop index if exists patients_clinic_search_idx;
alter table patients drop column search_text;
-- What `q` matches: folded name and email, then the phone's digits (`612 345` is searched as `612345`).
alter table patients
    add column search_text text generated always as (
        patient_fold(name) || ' ' || coalesce(patient_fold(email), '') || ' ' || coalesce(regexp_replace(phone, '[^0-9]', '', 'g'), '')
    ) stored,
    -- The name as the front desk compares and sorts it (`Fernández` = `fernandez`).
    add column name_key text generated always as (patient_fold(name)) stored,
    -- When an assistant message flagged as an emergency was last saved for this patient (the trigger below).
    add column last_emergency_at timestamptz;

create index patients_clinic_search_idx on patients using gin (clinic_id, search_text gin_trgm_ops) where deleted_at is null;

-- One index per sort key, each ending in `id` like the query's order, so a page is an index scan (forward or
-- backward) however many patients the clinic has. `-createdAt` has patients_clinic_created_idx.
create index patients_clinic_name_idx on patients (clinic_id, name_key, id) where deleted_at is null;
create index patients_clinic_birth_idx on patients (clinic_id, date_of_birth, id) where deleted_at is null;
create index patients_clinic_updated_idx on patients (clinic_id, updated_at desc, id desc) where deleted_at is null;
-- Duplicate checks on create: same email, or same folded name and date of birth (the name index serves that).
create index patients_clinic_email_idx on patients (clinic_id, email) where deleted_at is null and email is not null;

-- `lastEmergencyAt` is kept on the patient, in the transaction that saves the flagged assistant message, so every
-- path that saves one (unary, stream, replay) sets it, a receptionist (who sees no chat) still sees the marker, and
-- the list reads a column instead of probing chat per row.
create or replace function patients_note_emergency() returns trigger
language plpgsql set search_path = public, pg_temp as $$
begin
    update patients set last_emergency_at = greatest(last_emergency_at, new.created_at)
    where clinic_id = new.clinic_id and id = new.patient_id;
    return null;
end
$$;
create trigger chat_messages_emergency after insert on chat_messages
    for each row
    when (new.role = 'assistant' and (new.metadata -> 'emergency' ->> 'detected') = 'true')
    execute function patients_note_emergency();

-- An emergency is not an edit of the record: `updated_at` (and so `-updatedAt`) moves only when the update leaves
-- `last_emergency_at` alone, which every api update does.
drop trigger patients_updated_at on patients;
create trigger patients_updated_at before update on patients
    for each row when (new.last_emergency_at is not distinct from old.last_emergency_at)
    execute function set_updated_at();
