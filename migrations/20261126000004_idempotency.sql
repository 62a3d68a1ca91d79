-- Idempotency keys for POST /patients/{id}/messages: a retried request (same key, same body) within
-- 24 hours returns the first result instead of saving a second message.
create table idempotency_keys (
    user_id         uuid not null references users (id) on delete cascade,
    key             text not null check (char_length(key) between 1 and 255),
    request_hash    bytea not null,
    user_message_id uuid not null references chat_messages (id) on delete cascade,
    -- The 201 body once the reply exists; null while the first attempt is in flight or failed upstream.
    response        jsonb,
    created_at      timestamptz not null default now(),
    primary key (user_id, key)
);
create index idempotency_keys_created_idx on idempotency_keys (created_at);

-- Stored responses hold message text: the same isolation as the messages themselves.
alter table idempotency_keys enable row level security;
alter table idempotency_keys force row level security;
create policy idempotency_keys_owner on idempotency_keys
    using (user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    with check (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
grant select, insert, update, delete on idempotency_keys to dental_app;
