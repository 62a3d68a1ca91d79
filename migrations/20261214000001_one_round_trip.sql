-- One round trip per hot read (issue 20). Before, a list or a read sent BEGIN, the clinic check, the query and
-- COMMIT as four statements. `clinic_gate` is now the one clinic check every route runs (inside a transaction
-- opened by `db::ClinicTx`, or as the first step of the route functions below), and `patient_page`,
-- `patient_search` and `patient_read` run the gate, the query and the audit row in order inside the implicit transaction of one call.
-- A plain CTE could not do this: PostgreSQL does not promise that a CTE's `set_config` runs before the main
-- query's row-level security policy reads the setting; statements of a PL/pgSQL function run in order.
--
-- Every function is SECURITY INVOKER (the default): it runs as `dental_app` and row-level security applies to
-- every statement in it, exactly as to the api's own statements.

-- The clinic check: the account is active, a member of the clinic, the clinic's two-step sign-in policy is met,
-- and the member's current role is one of `p_allowed` (the api's permission matrix, `db::allows`). Then sets
-- `app.user_id`, `app.clinic_id`, `app.clinic_role` for the transaction and, with `p_audit`, writes the audit row.
-- A refusal raises one of four SQLSTATEs the api maps to its answer (`db::gate_refusal`): DA401 (account not
-- active), DA403 (not a member), DA428 (two-step sign-in required), DA4FB (the role lacks the permission).
-- Returns the role.
create function clinic_gate(p_user uuid, p_clinic uuid, p_allowed text[], p_action text, p_patient uuid,
                            p_request text, p_audit boolean)
returns text
language plpgsql
as $$
declare
    v_role text;
begin
    if not coalesce((select u.is_active from users u where u.id = p_user), false) then
        raise exception 'account not active' using errcode = 'DA401';
    end if;
    select m.role into v_role from clinic_members m where m.user_id = p_user and m.clinic_id = p_clinic;
    if v_role is null then
        raise exception 'not a member of the clinic' using errcode = 'DA403';
    end if;
    if coalesce((select c.require_mfa from clinics c where c.id = p_clinic), false)
       and not exists (select 1 from user_mfa f where f.user_id = p_user and f.enabled_at is not null) then
        raise exception 'two-step sign-in required' using errcode = 'DA428';
    end if;
    if not (v_role = any (p_allowed)) then
        raise exception 'role lacks the permission' using errcode = 'DA4FB';
    end if;
    perform set_config('app.user_id', p_user::text, true),
            set_config('app.clinic_id', p_clinic::text, true),
            set_config('app.clinic_role', v_role, true);
    if p_audit then
        insert into audit_events (user_id, clinic_id, action, patient_id, request_id)
        values (p_user, p_clinic, p_action, p_patient, p_request);
    end if;
    return v_role;
end
$$;

-- One page of the clinic's patients (`GET /patients` without `q`): the gate (`patient.list`), then the page in
-- `p_sort` order with the clinic's total from the trigger-maintained counter (a million rows are not counted per
-- request). Each order is its own static query so that its index `(clinic_id, key, id)` serves it (a `case` in
-- `order by` would sort the whole clinic). Every row carries the caller's role and the total; a page with no
-- patients is one row whose patient columns are null (its total only). `p_audit` is false on the read replica,
-- where the api writes the audit row on the primary instead.
--
-- Generic plans: the statements' plans are made once per connection, not per call. PostgreSQL's default would
-- plan these for each call's values (a LIMIT given as a parameter makes the generic plan's estimate look costlier,
-- so the custom plan keeps winning), and planning under row-level security costs more than running the query:
-- measured with pgbench at 16 clients, 4,049 calls/s with per-call plans, 8,429 with generic ones. The plan of an
-- index-ordered page does not depend on the values.
create function patient_page(p_user uuid, p_clinic uuid, p_allowed text[], p_request text, p_audit boolean,
                             p_sort text, p_limit bigint, p_offset bigint)
returns table (role text, id uuid, name text, email text, phone text, date_of_birth date, medical_notes text,
               created_by uuid, created_at timestamptz, updated_at timestamptz, last_emergency_at timestamptz,
               total bigint)
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
    v_role text := clinic_gate(p_user, p_clinic, p_allowed, 'patient.list', null, p_request, p_audit);
    v_total bigint;
