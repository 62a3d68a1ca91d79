-- Two tabs refreshing with the same token at once: the token rotated a moment ago returns the same
-- successor for a short grace instead of counting as reuse. To hand the successor out again without
-- storing it, the spent row keeps it sealed: XOR with HMAC(server key, presented token), so neither
-- a database reader (no key, no token) nor a thief of the old token alone (no key) can open it.
-- Cleared once the grace is over.
alter table refresh_tokens
    add column successor_sealed bytea check (octet_length(successor_sealed) = 32);
