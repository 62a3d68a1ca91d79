-- Audit trail and per-user patient counts.

-- Append-only record of every access to patient data and every auth event. No names, notes or
-- message text: who, what, which patient, which request, when.
create table audit_events (
    id          bigint generated always as identity primary key,
    occurred_at timestamptz not null default now(),
    user_id     uuid,
    action      text not null check (action ~ '^[a-z_.]{1,64}$'),
    patient_id  uuid,
    request_id  text check (char_length(request_id) <= 128),
    ip          inet
);
create index audit_events_occurred_idx on audit_events (occurred_at desc, id desc);
create index audit_events_user_idx on audit_events (user_id, occurred_at desc);
create index audit_events_patient_idx on audit_events (patient_id, occurred_at desc) where patient_id is not null;

-- The database itself refuses to change history, whoever connects (the owner and superusers
-- included, short of dropping the trigger, which is itself a DDL event an operator would see).
create or replace function audit_events_append_only() returns trigger
language plpgsql as $$
begin
    raise exception 'audit_events is append-only' using errcode = 'insufficient_privilege';
end
$$;
create trigger audit_events_no_update before update or delete on audit_events
    for each statement execute function audit_events_append_only();
create trigger audit_events_no_truncate before truncate on audit_events
    for each statement execute function audit_events_append_only();

grant select, insert on audit_events to dental_app;
revoke update, delete, truncate on audit_events from dental_app;

-- Exact patient totals per user without counting a million rows on every list request.
create table patient_counts (
    user_id uuid primary key references users (id) on delete cascade,
    n       bigint not null default 0 check (n >= 0)
);

create or replace function patient_counts_track() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
begin
    if tg_op = 'INSERT' then
        insert into patient_counts as c (user_id, n) values (new.user_id, 1)
        on conflict (user_id) do update set n = c.n + 1;
    elsif tg_op = 'DELETE' then
        update patient_counts set n = n - 1 where user_id = old.user_id;
    end if;
    return null;
end
$$;
create trigger patients_count after insert or delete on patients
    for each row execute function patient_counts_track();

alter table patient_counts enable row level security;
alter table patient_counts force row level security;
create policy patient_counts_owner on patient_counts
    using (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
grant select on patient_counts to dental_app;
