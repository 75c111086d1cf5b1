//! Two gateways (in-process) sharing one audit chain in a PostgreSQL server of the test's own
//! (Debian's), with the project's schema: logins on both land in one chain that `audit
//! verify --config` finds whole; the gateway's database role can read and append but not
//! change or remove a record, and nobody can while the schema's triggers stand; with the
//! database stopped nobody gets in (neither the lockout counts nor the chain can be reached) (a clear "cannot record" answer), the readiness port says
//! why, and logins come back with the database. The lockout counts are shared: five wrong
//! passwords through one gateway lock the user on the other.
//! Nothing here asserts a time; waits are bounded only so that a hang fails.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use hjemmekontor::client::session::SessionError;
use hjemmekontor::tunnel::protocol::RejectCode;
use serde_json::Value;
use support::inproc::{office_grant, office_pc, users, InProcessGateway, PASSWORD};
use support::postgres::{require_postgres, Postgres};
use support::world::GATEWAY;

/// The gateway role's database password (a TEST value).
const DB_PASSWORD: &str = "db-passord-TEST";

/// A password file as an operator makes it: the password and a newline, mode 0600.
fn password_file(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("postgres.pass");
    std::fs::write(&path, format!("{DB_PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

async fn gateway_on(db: &Postgres) -> InProcessGateway {
    let dir = tempfile::tempdir().unwrap();
    let audit = db.audit_section(&password_file(dir.path()));
    // Logins at once on one gateway exceed the default sessions per user.
    let rest = format!(
        "[limits]\nmax_sessions_per_user = 20\n\n{}\n{}",
        users(),
        office_grant(office_pc())
    );
    InProcessGateway::start_with_audit(dir, &audit, &rest).await
}

/// `hjemmekontor-gateway audit ARGS --config` the gateway's configuration.
fn audit_cli(gw: &InProcessGateway, args: &[&str]) -> (bool, String) {
    let out = Command::new(GATEWAY)
        .arg("audit")
        .args(args)
        .arg("--config")
        .arg(gw.dir.path().join("gateway.toml"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn records(gw: &InProcessGateway) -> Vec<Value> {
    let (ok, text) = audit_cli(gw, &["query", "--json"]);
    assert!(ok, "{text}");
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn start_db() -> Postgres {
    tokio::task::block_in_place(|| Postgres::start(DB_PASSWORD))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_on_two_gateways_land_in_one_chain_that_no_one_can_change() {
    if !require_postgres("logins_on_two_gateways_land_in_one_chain_that_no_one_can_change") {
        return;
    }
    let db = start_db();
    let (a, b) = (gateway_on(&db).await, gateway_on(&db).await);

    // Logins on both at once: the two writers take turns on the chain, never fork it.
    let mut logins = Vec::new();
    for i in 0..8 {
        let front = if i % 2 == 0 { a.addr } else { b.addr };
        logins.push(tokio::spawn(async move {
            InProcessGateway::login_through(front, "person-high", "ase", PASSWORD)
                .await
                .map(drop)
        }));
    }
    for login in logins {
        login.await.unwrap().expect("a login on either gateway");
    }
    let wrong = InProcessGateway::login_through(b.addr, "person-high", "ase", "feil").await;
    assert!(wrong.is_err());

    let (ok, text) = audit_cli(&a, &["verify", "--json"]);
    assert!(ok, "{text}");
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["intact"], true, "{report}");
    let all = records(&b);
    assert_eq!(report["records"], all.len(), "{report}");
    let count = |event: &str| all.iter().filter(|r| r["event"] == event).count();
    assert_eq!(count("gateway-started"), 2, "{all:?}");
    assert_eq!(count("login-accepted"), 8, "{all:?}");
    assert_eq!(count("login-refused"), 1, "{all:?}");
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r["seq"], i + 1, "one chain, no gaps: {r}");
    }

    // The gateway's role reads and appends, nothing else; the owner cannot change a record
    // either while the triggers stand.
    let (read, rows) = db.psql_as_gateway(DB_PASSWORD, "SELECT count(*) FROM audit_records");
    assert!(read, "{rows}");
    assert_eq!(rows.trim(), all.len().to_string());
    for sql in [
        "UPDATE audit_records SET line = 'x' WHERE seq = 1",
        "DELETE FROM audit_records WHERE seq = 1",
        "TRUNCATE audit_records",
    ] {
        let (done, said) = db.psql_as_gateway(DB_PASSWORD, sql);
        assert!(!done && said.contains("permission denied"), "{sql}: {said}");
        let (done, said) = db.try_as_owner(sql);
        assert!(!done && said.contains("append-only"), "{sql}: {said}");
    }
    let (ok, text) = audit_cli(&a, &["verify"]);
    assert!(ok, "{text}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_database_nobody_gets_in_and_the_readiness_port_says_why() {
    if !require_postgres("without_the_database_nobody_gets_in_and_the_readiness_port_says_why") {
        return;
    }
    let mut db = start_db();
    let gw = gateway_on(&db).await;
    gw.login("person-high", "ase", PASSWORD)
        .await
        .expect("a login with the database up");
    assert!(gw.gateway.readiness().await.ready());

    tokio::task::block_in_place(|| db.pause());
    match gw.login("person-high", "ase", PASSWORD).await {
        Err(SessionError::Rejected(r)) => {
            assert_eq!(r.code, RejectCode::Unavailable, "{r:?}");
        }
        Err(other) => panic!("expected the login refused as unrecordable, got {other:?}"),
        Ok(_) => panic!("a login got in while nothing could record it"),
    }
    let readiness = gw.gateway.readiness().await;
    assert!(!readiness.ready());
    let text = readiness.text();
    assert!(
        text.contains("audit: FAILING: the audit database host=127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("cannot be reached"), "{text}");
    assert!(!text.contains(DB_PASSWORD), "{text}");

    tokio::task::block_in_place(|| db.resume());
    gw.login("person-high", "ase", PASSWORD)
        .await
        .expect("logins come back with the database");
    assert!(gw.gateway.readiness().await.ready());
    let all = records(&gw);
    let accepted = all
        .iter()
        .filter(|r| r["event"] == "login-accepted")
        .count();
    assert_eq!(
        accepted, 2,
        "the refused login never got a session: {all:?}"
    );
    let (ok, text) = audit_cli(&gw, &["verify"]);
    assert!(ok, "{text}");
    drop(Arc::clone(&gw.gateway));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passwords_through_one_gateway_lock_the_user_on_the_other() {
    if !require_postgres("five_wrong_passwords_through_one_gateway_lock_the_user_on_the_other") {
        return;
    }
    let db = start_db();
    let (a, b) = (gateway_on(&db).await, gateway_on(&db).await);
    let refusal = |result: Result<_, SessionError>| match result {
        Err(SessionError::Rejected(r)) => r,
        Err(other) => panic!("expected a refusal, got {other:?}"),
        Ok(_) => panic!("a login got in"),
    };
    for attempt in 1..=5 {
        let r = refusal(a.login("person-high", "ase", "feil").await.map(drop));
        let expected = if attempt < 5 {
            RejectCode::BadCredentials
        } else {
            RejectCode::LockedOut
        };
        assert_eq!(r.code, expected, "attempt {attempt}: {r:?}");
    }
    // Gateway B never saw a failure; the right password is refused there all the same.
    let r = refusal(b.login("person-high", "ase", PASSWORD).await.map(drop));
    assert_eq!(r.code, RejectCode::LockedOut, "{r:?}");
    assert!(
        r.retry_after_secs.is_some_and(|s| s > 0),
        "the client is told how long: {r:?}"
    );
    let (read, rows) = db.psql_as_gateway(
        DB_PASSWORD,
        "SELECT scope || ':' || key FROM lockout_counters ORDER BY 1",
    );
    assert!(read, "{rows}");
    assert!(rows.contains("user:ase"), "{rows}");
    // The gateways' role only reads and adds to the counts, as to the chain.
    for sql in [
        "UPDATE lockout_counters SET state = NULL",
        "DELETE FROM lockout_counters",
    ] {
        let (done, said) = db.psql_as_gateway(DB_PASSWORD, sql);
        assert!(!done && said.contains("permission denied"), "{sql}: {said}");
    }
    let all = records(&a);
    let locked_on_b = all.iter().any(|r| {
        r["event"] == "login-refused" && r["reason"] == "locked-out" && r["user"] == "ase"
    });
    assert!(locked_on_b, "the lock is audited: {all:?}");
    a.stop().await;
    b.stop().await;
}
