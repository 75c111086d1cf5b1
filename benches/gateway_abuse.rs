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

// ---------------------------------------------------------------------------------------------
// The people, their cards, and the files the gateway reads.

/// A verified virtual card on its signing thread.
fn card(cert_pem: &str, key_pem: &str) -> CardSigner {
    let key = SlotKey::from_pem(cert_pem, key_pem).expect("card key");
    let der = CertificateDer::from(
        hjemmekontor::cert::certificates_from_bytes(cert_pem.as_bytes())
            .expect("certificate")
            .remove(0),
    );
    let transport =
        InProcessTransport::new(VirtualPiv::new(PivConfig::new(key)).expect("virtual card"));
    let piv = Piv::open(Box::new(transport))
        .expect("PIV")
        .verify_pin(&Pin::from_input("123456".into()).expect("PIN"))
        .map_err(|(_, e)| e)
        .expect("PIN verified");
    let key = PivKey::new(piv, Slot::Authentication, &der)
        .map_err(|(_, e)| e)
        .expect("card key");
    CardSigner::spawn(Box::new(key), der)
        .map_err(|(_, e)| e)
        .expect("signer")
}

/// Everything that outlives one gateway: the certificates on disk, both cards, the hashes.
struct World {
    dir: tempfile::TempDir,
    roots: Vec<CertificateDer<'static>>,
    user: CardSigner,
    attacker: CardSigner,
    user_hash: String,
    attacker_hash: String,
}

impl World {
    fn new(base: &Path) -> World {
        let dir = tempfile::tempdir_in(base).expect("temporary directory");
        // Every person in one TEST PKI carries the same personal identifier, so the attacker's
        // card comes from a second TEST PKI: its failures must not lock the user's card.
        let make = |person_id: &str, sub: &str| {
            let options = PkiOptions {
                person_id: person_id.into(),
                ..PkiOptions::new(OffsetDateTime::now_utc())
            };
            let pki = pki::generate(&options).expect("TEST PKI");
            pki.write(&dir.path().join(sub)).expect("TEST PKI files");
            pki
        };
        let user_pki = make(pki::DEFAULT_PERSON_ID, "user");
        let attacker_pki = make(ATTACKER_PERSON_ID, "attacker");
        let issued = user_pki.get("gateway").expect("gateway certificate");
        let chain = format!("{}{}", issued.cert_pem, user_pki.person_ca_pem);
        std::fs::write(dir.path().join("gateway-chain.pem"), chain).expect("chain file");
        let card_of = |pki: &pki::TestPki| {
            let person = pki.get("person-high").expect("person-high");
            card(&person.cert_pem, &person.key_pem)
        };
        let hash = |p: &str| hash_password(&Password::from_input(p.into())).expect("argon2 hash");
        World {
            roots: hjemmekontor::cert::certificates_from_bytes(user_pki.root_ca_pem.as_bytes())
                .expect("root")
                .into_iter()
                .map(Into::into)
                .collect(),
            user: card_of(&user_pki),
            attacker: card_of(&attacker_pki),
            user_hash: hash(USER_PASSWORD),
            attacker_hash: hash(ATTACKER_PASSWORD),
            dir,
        }
    }

