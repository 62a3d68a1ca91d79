-- Foundation: users, patients, chat messages, the least-privilege application role and row-level security.

create extension if not exists citext;
create extension if not exists pg_trgm;

-- The role every api query runs as (`set role dental_app` on each pooled connection). It owns nothing, so
-- row-level security binds it even when DATABASE_URL names a superuser or the tables' owner.
-- Roles are cluster-wide while migrations run per database (tests create many databases at once), so a
-- concurrent creation elsewhere is not an error.
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'dental_app') then
        create role dental_app nologin;
    end if;
exception
    when duplicate_object or unique_violation then null;
end
$$;

-- The migrating user must be able to `set role dental_app` (a no-op grant for a superuser).
do $$
begin
    execute format('grant dental_app to %I', current_user);
exception
    when others then null;
end
$$;

create or replace function set_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end
$$;

create table users (
    id            uuid primary key default gen_random_uuid(),
    email         citext not null,
    password_hash text not null,
    full_name     text not null check (char_length(full_name) between 1 and 200),
    role          text not null default 'user' check (role in ('user', 'admin')),
    is_active     boolean not null default true,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint users_email_key unique (email)
);
create trigger users_updated_at before update on users for each row execute function set_updated_at();
create index users_created_idx on users (created_at desc, id desc);

create table patients (
    id            uuid primary key default gen_random_uuid(),
    user_id       uuid not null references users (id) on delete cascade,
    name          text not null check (char_length(name) between 1 and 200),
    email         text check (char_length(email) <= 254),
    phone         text check (phone ~ '^\+[1-9][0-9]{6,14}$'),
    date_of_birth date check (date_of_birth >= date '1900-01-01'),
    medical_notes text check (char_length(medical_notes) <= 10000),
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now()
);
create trigger patients_updated_at before update on patients for each row execute function set_updated_at();
-- Listing: one user's patients, newest first (keyset-friendly thanks to the id tiebreaker).
create index patients_user_created_idx on patients (user_id, created_at desc, id desc);
-- Search: case-insensitive substring of name, email or phone through trigrams.
create index patients_search_trgm_idx on patients
    using gin ((name || ' ' || coalesce(email, '') || ' ' || coalesce(phone, '')) gin_trgm_ops);

create table chat_messages (
    id         uuid primary key,
    patient_id uuid not null references patients (id) on delete cascade,
    user_id    uuid not null references users (id) on delete cascade,
    role       text not null check (role in ('user', 'assistant')),
    content    text not null check (char_length(content) between 1 and 100000),
    metadata   jsonb not null default '{}'::jsonb,
    -- The user message an assistant message answers; unique, so a message gets at most one reply.
    reply_to   uuid unique references chat_messages (id) on delete cascade,
    created_at timestamptz not null default clock_timestamp(),
    updated_at timestamptz not null default now(),
    -- Every assistant message answers exactly one user message; user messages answer nothing.
    constraint chat_messages_reply_role check ((role = 'assistant') = (reply_to is not null))
);
create trigger chat_messages_updated_at before update on chat_messages for each row execute function set_updated_at();
-- History of one patient, newest first for the "last N" and cursor pages.
create index chat_messages_patient_created_idx on chat_messages (patient_id, created_at desc, id desc);
-- A user's own activity (per-user chat volume, audits).
create index chat_messages_user_created_idx on chat_messages (user_id, created_at desc);

-- Row-level security: the rows a transaction sees are those of `app.user_id`, set per transaction by the api.
-- Without the setting, nothing is visible (fails closed).
alter table patients enable row level security;
alter table patients force row level security;
create policy patients_owner on patients
    using (user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    with check (user_id = nullif(current_setting('app.user_id', true), '')::uuid);

alter table chat_messages enable row level security;
alter table chat_messages force row level security;
create policy chat_messages_owner on chat_messages
    using (user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    with check (user_id = nullif(current_setting('app.user_id', true), '')::uuid);

grant usage on schema public to dental_app;
grant select, insert, update on users to dental_app;
grant select, insert, update, delete on patients, chat_messages to dental_app;
