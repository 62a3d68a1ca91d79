//! Read replicas against a real streaming replica: `cargo xtask test` starts one of its private cluster and passes
//! its URL as `TEST_REPLICA_URL`. Each test's database is created on the primary by `sqlx::test`; the replica has it
//! once it has replayed the creation, under the same name. Without `TEST_REPLICA_URL` these tests say so and pass.

use std::str::FromStr as _;
use std::time::{Duration, Instant};

use api::db::replica::{Reads, Target};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgConnection};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::helpers::{TestApp, json};

/// The replica's options for the test database, once the replica has it; `None` (with the reason printed) when
/// no replica is configured.
pub async fn replica_options(primary: &PgConnectOptions) -> Option<PgConnectOptions> {
    let Ok(url) = std::env::var("TEST_REPLICA_URL") else {
        eprintln!("skipped: TEST_REPLICA_URL is not set (cargo xtask test starts a streaming replica and sets it)");
        return None;
    };
    let database = primary.get_database().unwrap_or("postgres").to_owned();
    let options = PgConnectOptions::from_str(&url)
        .unwrap_or_else(|e| panic!("TEST_REPLICA_URL: {e}"))
        .database(&database);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match PgConnection::connect_with(&options).await {
            Ok(conn) => {
                let _ = conn.close().await;
                return Some(options);
            }
            Err(e) if Instant::now() > deadline => panic!("the replica never had the test database: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// A TCP relay in front of the replica: what the api connects to. Stopping it closes every relayed connection and
/// the port, as a replica that goes down does, without stopping the replica other tests share.
pub struct Relay {
    pub port: u16,
    tasks: JoinSet<()>,
}

impl Relay {
    pub async fn start(target: &PgConnectOptions) -> Self {
        let upstream = format!("{}:{}", target.get_host(), target.get_port());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}")).port();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                connections.spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
            // Dropping `connections` aborts every relayed connection.
        });
        Self { port, tasks }
    }

    pub fn options(&self, replica: &PgConnectOptions) -> PgConnectOptions {
        replica.clone().host("127.0.0.1").port(self.port)
    }

    /// The replica "goes down": the port closes and every open connection drops.
    pub fn stop(&mut self) {
        self.tasks.abort_all();
    }
}

/// Inserts a user as the owner would (the app role cannot insert without the policies' settings).
async fn a_user(admin: &sqlx::PgPool) -> uuid::Uuid {
    let id = uuid::Uuid::new_v4();
    sqlx::query("insert into users (id, email, password_hash, full_name) values ($1, $2, 'x', 'Replica Test')")
        .bind(id)
        .bind(format!("{}@replica.example", id.simple()))
        .execute(admin)
        .await
        .unwrap_or_else(|e| panic!("insert user: {e}"));
    id
}

async fn in_recovery(tx: &mut sqlx::Transaction<'static, sqlx::Postgres>) -> bool {
    sqlx::query_scalar::<_, bool>("select pg_is_in_recovery()")
        .fetch_one(&mut **tx)
        .await
        .unwrap_or_else(|e| panic!("pg_is_in_recovery: {e}"))
}