begin
    v_total := coalesce((select n.n from patient_counts n where n.clinic_id = p_clinic), 0);
    if p_sort = 'name' then
        return query select v_role, p.id, p.name, p.email, p.phone, p.date_of_birth, p.medical_notes, p.created_by,
                            p.created_at, p.updated_at, p.last_emergency_at, v_total
                     from patients p where p.clinic_id = p_clinic and p.deleted_at is null
                     order by p.name_key, p.id limit p_limit offset p_offset;
    elsif p_sort = '-name' then
        return query select v_role, p.id, p.name, p.email, p.phone, p.date_of_birth, p.medical_notes, p.created_by,
                            p.created_at, p.updated_at, p.last_emergency_at, v_total
                     from patients p where p.clinic_id = p_clinic and p.deleted_at is null
                     order by p.name_key desc, p.id desc limit p_limit offset p_offset;
    elsif p_sort = 'dateOfBirth' then
        return query select v_role, p.id, p.name, p.email, p.phone, p.date_of_birth, p.medical_notes, p.created_by,
                            p.created_at, p.updated_at, p.last_emergency_at, v_total
                     from patients p where p.clinic_id = p_clinic and p.deleted_at is null
                     order by p.date_of_birth, p.id limit p_limit offset p_offset;
    elsif p_sort = '-updatedAt' then
        return query select v_role, p.id, p.name, p.email, p.phone, p.date_of_birth, p.medical_notes, p.created_by,
                            p.created_at, p.updated_at, p.last_emergency_at, v_total
                     from patients p where p.clinic_id = p_clinic and p.deleted_at is null
                     order by p.updated_at desc, p.id desc limit p_limit offset p_offset;
    else
        return query select v_role, p.id, p.name, p.email, p.phone, p.date_of_birth, p.medical_notes, p.created_by,
                            p.created_at, p.updated_at, p.last_emergency_at, v_total
                     from patients p where p.clinic_id = p_clinic and p.deleted_at is null
                     order by p.created_at desc, p.id desc limit p_limit offset p_offset;
    end if;
    if not found then
        return query select v_role, null::uuid, null::text, null::text, null::text, null::date, null::text,
                            null::uuid, null::timestamptz, null::timestamptz, null::timestamptz, v_total;
    end if;
end
$$;

-- The matches of a search (`GET /patients?q=`), a page in `p_sort` order, with their count: the gate
-- (`patient.list`), then the matches of `p_text` (a LIKE pattern, folded here by `patient_fold` like the searched
-- column) or of `p_digits` (a LIKE pattern of phone digits). Rows as `patient_page`'s. Planned per call (the
-- default): which index is cheaper depends on the term.
create function patient_search(p_user uuid, p_clinic uuid, p_allowed text[], p_request text, p_audit boolean,
                               p_sort text, p_text text, p_digits text, p_limit bigint, p_offset bigint)
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
begin
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

-- One patient (`GET /patients/{id}`): the gate, the row, then its audit row: `patient.read` when it was there,
-- `access.denied` when it was not (another clinic's id, or in the trash), so a 404 is recorded in the same call.
-- Returns the role with the patient, or the role alone (patient columns null). `p_audit` and the generic plans as
-- for `patient_page`.
create function patient_read(p_user uuid, p_clinic uuid, p_allowed text[], p_request text, p_audit boolean,
                             p_patient uuid)
returns table (role text, id uuid, name text, email text, phone text, date_of_birth date, medical_notes text,
               created_by uuid, created_at timestamptz, updated_at timestamptz, last_emergency_at timestamptz)
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
    v_role text := clinic_gate(p_user, p_clinic, p_allowed, 'patient.read', p_patient, p_request, false);
    v_found boolean;
begin
    return query select v_role, p.id, p.name, p.email, p.phone, p.date_of_birth, p.medical_notes, p.created_by,
                        p.created_at, p.updated_at, p.last_emergency_at
                 from patients p where p.clinic_id = p_clinic and p.id = p_patient and p.deleted_at is null;
    v_found := found;
    if p_audit then
        insert into audit_events (user_id, clinic_id, action, patient_id, request_id)
        values (p_user, p_clinic, case when v_found then 'patient.read' else 'access.denied' end, p_patient,
                p_request);
    end if;
    if not v_found then
        return query select v_role, null::uuid, null::text, null::text, null::text, null::date, null::text,
                            null::uuid, null::timestamptz, null::timestamptz, null::timestamptz;
    end if;
end
$$;
