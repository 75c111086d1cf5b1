//! Full TLS handshakes per second, in memory (`tokio::io::duplex`), between the client with the
//! virtual card in-process and the gateway with the TEST PKI and its CRL: TLS 1.3 with an
//! RSA-2048 card (RSA-PSS), TLS 1.3 with a P-256 card (ECDSA), and TLS 1.2 with an RSA card in
//! PKCS#1 mode. Every handshake is a new session with one card signature. Prints numbers;
//! asserts nothing about time.
//!
//! `cargo bench --bench tls_handshake` runs the full count; `cargo test` runs it small, as a
//! smoke test. The virtual card signs in microseconds to milliseconds; a real card takes a few
//! hundred milliseconds per signature, which bounds a real client, not the gateway.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hjemmekontor::card::emulated::InProcessTransport;
use hjemmekontor::card::piv::{Piv, Slot};
use hjemmekontor::card::piv_credential::PivKey;
use hjemmekontor::cert::AuthPolicy;
use hjemmekontor::secret::Pin;
use hjemmekontor::tunnel::tls::{
    client_config, verified_client, CardSigner, CardSigningKey, ReloadableServerConfig,
    ServerIdentity, TrustMaterial,
};
use hjemmekontor::vcard::pki::{self, PkiOptions, TestPki};
use hjemmekontor::vcard::{PivConfig, SlotKey, VirtualPiv};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ServerConfig};
use tokio::io::{duplex, AsyncWriteExt};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A run never takes longer than this, whatever the count asked.
const BUDGET: Duration = Duration::from_secs(30);

fn cert(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).expect("TEST PKI PEM parses")
}

fn gateway(pki: &TestPki) -> ReloadableServerConfig {
    let issued = pki.get("gateway").expect("gateway certificate");
    let identity = ServerIdentity::new(
        vec![cert(&issued.cert_pem), cert(&pki.person_ca_pem)],
        PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).expect("gateway key"),
    )
    .expect("gateway identity");
    let trust = TrustMaterial {
        anchors: vec![cert(&pki.root_ca_pem)],
        intermediates: vec![cert(&pki.person_ca_pem)],
        crls: vec![
            CertificateRevocationListDer::from_pem_slice(pki.crl_pem.as_bytes()).expect("CRL"),
        ],
    };
    let policy = AuthPolicy {
        test_environment: true,
        ..AuthPolicy::default()
    };
    ReloadableServerConfig::new(identity, &trust, policy).expect("gateway configuration")
}

struct Card {
    transport: InProcessTransport<VirtualPiv>,
    signer: CardSigner,
}

fn card(pki: &TestPki, variant: &str) -> Card {
    let issued = pki.get(variant).expect("variant");
    let key = SlotKey::from_pem(&issued.cert_pem, &issued.key_pem).expect("card key");
    let transport =
        InProcessTransport::new(VirtualPiv::new(PivConfig::new(key)).expect("virtual card"));
    let mut piv = Piv::open(Box::new(transport.clone())).expect("PIV");
    let certificate = piv
        .read_certificate(Slot::Authentication)
        .expect("read")
        .expect("certificate");
    let piv = piv
        .verify_pin(&Pin::from_input("123456".into()).expect("PIN"))
        .map_err(|(_, e)| e)
        .expect("PIN verified");
    let signer = CardSigner::spawn(
        Box::new(
            PivKey::new(piv, Slot::Authentication, &certificate)
                .map_err(|(_, e)| e)
                .expect("signer"),
        ),
        certificate,
    )
    .map_err(|(_, e)| e)
    .expect("signer");
    Card { transport, signer }
}

async fn one(client: Arc<ClientConfig>, server: Arc<ServerConfig>) {
    let (c, s) = duplex(64 * 1024);
    let name = ServerName::try_from("localhost").expect("name");
    let (c, s) = tokio::join!(
        TlsConnector::from(client).connect(name, c),
        TlsAcceptor::from(server).accept(s)
    );
    let (mut c, s) = (c.expect("client handshake"), s.expect("gateway handshake"));
    verified_client(s.get_ref().1).expect("verified client");
    let _ = c.shutdown().await;
}

fn run(
    rt: &tokio::runtime::Runtime,
    name: &str,
    card: &Card,
    client: Arc<ClientConfig>,
    gateway: &ReloadableServerConfig,
    n: usize,
) {
    let before = card.transport.with_card(|c| c.signature_count());
    let start = Instant::now();
    let mut done = 0;
    while done < n && start.elapsed() < BUDGET {
        rt.block_on(async {
            tokio::time::timeout(BUDGET, one(client.clone(), gateway.current()))
                .await
                .expect("a handshake ends in time")
        });
        done += 1;
    }
    let elapsed = start.elapsed();
    let signatures = card.transport.with_card(|c| c.signature_count()) - before;
    println!(
        "{name:<32} {done:>5} handshakes {:>8.1} handshakes/s {:>7.2} ms/handshake {:>5.2} card signatures/handshake",
        done as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / done.max(1) as f64,
        signatures as f64 / done.max(1) as f64,
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 500 } else { 5 };
    let start = Instant::now();
    let pki = pki::generate(&PkiOptions::new(time::OffsetDateTime::now_utc())).expect("TEST PKI");
    println!(
        "TLS handshakes in memory, virtual card in-process (TEST PKI made in {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let gateway = gateway(&pki);
    let roots = vec![cert(&pki.root_ca_pem)];

    let rsa = card(&pki, "person-high");
    let rsa13 = client_config(
        CardSigningKey::new(rsa.signer.clone()),
        roots.clone(),
        false,
    )
    .expect("client configuration");
    run(&rt, "TLS 1.3 RSA-2048 (RSA-PSS)", &rsa, rsa13, &gateway, n);

    let ec = card(&pki, "person-high-ec");
    let ec13 = client_config(CardSigningKey::new(ec.signer.clone()), roots.clone(), false)
        .expect("client configuration");
    run(&rt, "TLS 1.3 P-256 (ECDSA)", &ec, ec13, &gateway, n);

    let rsa12 = client_config(CardSigningKey::new(rsa.signer.clone()), roots, true)
        .expect("client configuration");
    run(
        &rt,
        "TLS 1.2 RSA-2048 (PKCS#1 v1.5)",
        &rsa,
        rsa12,
        &gateway,
        n,
    );
}
