//! Our tunnel: the real gateway binary as a process of its own, and a client process (this
//! program started again with `client`) that does what `hjemmekontor connect` does once the
//! PIN is verified: `session::open` (TCP, TLS with the card's key, login) and the local
//! forwarder. The card is the virtual card in-process rather than through PC/SC, which
//! changes the card's APDU transport only; the data path (TLS, mux, forwarder, relay) is the
//! shipped code in both processes.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hjemmekontor::card::emulated::InProcessTransport;
use hjemmekontor::card::piv::{Piv, Slot};
use hjemmekontor::card::piv_credential::PivKey;
use hjemmekontor::card::trace::{TraceSink, TracedTransport};
use hjemmekontor::client::session::{self, Credentials, GatewayTarget};
use hjemmekontor::posture::report::Report;
use hjemmekontor::secret::{Password, Pin};
use hjemmekontor::tunnel::forward::{forward_listener, ForwardOptions};
use hjemmekontor::tunnel::tls::CardSigner;
use hjemmekontor::vcard::pki::{self, PkiOptions};
use hjemmekontor::vcard::{PivConfig, SlotKey, VirtualPiv};
use tokio_util::sync::CancellationToken;

use crate::paths::{free_port, Path};

const USER: &str = "ase";
const PASSWORD: &str = "riktig-passord-TEST";
/// The gateway's name for the target.
const MACHINE: &str = "kontor-pc";

/// Writes a fresh TEST PKI to `dir`, with `gateway-chain.pem` (the gateway's certificate and
/// its CA) for the gateway and stunnel.
pub fn write_pki(dir: &FsPath) -> std::io::Result<pki::TestPki> {
    let now = time::OffsetDateTime::now_utc();
    let pki = pki::generate(&PkiOptions::new(now)).map_err(std::io::Error::other)?;
    pki.write(dir).map_err(std::io::Error::other)?;
    let gateway = pki
        .get("gateway")
        .expect("the TEST PKI has a gateway certificate");
    let chain = format!("{}{}", gateway.cert_pem, pki.person_ca_pem);
    std::fs::write(dir.join("gateway-chain.pem"), chain)?;
    Ok(pki)
}

/// The gateway's configuration: listening on `port`, the TEST PKI's gateway certificate,
/// trust and CRL, the audit log in the gateway's directory, then `rest` (users, machines,
/// grants, limits).
pub fn gateway_config(pki: &FsPath, port: u16, rest: &str) -> String {
    let p = |name: &str| pki.join(name).display().to_string();
    format!(
        r#"[gateway]
listen = "127.0.0.1:{port}"
server_cert = "{chain}"
server_key = "{key}"
test_environment = true

[trust]
anchors = ["{root}"]
intermediates = ["{ca}"]
crls = ["{crl}"]

[audit]
path = "audit.jsonl"

{rest}"#,
        chain = p("gateway-chain.pem"),
        key = p("gateway.key"),
        root = p("root-ca.pem"),
        ca = p("person-ca.pem"),
        crl = p("crl.pem"),
    )
}

/// One user, `ase`, with the TEST person's card, granted the target.
fn tunnel_users(target: SocketAddr) -> std::io::Result<String> {
    // The production hash parameters: the login costs what it costs in service.
    let hash = hjemmekontor::gateway::auth::hash_password(&Password::from_input(PASSWORD.into()))
        .map_err(std::io::Error::other)?;
    Ok(format!(
        r#"[[user]]
username = "{USER}"
personal_id = "UN:NO-9578-4050-{id}"
password_hash = "{hash}"

[[machine]]
id = "{MACHINE}"
name = "Kontor-PC"
address = "{target}"

[[grant]]
user = "{USER}"
machines = ["{MACHINE}"]
"#,
        id = pki::DEFAULT_PERSON_ID,
    ))
}

/// Starts `hjemmekontor-gateway run` in `dir` and waits until it says it listens.
pub fn start_gateway(
    dir: &FsPath,
    pki: &FsPath,
    rest: &str,
) -> std::io::Result<(std::process::Child, u16)> {
    let port = free_port()?;
    let config = crate::paths::write(dir, "gateway.toml", &gateway_config(pki, port, rest))?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hjemmekontor-gateway"))
        .arg("run")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("lytter på") || line.contains("listening") {
                let _ = tx.send(());
            } else if line.contains("ERROR") {
                eprintln!("gateway: {line}");
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        return Err(std::io::Error::other("the gateway did not start"));
    }
    Ok((child, port))
}

