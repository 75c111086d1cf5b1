//! A logged-in session at the real gateway server (in-process, TLS, the virtual card
//! in-process): which streams it records (`stream-opened`, and `target-refused` with why),
//! and how it ends: a client that breaks the protocol after the login loses its session and
//! its slot, a pulled card is recorded as such, and a gateway that stops tells the client.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use hjemmekontor::client::session::{self, Credentials, GatewayTarget, Tunnel};
use hjemmekontor::secret::Password;
use hjemmekontor::tunnel::protocol::{
    client_login, read_gateway_message, write_message, ClientEndReason, ClientMessage,
    GatewayEndReason, GatewayMessage, Login, LoginAnswer, Open, RefuseCode, ALPN,
    DEFAULT_MAX_FRAME_LEN, PROTOCOL_VERSION,
};
use hjemmekontor::tunnel::tls::{client_config, CardSigningKey};
use serde_json::Value;
use support::gateway::user_entry;
use support::inproc::{roots, signer, InProcessGateway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "riktig-passord-TEST";
const MAX: usize = DEFAULT_MAX_FRAME_LEN;
/// Bound on any wait that must end.
const WAIT: Duration = Duration::from_secs(30);

/// Åse (the TEST PKI's person) may reach `kontor-pc`; `annen-pc` exists but is not hers.
/// One session at a time, so a session that is not let go blocks the next login.
async fn gateway() -> (InProcessGateway, SocketAddr) {
    let office = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let office_addr = office.local_addr().unwrap();
    std::thread::spawn(move || hjemmekontor::vcard::office_pc::serve(office));
    let user = user_entry("ase", "UN:NO-9578-4050-12345678", PASSWORD);
    let rest = format!(
        r#"[limits]
max_sessions = 1

{user}
[[machine]]
id = "kontor-pc"
name = "Kontor-PC"
address = "{office_addr}"

[[machine]]
id = "annen-pc"
name = "Noen andres PC"
address = "{office_addr}"

[[grant]]
user = "ase"
machines = ["kontor-pc"]
"#
    );
    let gw = InProcessGateway::start(&rest).await;
    (gw, office_addr)
}

async fn log_in(gw: &InProcessGateway) -> Tunnel {
    let (signer, _) = signer("person-high");
    let target = GatewayTarget::new(&gw.addr.to_string(), roots()).unwrap();
    let creds = Credentials {
        username: "ase".into(),
        password: Password::from_input(PASSWORD.into()),
    };
    tokio::time::timeout(
        WAIT,
        session::open(
            &target,
            &signer,
            &creds,
            &hjemmekontor::posture::report::Report::unknown(0, "a test client reports nothing"),
        ),
    )
    .await
    .unwrap()
    .unwrap()
}

/// Opens a stream and returns the gateway's first answer on it.
async fn ask_for(tunnel: &Tunnel, target: &str) -> GatewayMessage {
    let mut stream = tunnel.mux.open_stream().await.unwrap();
    let open = ClientMessage::Open(Open {
        target: target.into(),
    });
    write_message(&mut stream, &open, MAX).await.unwrap();
    read_gateway_message(&mut stream, MAX).await.unwrap()
}

fn records<'a>(audit: &'a [Value], event: &str) -> Vec<&'a Value> {
    audit.iter().filter(|r| r["event"] == event).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_recorded_with_who_reached_what_and_refusals_say_why() {
    let (gw, office) = gateway().await;
    let tunnel = log_in(&gw).await;
    let session_id = tunnel.accepted.session_id.clone();

    assert!(matches!(
        ask_for(&tunnel, "kontor-pc").await,
        GatewayMessage::Opened(_)
    ));
    // Durable before `opened` went out: it is in the log already.
    let opened = records(&gw.audit(), "stream-opened")
        .first()
        .copied()
        .cloned()
        .expect("stream-opened is written before the client hears `opened`");
    assert_eq!(opened["session_id"], session_id);
    assert_eq!(opened["user"], "ase");
    assert_eq!(opened["target"], "kontor-pc");
    assert_eq!(opened["address"], office.to_string());
    assert!(opened["source"].as_str().unwrap().starts_with("127.0.0.1:"));

    let mut answers = Vec::new();
    for target in ["annen-pc", "finnes-ikke"] {
        match ask_for(&tunnel, target).await {
            GatewayMessage::Refused(r) => {
                assert_eq!(r.code, RefuseCode::NotGranted);
                answers.push(r.message);
            }
            other => panic!("{target}: {other:?}"),
        }
    }
    assert_eq!(answers[0], answers[1], "the client cannot tell them apart");

    session::close(&tunnel, ClientEndReason::CardRemoved).await;
    gw.wait_for("session-ended").await;
    let (audit, _) = gw.stop().await;
    let refused = records(&audit, "target-refused");
    let why: Vec<_> = refused
        .iter()
        .map(|r| (r["target"].as_str().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        why,
        [
            ("annen-pc", "not-granted"),
            ("finnes-ikke", "unknown-target")
        ]
    );
    let ended = records(&audit, "session-ended")[0];
    assert_eq!(ended["reason"], "card-removed");
    assert_eq!(ended["target_streams"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_after_the_login_ends_the_session_and_frees_its_slot() {
    let (gw, _) = gateway().await;
    // The client's side by hand, to write what no client should.
    let (signer, _) = signer("person-high");
    let config = client_config(CardSigningKey::new(signer), roots(), false).unwrap();
    assert_eq!(config.alpn_protocols, [ALPN.to_vec()]);
    let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .unwrap();
    let login = Login {
        version: PROTOCOL_VERSION,
        client_version: "test".into(),
        username: "ase".into(),
        password: Password::from_input(PASSWORD.into()),
    };
    let report = hjemmekontor::posture::report::Report::unknown(0, "a test client reports nothing");
    let answer = client_login(&mut tls, &report, &login, MAX).await.unwrap();
    assert!(matches!(answer, LoginAnswer::Accepted(_)), "{answer:?}");
    tls.write_all(b"GET / HTTP/1.1\r\nHost: gateway\r\n\r\n")
        .await
        .unwrap();
    tls.flush().await.unwrap();

    // The gateway closes the connection without the client doing anything more.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(WAIT, tls.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the gateway kept the connection open");
    let ended = gw.wait_for("session-ended").await;
    assert_eq!(ended["reason"], "protocol-error", "{ended}");

    // With one session allowed, the next login gets in: the slot was let go.
    let tunnel = log_in(&gw).await;
    session::close(&tunnel, ClientEndReason::ClientClosed).await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_stops_tells_the_client_why() {
    let (gw, _) = gateway().await;
    let mut tunnel = log_in(&gw).await;
    gw.shutdown.cancel();
    let end = tokio::time::timeout(WAIT, &mut tunnel.driver).await;
    assert!(end.is_ok(), "the gateway did not close the connection");
    let notice = session::ending(&mut tunnel)
        .await
        .expect("an ending notice");
    assert_eq!(notice.reason, GatewayEndReason::GatewayShutdown);
    assert!(!notice.message.is_empty());
    let (audit, _) = gw.stop().await;
    assert_eq!(
        records(&audit, "session-ended")[0]["reason"],
        "gateway-shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_revoked_by_a_crl_reload_loses_its_running_session() {
    let (gw, _) = gateway().await;
    let mut tunnel = log_in(&gw).await;
    // The CA publishes a newer list naming Åse's card; the gateway reloads its trust.
    let crl = support::pki::test_pki()
        .revocation_list(
            time::OffsetDateTime::now_utc(),
            2,
            &["revoked", "person-high"],
        )
        .unwrap();
    std::fs::write(gw.dir.path().join("crl.pem"), crl).unwrap();
    let gateway = std::sync::Arc::clone(&gw.gateway);
    tokio::task::spawn_blocking(move || gateway.reload_trust())
        .await
        .unwrap()
        .expect("the new list loads");

    let end = tokio::time::timeout(WAIT, &mut tunnel.driver).await;
    assert!(end.is_ok(), "the revoked card's session was not closed");
    let notice = session::ending(&mut tunnel)
        .await
        .expect("an ending notice");
    assert_eq!(notice.reason, GatewayEndReason::Revoked);
    let ended = gw.wait_for("session-ended").await;
    assert_eq!(ended["reason"], "revoked");
    // And the card cannot come back.
    let (signer, _) = signer("person-high");
    let creds = Credentials {
        username: "ase".into(),
        password: Password::from_input(PASSWORD.into()),
    };
    let target = GatewayTarget::new(&gw.addr.to_string(), roots()).unwrap();
    let again = session::open(
        &target,
        &signer,
        &creds,
        &hjemmekontor::posture::report::Report::unknown(0, "a test client reports nothing"),
    )
    .await;
    assert!(again.is_err(), "a revoked card logged in again");
    let (audit, _) = gw.stop().await;
    assert!(audit
        .iter()
        .any(|r| r["event"] == "login-refused" && r["reason"] == "revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_probing_for_machines_is_ended_after_a_few_refusals() {
    let (gw, _) = gateway().await;
    let mut tunnel = log_in(&gw).await;
    for i in 0..8 {
        let answer = ask_for(&tunnel, &format!("gjett-{i}")).await;
        assert!(matches!(answer, GatewayMessage::Refused(_)), "{answer:?}");
    }
    // The ninth guess ends the session instead of adding a ninth record.
    let mut stream = tunnel.mux.open_stream().await.unwrap();
    let open = ClientMessage::Open(Open {
        target: "gjett-8".into(),
    });
    let _ = write_message(&mut stream, &open, MAX).await;
    let end = tokio::time::timeout(WAIT, &mut tunnel.driver).await;
    assert!(end.is_ok(), "the probing session was not closed");
    let ended = gw.wait_for("session-ended").await;
    assert_eq!(ended["reason"], "too-many-refusals");
    let (audit, _) = gw.stop().await;
    assert_eq!(records(&audit, "target-refused").len(), 8);
}
