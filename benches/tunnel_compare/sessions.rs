//! The gateway's side of many people: memory per logged-in idle session, and TLS handshakes
//! per second, against the real gateway binary in a process of its own (not the tunnel's
//! gateway, so the bulk measurements leave nothing behind in it).
//!
//! The clients are in this process: rustls with a TEST card's key in software (a P-256 key
//! per person; the card is not what is measured here), speaking the real login protocol. A
//! user may hold at most 100 sessions (the configuration's bound), so N sessions need N/100
//! people, each with a card of their own from the TEST person CA. Their password hashes use
//! the fast test parameters: argon2 at the production cost would make filling 10,000
//! sessions take minutes, and the hash's memory is freed after each login either way.

use std::net::SocketAddr;
use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hjemmekontor::gateway::auth::{hash_password_with, HashParams};
use hjemmekontor::secret::Password;
use hjemmekontor::tunnel::protocol::{
    client_login, Login, LoginAnswer, DEFAULT_MAX_FRAME_LEN, PROTOCOL_VERSION,
};
use hjemmekontor::vcard::pki::TestPki;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::task::JoinSet;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

const PASSWORD: &str = "mange-brukere-TEST";
/// Sessions one user may hold at once: the configuration's upper bound.
const PER_USER: usize = 100;
/// Logins under way at once while filling.
const AT_ONCE: usize = 32;
/// Sessions opened before the baseline is read: the gateway's pools and buffers warm up.
pub const WARM: usize = 50;

/// What the gateway holds for `sessions` idle sessions.
#[derive(serde::Serialize)]
pub struct Memory {
    /// Logged-in sessions held open.
    pub sessions: usize,
    /// The gateway's resident memory then, KiB.
    pub rss_kib: u64,
    /// Its growth since the warm-up, per session opened since, KiB.
    pub per_session_kib: f64,
    /// Logins per second while filling (TLS 1.3 with a client certificate, then the login).
    pub logins_per_s: f64,
}

/// Everything measured here.
#[derive(serde::Serialize)]
pub struct Report {
    /// TLS handshakes per second: full TLS 1.3 with a client certificate, no login.
    pub handshakes_per_s: f64,
    /// Per number of sessions asked for.
    pub memory: Vec<Memory>,
    /// Why a number of sessions was not measured.
    pub skipped: Vec<String>,
}

/// `VmRSS` of process `pid`, KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// `people` users, each with a card of their own, and their TLS clients.
fn people(pki: &TestPki, people: usize) -> std::io::Result<(String, Vec<TlsConnector>)> {
    let hash = hash_password_with(
        &Password::from_input(PASSWORD.into()),
        HashParams::TEST_ONLY,
    )
    .map_err(std::io::Error::other)?;
    let root = CertificateDer::from_pem_slice(pki.root_ca_pem.as_bytes())
        .map_err(std::io::Error::other)?;
    let now = time::OffsetDateTime::now_utc();
    let mut users = format!(
        "[limits]\nmax_sessions = 100000\nmax_sessions_per_user = {PER_USER}\n\
         max_pending_logins = 1000\nmax_pending_logins_per_address = 1000\n\n\
         # Nothing listens there: an idle session opens no stream.\n\
         [[machine]]\nid = \"kontor-pc\"\nname = \"Kontor-PC\"\naddress = \"127.0.0.1:9\"\n\n"
    );
    let mut clients = Vec::with_capacity(people);
    for i in 0..people {
        let card = pki
            .person_high_ec(now, &format!("{}", 30_000_000 + i))
            .map_err(std::io::Error::other)?;
        let id = card.personal_id.clone().unwrap_or_default();
        users.push_str(&format!(
            "[[user]]\nusername = \"u{i}\"\npersonal_id = \"{id}\"\npassword_hash = \"{hash}\"\n\n\
             [[grant]]\nuser = \"u{i}\"\nmachines = [\"kontor-pc\"]\n\n"
        ));
        clients.push(client(&card.cert_der, &card.key_pem, root.clone())?);
    }
    Ok((users, clients))
}

/// The TLS client of one card, its key in software.
fn client(
    cert: &[u8],
    key_pem: &str,
    root: CertificateDer<'static>,
) -> std::io::Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).map_err(std::io::Error::other)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(std::io::Error::other)?;
    let mut config =
        rustls::ClientConfig::builder_with_provider(hjemmekontor::tunnel::tls::provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(std::io::Error::other)?
            .with_root_certificates(roots)
            .with_client_auth_cert(vec![CertificateDer::from(cert.to_vec())], key)
            .map_err(std::io::Error::other)?;
    config.alpn_protocols = vec![hjemmekontor::tunnel::protocol::ALPN.to_vec()];
    config.resumption = rustls::client::Resumption::disabled();
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn handshake(
    tls: &TlsConnector,
    gateway: SocketAddr,
) -> std::io::Result<TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(gateway).await?;
    let name = ServerName::try_from("127.0.0.1").map_err(std::io::Error::other)?;
    tls.connect(name, tcp).await
}