    fn config(&self, port: u16) -> String {
        let p = |name: &str| self.dir.path().join(name).display().to_string();
        format!(
            r#"[gateway]
listen = "127.0.0.1:{port}"
server_cert = "{chain}"
server_key = "{key}"
test_environment = true

[trust]
anchors = ["{user_pki}/root-ca.pem", "{attacker_pki}/root-ca.pem"]
intermediates = ["{user_pki}/person-ca.pem", "{attacker_pki}/person-ca.pem"]
crls = ["{user_pki}/crl.pem", "{attacker_pki}/crl.pem"]

[audit]
path = "audit.jsonl"

{LIMITS}
[[user]]
username = "{USER}"
personal_id = "UN:NO-9578-4050-{person_id}"
password_hash = "{user_hash}"

[[user]]
username = "{ATTACKER}"
personal_id = "UN:NO-9578-4050-{ATTACKER_PERSON_ID}"
password_hash = "{attacker_hash}"

[[group]]
id = "legesenter"
name = "Legesenter"
kind = "legesenter"

# Nothing listens there: no attack here opens a stream to a granted machine.
[[machine]]
id = "kontor-pc"
name = "Kontor-PC"
address = "127.0.0.1:9"
group = "legesenter"

[[grant]]
user = "{USER}"
machines = ["kontor-pc"]

[[grant]]
user = "{ATTACKER}"
machines = ["kontor-pc"]
"#,
            chain = p("gateway-chain.pem"),
            key = p("user/gateway.key"),
            user_pki = p("user"),
            attacker_pki = p("attacker"),
            person_id = pki::DEFAULT_PERSON_ID,
            user_hash = self.user_hash,
            attacker_hash = self.attacker_hash,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The gateway process and what it shows in /proc.

/// A running `hjemmekontor-gateway run`, in a directory of its own (config, audit log).
struct Gateway {
    child: Child,
    dir: tempfile::TempDir,
    address: SocketAddr,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Gateway {
    /// Starts a gateway on a free port, and waits until it listens.
    fn start(world: &World, base: &Path) -> Gateway {
        for _ in 0..5 {
            // A port the system just handed out and let go; another program may take it in
            // between, so a gateway that cannot listen is started again on another.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let dir = tempfile::tempdir_in(base).expect("gateway directory");
            let config = dir.path().join("gateway.toml");
            std::fs::write(&config, world.config(port)).expect("config file");
            let mut child = Command::new(env!("CARGO_BIN_EXE_hjemmekontor-gateway"))
                .arg("run")
                .arg(&config)
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the gateway starts");
            let stderr = Arc::new(Mutex::new(Vec::new()));
            let (listening, ready) = mpsc::channel();
            let lines = BufReader::new(child.stderr.take().expect("stderr"));
            let kept = Arc::clone(&stderr);
            std::thread::spawn(move || {
                for line in lines.lines().map_while(Result::ok) {
                    if line.contains("lytter på") {
                        let _ = listening.send(());
                    }
                    kept.lock().expect("stderr lines").push(line);
                }
            });
            if ready.recv_timeout(Duration::from_secs(30)).is_ok() {
                return Gateway {
                    child,
                    dir,
                    address: SocketAddr::from((USER_IP, port)),
                    stderr,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            eprintln!(
                "the gateway did not start: {:?}",
                stderr.lock().expect("stderr lines")
            );
        }
        panic!("the gateway did not start in five tries");
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    /// Lines in the audit log (one record each) and its size in bytes.
    fn audit_size(&self) -> (usize, usize) {
        let text = std::fs::read_to_string(self.audit_path()).unwrap_or_default();
        (text.lines().count(), text.len())
    }

    /// Records after the first `skip`, counted by event and reason.
    fn audit_events(&self, skip: usize) -> BTreeMap<String, u64> {
        let text = std::fs::read_to_string(self.audit_path()).unwrap_or_default();
        let mut counts = BTreeMap::new();
        for line in text.lines().skip(skip) {
            let record: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            let mut kind = record["event"].as_str().unwrap_or("?").to_string();
            if let Some(reason) = record["reason"].as_str() {
                kind = format!("{kind}/{reason}");
            }
            *counts.entry(kind).or_default() += 1;
        }
        counts
    }

    /// Stops the gateway with SIGTERM (as an operator would) and checks the audit log's chain.
    /// Returns whether it stopped by itself within 20 s, and the chain's verdict.
    fn stop(mut self) -> (bool, Result<u64, String>) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut stopped = false;
        while Instant::now() < deadline {
            if !self.running() {
                stopped = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let chain = std::fs::File::open(self.audit_path())
            .map_err(|e| e.to_string())
            .and_then(|f| {
                hjemmekontor::gateway::audit::verify(BufReader::new(f))
                    .map(|report| report.records)
                    .map_err(|e| e.to_string())
            });
        (stopped, chain)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One look at the gateway process: memory (KiB), threads, open file descriptors.
#[derive(Debug, Default, Clone, Copy)]
struct Sample {
    hwm_kib: u64,
    rss_kib: u64,
    threads: u64,
    fds: u64,
}

impl Sample {
    fn of(pid: u32) -> Sample {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        Sample {
            hwm_kib: field("VmHWM:"),
            rss_kib: field("VmRSS:"),
            threads: field("Threads:"),
            fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64),
        }
    }

    fn max(self, other: Sample) -> Sample {
        Sample {
            hwm_kib: self.hwm_kib.max(other.hwm_kib),
            rss_kib: self.rss_kib.max(other.rss_kib),
            threads: self.threads.max(other.threads),
            fds: self.fds.max(other.fds),
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Samples the gateway every 200 ms on a thread of its own until stopped; the highest of each.
/// An attack that takes the gateway's memory past `cap_kib` is stopped there, so that the
/// bench cannot starve the machine it runs on.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(Sample, Option<Duration>)>,
}

impl Sampler {
    fn start(pid: u32, cap_kib: u64, attack: CancellationToken) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let started = Instant::now();
        let thread = std::thread::spawn(move || {
            let mut peak = Sample::of(pid);
            let mut capped = None;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                peak = peak.max(Sample::of(pid));
                if peak.rss_kib > cap_kib && capped.is_none() {
                    capped = Some(started.elapsed());
                    attack.cancel();
                }
            }
            (peak, capped)
        });
        Sampler { stop, thread }
    }

    /// The highest of each, and when the attack was stopped at the cap.
    fn finish(self, pid: u32) -> (Sample, Option<Duration>) {
        self.stop.store(true, Ordering::Relaxed);
        let (peak, capped) = self.thread.join().expect("sampler");
        (peak.max(Sample::of(pid)), capped)
    }
}

/// The gateway memory at which an attack is stopped: `HJK_ABUSE_RSS_CAP_MIB`, else half the
/// memory available now, at most 8 GiB.
fn rss_cap_kib() -> u64 {
    if let Some(mib) = std::env::var("HJK_ABUSE_RSS_CAP_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return mib * 1024;
    }
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
        })
        .unwrap_or(u64::MAX);
    (available / 2).min(8 * 1024 * 1024)
}

/// The soft limit on open files, which bounds the silent connections one process can hold.
fn open_files_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(1024)
}

/// `line` without its ANSI colour sequences (the gateway's log colours even a pipe).
fn without_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            plain.push(c);
        }
    }
    plain
}

/// The system's one-minute load average: other work on the machine shows in the latencies.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

// ---------------------------------------------------------------------------------------------
// The legitimate user.

/// What one of the user's logins came to: its latency, or the kind of failure.
type Outcome = Result<Duration, &'static str>;

fn failure_kind(e: &SessionError) -> &'static str {
    match e {
        SessionError::Busy { .. } => "busy",
        SessionError::Rejected(r) => r.code.as_str(),
        SessionError::Timeout { .. } => "timeout",
        SessionError::Dropped { .. } => "dropped",
        SessionError::Tls(_) => "tls",
        SessionError::Unreachable { .. } => "unreachable",
        SessionError::Protocol(_) => "protocol",
        SessionError::Card(_) => "card",
        SessionError::BadAddress(_) => "bad-address",
        SessionError::Unavailable => "unavailable",
    }
}

/// `n` logins through `session::open`, one every `every` after `wait`, each closed cleanly.
/// On a runtime and thread of their own, so the attacker's tasks never delay them.
fn legit_logins(
    world: &World,
    gateway: SocketAddr,
    n: usize,
    wait: Duration,
    every: Duration,
) -> Vec<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let target = GatewayTarget::new(&gateway.to_string(), world.roots.clone()).expect("address");
    let credentials = Credentials {
        username: USER.into(),
        password: Password::from_input(USER_PASSWORD.into()),
    };
    runtime.block_on(async {
        tokio::time::sleep(wait).await;
        let mut outcomes = Vec::with_capacity(n);
        for _ in 0..n {
            let next = Instant::now() + every;
            let start = Instant::now();
            let opened = session::open(
                &target,
                &world.user,
                &credentials,
                session::posture_report(),
            )
            .await;
            outcomes.push(match opened {
                Ok(tunnel) => {
                    let took = start.elapsed();
                    session::close(&tunnel, ClientEndReason::ClientClosed).await;
                    let _ = tokio::time::timeout(Duration::from_secs(5), tunnel.driver).await;
                    Ok(took)
                }
                Err(e) => Err(failure_kind(&e)),
            });
            tokio::time::sleep_until(next.into()).await;
        }
        outcomes
    })
}

// ---------------------------------------------------------------------------------------------
// The attacker.

/// What the attacker saw, by kind.
#[derive(Default)]
struct Tally(Mutex<BTreeMap<&'static str, u64>>);

impl Tally {
    fn add(&self, kind: &'static str) {
        *self.0.lock().expect("tally").entry(kind).or_default() += 1;
    }

    fn get(&self, kind: &str) -> u64 {
        self.0
            .lock()
            .expect("tally")
            .get(kind)
            .copied()
            .unwrap_or(0)
    }

    fn summary(&self) -> String {
        let counts = self.0.lock().expect("tally");
        let mut kinds: Vec<_> = counts.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1));
        let parts: Vec<_> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(", ")
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Attack {
    None,
    /// Connections that send nothing (or, `drip`, one byte every 10 s), each opened again 1 s
    /// after the gateway closes it.
    Silent {
        count: usize,
        from: Ipv4Addr,
        drip: bool,
    },
    /// Logins with the attacker's valid card, each task trying again 100 ms after a refusal;
    /// an accepted session is held until the attack ends.
    Logins {
        count: usize,
        password: &'static str,
        addresses: u8,
    },
    /// TLS handshakes without a client certificate, flat out.
    NoCertificate {
        tasks: usize,
    },
    /// One logged-in session asking for a target id that does not exist, `tasks` at once.
    UnknownTargets {
        tasks: usize,
    },
    /// Sessions that write random bytes on the TLS stream right after the accepted answer.
    Garbage {
        tasks: usize,
    },
}

/// What every attacker task shares.
struct Field {
    gateway: SocketAddr,
    with_card: Arc<ClientConfig>,
    without_card: Arc<ClientConfig>,
    tally: Tally,
    garbage_ends: Mutex<Vec<Duration>>,
    stop: CancellationToken,
}

type AttackerTls = tokio_rustls::client::TlsStream<FirstBytes<TcpStream>>;

async fn connect_from(from: Ipv4Addr, gateway: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(gateway).await
}

/// A TLS handshake from `from`; a handshake the gateway answered "busy" says so.
async fn handshake(
    field: &Field,
    from: Ipv4Addr,
    config: &Arc<ClientConfig>,
) -> Result<AttackerTls, &'static str> {
    let tcp = connect_from(from, field.gateway)
        .await
        .map_err(|_| "connect failed")?;
    let name = ServerName::try_from("127.0.0.1").expect("server name");
    let handshake = TlsConnector::from(Arc::clone(config))
        .connect(name, FirstBytes::new(tcp))
        .into_fallible();
    match tokio::time::timeout(STEP, handshake).await {
        Err(_) => Err("handshake timed out"),
        Ok(Err((_, io))) if busy::parse(io.seen()).is_some() => Err("busy answer"),
        Ok(Err(_)) => Err("handshake failed"),
        Ok(Ok(tls)) => Ok(tls),
    }
}

/// The attacker's login with its card as `ola`, from `from`; the logged-in TLS stream.
async fn attacker_login(
    field: &Field,
    from: Ipv4Addr,
    password: &str,
) -> Result<AttackerTls, &'static str> {
    let mut tls = handshake(field, from, &field.with_card).await?;
    let login = Login {
        version: PROTOCOL_VERSION,
        client_version: env!("CARGO_PKG_VERSION").to_string(),
        username: ATTACKER.into(),
        password: Password::from_input(password.into()),
        posture: session::posture_report(),
    };
    let answer = protocol::client_login(&mut tls, &login, DEFAULT_MAX_FRAME_LEN);
    match tokio::time::timeout(STEP, answer).await {
        Err(_) => Err("login timed out"),
        Ok(Err(_)) => Err("dropped in the login"),
        Ok(Ok(LoginAnswer::Rejected(r))) => Err(r.code.as_str()),
        Ok(Ok(LoginAnswer::Accepted(_))) => Ok(tls),
    }
}

