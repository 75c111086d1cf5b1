//! The real gateway binary under attack. Each attack gets a fresh gateway (TEST PKI, real
//! argon2 hashes of m = 19 MiB, small limits stated in [`LIMITS`]) on 127.0.0.1, and is
//! measured three ways: the gateway's memory (peak `VmHWM`, `VmRSS` sampled during the
//! attack, and `VmRSS` a few seconds after it), a legitimate user's logins during the attack
//! (latency, and every failure by kind), and how fast the audit log grows. The attacker
//! comes from 127.0.0.2 unless a row says otherwise; the user from 127.0.0.1.
//!
//! `cargo bench --bench gateway_abuse` runs the full sizes (about six minutes);
//! `HJK_ABUSE_ONLY=TEXT` runs only the attacks whose name holds TEXT, and an attack that takes
//! the gateway past `HJK_ABUSE_RSS_CAP_MIB` (default: half the available memory, at most 8 GiB) is
//! stopped there. `cargo test` runs it small, as a smoke test that asserts correctness only
//! (the user gets in during silent connections from another address, the gateway serves the
//! user after every attack, garbage ends the session, unknown targets are refused, the audit
//! chain holds), never time. The results are in `docs/threat-model.md` ("Measured under attack").
//!
//! Attacker, user and gateway share the machine's cores: the numbers are what a gateway does
//! with an attacker on its own machine, a floor for one with the machine to itself.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use hjemmekontor::card::emulated::InProcessTransport;
use hjemmekontor::card::piv::{Piv, Slot};
use hjemmekontor::card::piv_credential::PivKey;
use hjemmekontor::client::session::{self, Credentials, GatewayTarget, SessionError};
use hjemmekontor::gateway::auth::hash_password;
use hjemmekontor::secret::{Password, Pin};
use hjemmekontor::tunnel::busy::{self, FirstBytes};
use hjemmekontor::tunnel::mux::{MuxClient, MuxConfig};
use hjemmekontor::tunnel::protocol::{
    self, ClientEndReason, ClientMessage, GatewayMessage, Login, LoginAnswer, Open,
    DEFAULT_MAX_FRAME_LEN, PROTOCOL_VERSION,
};
use hjemmekontor::tunnel::tls::{client_config, provider, CardSigner, CardSigningKey};
use hjemmekontor::vcard::pki::{self, PkiOptions};
use hjemmekontor::vcard::{PivConfig, SlotKey, VirtualPiv};
use rand_core::RngCore;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;

/// The legitimate user, with a TEST PKI card.
const USER: &str = "ase";
const USER_PASSWORD: &str = "riktig-passord-TEST";
/// The attacker's valid card belongs to this user.
const ATTACKER: &str = "ola";
const ATTACKER_PERSON_ID: &str = "87654321";
const ATTACKER_PASSWORD: &str = "olas-passord-TEST";
const WRONG_PASSWORD: &str = "gjettet-passord-TEST";
const USER_IP: Ipv4Addr = Ipv4Addr::LOCALHOST;
const ATTACKER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// The gateway's limits in every run: small, so each attack meets them within seconds.
const LIMITS: &str = r#"[limits]
max_sessions = 32
max_streams_per_session = 8
login_timeout_secs = 10
max_session_secs = 300
max_pending_logins = 64
max_pending_logins_per_address = 8
password_check_threads = 2
password_check_queue = 8

[lockout]
max_failures = 5
max_failures_per_address = 20
window_secs = 900
lock_secs = 300
"#;

/// Bound on each step of an attacker's login.
const STEP: Duration = Duration::from_secs(30);
/// How long a garbage-writing session may stay open before that counts as a failure.
const GARBAGE_BOUND: Duration = Duration::from_secs(10);
/// The first bytes of a TLS ClientHello, which a slow-loris connection sends one at a time.
const HELLO_START: &[u8] = &[
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
];
struct Sizes {
    silent: usize,
    logins: usize,
    login_addresses: u8,
    flood_tasks: usize,
    stream_tasks: usize,
    garbage_tasks: usize,
    legit: usize,
    legit_every: Duration,
    warmup: Duration,
    settle: Duration,
}

