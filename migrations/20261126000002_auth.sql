-- Refresh tokens: opaque values stored only as SHA-256 hashes, grouped in families for reuse detection.

create table refresh_token_families (
    id         uuid primary key default gen_random_uuid(),
    user_id    uuid not null references users (id) on delete cascade,
    created_at timestamptz not null default now(),
    -- Absolute lifetime: rotation never extends it.
    expires_at timestamptz not null,
    revoked_at timestamptz,
    -- Why it was revoked: logout, reuse, deactivated.
    revoked_reason text
);
create index refresh_token_families_user_idx on refresh_token_families (user_id);

create table refresh_tokens (
    token_hash bytea primary key check (octet_length(token_hash) = 32),
    family_id  uuid not null references refresh_token_families (id) on delete cascade,
    created_at timestamptz not null default now(),
    used_at    timestamptz
);
create index refresh_tokens_family_idx on refresh_tokens (family_id);

grant select, insert, update, delete on refresh_token_families, refresh_tokens to dental_app;
