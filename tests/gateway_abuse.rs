//! Attacks on the gateway's door, each with small limits, in-process on 127.0.0.1: silent and
//! slow connections from one address do not keep a user out, a full door answers "busy" in a
//! way the client recognises, and session slots are taken only by logins that succeeded.
//! Nothing here asserts a time; waits are bounded only so that a hang fails.

mod support;

use std::time::Duration;

use hjemmekontor::client::session::SessionError;
use hjemmekontor::tunnel::busy;
use hjemmekontor::tunnel::protocol::RejectCode;
use hjemmekontor::tunnel::tls::{client_config, CardSigningKey};
use rustls::pki_types::ServerName;
use support::inproc::{
    connect_from, office_grant, office_pc, roots, signer, users, InProcessGateway, PASSWORD,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn limits(pending: u32, per_address: u32, sessions: u32) -> String {
    format!(
        "[limits]\nmax_pending_logins = {pending}\nmax_pending_logins_per_address = \
         {per_address}\nmax_sessions = {sessions}\nlogin_timeout_secs = 30\n\n{}\n{}",
        users(),
        office_grant(office_pc())
    )
}

/// How many connections this process may hold open, leaving room for everything else.
fn connection_budget(wanted: usize) -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse::<usize>().ok())
        })
        .unwrap_or(1024);
    wanted.min(soft.saturating_sub(200) / 2).max(100)
}

