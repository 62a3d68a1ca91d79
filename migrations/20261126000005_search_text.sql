-- Patient search that uses its trigram index under row-level security.
--
-- With RLS, PostgreSQL evaluates a query's own conditions after the policy unless their functions are
-- LEAKPROOF, so `... ilike '%q%'` over an expression of `name`, `email` and `phone` could never use the
-- trigram index: at a million patients every search read the whole table (EXPLAIN in DESIGN.md).
-- Two changes fix it: the searched text becomes one stored column (no concatenation functions in the
-- condition), and `texticlike` (ILIKE) is marked LEAKPROOF. That is sound: its only errors concern the
-- pattern (which the api builds and escapes), never a row's content, and the policy still filters
-- every row returned. Marking a function LEAKPROOF needs a superuser; without one the search stays
-- correct and isolated, only slower (a notice says so).

alter table patients
    add column search_text text generated always as (name || ' ' || coalesce(email, '') || ' ' || coalesce(phone, '')) stored;

drop index if exists patients_search_trgm_idx;
create index patients_search_trgm_idx on patients using gin (search_text gin_trgm_ops);

do $$
begin
    if (select rolsuper from pg_roles where rolname = current_user) then
        alter function texticlike(text, text) leakproof;
    else
        raise notice 'not a superuser: texticlike stays non-leakproof, so patient search scans the owner''s rows instead of the trigram index';
    end if;
end
$$;
