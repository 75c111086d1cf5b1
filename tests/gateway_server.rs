//! The gateway server in-process on 127.0.0.1, with clients whose card is the virtual card
//! in-process: every refusal reason gives its answer and exactly one audit record, a target
//! outside the grants is refused and audited while granted streams go on, and an office PC
//! that refuses connections is reported as unreachable.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use hjemmekontor::client::session::{self, Credentials, SessionError, Tunnel};
use hjemmekontor::secret::Password;
use hjemmekontor::tunnel::protocol::{
    read_gateway_message, write_message, ClientMessage, GatewayMessage, Open, RefuseCode,
    RejectCode,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use support::inproc::{office_pc, signer, users, InProcessGateway, PASSWORD};

type Setup = InProcessGateway;

async fn start(office: SocketAddr, closed_port: SocketAddr, ase_granted: bool) -> Setup {
    start_in(
        tempfile::tempdir().unwrap(),
        office,
        closed_port,
        ase_granted,
    )
    .await
}

async fn start_in(
    dir: tempfile::TempDir,
    office: SocketAddr,
    closed_port: SocketAddr,
    ase_granted: bool,
) -> Setup {
    let users = users();
    let ase_grant = if ase_granted {
        "[[grant]]\nuser = \"ase\"\nmachines = [\"kontor-pc\", \"sov-pc\"]\n"
    } else {
        ""
    };
    let rest = format!(
        r#"[lockout]
max_failures = 3

{users}

[[group]]
id = "legesenter"
name = "Legesenter"
kind = "legesenter"

[[machine]]
id = "kontor-pc"
name = "Kontor-PC"
address = "{office}"
group = "legesenter"

[[machine]]
id = "sov-pc"
name = "PC som er av"
address = "{closed_port}"
group = "legesenter"

[[machine]]
id = "annen-pc"
name = "Noen andres PC"
address = "{office}"
group = "legesenter"

{ase_grant}
[[grant]]
user = "ola"
machines = ["kontor-pc"]
"#
    );
    Setup::start_in(dir, &rest).await
}

fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

async fn open_stream(
    tunnel: &Tunnel,
    target: &str,
) -> Result<hjemmekontor::tunnel::mux::Stream, (RefuseCode, String)> {
    let mut stream = tunnel.mux.open_stream().await.unwrap();
    write_message(
        &mut stream,
        &ClientMessage::Open(Open {
            target: target.into(),
        }),
        16384,
    )
    .await
    .unwrap();
    match read_gateway_message(&mut stream, 16384).await.unwrap() {
        GatewayMessage::Opened(_) => Ok(stream),
        GatewayMessage::Refused(r) => Err((r.code, r.message)),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_refusals_are_each_one_audit_record() {
    let setup = start(office_pc(), closed_port(), true).await;
    for (variant, reason) in [
        ("expired", "expired"),
        ("revoked", "revoked"),
        ("untrusted", "untrusted"),
        ("wrong-usage", "wrong-usage"),
        ("person-standard", "level-too-low"),
    ] {
        let before = setup.attempts().len();
        let err = setup
            .login(variant, "ase", PASSWORD)
            .await
            .err()
            .unwrap_or_else(|| panic!("{variant} got in"));
        assert!(matches!(err, SessionError::Tls(_)), "{variant}: {err:?}");
        // Recorded before the alert went out: the record is there as soon as the client
        // has its answer, naming the card's holder and identifier.
        let attempts = setup.attempts();
        assert_eq!(attempts.len(), before + 1, "{variant}: {attempts:?}");
        let record = attempts.last().unwrap();
        assert_eq!(record["event"], "login-refused", "{variant}");
        assert_eq!(record["reason"], reason, "{variant}: {record}");
        assert!(
            record["personal_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("UN:NO-")),
            "{variant}: {record}"
        );
        assert!(
            record["detail"]
                .as_str()
                .is_some_and(|d| d.contains("kortholder:")),
            "{variant}: {record}"
        );
    }
    // A second refusal for the same reason from the same address within the window is
    // counted, and the count is written when the window closes (here: at shutdown).
    let before = setup.attempts().len();
    assert!(setup.login("person-hsm", "ase", PASSWORD).await.is_err());
    assert_eq!(setup.attempts().len(), before);
    let (audit, _) = setup.stop().await;
    let repeated = audit
        .iter()
        .find(|r| r["event"] == "login-refused-repeated")
        .expect("the counted refusal is written at shutdown");
    assert_eq!(repeated["reason"], "level-too-low");
    assert_eq!(repeated["count"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_refusals_look_the_same_to_the_client_and_differ_in_the_audit() {
    let setup = start(office_pc(), closed_port(), true).await;
    let mut messages = Vec::new();
    for (user, password, reason) in [
        ("nobody", PASSWORD, "unknown-user"),
        ("ola", PASSWORD, "identifier-not-bound"),
        ("ase", "feil-passord", "wrong-password"),
    ] {
        match setup.login("person-high", user, password).await {
            Err(SessionError::Rejected(r)) => {
                assert_eq!(r.code, RejectCode::BadCredentials);
                messages.push(r.message);
            }
            other => panic!("{user}: {:?}", other.err()),
        }
        let last = setup.attempts().last().cloned().unwrap();
        assert_eq!(last["event"], "login-refused");
        assert_eq!(last["reason"], reason, "{last}");
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
    let unknown = &setup.attempts()[0];
    assert!(
        unknown["user"].is_null(),
        "a typed unknown name is not logged: {unknown}"
    );

    // Wrong passwords lock the user; then even the right one is refused as locked.
    for _ in 0..3 {
        let _ = setup.login("person-high", "ase", "feil-passord").await;
    }
    match setup.login("person-high", "ase", PASSWORD).await {
        Err(SessionError::Rejected(r)) => {
            assert_eq!(r.code, RejectCode::LockedOut);
            // How long the lock lasts, for the client to word.
            assert!(r.retry_after_secs.is_some_and(|s| s > 0), "{r:?}");
        }
        other => panic!("{:?}", other.err()),
    }
    assert_eq!(setup.attempts().last().unwrap()["reason"], "locked-out");

    let text = std::fs::read_to_string(setup.dir.path().join("audit.jsonl")).unwrap();
    assert!(!text.contains(PASSWORD) && !text.contains("feil-passord") && !text.contains("argon2"));
    let (_, dir) = setup.stop().await;

    // The lock outlives a restart of the gateway (kept next to the audit log).
    assert!(dir.path().join("audit.jsonl.lockout").exists());
    let setup = start_in(dir, office_pc(), closed_port(), true).await;
    match setup.login("person-high", "ase", PASSWORD).await {
        Err(SessionError::Rejected(r)) => assert_eq!(r.code, RejectCode::LockedOut),
        other => panic!("a restart forgot the lock: {:?}", other.err()),
    }
    setup.stop().await;

    // Right card and password, but no grant: refused, and said so.
    let setup = start(office_pc(), closed_port(), false).await;
    match setup.login("person-high", "ase", PASSWORD).await {
        Err(SessionError::Rejected(r)) => assert_eq!(r.code, RejectCode::NoGrants),
        other => panic!("{:?}", other.err()),
    }
    assert_eq!(setup.attempts().last().unwrap()["reason"], "no-grants");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_granted_targets_are_reached_and_a_dead_office_pc_is_reported() {
    let office = office_pc();
    let setup = start(office, closed_port(), true).await;
    let (signer, card) = signer("person-high");
    let gateway = setup.target();
    let creds = Credentials {
        username: "ase".into(),
        password: Password::from_input(PASSWORD.into()),
    };
    let tunnel = session::open(
        &gateway,
        &signer,
        &creds,
        &hjemmekontor::posture::report::Report::unknown(0, "a test client reports nothing"),
    )
    .await
    .unwrap();
    let ids: Vec<_> = tunnel
        .accepted
        .targets
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(ids, ["kontor-pc", "sov-pc"]);
    assert_eq!(card.with_card(|c| c.signature_count()), 1);

    let granted = open_stream(&tunnel, "kontor-pc").await.unwrap();
    let (code, message) = open_stream(&tunnel, "annen-pc").await.err().unwrap();
    assert_eq!(code, RefuseCode::NotGranted);
    let (code2, message2) = open_stream(&tunnel, "finnes-ikke").await.err().unwrap();
    assert_eq!(
        (code2, &message2),
        (RefuseCode::NotGranted, &message),
        "unknown and not granted look alike"
    );
    let (code, _) = open_stream(&tunnel, "sov-pc").await.err().unwrap();
    assert_eq!(code, RefuseCode::TargetUnreachable);

    // The granted stream still works after the refusals.
    let (read, mut write) = tokio::io::split(granted);
    let mut lines = BufReader::new(read).lines();
    let greeting = lines.next_line().await.unwrap().unwrap();
    assert!(greeting.starts_with(hjemmekontor::vcard::office_pc::GREETING));
    write.write_all(b"fortsatt her\n").await.unwrap();
    assert_eq!(lines.next_line().await.unwrap().unwrap(), "fortsatt her");
    drop(write);
    drop(lines);

    session::close(
        &tunnel,
        hjemmekontor::tunnel::protocol::ClientEndReason::ClientClosed,
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !setup.audit().iter().any(|r| r["event"] == "session-ended") {
        assert!(std::time::Instant::now() < deadline, "no session-ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (audit, dir) = setup.stop().await;
    let refused: Vec<_> = audit
        .iter()
        .filter(|r| r["event"] == "target-refused")
        .collect();
    assert_eq!(refused.len(), 2, "{audit:?}");
    assert_eq!(refused[0]["target"], "annen-pc");
    let ended = audit
        .iter()
        .find(|r| r["event"] == "session-ended")
        .unwrap();
    assert_eq!(ended["reason"], "client-closed");
    assert_eq!(ended["bytes_to_target"], 13);
    // The whole log verifies.
    let file = std::fs::File::open(dir.path().join("audit.jsonl")).unwrap();
    hjemmekontor::gateway::audit::verify(std::io::BufReader::new(file)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_a_certificate_is_refused_and_audited() {
    let setup = start(office_pc(), closed_port(), true).await;
    assert!(
        !setup.talks_without_a_certificate().await,
        "the gateway talked to a client without a card"
    );
    let attempts = setup.wait_attempts(1).await;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0]["event"], "login-refused");
    assert_eq!(attempts[0]["reason"], "no-certificate");
    setup.stop().await;
}
