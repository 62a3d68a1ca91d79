//! Plans that do not depend on luck (issue 20): the hot requests keep their index plans when the planner's
//! statistics are stale (taken while the tables were small) or missing (autovacuum off, never analysed), with a
//! patient history of 17,000 messages and 5,000 patients in the clinic. Every statement the real api runs, including
//! those inside the route functions, is explained by `auto_explain` (with actual row counts) and sent to the api as a
//! notice, which the api logs; the test reads those plans and fails on a scan of the whole history or clinic.

use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::faults::{ApiProcess, database_url, register_and_patient};
use crate::helpers::json as expect_json;

const HISTORY: i64 = 17_000;
const PATIENTS: i64 = 5_000;
/// Other patients of the clinic with a history of their own, written between the patient's messages.
const NEIGHBOURS: i64 = 19;
const NEIGHBOUR_HISTORY: i64 = 3_000;
/// Each patient's messages when the statistics are taken.
const EARLY_HISTORY: i64 = 5;
/// The most rows any plan node may produce: a page is at most 100 rows, a history 5 turns; a plan that sorts or
/// filters the whole history (17,000) or clinic (5,000) exceeds it by far.
const MOST_ROWS: f64 = 500.0;

/// The tables whose plans matter: the ones that grow with a clinic's use.
const BIG_TABLES: [&str; 3] = ["chat_messages", "patients", "audit_events"];

/// Every plan node below `node`, with itself.
fn nodes<'a>(node: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(node);
    for child in node["Plans"].as_array().into_iter().flatten() {
        nodes(child, out);
    }
}

/// The plans `auto_explain` sent, from the api's JSON log lines (`duration: … ms  plan:\n{…}`).
fn plans(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|entry| {
            let message = entry["fields"]["message"].as_str()?.to_owned();
            let (_, plan) = message.split_once("plan:\n")?;
            serde_json::from_str::<Value>(plan).ok()
        })
        .collect()
}

/// What is wrong with the plans: a sequential scan of a big table, or a node that produced more than [`MOST_ROWS`].
fn faults(plans: &[Value]) -> Vec<String> {
    let mut found = Vec::new();
    for plan in plans {
        let mut all = Vec::new();
        nodes(&plan["Plan"], &mut all);
        let query = plan["Query Text"].as_str().unwrap_or_default();
        let short: String = query
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(160)
            .collect();
        for node in all {
            let kind = node["Node Type"].as_str().unwrap_or_default();
            let relation = node["Relation Name"].as_str().unwrap_or_default();
            let rows = node["Actual Rows"].as_f64().unwrap_or(0.0) * node["Actual Loops"].as_f64().unwrap_or(1.0);
            if kind == "Seq Scan" && BIG_TABLES.contains(&relation) {
                found.push(format!("Seq Scan on {relation} in: {short}"));
            }
            if rows > MOST_ROWS {
                found.push(format!("{kind} {relation} produced {rows} rows in: {short}"));
            }
            // Rows read and thrown away cost as much as rows produced: a scan of the clinic's primary key that
            // filters 5,000 rows for one match is as bad a plan as one that returns them.
            let removed =
                node["Rows Removed by Filter"].as_f64().unwrap_or(0.0) * node["Actual Loops"].as_f64().unwrap_or(1.0);
            if removed > MOST_ROWS {
                found.push(format!("{kind} {relation} filtered out {removed} rows in: {short}"));
            }
        }
    }
    found
}

/// Whether some plan reads `table` through `index`.
fn uses_index(plans: &[Value], table: &str, index: &str) -> bool {
    plans.iter().any(|plan| {
        let mut all = Vec::new();
        nodes(&plan["Plan"], &mut all);
        all.iter()
            .any(|n| n["Relation Name"].as_str() == Some(table) && n["Index Name"].as_str() == Some(index))
    })
}

/// `own` messages for `patient` and `theirs` for each other patient of its clinic, spread evenly over the
/// `span_secs` seconds that end `ago_secs` before now, inserted in time order so that the patients' rows interleave
/// on disk.
async fn write_history(admin: &sqlx::PgPool, patient: &str, own: i64, theirs: i64, span_secs: i64, ago_secs: i64) {
    sqlx::query(
        "insert into chat_messages (clinic_id, id, patient_id, user_id, role, content, created_at)
         select clinic_id, gen_random_uuid(), id, created_by, 'user', 'Earlier message ' || n, at
         from (select p.clinic_id, p.id, p.created_by, n,
                      now() - make_interval(secs => $5 + (c.count - n) * ($4::float8 / c.count)) as at
               from patients p
               cross join lateral (select case when p.id = $1::uuid then $2 else $3 end as count) c
               cross join lateral generate_series(1, c.count) n
               where p.clinic_id = (select clinic_id from patients where id = $1::uuid)) h
         order by at",
    )
    .bind(patient)
    .bind(own)
    .bind(theirs)
    .bind(span_secs)
    .bind(ago_secs)
    .execute(admin)
    .await
    .unwrap_or_else(|e| panic!("history: {e}"));
}

