-- Clinics: the unit of sharing. Every tenant row carries `clinic_id`, its primary and foreign keys include it (so no
-- row can reference another clinic's row, and the tables could be distributed by `clinic_id` on Citus unchanged), and
-- row-level security is keyed on `app.clinic_id` (plus `app.clinic_role` for chat), set per transaction by the api.
--
-- Today's data moves: each existing user becomes the owner of a clinic of their own named "<full_name>'s clinic", and
-- every patient, message, idempotency key, audit row about a patient and refresh family gets that clinic.

create table clinics (
    id          uuid primary key default gen_random_uuid(),
    name        text not null check (char_length(name) between 1 and 200),
    require_mfa boolean not null default false,
    country     text not null default 'US' check (country ~ '^[A-Z]{2}$'),
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
create trigger clinics_updated_at before update on clinics for each row execute function set_updated_at();

create table clinic_members (
    clinic_id uuid not null references clinics (id) on delete cascade,
    user_id   uuid not null references users (id) on delete cascade,
    role      text not null check (role in ('owner', 'clinician', 'reception')),
    joined_at timestamptz not null default now(),
    primary key (clinic_id, user_id)
);
create index clinic_members_user_idx on clinic_members (user_id, joined_at desc);

create table invitations (
    id          uuid not null default gen_random_uuid(),
    clinic_id   uuid not null references clinics (id) on delete cascade,
    email       citext not null check (char_length(email) <= 254),
    role        text not null check (role in ('owner', 'clinician', 'reception')),
    -- SHA-256 of the one-time token; the token itself is shown once and never stored.
    token_hash  bytea not null unique check (octet_length(token_hash) = 32),
    invited_by  uuid references users (id) on delete set null,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    accepted_at timestamptz,
    revoked_at  timestamptz,
    primary key (clinic_id, id)
);

-- One clinic per existing user (a temporary map, dropped at the end of this file).
create temporary table clinic_map as
    select id as user_id, gen_random_uuid() as clinic_id, full_name, created_at from users;

insert into clinics (id, name, created_at, updated_at)
select clinic_id, left(full_name || '''s clinic', 200), created_at, created_at from clinic_map;

insert into clinic_members (clinic_id, user_id, role, joined_at)
select clinic_id, user_id, 'owner', created_at from clinic_map;

-- Policies and keys that name the old columns go first.
drop policy if exists patients_owner on patients;
drop policy if exists chat_messages_owner on chat_messages;
drop policy if exists idempotency_keys_owner on idempotency_keys;
alter table idempotency_keys drop constraint if exists idempotency_keys_user_message_id_fkey;
alter table chat_messages drop constraint if exists chat_messages_patient_id_fkey;
alter table chat_messages drop constraint if exists chat_messages_reply_to_fkey;
alter table chat_messages drop constraint if exists chat_messages_reply_to_key;

-- patients: clinic-owned; `created_by` (today's `user_id`) only says who created it; `deleted_at` is the trash.
alter table patients add column clinic_id uuid;
update patients p set clinic_id = m.clinic_id from clinic_map m where m.user_id = p.user_id;
alter table patients alter column clinic_id set not null;
alter table patients drop constraint if exists patients_user_id_fkey;
alter table patients rename column user_id to created_by;
alter table patients alter column created_by drop not null;
alter table patients add constraint patients_created_by_fkey foreign key (created_by) references users (id) on delete set null;
alter table patients add constraint patients_clinic_fkey foreign key (clinic_id) references clinics (id) on delete cascade;
alter table patients add column deleted_at timestamptz;
alter table patients drop constraint patients_pkey;
alter table patients add primary key (clinic_id, id);
drop index if exists patients_user_created_idx;
drop index if exists patients_user_search_idx;
create index patients_clinic_created_idx on patients (clinic_id, created_at desc, id desc) where deleted_at is null;
create index patients_clinic_search_idx on patients using gin (clinic_id, search_text gin_trgm_ops) where deleted_at is null;
create index patients_clinic_deleted_idx on patients (clinic_id, deleted_at desc, id desc) where deleted_at is not null;

-- chat_messages: `user_id` stays the author.
alter table chat_messages add column clinic_id uuid;
update chat_messages c set clinic_id = p.clinic_id from patients p where p.id = c.patient_id;
alter table chat_messages alter column clinic_id set not null;
alter table chat_messages drop constraint chat_messages_pkey;
alter table chat_messages add primary key (clinic_id, id);
alter table chat_messages add constraint chat_messages_patient_fkey
    foreign key (clinic_id, patient_id) references patients (clinic_id, id) on delete cascade;
alter table chat_messages add constraint chat_messages_reply_to_key unique (clinic_id, reply_to);
alter table chat_messages add constraint chat_messages_reply_to_fkey
    foreign key (clinic_id, reply_to) references chat_messages (clinic_id, id) on delete cascade;
drop index if exists chat_messages_patient_created_idx;
create index chat_messages_patient_created_idx on chat_messages (clinic_id, patient_id, created_at desc, id desc);

-- idempotency_keys: per clinic and user.
alter table idempotency_keys add column clinic_id uuid;
update idempotency_keys k set clinic_id = c.clinic_id from chat_messages c where c.id = k.user_message_id;
delete from idempotency_keys where clinic_id is null;
alter table idempotency_keys alter column clinic_id set not null;
alter table idempotency_keys drop constraint idempotency_keys_pkey;
alter table idempotency_keys add primary key (clinic_id, user_id, key);
alter table idempotency_keys add constraint idempotency_keys_user_message_fkey
    foreign key (clinic_id, user_message_id) references chat_messages (clinic_id, id) on delete cascade;

-- audit_events: the clinic of a patient access (null for auth events). History is append-only, so the trigger
-- that guards it is lifted for the backfill inside this transaction only.
alter table audit_events add column clinic_id uuid;
alter table audit_events disable trigger audit_events_no_update;
update audit_events a set clinic_id = m.clinic_id from clinic_map m
    where m.user_id = a.user_id and a.patient_id is not null;
alter table audit_events enable trigger audit_events_no_update;
create index audit_events_clinic_patient_idx on audit_events (clinic_id, patient_id, occurred_at desc, id desc)
    where clinic_id is not null;

-- refresh_token_families: the session's active clinic (null for a user with none).
alter table refresh_token_families add column clinic_id uuid references clinics (id) on delete set null;
update refresh_token_families f set clinic_id = m.clinic_id from clinic_map m where m.user_id = f.user_id;

-- patient_counts: per clinic, counting only rows outside the trash.
drop trigger if exists patients_count on patients;
drop table patient_counts;
create table patient_counts (
    clinic_id uuid primary key references clinics (id) on delete cascade,
    n         bigint not null default 0 check (n >= 0)
);
insert into patient_counts (clinic_id, n)
select clinic_id, count(*) from patients where deleted_at is null group by clinic_id;

create or replace function patient_counts_track() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
declare
    delta bigint := 0;
    clinic uuid;
begin
    if tg_op = 'INSERT' then
        clinic := new.clinic_id;
        if new.deleted_at is null then delta := 1; end if;
    elsif tg_op = 'DELETE' then
        clinic := old.clinic_id;
        if old.deleted_at is null then delta := -1; end if;
    else
        clinic := new.clinic_id;
        if old.deleted_at is null and new.deleted_at is not null then delta := -1;
        elsif old.deleted_at is not null and new.deleted_at is null then delta := 1;
        end if;
    end if;
    if delta <> 0 then
        insert into patient_counts as c (clinic_id, n) values (clinic, greatest(delta, 0))
        on conflict (clinic_id) do update set n = greatest(c.n + delta, 0);
    end if;
    return null;
end
$$;
create trigger patients_count after insert or delete or update of deleted_at on patients
    for each row execute function patient_counts_track();

-- Row-level security keyed on the clinic; chat (and the idempotency rows that hold its text) also on the role, so a
-- receptionist's transaction sees no message even through a query bug. Without the settings nothing is visible.
create policy patients_clinic on patients
    using (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    with check (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

create policy chat_messages_clinic on chat_messages
    using (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
           and current_setting('app.clinic_role', true) in ('owner', 'clinician'))
    with check (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
                and current_setting('app.clinic_role', true) in ('owner', 'clinician'));

create policy idempotency_keys_clinic on idempotency_keys
    using (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
           and current_setting('app.clinic_role', true) in ('owner', 'clinician'))
    with check (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
                and current_setting('app.clinic_role', true) in ('owner', 'clinician'));

alter table patient_counts enable row level security;
alter table patient_counts force row level security;
create policy patient_counts_clinic on patient_counts
    using (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

alter table invitations enable row level security;
alter table invitations force row level security;
create policy invitations_clinic on invitations
    using (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    with check (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

grant select, insert, update on clinics to dental_app;
grant select, insert, update, delete on clinic_members, invitations to dental_app;
grant select on patient_counts to dental_app;

drop table clinic_map;
