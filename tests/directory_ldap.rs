//! The users in a real directory: OpenLDAP's slapd (Debian's) with the TEST directory of
//! `installer/dev/slapd/`, through LDAPS and through StartTLS.
//!
//! - The client finds a user with their card's identifier, name and groups; checks a password
//!   by a bind as the user (right, wrong, empty); finds nobody for a username that tries to
//!   widen the filter; refuses a directory whose certificate the configured CA did not issue;
//!   and says "cannot be reached" of a directory that hangs, then works again when it is back.
//! - A gateway with `[directory]` lets the GP in through `[[grant]] ldap_group`, refuses a
//!   wrong password and a person without a card identifier, and with the directory stopped
//!   refuses every login as "cannot log in now", audited, with its readiness port saying why.
//!
//! Nothing here asserts a time; waits are bounded only so that a hang fails.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hjemmekontor::client::session::SessionError;
use hjemmekontor::gateway::config::DirectorySettings;
use hjemmekontor::gateway::directory::{Directory, DirectoryError};
use hjemmekontor::secret::Password;
use hjemmekontor::tunnel::protocol::RejectCode;
use support::inproc::{office_pc, InProcessGateway};
use support::slapd::{require_slapd, Slapd, GPS, SERVICE_DN, SERVICE_PASSWORD, USER_PASSWORD};

/// A hang becomes a failure after this; nothing is measured against it.
const BOUND: Duration = Duration::from_secs(60);

fn root_ca() -> PathBuf {
    support::pki::dir().join("root-ca.pem")
}

fn settings(slapd: &Slapd, starttls: bool, ca: &Path, dir: &Path) -> DirectorySettings {
    let password_file = dir.join("ldap.pass");
    std::fs::write(&password_file, format!("{SERVICE_PASSWORD}\n")).unwrap();
    DirectorySettings {
        url: if starttls {
            format!("ldap://{}", slapd.ldap)
        } else {
            format!("ldaps://{}", slapd.ldaps)
        },
        starttls,
        ca_file: ca.to_path_buf(),
        bind_dn: SERVICE_DN.into(),
        bind_password_file: password_file,
        user_base: "ou=personer,dc=test,dc=hjemmekontor".into(),
        user_filter: "(uid={username})".into(),
        personal_id_attribute: "employeeNumber".into(),
        display_name_attribute: "cn".into(),
        group_base: "ou=grupper,dc=test,dc=hjemmekontor".into(),
        group_filter: "(&(objectClass=groupOfNames)(member={dn}))".into(),
        timeout: Duration::from_secs(2),
        pool_size: 2,
    }
}

fn pw(text: &str) -> Password {
    Password::from_input(text.to_string())
}

async fn bounded<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, work)
        .await
        .expect("the directory client hung")
}

