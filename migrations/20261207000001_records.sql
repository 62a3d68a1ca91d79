-- Records: the retention job's role, and the index the clinic overview aggregates on.
--
-- The retention job (api `retention` module) purges patients past PATIENT_RETENTION_DAYS in the trash, expired
-- idempotency keys and spent refresh-token families. It must see every clinic's trash, yet the tables force
-- row-level security on everyone but superusers. Rather than a SECURITY DEFINER function (which only helps if its
-- owner bypasses RLS, i.e. a superuser owns the schema) or a second pool without `set role dental_app` (the same
-- problem, and a superuser connection in the process), the job runs as its own role, `dental_retention`, whose
-- policies say exactly what it may touch: patients already in the trash, idempotency keys older than a day, and
-- nothing else of any tenant table. A bug in the job cannot delete a live patient: the database refuses to show
-- it one.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'dental_retention') then
        create role dental_retention nologin;
    end if;
exception
    when duplicate_object or unique_violation then null;
end
$$;

-- The api's login user switches to it per transaction (`set local role dental_retention`).
do $$
begin
    execute format('grant dental_retention to %I', current_user);
exception
    when others then null;
end
$$;

grant usage on schema public to dental_retention;
grant select, delete on patients, idempotency_keys, refresh_token_families, refresh_tokens to dental_retention;
grant insert on audit_events to dental_retention;

-- Only trashed patients are visible to the job (their messages go by the cascading foreign key).
create policy patients_retention on patients for all to dental_retention
    using (deleted_at is not null);

-- Only keys past their 24 hours.
create policy idempotency_keys_retention on idempotency_keys for all to dental_retention
    using (created_at < now() - interval '24 hours');

-- The overview (`GET /clinic/stats`): one clinic's messages in a date range.
create index chat_messages_clinic_created_idx on chat_messages (clinic_id, created_at) include (role);

-- The job's refresh-family sweep (expired, or revoked more than a day ago).
create index refresh_token_families_expires_idx on refresh_token_families (expires_at);
create index refresh_token_families_revoked_idx on refresh_token_families (revoked_at) where revoked_at is not null;
