-- Accounts v2 (issue 17): two-factor sign-in with TOTP, one-time recovery codes, the second sign-in step's
-- challenge, and sessions a user can see (each refresh-token family is one).

-- One TOTP factor per account. `secret_sealed` is nonce || AES-256-GCM(secret), with the user id as associated
-- data, under a key derived from MFA_ENCRYPTION_KEY: a database dump alone does not give the secret, and a sealed
-- secret copied onto another account does not open. `enabled_at` is null while the set-up awaits its first code.
-- `last_step` is the last accepted RFC 6238 time step: a code for that step or an earlier one is refused.
create table user_mfa (
    user_id       uuid primary key references users (id) on delete cascade,
    secret_sealed bytea not null check (octet_length(secret_sealed) between 28 and 128),
    enabled_at    timestamptz,
    last_step     bigint,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now()
);
create trigger user_mfa_updated_at before update on user_mfa for each row execute function set_updated_at();

-- Ten per enabling, shown once, stored as SHA-256 (each has 80 random bits, so no slow hash is needed).
create table mfa_recovery_codes (
    code_hash  bytea primary key check (octet_length(code_hash) = 32),
    user_id    uuid not null references users (id) on delete cascade,
    created_at timestamptz not null default now(),
    used_at    timestamptz
);
create index mfa_recovery_codes_user_idx on mfa_recovery_codes (user_id);

-- The token `POST /auth/login` hands out when a code is still needed: bound to the account, five minutes,
-- single use, stored as SHA-256.
create table mfa_challenges (
    token_hash bytea primary key check (octet_length(token_hash) = 32),
    user_id    uuid not null references users (id) on delete cascade,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at    timestamptz
);
create index mfa_challenges_user_idx on mfa_challenges (user_id);
create index mfa_challenges_expires_idx on mfa_challenges (expires_at);

-- A session is a refresh-token family: where it was started from and when it was last refreshed.
alter table refresh_token_families
    add column user_agent   text check (char_length(user_agent) <= 512),
    add column ip           inet,
    add column last_used_at timestamptz;

grant select, insert, update, delete on user_mfa, mfa_recovery_codes, mfa_challenges to dental_app;