/// One login of user `u{user}`; the session stays open as long as the stream is kept.
async fn login(
    tls: TlsConnector,
    gateway: SocketAddr,
    user: usize,
) -> std::io::Result<TlsStream<tokio::net::TcpStream>> {
    let mut stream = handshake(&tls, gateway).await?;
    let login = Login {
        version: PROTOCOL_VERSION,
        client_version: "bench".into(),
        username: format!("u{user}"),
        password: Password::from_input(PASSWORD.into()),
    };
    let report = hjemmekontor::posture::report::Report::unknown(0, "the bench reports nothing");
    match client_login(&mut stream, &report, &login, DEFAULT_MAX_FRAME_LEN).await {
        Ok(LoginAnswer::Accepted(_)) => Ok(stream),
        Ok(LoginAnswer::Rejected(r)) => Err(std::io::Error::other(format!(
            "login refused: {}",
            r.code.as_str()
        ))),
        Err(e) => Err(std::io::Error::other(e.to_string())),
    }
}

/// Opens sessions until `held` has `total`, `AT_ONCE` logins at a time.
async fn fill(
    clients: &[TlsConnector],
    gateway: SocketAddr,
    held: &mut Vec<TlsStream<tokio::net::TcpStream>>,
    total: usize,
) -> std::io::Result<()> {
    let mut next = held.len();
    let mut running = JoinSet::new();
    while held.len() < total {
        while next < total && running.len() < AT_ONCE {
            let user = next / PER_USER;
            running.spawn(login(clients[user].clone(), gateway, user));
            next += 1;
        }
        if let Some(done) = running.join_next().await {
            held.push(done.map_err(std::io::Error::other)??);
        }
    }
    Ok(())
}

/// Handshakes per second for `secs`, `AT_ONCE` at a time, each connection closed after it.
async fn handshakes(tls: &TlsConnector, gateway: SocketAddr, secs: f64) -> std::io::Result<f64> {
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    let mut running = JoinSet::new();
    for _ in 0..AT_ONCE {
        let tls = tls.clone();
        running.spawn(async move {
            let mut done = 0u64;
            while Instant::now() < until {
                drop(handshake(&tls, gateway).await?);
                done += 1;
            }
            Ok::<u64, std::io::Error>(done)
        });
    }
    let mut total = 0;
    while let Some(done) = running.join_next().await {
        total += done.map_err(std::io::Error::other)??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Starts a gateway for `counts` sessions (ascending) and measures; `secs` of handshakes.
pub fn measure(
    dir: &FsPath,
    pki_dir: &FsPath,
    pki: &TestPki,
    counts: &[usize],
    secs: f64,
) -> std::io::Result<Report> {
    // Each session holds a socket here and one in the gateway (which inherits this limit).
    let room = crate::procfs::open_files_limit().saturating_sub(200);
    let (fits, skipped): (Vec<usize>, Vec<usize>) = counts.iter().partition(|&&n| n <= room);
    let skipped = skipped
        .iter()
        .map(|n| format!("{n} sessions: the open-files limit is {}", room + 200))
        .collect();
    let most = fits.iter().copied().max().unwrap_or(WARM).max(WARM);
    let (users, clients) = people(pki, most.div_ceil(PER_USER))?;
    let dir = dir.join("sessions");
    std::fs::create_dir_all(&dir)?;
    let (mut gateway, port) = crate::ours::start_gateway(&dir, pki_dir, &users)?;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let pid = gateway.id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let handshakes_per_s = handshakes(&clients[0], address, secs).await?;
        let mut held = Vec::new();
        fill(&clients, address, &mut held, WARM).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let base = rss_kib(pid);
        let mut memory = Vec::new();
        for &n in &fits {
            let start = Instant::now();
            let before = held.len();
            fill(&clients, address, &mut held, n).await?;
            let logins_per_s = (n - before) as f64 / start.elapsed().as_secs_f64();
            // Idle: whatever the logins left in flight settles.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let rss = rss_kib(pid);
            memory.push(Memory {
                sessions: n,
                rss_kib: rss,
                per_session_kib: rss.saturating_sub(base) as f64 / (n - WARM).max(1) as f64,
                logins_per_s,
            });
            eprintln!("tunnel_compare: {n} idle sessions held");
        }
        Ok::<_, std::io::Error>(Report {
            handshakes_per_s,
            memory,
            skipped,
        })
    });
    let _ = gateway.kill();
    let _ = gateway.wait();
    result
}
