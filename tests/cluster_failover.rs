//! Two gateway processes behind the real HAProxy, and `hjemmekontor connect` with the virtual
//! card through the real PC/SC stack: the gateway holding the session is killed, and the
//! client comes back through HAProxy on the other one, without a new PIN (stdin had one),
//! with one more card signature, and bytes flow to the office PC again.
//!
//! Needs pcscd with vsmartcard-vpcd and HAProxy. With `CI` set their absence is a failure;
//! otherwise the test prints a notice and passes without running.

mod support;

use support::haproxy::{gateway_sections, require_haproxy, server_name, Backend, Haproxy};
use support::stack::{require_stack, serial, start_card};
use support::world::{free_port, round_trip, GatewayWorld, Proc, PASSWORD};

fn signatures(card_status: &str) -> u64 {
    card_status
        .split_whitespace()
        .find_map(|w| w.strip_prefix("signatures="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

/// A gateway process behind HAProxy.
struct Member {
    world: GatewayWorld,
    backend: Backend,
    process: Option<Proc>,
}

fn member() -> Member {
    let health = free_port();
    let world = GatewayWorld::with_rules(&gateway_sections(health));
    let process = Some(world.start_gateway());
    let backend = Backend {
        gateway: world.gateway,
        health,
    };
    Member {
        world,
        backend,
        process,
    }
}

fn logins(m: &Member) -> usize {
    m.world
        .audit()
        .iter()
        .filter(|r| r["event"] == "login-accepted")
        .count()
}

#[test]
fn a_killed_gateway_moves_the_client_to_the_other_without_a_new_pin() {
    let _lock = serial();
    let test = "a_killed_gateway_moves_the_client_to_the_other_without_a_new_pin";
    if !require_stack(test) || !require_haproxy(test) {
        return;
    }
    let (cert, key) = support::pki::files("person-high");
    let card = start_card([
        "--cert".as_ref(),
        cert.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
    ]);
    let mut members = [member(), member()];
    let front = free_port();
    let haproxy = Haproxy::start(front, &[members[0].backend, members[1].backend]);
    haproxy.wait_for(&[("gw-a", "UP"), ("gw-b", "UP")]);

    let (_client, events) = members[0].world.connect_at(front, PASSWORD, &[], &[]);
    let first = &members[0].world;
    assert_eq!(events.next("tunnel-up", first)["event"], "tunnel-up");
    let (_, echoed) = round_trip(events.listen, "hei");
    assert_eq!(echoed, "hei\n");
    let serving = (0..2)
        .find(|&i| logins(&members[i]) == 1)
        .expect("one gateway logged the client in");
    let other = 1 - serving;
    assert_eq!(logins(&members[other]), 0);

    // Killed, not stopped: no goodbye to the client, no session-ended record.
    drop(members[serving].process.take());
    let closed = events.next("tunnel-closed", first);
    assert_eq!(closed["reason"], "connection-lost", "{closed}");
    let up = events.next("tunnel-up again", first);
    assert_eq!(up["event"], "tunnel-up", "{up}");
    let (_, echoed) = round_trip(events.listen, "igjen");
    assert_eq!(echoed, "igjen\n");
    assert_eq!(
        logins(&members[other]),
        1,
        "the client came back on the gateway that lives"
    );
    haproxy.wait_for(&[(&server_name(serving), "DOWN"), (&server_name(other), "UP")]);
    // One signature per session, and the PIN was not asked again (stdin had one PIN).
    assert_eq!(signatures(&card.ctl("status").unwrap()), 2);
    assert!(card.ctl("status").unwrap().contains("pin_tries=3"));
}
