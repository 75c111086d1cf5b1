//! A gateway configuration over the TEST PKI for tests: the `[gateway]` and `[trust]` sections
//! with the server's chain, and the caller's users, machines and grants after them.

use std::net::SocketAddr;
use std::path::Path;

/// Writes `gateway-chain.pem` (the gateway's certificate, then its issuing CA: clients hold
/// only the root) into `dir` and returns the configuration text: `listen`, test environment on,
/// the TEST PKI's trust and CRL, `audit.jsonl` in the configuration's directory, then `rest`.
pub fn config(dir: &Path, listen: SocketAddr, rest: &str) -> String {
    let pki = super::pki::dir();
    let p = |name: &str| pki.join(name).display().to_string();
    let chain = dir.join("gateway-chain.pem");
    let mut pem = std::fs::read_to_string(pki.join("gateway.pem")).unwrap();
    pem.push_str(&std::fs::read_to_string(pki.join("person-ca.pem")).unwrap());
    std::fs::write(&chain, pem).unwrap();
    format!(
        r#"[gateway]
listen = "{listen}"
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
        chain = chain.display(),
        key = p("gateway.key"),
        root = p("root-ca.pem"),
        ca = p("person-ca.pem"),
        crl = p("crl.pem"),
    )
}

/// A gateway running in this test's runtime, over `dir`, on 127.0.0.1 (any free port).
pub struct InProcess {
    /// Configuration and audit log.
    pub dir: tempfile::TempDir,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Stops it.
    pub shutdown: tokio_util::sync::CancellationToken,
    served: tokio::task::JoinHandle<()>,
}

impl InProcess {
    /// Writes the configuration ([`config`] with `rest`) and starts the gateway.
    pub async fn start(dir: tempfile::TempDir, rest: &str) -> InProcess {
        use hjemmekontor::gateway::{config, server};
        // The listener is bound here; the configured address is never used.
        let text = config(dir.path(), "127.0.0.1:9".parse().unwrap(), rest);
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, text).unwrap();
        let cfg = config::load(&path).unwrap_or_else(|e| panic!("{e:?}"));
        let gateway = server::Gateway::new(cfg, std::sync::Arc::new(server::SystemClock)).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let token = shutdown.clone();
        let served = tokio::spawn(async move { gateway.serve(listener, token).await.unwrap() });
        InProcess {
            dir,
            addr,
            shutdown,
            served,
        }
    }

    /// The audit records so far.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits (bounded, failing the test) for the first record of `event`.
    pub async fn wait_for(&self, event: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            if let Some(r) = self.audit().into_iter().find(|r| r["event"] == event) {
                return r;
            }
            assert!(std::time::Instant::now() < deadline, "no {event} record");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Stops the gateway (bounded) and checks that its whole audit log verifies.
    pub async fn stop(self) -> Vec<serde_json::Value> {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(15), self.served).await;
        let file = std::fs::File::open(self.dir.path().join("audit.jsonl")).unwrap();
        hjemmekontor::gateway::audit::verify(std::io::BufReader::new(file)).unwrap();
        std::fs::read_to_string(self.dir.path().join("audit.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// A verified virtual card of the TEST PKI's `variant`, in this process, on its signing
/// thread; and the card, to count its signatures.
pub fn card_signer(
    variant: &str,
) -> (
    hjemmekontor::tunnel::tls::CardSigner,
    hjemmekontor::card::emulated::InProcessTransport<hjemmekontor::vcard::VirtualPiv>,
) {
    use hjemmekontor::card::piv::{Piv, Slot};
    use hjemmekontor::vcard::{PivConfig, SlotKey, VirtualPiv};
    let issued = super::pki::variant(variant);
    let key = SlotKey::from_pem(&issued.cert_pem, &issued.key_pem).unwrap();
    let transport = hjemmekontor::card::emulated::InProcessTransport::new(
        VirtualPiv::new(PivConfig::new(key)).unwrap(),
    );
    let piv = Piv::open(Box::new(transport.clone()))
        .unwrap()
        .verify_pin(&hjemmekontor::secret::Pin::from_input("123456".into()).unwrap())
        .unwrap();
    let key = hjemmekontor::card::piv_credential::PivKey::new(
        piv,
        Slot::Authentication,
        &issued.cert_der,
    )
    .map_err(|(_, e)| e)
    .unwrap();
    let signer =
        hjemmekontor::tunnel::tls::CardSigner::spawn(Box::new(key), issued.cert_der.clone())
            .map_err(|(_, e)| e)
            .unwrap();
    (signer, transport)
}

/// The TEST PKI's root, as the client trusts it for the gateway's certificate.
pub fn gateway_roots() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    hjemmekontor::cert::certificates_from_bytes(super::pki::test_pki().root_ca_pem.as_bytes())
        .unwrap()
        .into_iter()
        .map(Into::into)
        .collect()
}

/// A `[[user]]` entry whose password hash is made with the fast test parameters.
pub fn user_entry(username: &str, personal_id: &str, password: &str) -> String {
    let hash = hjemmekontor::gateway::auth::hash_password_with(
        &hjemmekontor::secret::Password::from_input(password.into()),
        hjemmekontor::gateway::auth::HashParams::TEST_ONLY,
    )
    .unwrap();
    format!("[[user]]\nusername = \"{username}\"\npersonal_id = \"{personal_id}\"\npassword_hash = \"{hash}\"\n")
}
