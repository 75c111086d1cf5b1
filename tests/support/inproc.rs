//! A gateway in-process on 127.0.0.1 over the TEST PKI, and clients whose card is the virtual
//! card in-process: the setup the server and abuse suites share.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hjemmekontor::card::emulated::InProcessTransport;
use hjemmekontor::card::piv::{Piv, Slot};
use hjemmekontor::card::piv_credential::PivKey;
use hjemmekontor::client::session::{self, Credentials, GatewayTarget, SessionError, Tunnel};
use hjemmekontor::gateway::config;
use hjemmekontor::gateway::server::{Gateway, SystemClock};
use hjemmekontor::posture::report::Report;
use hjemmekontor::secret::{Password, Pin};

use super::gateway::user_entry;
use hjemmekontor::tunnel::tls::CardSigner;
use hjemmekontor::vcard::{PivConfig, SlotKey, VirtualPiv};
use rustls::pki_types::CertificateDer;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Every test user's password.
pub const PASSWORD: &str = "riktig-passord-TEST";

/// A running gateway and the directory holding its configuration and audit log.
pub struct InProcessGateway {
    /// Configuration and audit log.
    pub dir: tempfile::TempDir,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Stops it.
    pub shutdown: CancellationToken,
    /// The gateway itself (to reload its trust).
    pub gateway: Arc<Gateway>,
    served: tokio::task::JoinHandle<()>,
}

/// The user `ase` (the `person-high` card's identifier) and `ola`, both with [`PASSWORD`].
pub fn users() -> String {
    format!(
        "{}\n{}",
        user_entry("ase", "UN:NO-9578-4050-12345678", PASSWORD),
        user_entry("ola", "UN:NO-9578-4050-87654321", PASSWORD)
    )
}

/// One office PC `kontor-pc` at `office`, granted to `ase`.
pub fn office_grant(office: SocketAddr) -> String {
    format!(
        r#"[[group]]
id = "legesenter"
name = "Legesenter"
kind = "legesenter"

[[machine]]
id = "kontor-pc"
name = "Kontor-PC"
address = "{office}"
group = "legesenter"

[[grant]]
user = "ase"
machines = ["kontor-pc"]
"#
    )
}

impl InProcessGateway {
    /// Starts a gateway whose configuration is the TEST PKI's trust followed by `rest`.
    pub async fn start(rest: &str) -> InProcessGateway {
        Self::start_in(tempfile::tempdir().unwrap(), rest).await
    }

    /// The same in `dir`, which may hold an earlier run's audit log.
    pub async fn start_in(dir: tempfile::TempDir, rest: &str) -> InProcessGateway {
        Self::start_with_audit(dir, "[audit]\npath = \"audit.jsonl\"\n", rest).await
    }