/// Waits `d`, or less if the attack ends; whether it goes on.
async fn pause(field: &Field, d: Duration) -> bool {
    tokio::select! {
        _ = field.stop.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// Holds a silent (or dripping) connection until the gateway ends it or the attack does.
async fn hold(field: &Field, mut tcp: TcpStream, drip: bool) -> Option<&'static str> {
    let mut buf = [0u8; 64];
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut sent = 0;
    loop {
        tokio::select! {
            _ = field.stop.cancelled() => return None,
            _ = tick.tick(), if drip => {
                if tcp.write_all(&HELLO_START[sent % HELLO_START.len()..][..1]).await.is_err() {
                    return Some("closed by the gateway");
                }
                sent += 1;
            }
            read = tcp.read(&mut buf) => return Some(match read {
                Ok(n) if n > 0 && busy::parse(&buf[..n]).is_some() => "busy answer",
                Ok(_) => "closed by the gateway",
                Err(_) => "reset by the gateway",
            }),
        }
    }
}

async fn silent(field: Arc<Field>, from: Ipv4Addr, drip: bool) {
    loop {
        match connect_from(from, field.gateway).await {
            Ok(tcp) => {
                field.tally.add("connected");
                match hold(&field, tcp, drip).await {
                    Some(end) => field.tally.add(end),
                    None => return,
                }
            }
            Err(_) => field.tally.add("connect failed"),
        }
        if !pause(&field, Duration::from_secs(1)).await {
            return;
        }
    }
}

async fn logins(field: Arc<Field>, from: Ipv4Addr, password: &'static str) {
    loop {
        let login = tokio::select! {
            _ = field.stop.cancelled() => return,
            login = attacker_login(&field, from, password) => login,
        };
        match login {
            Ok(mut tls) => {
                field.tally.add("accepted");
                let mut sink = [0u8; 1024];
                loop {
                    tokio::select! {
                        _ = field.stop.cancelled() => return,
                        read = tls.read(&mut sink) => if !matches!(read, Ok(n) if n > 0) {
                            field.tally.add("session ended by the gateway");
                            break;
                        },
                    }
                }
            }
            Err(kind) => field.tally.add(kind),
        }
        if !pause(&field, Duration::from_millis(100)).await {
            return;
        }
    }
}

async fn without_certificate(field: Arc<Field>) {
    while !field.stop.is_cancelled() {
        let kind = match handshake(&field, ATTACKER_IP, &field.without_card).await {
            Err(kind) => kind,
            // TLS 1.3: the refusal arrives on the first read.
            Ok(mut tls) => match tls.read(&mut [0u8; 1]).await {
                Err(_) => "refused with an alert",
                Ok(0) => "closed without an alert",
                Ok(_) => "answered without a card (!)",
            },
        };
        field.tally.add(kind);
        if kind == "connect failed" && !pause(&field, Duration::from_millis(10)).await {
            return;
        }
    }
}

/// Asks for a target that does not exist, again and again, until the session fails.
async fn ask_unknown(field: Arc<Field>, mux: MuxClient) {
    while !field.stop.is_cancelled() {
        let asked = tokio::time::timeout(STEP, async {
            let mut stream = mux.open_stream().await.ok()?;
            let open = ClientMessage::Open(Open {
                target: "finnes-ikke".into(),
            });
            protocol::write_message(&mut stream, &open, DEFAULT_MAX_FRAME_LEN)
                .await
                .ok()?;
            protocol::read_gateway_message(&mut stream, DEFAULT_MAX_FRAME_LEN)
                .await
                .ok()
        })
        .await;
        match asked {
            Ok(Some(GatewayMessage::Refused(r))) => field.tally.add(r.code.as_str()),
            Ok(Some(_)) => field.tally.add("opened (!)"),
            Ok(None) | Err(_) => {
                field.tally.add("session lost");
                return;
            }
        }
    }
}

async fn unknown_targets(field: Arc<Field>, tasks: usize) {
    while !field.stop.is_cancelled() {
        let tls = match attacker_login(&field, ATTACKER_IP, ATTACKER_PASSWORD).await {
            Ok(tls) => tls,
            Err(kind) => {
                field.tally.add(kind);
                if !pause(&field, Duration::from_millis(100)).await {
                    return;
                }
                continue;
            }
        };
        let (mux, driver) = MuxClient::new(tls, MuxConfig::default());
        tokio::spawn(driver);
        let mut askers = JoinSet::new();
        for _ in 0..tasks {
            askers.spawn(ask_unknown(Arc::clone(&field), mux.clone()));
        }
        while askers.join_next().await.is_some() {}
        mux.closer().close();
    }
}

/// Writes random bytes on a logged-in TLS stream until the gateway ends the session (the
/// time it took) or [`GARBAGE_BOUND`] passes (`None`).
async fn spew(tls: AttackerTls) -> Option<Duration> {
    let (mut read, mut write) = tokio::io::split(tls);
    let start = Instant::now();
    let writer = async {
        let mut junk = [0u8; 4096];
        loop {
            rand_core::OsRng.fill_bytes(&mut junk);
            if write.write_all(&junk).await.is_err() {
                return;
            }
        }
    };
    let reader = async {
        let mut sink = [0u8; 4096];
        while matches!(read.read(&mut sink).await, Ok(n) if n > 0) {}
    };
    let ended = tokio::time::timeout(GARBAGE_BOUND, async {
        tokio::select! {
            _ = writer => {}
            _ = reader => {}
        }
    })
    .await;
    ended.ok().map(|_| start.elapsed())
}

/// Logs in and writes garbage, over and over; always one round, even if the attack ends first.
async fn garbage(field: Arc<Field>) {
    loop {
        match attacker_login(&field, ATTACKER_IP, ATTACKER_PASSWORD).await {
            Ok(tls) => match spew(tls).await {
                Some(took) => {
                    field.tally.add("session ended by the gateway");
                    field.garbage_ends.lock().expect("ends").push(took);
                }
                None => field
                    .tally
                    .add("session still open after 10 s of garbage (!)"),
            },
            Err(kind) => field.tally.add(kind),
        }
        if !pause(&field, Duration::from_millis(100)).await {
            return;
        }
    }
}

impl Attack {
    fn spawn(self, field: &Arc<Field>, tasks: &mut JoinSet<()>) {
        let f = || Arc::clone(field);
        match self {
            Attack::None => {}
            Attack::Silent { count, from, drip } => {
                for _ in 0..count {
                    tasks.spawn(silent(f(), from, drip));
                }
            }
            Attack::Logins {
                count,
                password,
                addresses,
            } => {
                for i in 0..count {
                    let from = if addresses > 1 {
                        Ipv4Addr::new(127, 0, 1, 1 + (i % usize::from(addresses)) as u8)
                    } else {
                        ATTACKER_IP
                    };
                    tasks.spawn(logins(f(), from, password));
                }
            }
            Attack::NoCertificate { tasks: n } => {
                for _ in 0..n {
                    tasks.spawn(without_certificate(f()));
                }
            }
            Attack::UnknownTargets { tasks: n } => {
                tasks.spawn(unknown_targets(f(), n));
            }
            Attack::Garbage { tasks: n } => {
                for _ in 0..n {
                    tasks.spawn(garbage(f()));
                }
            }
        }
    }
}

fn without_card_config(roots: &[CertificateDer<'static>]) -> Arc<ClientConfig> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).expect("root");
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![protocol::ALPN.to_vec()];
    Arc::new(config)
}

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