/// Pauses WAL replay on the replica (shared by the tests running now: they wait the few milliseconds it lasts).
async fn pause_replay(standby: &mut PgConnection) {
    sqlx::query("select pg_wal_replay_pause()")
        .execute(&mut *standby)
        .await
        .unwrap_or_else(|e| panic!("pause: {e}"));
    let started = Instant::now();
    loop {
        let state: String = sqlx::query_scalar("select pg_get_wal_replay_pause_state()")
            .fetch_one(&mut *standby)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if state == "paused" {
            return;
        }
        if started.elapsed() > Duration::from_secs(5) {
            let _ = sqlx::query("select pg_wal_replay_resume()")
                .execute(&mut *standby)
                .await;
            panic!("replay did not pause");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits until `reads` sends `user` to the replica (it has replayed their last commit), at most 10 s.
async fn until_replica(reads: &Reads, user: uuid::Uuid) -> Duration {
    let started = Instant::now();
    loop {
        let (_, target) = reads.choose(user).await;
        if target == Target::Replica {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the replica never caught up (health {:?})",
            reads.health().await
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_users_reads_wait_for_the_replica_to_replay_their_write_and_then_run_there(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let Some(replica) = replica_options(&options).await else {
        return;
    };
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut standby = PgConnection::connect_with(&replica)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let reads = Reads::with_replica(api::db::pool(options.clone(), 4), replica, 4, None, "t:")
        .unwrap_or_else(|e| panic!("{e}"));
    let user = a_user(&admin).await;
    // The insert is a write like any other: until the replica has it, the user's reads stay on the primary.
    reads.wrote(user).await;
    assert_eq!(reads.health().await, Some("ok"));
    until_replica(&reads, user).await;

    // Replay paused, so the replica cannot have the write: the writer's read goes to the primary and sees it.
    pause_replay(&mut standby).await;
    let renamed = sqlx::query("update users set full_name = 'Replica Test Renamed' where id = $1")
        .bind(user)
        .execute(&admin)
        .await;
    reads.wrote(user).await;
    let during_pause = async {
        let (mut tx, target) = reads.begin_read(user).await?;
        let name: String = sqlx::query_scalar("select full_name from users where id = $1")
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
        let (mut other_tx, other_target) = reads.begin_read(uuid::Uuid::new_v4()).await?;
        let others_view: String = sqlx::query_scalar("select full_name from users where id = $1")
            .bind(user)
            .fetch_one(&mut *other_tx)
            .await?;
        Ok::<_, sqlx::Error>((target, name, other_target, others_view))
    }
    .await;
    let _ = sqlx::query("select pg_wal_replay_resume()").execute(&mut standby).await;
    renamed.unwrap_or_else(|e| panic!("{e}"));
    let (target, name, other_target, others_view) = during_pause.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(target, Target::Primary);
    assert_eq!(name, "Replica Test Renamed");
    // Someone who wrote nothing reads the replica, which is behind by the paused replay (bounded by MAX_LAG).
    assert_eq!(other_target, Target::Replica);
    assert_eq!(others_view, "Replica Test");

    // Replay resumed: the writer's reads go to the replica again, and see the write there.
    until_replica(&reads, user).await;
    let (mut tx, target) = reads.begin_read(user).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(target, Target::Replica);
    assert!(in_recovery(&mut tx).await);
    let name: String = sqlx::query_scalar("select full_name from users where id = $1")
        .bind(user)
        .fetch_one(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(name, "Replica Test Renamed");
    let (_, on_replica) = reads.served();
    assert!(on_replica >= 2, "{:?}", reads.served());

    // Another user, who wrote nothing, reads from the replica at once.
    let other = uuid::Uuid::new_v4();
    let (mut tx, target) = reads.begin_read(other).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(target, Target::Replica);
    assert!(in_recovery(&mut tx).await);
}

#[sqlx::test(migrations = "../../migrations")]
async fn with_the_replica_stopped_reads_still_succeed_on_the_primary_and_health_says_down(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let Some(replica) = replica_options(&options).await else {
        return;
    };
    let mut relay = Relay::start(&replica).await;
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let reads = Reads::with_replica(
        api::db::pool(options.clone(), 4),
        relay.options(&replica),
        4,
        None,
        "t:",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let user = a_user(&admin).await;
    // The insert is a write like any other: until the replica has it, the user's reads stay on the primary.
    reads.wrote(user).await;
    assert_eq!(reads.health().await, Some("ok"));
    until_replica(&reads, user).await;
    let (tx, target) = reads.begin_read(user).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(target, Target::Replica);
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));

    relay.stop();
    // The very next reads succeed (on the primary), with no error for the caller.
    for _ in 0..20 {
        let (mut tx, target) = reads
            .begin_read(user)
            .await
            .unwrap_or_else(|e| panic!("read failed: {e}"));
        assert_eq!(target, Target::Primary);
        assert!(!in_recovery(&mut tx).await);
        let n: i64 = sqlx::query_scalar("select count(*) from users")
            .fetch_one(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(n >= 0);
    }
    assert_eq!(reads.health().await, Some("down"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn without_a_replica_every_read_is_the_primarys(_: PgPoolOptions, options: PgConnectOptions) {
    let reads = Reads::primary_only(api::db::pool(options, 2));
    let user = uuid::Uuid::new_v4();
    reads.wrote(user).await;
    let (mut tx, target) = reads.begin_read(user).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(target, Target::Primary);
    assert!(!in_recovery(&mut tx).await);
    assert_eq!(reads.health().await, None);
    assert_eq!(reads.served(), (1, 0));
}

/// The api with `DATABASE_REPLICA_URL` pointing at `replica`.
async fn app_with_replica(options: PgConnectOptions, replica: PgConnectOptions) -> TestApp {
    TestApp::spawn_with(options, crate::helpers::spawn_ai().await, |c| {
        c.database_replica = Some(replica);
    })
    .await
}

/// Lists the caller's patients until a list is served by the replica (the replica has replayed their last write),
/// returning that list.
async fn list_until_on_replica(app: &TestApp, token: &str) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let before = app.state.reads.served().1;
        let page = json(app.get(token, "/patients").await, 200).await;
        if app.state.reads.served().1 > before {
            return page;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no list was served by the replica"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn through_the_api_a_created_patient_is_listed_at_once_and_lists_are_served_by_the_replica(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let Some(replica) = replica_options(&options).await else {
        return;
    };
    let app = app_with_replica(options, replica).await;
    let (token, _) = app.register().await;
    let (stranger, _) = app.register().await;
    let health = json(
        app.http
            .get(app.url("/health"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        200,
    )
    .await;
    assert_eq!(health["checks"]["replica"], "ok", "{health}");

    // Write, then read at once: every read sees the write (on the primary until the replica has it).
    for i in 0..5 {
        let patient = app
            .create_patient(&token, serde_json::json!({"name": format!("Replica Patient {i}")}))
            .await;
        let id = patient["id"].as_str().unwrap_or_default();
        let page = json(app.get(&token, "/patients").await, 200).await;
        assert_eq!(page["total"], i + 1, "{page}");
        assert_eq!(
            page["items"][0]["id"], id,
            "the newest patient is missing right after its creation"
        );
        json(app.get(&token, &format!("/patients/{id}")).await, 200).await;
    }
    let page = list_until_on_replica(&app, &token).await;
    assert_eq!(page["total"], 5, "{page}");
    // Row-level security binds on the replica: another clinic sees none of them there either.
    let theirs = list_until_on_replica(&app, &stranger).await;
    assert_eq!(theirs["total"], 0, "{theirs}");

    // A replica read is audited on the primary, as a primary read is.
    let (audited,): (i64,) = sqlx::query_as("select count(*) from audit_events where action = 'patient.list'")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (primary, on_replica) = app.state.reads.served();
    assert!(on_replica >= 2, "served {primary} / {on_replica}");
    assert!(audited >= 7, "{audited} list audit rows");
}

#[sqlx::test(migrations = "../../migrations")]
async fn through_the_api_a_stopped_replica_costs_no_failed_request_and_health_stays_200(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let Some(replica) = replica_options(&options).await else {
        return;
    };
    let mut relay = Relay::start(&replica).await;
    let app = app_with_replica(options, relay.options(&replica)).await;
    let (token, _) = app.register().await;
    app.create_patient(&token, serde_json::json!({"name": "Replica Downtime"}))
        .await;
    list_until_on_replica(&app, &token).await;

    relay.stop();
    let before = app.state.reads.served();
    for _ in 0..20 {
        let page = json(app.get(&token, "/patients").await, 200).await;
        assert_eq!(page["total"], 1, "{page}");
    }
    let after = app.state.reads.served();
    assert_eq!(after.1, before.1, "a read was counted on the stopped replica");
    assert!(after.0 >= before.0 + 20, "{before:?} -> {after:?}");
    let r = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let health = json(r, 200).await;
    assert_eq!(health["checks"]["replica"], "down", "{health}");
    assert_eq!(health["status"], "ok", "{health}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_clinic_mfa_policy_the_replica_has_not_replayed_still_refuses_a_replica_read(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let Some(replica) = replica_options(&options).await else {
        return;
    };
    let mut standby = PgConnection::connect_with(&replica)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let app = app_with_replica(options, replica).await;
    let (token, session) = app.register().await;
    let clinic: uuid::Uuid = session["clinic"]["id"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no clinic: {session}"));
    app.create_patient(&token, serde_json::json!({"name": "Policy Patient"}))
        .await;
    list_until_on_replica(&app, &token).await;

    // The policy is turned on while the replica cannot replay it: the read starts there (it sees no policy), and
    // the primary's check at commit refuses it, with no data and no audit row.
    pause_replay(&mut standby).await;
    let during_pause = async {
        sqlx::query("update clinics set require_mfa = true where id = $1")
            .bind(clinic)
            .execute(&app.admin_db)
            .await?;
        let before = app.state.reads.served().1;
        let response = app.get(&token, "/patients").await;
        Ok::<_, sqlx::Error>((response, app.state.reads.served().1 - before))
    }
    .await;
    let _ = sqlx::query("select pg_wal_replay_resume()").execute(&mut standby).await;
    let (response, on_replica) = during_pause.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(on_replica, 1, "the read started on the replica");
    crate::helpers::problem(response, 403, "mfa_setup_required").await;
    let (listed,): (i64,) =
        sqlx::query_as("select count(*) from audit_events where action = 'patient.list' and clinic_id = $1")
            .bind(clinic)
            .fetch_one(&app.admin_db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));

    // Replayed, the replica refuses to start the read; the primary answers the same 403.
    let started = Instant::now();
    loop {
        let r = app.get(&token, "/patients").await;
        crate::helpers::problem(r, 403, "mfa_setup_required").await;
        let (now_listed,): (i64,) =
            sqlx::query_as("select count(*) from audit_events where action = 'patient.list' and clinic_id = $1")
                .bind(clinic)
                .fetch_one(&app.admin_db)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(now_listed, listed, "a refused read wrote an audit row");
        if started.elapsed() > Duration::from_millis(200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