const FULL: Sizes = Sizes {
    silent: 2000,
    logins: 500,
    login_addresses: 100,
    flood_tasks: 8,
    stream_tasks: 8,
    garbage_tasks: 4,
    legit: 20,
    legit_every: Duration::from_secs(1),
    warmup: Duration::from_secs(5),
    settle: Duration::from_secs(5),
};

const SMOKE: Sizes = Sizes {
    silent: 50,
    logins: 5,
    login_addresses: 5,
    flood_tasks: 2,
    stream_tasks: 2,
    garbage_tasks: 1,
    legit: 1,
    legit_every: Duration::from_millis(200),
    warmup: Duration::from_millis(500),
    settle: Duration::from_millis(300),
};

mod attacker;
mod process;
#[path = "../support/procfs.rs"]
mod procfs;
mod user;
mod world;

use attacker::*;
use process::*;
use procfs::{load_average, open_files_limit};
use user::*;
use world::*;

// ---------------------------------------------------------------------------------------------
// One row: a fresh gateway, the attack with the user's logins, the gateway afterwards.

/// What a smoke run holds a correct gateway to, besides what it holds every attack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// The gateway survives and serves the user afterwards.
    Survives,
    /// And the user's logins during the attack all succeed.
    UserGetsIn,
}

struct Row {
    name: String,
    peak: Sample,
    /// When the attack was stopped because the gateway's memory passed the cap.
    capped: Option<Duration>,
    after_rss_kib: u64,
    legit: Vec<Outcome>,
    audit_per_sec: f64,
}

impl Row {
    fn failures(&self) -> String {
        let mut kinds = BTreeMap::new();
        for kind in self.legit.iter().filter_map(|o| o.err()) {
            *kinds.entry(kind).or_insert(0) += 1;
        }
        let failed: usize = kinds.values().sum();
        let mut text = format!("{failed}/{}", self.legit.len());
        if failed > 0 {
            let parts: Vec<_> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
            text.push_str(&format!(" ({})", parts.join(", ")));
        }
        text
    }

    fn latencies(&self) -> String {
        let mut ok: Vec<Duration> = self.legit.iter().filter_map(|o| o.ok()).collect();
        ok.sort();
        let at = |p: usize| {
            ok.get((ok.len().max(1) - 1) * p / 100)
                .map_or("–".to_string(), |d| {
                    format!("{:.0}", d.as_secs_f64() * 1000.0)
                })
        };
        format!("{} / {} / {}", at(50), at(95), at(100))
    }

    fn markdown(&self) -> String {
        format!(
            "| {} | {:.0}{} | {:.0} | {} | {} | {:.0} |",
            self.name,
            mib(self.peak.hwm_kib),
            self.capped.map_or(String::new(), |after| format!(
                " (the cap: attack stopped after {:.0} s)",
                after.as_secs_f64()
            )),
            mib(self.after_rss_kib),
            self.latencies(),
            self.failures(),
            self.audit_per_sec,
        )
    }
}