/// The gateway and a client that can be restarted.
pub fn path(dir: &FsPath, pki: &FsPath, target: SocketAddr) -> std::io::Result<Path> {
    let (gateway, port) = start_gateway(dir, pki, &tunnel_users(target)?)?;
    let pki = pki.to_path_buf();
    let client = move |local: u16| {
        let mut command = Command::new(std::env::current_exe().expect("this program"));
        command
            .arg("client")
            .arg(format!("127.0.0.1:{port}"))
            .arg(&pki)
            .arg(local.to_string())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null());
        command
    };
    Ok(Path::new("hjemmekontor", vec![gateway], Box::new(client)))
}

/// A writer that keeps what the card's trace writes, to count the APDUs.
#[derive(Clone, Default)]
struct Kept(Arc<Mutex<Vec<u8>>>);

impl Write for Kept {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("trace buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Kept {
    fn apdus(&self) -> usize {
        let text = self.0.lock().expect("trace buffer");
        String::from_utf8_lossy(&text).matches("apdu  >").count()
    }
}

/// The virtual card with the TEST person-high certificate, PIN verified, on its signing
/// thread, every APDU traced into `kept`.
fn card(pki: &FsPath, kept: &Kept) -> std::io::Result<CardSigner> {
    let cert_pem = std::fs::read_to_string(pki.join("person-high.pem"))?;
    let key_pem = std::fs::read_to_string(pki.join("person-high.key"))?;
    let fail = |e: String| std::io::Error::other(e);
    let key = SlotKey::from_pem(&cert_pem, &key_pem).map_err(|e| fail(e.to_string()))?;
    let der: rustls::pki_types::CertificateDer<'static> =
        hjemmekontor::cert::certificates_from_bytes(cert_pem.as_bytes())
            .map_err(|e| fail(e.to_string()))?
            .remove(0)
            .into();
    let card = VirtualPiv::new(PivConfig::new(key)).map_err(|e| fail(e.to_string()))?;
    let traced = TracedTransport::new(
        Box::new(InProcessTransport::new(card)),
        TraceSink::to_writer(Box::new(kept.clone())),
    );
    let pin = Pin::from_input("123456".into()).map_err(|e| fail(e.to_string()))?;
    let piv = Piv::open(Box::new(traced))
        .map_err(|e| fail(e.to_string()))?
        .verify_pin(&pin)
        .map_err(|(_, e)| fail(e.to_string()))?;
    let key = PivKey::new(piv, Slot::Authentication, &der).map_err(|(_, e)| fail(e.to_string()))?;
    CardSigner::spawn(Box::new(key), der).map_err(|(_, e)| fail(e.to_string()))
}

/// The client process: `client GATEWAY PKI-DIR LOCAL-PORT`. Prints one JSON line with its
/// phases once the local port listens, then forwards until it is killed.
pub fn run_client(args: &[String]) -> std::io::Result<()> {
    let started = Instant::now();
    let [gateway, pki, local] = args else {
        return Err(std::io::Error::other(
            "usage: client GATEWAY PKI-DIR LOCAL-PORT",
        ));
    };
    let pki = PathBuf::from(pki);
    let kept = Kept::default();
    let signer = card(&pki, &kept)?;
    let card_ms = started.elapsed().as_secs_f64() * 1e3;
    let roots =
        hjemmekontor::cert::certificates_from_bytes(&std::fs::read(pki.join("root-ca.pem"))?)
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .into_iter()
            .map(Into::into)
            .collect();
    let target =
        GatewayTarget::new(gateway, roots).map_err(|e| std::io::Error::other(e.to_string()))?;
    let credentials = Credentials {
        username: USER.into(),
        password: Password::from_input(PASSWORD.into()),
    };
    // The shipped client's runtime.
    let runtime = session::runtime()?;
    runtime.block_on(async {
        // The TCP connect alone, on a connection of its own that closes at once: the session
        // below does not show its steps separately.
        let begin = Instant::now();
        drop(tokio::net::TcpStream::connect(gateway.as_str()).await?);
        let tcp_connect_ms = begin.elapsed().as_secs_f64() * 1e3;
        let begin = Instant::now();
        let report = Report::unknown(0, "the benchmark's client reports nothing");
        let tunnel = session::open(&target, &signer, &credentials, &report)
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let session_ms = begin.elapsed().as_secs_f64() * 1e3;
        let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{local}")).await?;
        let ready = serde_json::json!({
            "card_ms": card_ms,
            "tcp_connect_ms": tcp_connect_ms,
            "session_ms": session_ms,
            "process_ms": started.elapsed().as_secs_f64() * 1e3,
            "card_signatures": signer.signatures(),
            "apdus": kept.apdus(),
            "tls": tunnel.tls,
        });
        println!("{ready}");
        std::io::stdout().flush()?;
        let token = CancellationToken::new();
        let options = ForwardOptions::default();
        forward_listener(listener, tunnel.mux, MACHINE.into(), options, token, |_| {}).await;
        Ok(())
    })
}