/// The hot requests of one clinic's day, through the real api: history pages, a chat message (the context query
/// inside `chat_send`, the reply), the reply to a saved message (`unanswered`), the patient list in each order, a
/// selective search, one patient.
async fn hot_requests(http: &reqwest::Client, base: &str, token: &str, patient: &str, before: &str, unanswered: &str) {
    let get = |path: String| {
        let http = http.clone();
        let token = token.to_owned();
        async move {
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(r.status(), 200, "{path}");
        }
    };
    get(format!("/patients/{patient}/messages?limit=50")).await;
    get(format!("/patients/{patient}/messages?limit=100&before={before}")).await;
    let r = http
        .post(format!("{base}/patients/{patient}/messages"))
        .bearer_auth(token)
        .json(&json!({"content": "How long should I avoid hot drinks after a filling?"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    expect_json(r, 201).await;
    // The reply to a saved message deep in the history (`chat_context`: the turns before it). Each pass answers a
    // different one: a message has one reply.
    let r = http
        .post(format!("{base}/patients/{patient}/messages/{unanswered}/reply"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("reply: {e}"));
    expect_json(r, 201).await;
    for sort in ["-createdAt", "name", "-name", "dateOfBirth", "-updatedAt"] {
        get(format!("/patients?limit=20&sort={sort}")).await;
    }
    get("/patients?limit=20&q=plan4321%40".to_owned()).await;
    get(format!("/patients/{patient}")).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn hot_requests_keep_index_plans_with_stale_or_missing_statistics(_: PgPoolOptions, options: PgConnectOptions) {
    let admin = sqlx::PgPool::connect_with(options.clone())
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    // Every statement explained, nested ones too, and sent to the client: the api logs notices.
    sqlx::query(
        "do $$ begin
           execute format('alter database %I set session_preload_libraries = ''auto_explain''', current_database());
           execute format('alter database %I set auto_explain.log_min_duration = 0', current_database());
           execute format('alter database %I set auto_explain.log_analyze = on', current_database());
           execute format('alter database %I set auto_explain.log_nested_statements = on', current_database());
           execute format('alter database %I set auto_explain.log_format = json', current_database());
           execute format('alter database %I set auto_explain.log_level = notice', current_database());
         end $$",
    )
    .execute(&admin)
    .await
    .unwrap_or_else(|e| panic!("auto_explain settings: {e}"));
    sqlx::raw_sql(
        "alter table chat_messages set (autovacuum_enabled = false);
         alter table patients set (autovacuum_enabled = false);
         alter table audit_events set (autovacuum_enabled = false);",
    )
    .execute(&admin)
    .await
    .unwrap_or_else(|e| panic!("autovacuum off: {e}"));

    let ai_url = crate::helpers::spawn_ai().await;
    let env = [("RUST_LOG", "warn,sqlx::postgres::notice=info"), ("LOG_FORMAT", "json")];
    let url = database_url(&options);
    let api = ApiProcess::start_with(&url, ai_url.as_str().trim_end_matches('/'), &env).await;
    let http = reqwest::Client::new();
    let (token, patient) = register_and_patient(
        &http,
        &api.base,
        "plans@clinic.example",
        "Plan Checker",
        json!({"name": "History Patient"}),
    )
    .await;
    // The patient's neighbours: other patients of the clinic with a history of their own, written between the
    // patient's messages in time and on disk as a busy clinic writes them. With one patient's rows alone the planner
    // happened to pick the history's index whatever the statistics; the bench's 20 patients made it read the
    // patient's whole history through a bitmap and sort it (9.8 ms a message at 4,400 messages).
    sqlx::query(
        "insert into patients (clinic_id, created_by, name)
         select p.clinic_id, p.created_by, 'Neighbour ' || n from patients p, generate_series(1, $2) n
         where p.id = $1::uuid",
    )
    .bind(&patient)
    .bind(NEIGHBOURS)
    .execute(&admin)
    .await
    .unwrap_or_else(|e| panic!("neighbours: {e}"));
    // Statistics taken while the clinic is new (its first few messages)...
    write_history(&admin, &patient, EARLY_HISTORY, EARLY_HISTORY, 100, HISTORY + 1).await;
    sqlx::query("analyze chat_messages, patients, audit_events")
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("analyze: {e}"));
    // ...then a long history and a full register, never analysed again.
    write_history(&admin, &patient, HISTORY, NEIGHBOUR_HISTORY, HISTORY, 0).await;
    sqlx::query(
        "insert into patients (clinic_id, created_by, name, email)
         select p.clinic_id, p.created_by, 'Plan Patient ' || n, 'plan' || n || '@example.com'
         from patients p, generate_series(1, $2) n where p.id = $1::uuid",
    )
    .bind(&patient)
    .bind(PATIENTS)
    .execute(&admin)
    .await
    .unwrap_or_else(|e| panic!("patients: {e}"));
    let before: String = sqlx::query_scalar(
        "select id::text from chat_messages where patient_id = $1::uuid order by created_at desc, id desc offset 500 limit 1",
    )
    .bind(&patient)
    .fetch_one(&admin)
    .await
    .unwrap_or_else(|e| panic!("cursor: {e}"));
    // Three saved messages without a reply, one for each pass, deep in the history.
    let unanswered: Vec<String> = sqlx::query_scalar(
        "select id::text from chat_messages where patient_id = $1::uuid and role = 'user'
         order by created_at desc, id desc offset 600 limit 3",
    )
    .bind(&patient)
    .fetch_all(&admin)
    .await
    .unwrap_or_else(|e| panic!("unanswered: {e}"));
    assert_eq!(unanswered.len(), 3, "three unanswered messages");

    // Stale statistics: the plans the api makes now.
    let skip = api.logs().len();
    hot_requests(&http, &api.base, &token, &patient, &before, &unanswered[0]).await;
    let stale = plans(&api.logs()[skip..]);
    drop(api);

    // No statistics at all (as with autovacuum off from the start: no column statistics, and the sizes in
    // pg_class of a table never vacuumed or analysed), on fresh connections (plans are cached per connection).
    sqlx::raw_sql(
        "delete from pg_statistic where starelid in ('chat_messages'::regclass, 'patients'::regclass, 'audit_events'::regclass);
         update pg_class set reltuples = -1, relpages = 0, relallvisible = 0
         where oid in ('chat_messages'::regclass, 'patients'::regclass, 'audit_events'::regclass)
            or oid in (select indexrelid from pg_index
                       where indrelid in ('chat_messages'::regclass, 'patients'::regclass, 'audit_events'::regclass));",
    )
    .execute(&admin)
    .await
    .unwrap_or_else(|e| panic!("drop statistics: {e}"));
    let api = ApiProcess::start_with(&url, ai_url.as_str().trim_end_matches('/'), &env).await;
    let skip = api.logs().len();
    hot_requests(&http, &api.base, &token, &patient, &before, &unanswered[1]).await;
    let missing = plans(&api.logs()[skip..]);
    drop(api);

    // Fresh statistics: under row-level security and generic plans the estimates stay tiny, so the choice must not
    // rest on them either.
    sqlx::query("analyze chat_messages, patients, audit_events")
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("analyze: {e}"));
    let api = ApiProcess::start_with(&url, ai_url.as_str().trim_end_matches('/'), &env).await;
    let skip = api.logs().len();
    hot_requests(&http, &api.base, &token, &patient, &before, &unanswered[2]).await;
    let fresh = plans(&api.logs()[skip..]);

    for (label, plans) in [
        ("stale statistics", &stale),
        ("no statistics", &missing),
        ("fresh statistics", &fresh),
    ] {
        // The check saw the requests' statements, inside the route functions too.
        assert!(plans.len() >= 20, "{label}: only {} plans logged", plans.len());
        assert!(
            uses_index(plans, "chat_messages", "chat_messages_patient_created_idx"),
            "{label}: no plan read the history through its index"
        );
        assert!(
            uses_index(plans, "patients", "patients_clinic_at_key_idx"),
            "{label}: the email-shaped search did not read the email key's index"
        );
        let found = faults(plans);
        // The offending plans in full, for whoever reads the failure.
        for plan in plans.iter().filter(|p| !faults(std::slice::from_ref(*p)).is_empty()) {
            eprintln!("{label}: {plan:#}");
        }
        assert!(found.is_empty(), "{label}: {found:#?}");
    }
}
