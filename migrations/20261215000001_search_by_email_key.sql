-- Email-shaped search terms through a b-tree (issue 20). The trigram index finds `patient777@` among a million
-- patients slowly when every email shares most of its trigrams (`pat`, `ati`, ... in every seeded row; `gma`, `ail`
-- in a third of real ones): GIN's fast scan picks candidates from the rarest trigram but still walks the posting
-- trees of the common ones, 1,400-2,200 index pages per query. A term with no whitespace and exactly one `@`, `L@D`,
-- can only match inside the email (names aside, below), and it matches exactly when the email's part before its
-- `@` ends with `L` and the part after it starts with `D`. So each patient keeps that part reversed in `at_key`, and
-- the search reads the keys that start with `L` reversed: one b-tree range however many patients share a domain
-- or a prefix, then the ILIKE checks `D` (and the rest) on those rows only. The results are exactly the trigram
-- path's: a name containing `@` (allowed, if odd) keys its row as '' and such rows are always candidates, as is an
-- email whose folded form does not have exactly one `@`; a row without email and without `@` cannot match.
--
-- `at_key` uses the "C" collation so that a prefix is a byte range (`>= lo and < lo || U+10FFFF`) and compares
-- with `text_ge` / `text_lt`, which are LEAKPROOF: the range is applied through the index under row-level
-- security like the trigram search (20261126000005_search_text.sql). A term with an empty `L` (`@example.com`)
-- stays on the trigram path: every email would be a candidate.
alter table patients
    add column at_key text collate "C" generated always as (
        case
            when strpos(patient_fold(name), '@') > 0 then ''
            when email is null then null
            when length(patient_fold(email)) - length(replace(patient_fold(email), '@', '')) <> 1 then ''
            else reverse(split_part(patient_fold(email), '@', 1))
        end
    ) stored;

create index patients_clinic_at_key_idx on patients (clinic_id, at_key) where deleted_at is null;

-- The ids whose email key starts with `p_lo` (the range up to `p_hi`), and the ids keyed '' (an `@` in the name:
-- always candidates; when `p_lo` is '' the range already holds them). Two branches, not one `or`: an `or` needs a
-- BitmapOr, and with stale statistics (a clinic analysed while it was new) the planner costed walking the clinic's
-- primary key lower, filtering 5,000 rows for one match in the plans test. Each branch asks for its rows in the
-- email key's order and sorting is off, so the one plan that needs no sort, the range of that index, wins
-- whatever the statistics say (as for `patient_page`, 20261214000004_plans_without_statistics.sql).
create function patient_email_candidates(p_clinic uuid, p_lo text, p_hi text)
returns setof uuid
language sql
stable
set enable_sort = off
as $$
    (select p.id from patients p
     where p.clinic_id = p_clinic and p.deleted_at is null
       and p.at_key >= p_lo collate "C" and p.at_key < p_hi collate "C"
     order by p.at_key)
    union all
    (select p.id from patients p
     where p.clinic_id = p_clinic and p.deleted_at is null and p.at_key = '' and p_lo <> ''
     order by p.at_key)
$$;

drop function patient_search(uuid, uuid, text[], text, boolean, text, text, text, bigint, bigint);

-- As in 20261214000001_one_round_trip.sql, with `p_email`: the term as typed when it is email-shaped (the api's
-- `SearchTerm`), which then takes the `at_key` path.
create function patient_search(p_user uuid, p_clinic uuid, p_allowed text[], p_request text, p_audit boolean,
                               p_sort text, p_text text, p_digits text, p_email text, p_limit bigint,
                               p_offset bigint)
returns table (role text, id uuid, name text, email text, phone text, date_of_birth date, medical_notes text,
               created_by uuid, created_at timestamptz, updated_at timestamptz, last_emergency_at timestamptz,
               total bigint)
language plpgsql
as $$
#variable_conflict use_column
declare
    v_role text := clinic_gate(p_user, p_clinic, p_allowed, 'patient.list', null, p_request, p_audit);
    -- Folded once here: `patient_fold($2)` in the query's condition ran again for every row the index's
    -- recheck visited (half the time of a common term at a million patients).
    v_text text := patient_fold(p_text);
    v_total bigint;
    -- An email-shaped term `L@D`: the reversed, folded `L`, and the end of the key range that starts with it.
    v_lo text collate "C" := reverse(patient_fold(split_part(p_email, '@', 1)));
    v_hi text collate "C" := reverse(patient_fold(split_part(p_email, '@', 1))) || chr(1114111);
