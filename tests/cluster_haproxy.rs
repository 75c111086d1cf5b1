//! The real HAProxy (Debian's) in front of two gateways, with the configuration the project
//! ships (`installer/gateway/haproxy.cfg`), changed only in its addresses: logins land on
//! both gateways with the client's own address; a gateway whose readiness port says "not
//! ready" (its audit log moved away) is taken out of rotation and every login goes to the
//! other, and it comes back when the log does. HAProxy connects from 127.0.0.3, so its own
//! address and the client's (127.0.0.1) differ.
//! Nothing here asserts a time; waits are bounded only so that a hang fails.

mod support;

use std::sync::Arc;

use support::haproxy::{gateway_sections, require_haproxy, Backend, Haproxy};
use support::inproc::{office_grant, office_pc, users, InProcessGateway, PASSWORD};
use support::world::free_port;
use tokio::net::TcpListener;

/// A gateway behind HAProxy, in-process, with its readiness port.
struct Member {
    gateway: InProcessGateway,
    backend: Backend,
}

async fn member() -> Member {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let health = listener.local_addr().unwrap();
    let rest = format!(
        "{}\n{}\n{}",
        gateway_sections(health),
        users(),
        office_grant(office_pc())
    );
    let gateway = InProcessGateway::start(&rest).await;
    tokio::spawn(Arc::clone(&gateway.gateway).serve_health(listener, gateway.shutdown.clone()));
    let backend = Backend {
        gateway: gateway.addr,
        health,
    };
    Member { gateway, backend }
}

/// Waits (bounded) for HAProxy's view without holding up the gateways' runtime.
fn wait_for(haproxy: &Haproxy, want: &[(&str, &str)]) {
    tokio::task::block_in_place(|| haproxy.wait_for(want));
}

fn accepted(m: &Member) -> Vec<String> {
    m.gateway
        .audit()
        .iter()
        .filter(|r| r["event"] == "login-accepted")
        .map(|r| r["source"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_spreads_logins_and_takes_out_a_gateway_that_is_not_ready() {
    if !require_haproxy("haproxy_spreads_logins_and_takes_out_a_gateway_that_is_not_ready") {
        return;
    }
    let (a, b) = (member().await, member().await);
    let front = free_port();
    let haproxy = Haproxy::start(front, &[a.backend, b.backend]);
    wait_for(&haproxy, &[("gw-a", "UP"), ("gw-b", "UP")]);

    // Sessions held open: least-connections sends the second to the other gateway.
    let first = InProcessGateway::login_through(front, "person-high", "ase", PASSWORD)
        .await
        .expect("a login through HAProxy");
    let second = InProcessGateway::login_through(front, "person-high", "ase", PASSWORD)
        .await
        .expect("a second login through HAProxy");
    let (on_a, on_b) = (accepted(&a), accepted(&b));
    assert_eq!((on_a.len(), on_b.len()), (1, 1), "a: {on_a:?}, b: {on_b:?}");
    for source in on_a.iter().chain(&on_b) {
        assert!(
            source.starts_with("127.0.0.1:"),
            "the client's address, not HAProxy's: {source}"
        );
    }
    drop((first, second));

    // Gateway A's audit log is moved away: its readiness port says so, HAProxy takes it out,
    // and every login goes to B.
    let log = a.gateway.dir.path().join("audit.jsonl");
    let away = a.gateway.dir.path().join("audit.jsonl.away");
    std::fs::rename(&log, &away).unwrap();
    wait_for(&haproxy, &[("gw-a", "DOWN"), ("gw-b", "UP")]);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            InProcessGateway::login_through(front, "person-high", "ase", PASSWORD)
                .await
                .expect("a login while one gateway is out"),
        );
    }
    std::fs::rename(&away, &log).unwrap();
    assert_eq!(
        accepted(&a).len(),
        1,
        "nothing reached the gateway that was out"
    );
    assert_eq!(accepted(&b).len(), 4);

    // With its log back, A is back in rotation.
    wait_for(&haproxy, &[("gw-a", "UP"), ("gw-b", "UP")]);
    drop(held);
    drop(haproxy);
    a.gateway.stop().await;
    b.gateway.stop().await;
}