fn run_row(
    world: &World,
    base: &Path,
    sizes: &Sizes,
    runtime: &tokio::runtime::Runtime,
    name: String,
    attack: Attack,
    check: Option<Check>,
) -> Row {
    let mut gateway = Gateway::start(world, base);
    let pid = gateway.pid();
    let field = Arc::new(Field {
        gateway: gateway.address,
        with_card: client_config(
            CardSigningKey::new(world.attacker.clone()),
            world.roots.clone(),
            false,
        )
        .expect("client configuration"),
        without_card: without_card_config(&world.roots),
        tally: Tally::default(),
        garbage_ends: Mutex::new(Vec::new()),
        stop: CancellationToken::new(),
    });
    let sampler = Sampler::start(pid, rss_cap_kib(), field.stop.clone());
    let (records_before, bytes_before) = gateway.audit_size();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    {
        let _entered = runtime.enter();
        attack.spawn(&field, &mut tasks);
    }
    let legit = legit_logins(
        world,
        gateway.address,
        sizes.legit,
        sizes.warmup,
        sizes.legit_every,
    );
    field.stop.cancel();
    runtime.block_on(async {
        let all_ended = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(STEP + GARBAGE_BOUND, all_ended)
            .await
            .is_err()
        {
            tasks.shutdown().await;
        }
    });
    let attack_secs = started.elapsed().as_secs_f64();
    let (records_after, bytes_after) = gateway.audit_size();
    let (peak, capped) = sampler.finish(pid);
    std::thread::sleep(sizes.settle);
    let after = Sample::of(pid);
    let health = legit_logins(world, gateway.address, 1, Duration::ZERO, Duration::ZERO);
    let running = gateway.running();
    let events = gateway.audit_events(records_before);
    let (stderr_lines, last_line) = {
        let lines = gateway.stderr.lock().expect("stderr lines");
        (
            lines.len(),
            lines.last().map_or(String::new(), |l| without_colours(l)),
        )
    };
    let (stopped, chain) = gateway.stop();

    let row = Row {
        name,
        peak,
        capped,
        after_rss_kib: after.rss_kib,
        legit,
        audit_per_sec: (records_after - records_before) as f64 / attack_secs,
    };
    println!("{}", row.markdown());
    println!("    attacker saw: {}", field.tally.summary());
    let mut ends = field.garbage_ends.lock().expect("ends").clone();
    if !ends.is_empty() {
        ends.sort();
        println!(
            "    garbage: session ended after {:.1} ms (median), {:.1} ms (max)",
            ends[ends.len() / 2].as_secs_f64() * 1000.0,
            ends[ends.len() - 1].as_secs_f64() * 1000.0
        );
    }
    let mut top: Vec<_> = events.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1));
    let top: Vec<_> = top
        .iter()
        .take(4)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!(
        "    gateway: sampled RSS max {:.0} MiB, threads max {}, open files max {}; audit {:.0} KiB/s ({}); {} lines on stderr, the last: {}",
        mib(peak.rss_kib),
        peak.threads,
        peak.fds,
        (bytes_after - bytes_before) as f64 / 1024.0 / attack_secs,
        if top.is_empty() { "nothing".to_string() } else { top.join(", ") },
        stderr_lines,
        last_line,
    );
    println!(
        "    after {:.1} s: user's login {}; gateway {}; audit chain {}; load average {}",
        sizes.settle.as_secs_f64(),
        match &health[0] {
            Ok(d) => format!("ok in {:.0} ms", d.as_secs_f64() * 1000.0),
            Err(kind) => format!("FAILED ({kind})"),
        },
        match (running, stopped) {
            (true, true) => "stopped cleanly on SIGTERM",
            (true, false) => "did NOT stop within 20 s of SIGTERM",
            (false, _) => "had DIED during the attack",
        },
        match &chain {
            Ok(n) => format!("intact ({n} records)"),
            Err(e) => format!("BROKEN: {e}"),
        },
        load_average(),
    );

    if let Some(check) = check {
        assert!(running, "{}: the gateway died", row.name);
        assert!(stopped, "{}: the gateway did not stop", row.name);
        assert!(chain.is_ok(), "{}: audit chain {chain:?}", row.name);
        assert!(
            health[0].is_ok(),
            "{}: the user could not log in after the attack: {:?}",
            row.name,
            health[0]
        );
        if check == Check::UserGetsIn {
            assert!(
                row.legit.iter().all(Result::is_ok),
                "{}: the user did not get in: {}",
                row.name,
                row.failures()
            );
        }
        let tally = &field.tally;
        match attack {
            Attack::Logins { password, .. } if password == WRONG_PASSWORD => {
                assert_eq!(tally.get("accepted"), 0, "a wrong password got in")
            }
            Attack::NoCertificate { .. } => {
                assert_eq!(tally.get("answered without a card (!)"), 0);
                assert!(records_after > records_before, "no-certificate not audited");
            }
            Attack::UnknownTargets { .. } => {
                assert_eq!(tally.get("opened (!)"), 0, "an unknown target was opened");
                assert!(tally.get("not-granted") > 0, "{}", tally.summary());
            }
            Attack::Garbage { .. } => {
                assert!(
                    tally.get("session ended by the gateway") > 0
                        && tally.get("session still open after 10 s of garbage (!)") == 0,
                    "{}",
                    tally.summary()
                );
            }
            _ => {}
        }
    }
    row
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full { FULL } else { SMOKE };
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).expect("bench directory");
    let setup = Instant::now();
    let world = World::new(&base);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    // Room for the bench's own files besides the connections.
    let silent = sizes.silent.min(open_files_limit().saturating_sub(512));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "gateway under attack: hjemmekontor-gateway ({} build), {cores} cores shared by gateway, attacker and user (load average {}); TEST PKI and hashes made in {:.1} s",
        if cfg!(debug_assertions) { "debug" } else { "release" },
        load_average(),
        setup.elapsed().as_secs_f64()
    );
    println!(
        "user's logins: {}, one every {:.1} s after {:.1} s of attack, from {USER_IP}; attacker from {ATTACKER_IP} unless said\n",
        sizes.legit,
        sizes.legit_every.as_secs_f64(),
        sizes.warmup.as_secs_f64()
    );
    println!("| attack | peak RSS MiB | RSS after MiB | user's login p50 / p95 / max ms | user's failures | audit records/s |");
    println!("|---|---:|---:|---:|---|---:|");

    let logins = |password, addresses| Attack::Logins {
        count: sizes.logins,
        password,
        addresses,
    };
    // Only the smoke run asserts; the full run reports whatever it sees.
    let check = |c| (!full).then_some(c);
    let user_gets_in = || check(Check::UserGetsIn);
    let correct = || check(Check::Survives);
    let rows: Vec<(String, Attack, Option<Check>)> = vec![
        ("baseline, no attack".into(), Attack::None, user_gets_in()),
        (
            format!("{silent} silent connections"),
            Attack::Silent {
                count: silent,
                from: ATTACKER_IP,
                drip: false,
            },
            user_gets_in(),
        ),
        (
            format!("{silent} silent connections from the user's address"),
            Attack::Silent {
                count: silent,
                from: USER_IP,
                drip: false,
            },
            // At a full door a client that shows its ClientHello takes a silent one's place.
            user_gets_in(),
        ),
        (
            format!("{silent} slow-loris connections, 1 byte / 10 s"),
            Attack::Silent {
                count: silent,
                from: ATTACKER_IP,
                drip: true,
            },
            correct(),
        ),
        (
            format!(
                "{} parallel logins, one valid card, right password",
                sizes.logins
            ),
            logins(ATTACKER_PASSWORD, 1),
            correct(),
        ),
        (
            format!(
                "{} parallel logins, one valid card, wrong password",
                sizes.logins
            ),
            logins(WRONG_PASSWORD, 1),
            correct(),
        ),
        (
            format!(
                "{} parallel logins, wrong password, from {} addresses",
                sizes.logins, sizes.login_addresses
            ),
            logins(WRONG_PASSWORD, sizes.login_addresses),
            correct(),
        ),
        (
            format!(
                "no client certificate, {} tasks flat out",
                sizes.flood_tasks
            ),
            Attack::NoCertificate {
                tasks: sizes.flood_tasks,
            },
            correct(),
        ),
        (
            format!("unknown target ids, {} streams at once", sizes.stream_tasks),
            Attack::UnknownTargets {
                tasks: sizes.stream_tasks,
            },
            correct(),
        ),
        (
            format!("garbage after login ({} at once)", sizes.garbage_tasks),
            Attack::Garbage {
                tasks: sizes.garbage_tasks,
            },
            correct(),
        ),
    ];
    // `HJK_ABUSE_ONLY=TEXT` runs only the attacks whose name holds TEXT.
    let only = std::env::var("HJK_ABUSE_ONLY").unwrap_or_default();
    let mut table = Vec::new();
    for (name, attack, check) in rows.into_iter().filter(|r| r.0.contains(&only)) {
        table.push(run_row(&world, &base, &sizes, &runtime, name, attack, check).markdown());
    }
    let limits: Vec<_> = LIMITS
        .lines()
        .filter(|l| l.contains('='))
        .map(|l| l.replace(' ', ""))
        .collect();
    println!("\nlimits: {}", limits.join(", "));
    println!("\nall rows:");
    for line in table {
        println!("{line}");
    }
}