begin
    if p_email is not null then
        -- The candidates (`patient_email_candidates`), then the ILIKE keeps those that contain the whole term. The
        -- matches are few, so they are sorted here rather than read in an index's order.
        return query with matches as materialized (
                         select p.* from patients p
                         where p.clinic_id = p_clinic and p.deleted_at is null
                           and p.id = any (array(select patient_email_candidates(p_clinic, v_lo, v_hi)))
                           and p.search_text ilike v_text)
                     select v_role, m.id, m.name, m.email, m.phone, m.date_of_birth, m.medical_notes, m.created_by,
                            m.created_at, m.updated_at, m.last_emergency_at, count(*) over ()
                     from matches m
                     order by case when p_sort = 'name' then m.name_key end,
                              case when p_sort = '-name' then m.name_key end desc,
                              case when p_sort = 'dateOfBirth' then m.date_of_birth end,
                              case when p_sort = '-updatedAt' then m.updated_at end desc,
                              case when p_sort not in ('name', '-name', 'dateOfBirth', '-updatedAt')
                                   then m.created_at end desc,
                              case when p_sort in ('name', 'dateOfBirth') then m.id end,
                              m.id desc
                     limit p_limit offset p_offset;
        if not found then
            v_total := case when p_offset > 0 then
                           (select count(*) from patients p
                            where p.clinic_id = p_clinic and p.deleted_at is null
                              and p.id = any (array(select patient_email_candidates(p_clinic, v_lo, v_hi)))
                              and p.search_text ilike v_text)
                       else 0 end;
            return query select v_role, null::uuid, null::text, null::text, null::text, null::date, null::text,
                                null::uuid, null::timestamptz, null::timestamptz, null::timestamptz, v_total;
        end if;
        return;
    end if;
    -- The matches are materialised so that the planner picks the trigram index for the match itself, not the
    -- ordered index scan the LIMIT alone would suggest.
    if p_sort = 'name' then
        return query with matches as materialized (
                         select p.* from patients p
                         where p.clinic_id = p_clinic and p.deleted_at is null
                           and (p.search_text ilike v_text or p.search_text ilike p_digits))
                     select v_role, m.id, m.name, m.email, m.phone, m.date_of_birth, m.medical_notes, m.created_by,
                            m.created_at, m.updated_at, m.last_emergency_at, count(*) over ()
                     from matches m order by m.name_key, m.id limit p_limit offset p_offset;
    elsif p_sort = '-name' then
        return query with matches as materialized (
                         select p.* from patients p
                         where p.clinic_id = p_clinic and p.deleted_at is null
                           and (p.search_text ilike v_text or p.search_text ilike p_digits))
                     select v_role, m.id, m.name, m.email, m.phone, m.date_of_birth, m.medical_notes, m.created_by,
                            m.created_at, m.updated_at, m.last_emergency_at, count(*) over ()
                     from matches m order by m.name_key desc, m.id desc limit p_limit offset p_offset;
    elsif p_sort = 'dateOfBirth' then
        return query with matches as materialized (
                         select p.* from patients p
                         where p.clinic_id = p_clinic and p.deleted_at is null
                           and (p.search_text ilike v_text or p.search_text ilike p_digits))
                     select v_role, m.id, m.name, m.email, m.phone, m.date_of_birth, m.medical_notes, m.created_by,
                            m.created_at, m.updated_at, m.last_emergency_at, count(*) over ()
                     from matches m order by m.date_of_birth, m.id limit p_limit offset p_offset;
    elsif p_sort = '-updatedAt' then
        return query with matches as materialized (
                         select p.* from patients p
                         where p.clinic_id = p_clinic and p.deleted_at is null
                           and (p.search_text ilike v_text or p.search_text ilike p_digits))
                     select v_role, m.id, m.name, m.email, m.phone, m.date_of_birth, m.medical_notes, m.created_by,
                            m.created_at, m.updated_at, m.last_emergency_at, count(*) over ()
                     from matches m order by m.updated_at desc, m.id desc limit p_limit offset p_offset;
    else
        return query with matches as materialized (
                         select p.* from patients p
                         where p.clinic_id = p_clinic and p.deleted_at is null
                           and (p.search_text ilike v_text or p.search_text ilike p_digits))
                     select v_role, m.id, m.name, m.email, m.phone, m.date_of_birth, m.medical_notes, m.created_by,
                            m.created_at, m.updated_at, m.last_emergency_at, count(*) over ()
                     from matches m order by m.created_at desc, m.id desc limit p_limit offset p_offset;
    end if;
    if not found then
        -- Past the last page the window count has no row to ride on: count the matches alone.
        v_total := case when p_offset > 0 then
                       (select count(*) from patients p
                        where p.clinic_id = p_clinic and p.deleted_at is null
                          and (p.search_text ilike v_text or p.search_text ilike p_digits))
                   else 0 end;
        return query select v_role, null::uuid, null::text, null::text, null::text, null::date, null::text,
                            null::uuid, null::timestamptz, null::timestamptz, null::timestamptz, v_total;
    end if;
end
$$;
