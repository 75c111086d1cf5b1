//! The gateway behind a load balancer, in-process on 127.0.0.1: a balancer's PROXY protocol
//! v2 header gives the client's address to the audit log and to lockout; a header from anyone
//! else is never read; a balancer's connection without one is closed; the readiness port says
//! ready only while the audit log takes records. The balancer here is a small relay in the
//! test that writes the header by hand, from 127.0.0.3 (any 127/8 address is this machine);
//! `cluster_haproxy.rs` puts the real HAProxy in front.
//! Nothing here asserts a time; waits are bounded only so that a hang fails.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hjemmekontor::client::session::SessionError;
use hjemmekontor::tunnel::protocol::RejectCode;
use support::inproc::{connect_from, office_grant, office_pc, users, InProcessGateway, PASSWORD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// The balancer's own address, as the gateway sees it.
const BALANCER: [u8; 4] = [127, 0, 0, 3];

fn behind_balancer() -> String {
    format!(
        "[load_balancer]\naddresses = [\"127.0.0.3\"]\n\n[lockout]\nmax_failures = 50\n\
         max_failures_per_address = 3\nwindow_secs = 600\nlock_secs = 600\nmax_lock_secs = 600\n\n{}\n{}",
        users(),
        office_grant(office_pc())
    )
}

/// A PROXY protocol v2 header for a TCP connection from `client` to `to`, from the
/// protocol's layout.
fn proxy_header(client: SocketAddr, to: SocketAddr) -> Vec<u8> {
    let (SocketAddr::V4(c), SocketAddr::V4(t)) = (client, to) else {
        panic!("IPv4 only here");
    };
    let mut out = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    out.extend_from_slice(&[0x21, 0x11, 0, 12]);
    out.extend_from_slice(&c.ip().octets());
    out.extend_from_slice(&t.ip().octets());
    out.extend_from_slice(&c.port().to_be_bytes());
    out.extend_from_slice(&t.port().to_be_bytes());
    out
}

/// A relay on 127.0.0.1 that passes every connection to `gateway` from [`BALANCER`], first
/// writing a header that says the client is `claimed`.
async fn balancer(gateway: SocketAddr, claimed: SocketAddr) -> (SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        loop {
            let (mut client, _) = tokio::select! {
                _ = stopped.cancelled() => return,
                a = listener.accept() => a.unwrap(),
            };
            tokio::spawn(async move {
                let mut upstream = connect_from(BALANCER, gateway).await;
                upstream
                    .write_all(&proxy_header(claimed, gateway))
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (front, stop)
}

fn sources(gw: &InProcessGateway) -> Vec<String> {
    gw.attempts()
        .iter()
        .filter_map(|r| r["source"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_balancers_header_is_the_address_in_the_audit_log_and_for_lockout() {
    let gw = InProcessGateway::start(&behind_balancer()).await;
    let claimed: SocketAddr = "198.51.100.23:40123".parse().unwrap();
    let (front, _stop) = balancer(gw.addr, claimed).await;

    let tunnel = InProcessGateway::login_through(front, "person-high", "ase", PASSWORD)
        .await
        .expect("a login through the balancer");
    drop(tunnel);
    let accepted = gw.wait_for("login-accepted").await;
    assert_eq!(accepted["source"], "198.51.100.23:40123", "{accepted}");

    // Three wrong passwords lock the client (per-address limit 3): the refusals, the lock
    // and its record all carry the client's address, never the balancer's.
    for _ in 0..3 {
        let refused = InProcessGateway::login_through(front, "person-high", "ase", "feil").await;
        assert!(refused.is_err());
    }
    let locked = InProcessGateway::login_through(front, "person-high", "ase", PASSWORD).await;
    match locked {
        Err(SessionError::Rejected(r)) => assert_eq!(r.code, RejectCode::LockedOut, "{r:?}"),
        Err(other) => panic!("expected the client locked, got {other:?}"),
        Ok(_) => panic!("expected the client locked, got a session"),
    }
    let records = gw.wait_attempts(6).await;
    let sources = sources(&gw);
    // The accepted login, three wrong passwords and the lock; the session's end has none.
    assert_eq!(sources.len(), 5, "{records:?}");
    assert!(
        sources.iter().all(|s| s == "198.51.100.23:40123"),
        "the balancer's own address is never a client: {sources:?}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_from_anyone_but_a_balancer_is_not_read() {
    let gw = InProcessGateway::start(&behind_balancer()).await;
    let mut forged = connect_from([127, 0, 0, 1], gw.addr).await;
    forged
        .write_all(&proxy_header("203.0.113.7:1".parse().unwrap(), gw.addr))
        .await
        .unwrap();
    forged
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x05])
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let answer = tokio::time::timeout(Duration::from_secs(15), forged.read(&mut buf))
        .await
        .expect("the gateway closes a connection that is not TLS");
    // Either a TLS alert or nothing, then the close: never a session.
    assert!(
        !matches!(answer, Ok(n) if n > 0 && buf[0] != 0x15),
        "{:?}",
        &buf[..8]
    );

    gw.login("person-high", "ase", PASSWORD).await.unwrap();
    gw.wait_for("login-accepted").await;
    let sources = sources(&gw);
    assert!(
        !sources.iter().any(|s| s.contains("203.0.113.7")),
        "{sources:?}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balancer_that_sends_no_header_is_closed_without_a_record() {
    let gw = InProcessGateway::start(&behind_balancer()).await;
    let mut plain = connect_from(BALANCER, gw.addr).await;
    // A ClientHello's first bytes where the header should be.
    plain
        .write_all(&[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0, 0, 0, 0, 0,
        ])
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(15), plain.read(&mut buf))
        .await
        .expect("the gateway closes the balancer's headerless connection");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(gw.attempts().is_empty(), "{:?}", gw.attempts());
    gw.stop().await;
}

async fn ask(port: SocketAddr, path: &str) -> String {
    let mut tcp = TcpStream::connect(port).await.unwrap();
    tcp.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(15), tcp.read_to_string(&mut answer))
        .await
        .expect("the readiness port answers and closes")
        .unwrap();
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readiness_port_says_not_ready_while_the_audit_log_is_away() {
    let gw = InProcessGateway::start(&behind_balancer()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap();
    tokio::spawn(Arc::clone(&gw.gateway).serve_health(listener, gw.shutdown.clone()));

    let ready = ask(port, "/ready").await;
    assert!(ready.starts_with("HTTP/1.0 200 OK\r\n"), "{ready}");
    assert!(ready.contains("\r\n\r\nready\naudit: ok"), "{ready}");
    assert!(
        ready.contains("directory: ok (configuration file, 2 users)"),
        "{ready}"
    );
    assert!(
        !ready.contains(PASSWORD) && !ready.contains("argon2"),
        "{ready}"
    );

    let log = gw.dir.path().join("audit.jsonl");
    let away = gw.dir.path().join("audit.jsonl.away");
    std::fs::rename(&log, &away).unwrap();
    let not_ready = ask(port, "/ready").await;
    assert!(not_ready.starts_with("HTTP/1.0 503 "), "{not_ready}");
    assert!(not_ready.contains("audit: FAILING: "), "{not_ready}");
    assert!(ask(port, "/live").await.starts_with("HTTP/1.0 200 OK\r\n"));

    std::fs::rename(&away, &log).unwrap();
    assert!(ask(port, "/ready").await.starts_with("HTTP/1.0 200 OK\r\n"));
    assert!(ask(port, "/nothing").await.starts_with("HTTP/1.0 404 "));
    gw.stop().await;
}