async fn users_passwords_and_filters(directory: &Directory) {
    let ase = bounded(directory.find("ase.nordmann"))
        .await
        .unwrap()
        .expect("ase.nordmann is in the directory");
    assert_eq!(
        ase.dn,
        "uid=ase.nordmann,ou=personer,dc=test,dc=hjemmekontor"
    );
    assert_eq!(ase.personal_id.as_deref(), Some("UN:NO-9578-4050-12345678"));
    assert_eq!(ase.display_name.as_deref(), Some("Åse Test Nordmann"));
    assert_eq!(ase.groups, [GPS]);
    let ola = bounded(directory.find("ola.nordmann"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ola.personal_id.as_deref(),
        Some("UN:NO-9578-4050-87654321"),
        "an identifier without its prefix reads as the card writes it"
    );
    let nobody = bounded(directory.find("uten.kort")).await.unwrap().unwrap();
    assert_eq!(nobody.personal_id, None);

    assert!(bounded(directory.check_password(&ase, &pw(USER_PASSWORD)))
        .await
        .unwrap());
    assert!(!bounded(directory.check_password(&ase, &pw("feil")))
        .await
        .unwrap());
    assert!(
        !bounded(directory.check_password(&ase, &pw("")))
            .await
            .unwrap(),
        "an empty password is an anonymous bind in LDAP, and never a login"
    );
    for widened in ["*", "ase.nordmann)(uid=*", "*)(|(uid=*", "finnes.ikke"] {
        assert_eq!(
            bounded(directory.find(widened)).await.unwrap(),
            None,
            "{widened}"
        );
    }
    bounded(directory.health()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_client_over_ldaps_and_starttls() {
    if !require_slapd("the_directory_client_over_ldaps_and_starttls") {
        return;
    }
    let slapd = tokio::task::block_in_place(Slapd::start);
    let dir = tempfile::tempdir().unwrap();
    for starttls in [false, true] {
        let directory =
            Directory::new(&settings(&slapd, starttls, &root_ca(), dir.path())).unwrap();
        users_passwords_and_filters(&directory).await;
    }
    // A CA that did not issue the directory's certificate: a TLS error, and no search.
    let stranger = support::pki::dir().join("untrusted-root-ca.pem");
    for starttls in [false, true] {
        let directory = Directory::new(&settings(&slapd, starttls, &stranger, dir.path())).unwrap();
        match bounded(directory.find("ase.nordmann")).await {
            Err(DirectoryError::Tls { detail, .. }) => {
                assert!(detail.contains("certificate"), "{detail}")
            }
            other => panic!("expected a TLS error (starttls {starttls}), got {other:?}"),
        }
    }
    // A wrong service password is named as such.
    let mut wrong = settings(&slapd, false, &root_ca(), dir.path());
    let file = dir.path().join("wrong.pass");
    std::fs::write(&file, "feil\n").unwrap();
    wrong.bind_password_file = file;
    let directory = Directory::new(&wrong).unwrap();
    match bounded(directory.find("ase.nordmann")).await {
        Err(e @ DirectoryError::ServiceLogin { .. }) => assert!(!e.to_string().contains("feil")),
        other => panic!("expected the service login refused, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_directory_is_unreachable_and_then_back() {
    if !require_slapd("a_hanging_directory_is_unreachable_and_then_back") {
        return;
    }
    let slapd = tokio::task::block_in_place(Slapd::start);
    let dir = tempfile::tempdir().unwrap();
    let directory = Directory::new(&settings(&slapd, false, &root_ca(), dir.path())).unwrap();
    bounded(directory.health()).await.unwrap();
    slapd.freeze();
    for _ in 0..2 {
        match bounded(directory.find("ase.nordmann")).await {
            Err(DirectoryError::Unreachable { detail, .. }) => {
                assert!(detail.contains("no answer"), "{detail}")
            }
            other => panic!("expected unreachable, got {other:?}"),
        }
    }
    assert!(bounded(directory.health()).await.is_err());
    slapd.thaw();
    users_passwords_and_filters(&directory).await;
}

fn directory_gateway_rest(slapd: &Slapd, dir: &Path) -> String {
    format!(
        r#"{directory}
[[group]]
id = "legesenter"
name = "Legesenter"
kind = "legesenter"

[[machine]]
id = "kontor-pc"
name = "Kontor-PC"
address = "{office}"
group = "legesenter"

[[grant]]
ldap_group = "CN=Fastleger,OU=Grupper,DC=test,DC=hjemmekontor"
machines = ["kontor-pc"]
"#,
        directory = slapd.section(true, &root_ca(), dir),
        office = office_pc(),
    )
}

fn refusal<T: std::fmt::Debug>(result: Result<T, SessionError>) -> RejectCode {
    match result {
        Err(SessionError::Rejected(r)) => r.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_takes_its_users_from_the_directory() {
    if !require_slapd("a_gateway_takes_its_users_from_the_directory") {
        return;
    }
    let mut slapd = tokio::task::block_in_place(Slapd::start);
    let dir = tempfile::tempdir().unwrap();
    let rest = directory_gateway_rest(&slapd, dir.path());
    let gw = InProcessGateway::start_in(dir, &rest).await;

    let tunnel = gw
        .login("person-high", "ase.nordmann", USER_PASSWORD)
        .await
        .expect("the GP logs in with the directory's password");
    let targets: Vec<&str> = tunnel
        .accepted
        .targets
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(
        targets,
        ["kontor-pc"],
        "granted through the directory group"
    );
    drop(tunnel);
    let wrong = gw.login("person-high", "ase.nordmann", "feil").await;
    assert_eq!(refusal(wrong.map(drop)), RejectCode::BadCredentials);
    let no_card = gw.login("person-high", "uten.kort", USER_PASSWORD).await;
    assert_eq!(refusal(no_card.map(drop)), RejectCode::BadCredentials);
    assert!(gw.gateway.readiness().await.ready());

    tokio::task::block_in_place(|| slapd.stop());
    let down = gw.login("person-high", "ase.nordmann", USER_PASSWORD).await;
    assert_eq!(refusal(down.map(drop)), RejectCode::Unavailable);
    let readiness = gw.gateway.readiness().await;
    assert!(!readiness.ready());
    let text = readiness.text();
    assert!(text.contains("directory: FAILING"), "{text}");
    assert!(!text.contains(SERVICE_PASSWORD), "{text}");

    tokio::task::block_in_place(|| slapd.resume());
    gw.login("person-high", "ase.nordmann", USER_PASSWORD)
        .await
        .expect("logins come back with the directory");

    let audit = gw.audit();
    let refused = |reason: &str| {
        audit
            .iter()
            .filter(|r| r["event"] == "login-refused" && r["reason"] == reason)
            .count()
    };
    assert_eq!(refused("wrong-password"), 1, "{audit:?}");
    assert_eq!(refused("identifier-not-bound"), 1, "{audit:?}");
    assert_eq!(refused("unavailable"), 1, "{audit:?}");
    let unavailable = audit.iter().find(|r| r["reason"] == "unavailable").unwrap();
    let detail = unavailable["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("directory"), "{unavailable}");
    assert!(!detail.contains(USER_PASSWORD), "{unavailable}");
    let accepted = audit
        .iter()
        .filter(|r| r["event"] == "login-accepted")
        .count();
    assert_eq!(accepted, 2, "{audit:?}");
    gw.stop().await;
}