/// The first flight of a real client (a TLS ClientHello with our ALPN), to send and then
/// stall: the connection counts as one whose handshake is under way.
fn client_hello() -> Vec<u8> {
    let (card, _) = signer("person-high");
    let config = client_config(CardSigningKey::new(card), roots(), false).unwrap();
    let mut conn =
        rustls::ClientConnection::new(config, ServerName::try_from("localhost").unwrap()).unwrap();
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello).unwrap();
    }
    hello
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_slow_connections_from_one_address_do_not_keep_a_user_out() {
    let gateway = InProcessGateway::start(&limits(64, 8, 100)).await;
    let count = connection_budget(2_000);
    // The flood holds its connections and opens a new one whenever the gateway closes one.
    let stop = tokio_util::sync::CancellationToken::new();
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..count {
        let (addr, stop) = (gateway.addr, stop.clone());
        flood.spawn(async move {
            while !stop.is_cancelled() {
                let Ok(mut tcp) = TcpStream::connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                if i % 10 == 0 {
                    // Slow: the first byte of a TLS record, and nothing more.
                    let _ = tcp.write_all(&[0x16]).await;
                }
                let mut sink = [0u8; 64];
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tcp.read(&mut sink) => {}
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The user comes from the same address as the flood, and does what our client does
    // with a busy answer (or a connection closed without a word): waits and tries again, a
    // few times.
    let mut tries = 0;
    let tunnel = loop {
        tries += 1;
        let login = tokio::time::timeout(
            Duration::from_secs(60),
            gateway.login("person-high", "ase", PASSWORD),
        )
        .await
        .expect("the login finishes");
        match login {
            Err(SessionError::Busy { retry_after_secs }) if tries < 5 => {
                tokio::time::sleep(Duration::from_secs(u64::from(retry_after_secs))).await;
            }
            Err(SessionError::Dropped { .. }) if tries < 5 => {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            other => break other.expect("a legitimate login gets in while the flood holds on"),
        }
    };
    assert!(!tunnel.accepted.session_id.is_empty());
    let accepted = gateway
        .attempts()
        .into_iter()
        .filter(|r| r["event"] == "login-accepted")
        .count();
    assert_eq!(accepted, 1);
    eprintln!("the user got in at try {tries}");
    stop.cancel();
    while flood.join_next().await.is_some() {}
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_door_answers_busy_and_the_client_says_so() {
    let gateway = InProcessGateway::start(&limits(1, 1, 100)).await;
    // Another address starts a handshake and stalls: it has sent its ClientHello, so nothing
    // newer from elsewhere may displace it.
    let mut stalled = connect_from([127, 0, 0, 2], gateway.addr).await;
    stalled.write_all(&client_hello()).await.unwrap();
    let mut first = [0u8; 1];
    tokio::time::timeout(Duration::from_secs(10), stalled.read_exact(&mut first))
        .await
        .expect("the gateway answers the ClientHello")
        .unwrap();
    assert_eq!(first[0], 0x16, "a TLS handshake record");

    // A raw connection sees the one-line answer.
    let mut raw = connect_from([127, 0, 0, 3], gateway.addr).await;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), raw.read_to_end(&mut answer))
        .await
        .expect("the busy answer is followed by a close")
        .unwrap();
    assert_eq!(busy::parse(&answer), Some(5), "{answer:?}");

    // Our client says "busy", not "the card was refused".
    let err = gateway
        .login("person-high", "ase", PASSWORD)
        .await
        .err()
        .expect("the door is full");
    assert!(
        matches!(
            err,
            SessionError::Busy {
                retry_after_secs: 5
            }
        ),
        "{err:?}"
    );
    drop(stalled);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_slots_are_taken_by_logins_only_and_a_full_gateway_says_busy() {
    let gateway = InProcessGateway::start(&limits(64, 8, 1)).await;
    // Connections that never log in hold no session slot.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(gateway.addr).await.unwrap());
    }
    let first = gateway
        .login("person-high", "ase", PASSWORD)
        .await
        .expect("the only slot is free");
    let err = gateway
        .login("person-high", "ase", PASSWORD)
        .await
        .err()
        .expect("the only slot is taken");
    match &err {
        SessionError::Rejected(r) => {
            assert_eq!(r.code, RejectCode::ServerBusy);
            assert!(r.message.contains("opptatt"), "{}", r.message);
        }
        other => panic!("{other:?}"),
    }
    let busy = gateway
        .attempts()
        .into_iter()
        .find(|r| r["reason"] == "server-busy")
        .expect("the busy answer is recorded");
    assert_eq!(busy["user"], "ase");
    assert_eq!(busy["personal_id"], "UN:NO-9578-4050-12345678");

    hjemmekontor::client::session::close(
        &first,
        hjemmekontor::tunnel::protocol::ClientEndReason::ClientClosed,
    )
    .await;
    let _ = tokio::time::timeout(Duration::from_secs(10), first.driver).await;
    // The slot comes back once the session has ended.
    let mut again = None;
    for _ in 0..50 {
        match gateway.login("person-high", "ase", PASSWORD).await {
            Ok(t) => {
                again = Some(t);
                break;
            }
            Err(SessionError::Rejected(r)) if r.code == RejectCode::ServerBusy => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(again.is_some(), "the slot was never given back");
    drop(idle);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refusals_from_one_address_is_one_record_and_a_count() {
    let gateway = InProcessGateway::start(&limits(64, 8, 100)).await;
    for _ in 0..40 {
        assert!(!gateway.talks_without_a_certificate().await);
    }
    let (audit, dir) = gateway.stop().await;
    let refused: Vec<_> = audit
        .iter()
        .filter(|r| r["event"] == "login-refused")
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["reason"], "no-certificate");
    let repeated: Vec<_> = audit
        .iter()
        .filter(|r| r["event"] == "login-refused-repeated")
        .collect();
    assert_eq!(repeated.len(), 1, "{audit:?}");
    assert_eq!(repeated[0]["reason"], "no-certificate");
    assert_eq!(repeated[0]["source"], "127.0.0.1");
    assert_eq!(repeated[0]["count"], 39);
    let file = std::fs::File::open(dir.path().join("audit.jsonl")).unwrap();
    hjemmekontor::gateway::audit::verify(std::io::BufReader::new(file)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_log_moved_away_stops_logins_with_a_clear_answer_until_it_is_back() {
    let gateway = InProcessGateway::start(&limits(64, 8, 100)).await;
    gateway
        .login("person-high", "ase", PASSWORD)
        .await
        .expect("logins work while the log is in place");
    let log = gateway.dir.path().join("audit.jsonl");
    let moved = gateway.dir.path().join("audit.moved");
    std::fs::rename(&log, &moved).unwrap();

    // A login that would pass, and a card that is refused: neither gets in, neither is told
    // anything but "cannot log in now".
    match gateway.login("person-high", "ase", PASSWORD).await {
        Err(SessionError::Rejected(r)) => {
            assert_eq!(r.code, RejectCode::Unavailable, "{r:?}");
            assert!(r.message.contains("kan ikke ta imot"), "{}", r.message);
        }
        other => panic!("{:?}", other.map(|t| t.accepted)),
    }
    match gateway.login("revoked", "ase", PASSWORD).await {
        Err(SessionError::Unavailable) => {}
        other => panic!("{:?}", other.map(|t| t.accepted)),
    }

    std::fs::rename(&moved, &log).unwrap();
    gateway
        .login("person-high", "ase", PASSWORD)
        .await
        .expect("logins resume once the log is back");
    let (audit, dir) = gateway.stop().await;
    let accepted = audit
        .iter()
        .filter(|r| r["event"] == "login-accepted")
        .count();
    assert_eq!(
        accepted, 2,
        "nothing was recorded while the log was away: {audit:?}"
    );
    let file = std::fs::File::open(dir.path().join("audit.jsonl")).unwrap();
    hjemmekontor::gateway::audit::verify(std::io::BufReader::new(file)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_card_and_password_cannot_take_every_session() {
    let rest = limits(64, 8, 10).replace("[limits]\n", "[limits]\nmax_sessions_per_user = 2\n");
    let gateway = InProcessGateway::start(&rest).await;
    let _first = gateway.login("person-high", "ase", PASSWORD).await.unwrap();
    let _second = gateway.login("person-high", "ase", PASSWORD).await.unwrap();
    match gateway.login("person-high", "ase", PASSWORD).await {
        Err(SessionError::Rejected(r)) => {
            assert_eq!(r.code, RejectCode::ServerBusy);
            assert!(r.message.contains("2 økter"), "{}", r.message);
            // The fact the client words it with.
            assert_eq!(r.open_sessions, Some(2));
        }
        other => panic!("{:?}", other.map(|t| t.accepted)),
    }
    let (audit, _) = gateway.stop().await;
    assert_eq!(
        audit
            .iter()
            .filter(|r| r["event"] == "login-accepted")
            .count(),
        2
    );
    assert!(audit
        .iter()
        .any(|r| r["reason"] == "server-busy" && r["user"] == "ase"));
}