    /// The same with the `[audit]` section `audit` (a shared database, say).
    pub async fn start_with_audit(
        dir: tempfile::TempDir,
        audit: &str,
        rest: &str,
    ) -> InProcessGateway {
        // The listener is bound below; the configured address is never used.
        let text = super::gateway::config_with_audit(
            dir.path(),
            "127.0.0.1:9".parse().unwrap(),
            audit,
            rest,
        );
        // The CRL is this gateway's own copy, so a test may publish a newer one.
        let shared_crl = super::pki::dir().join("crl.pem");
        let own_crl = dir.path().join("crl.pem");
        std::fs::copy(&shared_crl, &own_crl).unwrap();
        let text = text.replace(
            &shared_crl.display().to_string(),
            &own_crl.display().to_string(),
        );
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, text).unwrap();
        let cfg = match config::load(&path) {
            Ok(c) => c,
            Err(config::LoadError::Invalid(e)) => panic!("{e:?}"),
            Err(config::LoadError::Read(e)) => panic!("{e}"),
        };
        let gateway = Gateway::new(cfg, Arc::new(SystemClock)).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let serving = Arc::clone(&gateway);
        let served = tokio::spawn(async move {
            serving.serve(listener, token).await.unwrap();
        });
        InProcessGateway {
            dir,
            addr,
            shutdown,
            gateway,
            served,
        }
    }

    /// Every audit record so far.
    pub fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Audit records other than `gateway-started`.
    pub fn attempts(&self) -> Vec<Value> {
        self.audit()
            .into_iter()
            .filter(|r| r["event"] != "gateway-started")
            .collect()
    }

    /// Waits (bounded) until there are `n` login attempts recorded (a refusal without a
    /// certificate is recorded just after its alert).
    pub async fn wait_attempts(&self, n: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let attempts = self.attempts();
            if attempts.len() >= n || std::time::Instant::now() > deadline {
                return attempts;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Tries a TLS handshake without a client certificate; whether the gateway then sent any
    /// application data (it must not).
    pub async fn talks_without_a_certificate(&self) -> bool {
        let mut store = rustls::RootCertStore::empty();
        for der in roots() {
            store.add(der).unwrap();
        }
        let mut config =
            rustls::ClientConfig::builder_with_provider(hjemmekontor::tunnel::tls::provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(store)
                .with_no_client_auth();
        config.alpn_protocols = vec![hjemmekontor::tunnel::protocol::ALPN.to_vec()];
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let result = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await;
        let Ok(mut tls) = result else { return false };
        // TLS 1.3: the refusal arrives on the first read.
        let mut buf = [0u8; 1];
        let read = tokio::io::AsyncReadExt::read(&mut tls, &mut buf).await;
        matches!(read, Ok(n) if n > 0)
    }

    /// Waits (bounded, failing the test) for the first record of `event`.
    pub async fn wait_for(&self, event: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(r) = self.audit().into_iter().find(|r| r["event"] == event) {
                return r;
            }
            assert!(std::time::Instant::now() < deadline, "no {event} record");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Logs in with the TEST card `variant` as `user`.
    pub async fn login(
        &self,
        variant: &str,
        user: &str,
        password: &str,
    ) -> Result<Tunnel, SessionError> {
        let report = Report::unknown(0, "a test client reports nothing");
        self.login_reporting(variant, user, password, &report).await
    }

    /// Logs in with the TEST card `variant` as `user`, sending `report` as its posture.
    pub async fn login_reporting(
        &self,
        variant: &str,
        user: &str,
        password: &str,
        report: &Report,
    ) -> Result<Tunnel, SessionError> {
        open_at(&self.target(), variant, user, password, report).await
    }

    /// Logs in with the TEST card `variant` as `user` through `front` (a load balancer before
    /// this gateway).
    pub async fn login_through(
        front: SocketAddr,
        variant: &str,
        user: &str,
        password: &str,
    ) -> Result<Tunnel, SessionError> {
        let target = GatewayTarget::new(&front.to_string(), roots()).unwrap();
        let report = Report::unknown(0, "a test client reports nothing");
        open_at(&target, variant, user, password, &report).await
    }

    /// How a client reaches this gateway.
    pub fn target(&self) -> GatewayTarget {
        GatewayTarget::new(&format!("127.0.0.1:{}", self.addr.port()), roots()).unwrap()
    }

    /// Stops the gateway (bounded), checks that its whole audit log verifies, and returns the
    /// records and the directory (which holds the log).
    pub async fn stop(self) -> (Vec<Value>, tempfile::TempDir) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(15), &mut { self.served }).await;
        if let Ok(file) = std::fs::File::open(self.dir.path().join("audit.jsonl")) {
            hjemmekontor::gateway::audit::verify(std::io::BufReader::new(file)).unwrap();
        }
        let audit = std::fs::read_to_string(self.dir.path().join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (audit, self.dir)
    }
}

/// A session at `target` with the TEST card `variant` as `user`.
async fn open_at(
    target: &GatewayTarget,
    variant: &str,
    user: &str,
    password: &str,
    report: &Report,
) -> Result<Tunnel, SessionError> {
    let (signer, _) = signer(variant);
    let creds = Credentials {
        username: user.into(),
        password: Password::from_input(password.into()),
    };
    session::open(target, &signer, &creds, report).await
}

/// A connection to `to` from `source` (any 127/8 address is this machine).
pub async fn connect_from(source: [u8; 4], to: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((source, 0)))
        .expect("127/8 addresses are local");
    socket.connect(to).await.unwrap()
}

/// The TEST root, the only anchor clients trust.
pub fn roots() -> Vec<CertificateDer<'static>> {
    hjemmekontor::cert::certificates_from_bytes(super::pki::test_pki().root_ca_pem.as_bytes())
        .unwrap()
        .into_iter()
        .map(Into::into)
        .collect()
}

/// A verified virtual card with the TEST certificate `variant`, on its signing thread.
pub fn signer(variant: &str) -> (CardSigner, InProcessTransport<VirtualPiv>) {
    let issued = super::pki::variant(variant);
    let key = SlotKey::from_pem(&issued.cert_pem, &issued.key_pem).unwrap();
    let transport = InProcessTransport::new(VirtualPiv::new(PivConfig::new(key)).unwrap());
    let piv = Piv::open(Box::new(transport.clone()))
        .unwrap()
        .verify_pin(&Pin::from_input("123456".into()).unwrap())
        .unwrap();
    let signer = CardSigner::spawn(
        Box::new(
            PivKey::new(piv, Slot::Authentication, &issued.cert_der)
                .map_err(|(_, e)| e)
                .unwrap(),
        ),
        issued.cert_der.clone(),
    )
    .map_err(|(_, e)| e)
    .unwrap();
    (signer, transport)
}

/// An office PC that answers on 127.0.0.1.
pub fn office_pc() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || hjemmekontor::vcard::office_pc::serve(listener));
    addr
}
