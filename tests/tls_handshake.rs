//! TLS handshakes between the client and the gateway configurations, in memory over
//! `tokio::io::duplex`, with the virtual card in-process (PIN verified before the handshake)
//! and the TEST PKI. Every handshake is bounded by a timeout.

mod support;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use hjemmekontor::card::emulated::InProcessTransport;
use hjemmekontor::card::piv::{Piv, Slot};
use hjemmekontor::card::piv_credential::PivKey;
use hjemmekontor::cert::AuthPolicy;
use hjemmekontor::secret::Pin;
use hjemmekontor::tunnel::tls::{
    card_error_of, check_alpn, client_config, provider, refusal_detail_of, refusal_of,
    server_config, verified_client, CardSigner, CardSigningKey, GatewayClientVerifier,
    ReloadableServerConfig, ServerIdentity, SignerError, TlsError, TlsRefusal, TrustMaterial, ALPN,
    CIPHER_SUITES,
};
use hjemmekontor::vcard::{PivConfig, SlotKey, VirtualPiv};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use rustls::time_provider::TimeProvider;
use rustls::{ClientConfig, ProtocolVersion, ServerConfig, SignatureScheme};
use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_rustls::{client, server, TlsAcceptor, TlsConnector};

/// No handshake in memory takes this long; reaching it means something hangs.
const LIMIT: Duration = Duration::from_secs(30);

/// A virtual card in its reader, its PIN verified, its key on a signer thread.
struct Card {
    transport: InProcessTransport<VirtualPiv>,
    signer: CardSigner,
    certificate: Vec<u8>,
}

impl Card {
    fn new(variant: &str) -> Card {
        let issued = support::pki::variant(variant);
        let key = SlotKey::from_pem(&issued.cert_pem, &issued.key_pem).unwrap();
        let transport = InProcessTransport::new(VirtualPiv::new(PivConfig::new(key)).unwrap());
        let mut piv = Piv::open(Box::new(transport.clone())).unwrap();
        let certificate = piv.read_certificate(Slot::Authentication).unwrap().unwrap();
        let piv = piv
            .verify_pin(&Pin::from_input("123456".into()).unwrap())
            .map_err(|(_, e)| e)
            .unwrap();
        let signer = CardSigner::spawn(
            Box::new(
                PivKey::new(piv, Slot::Authentication, &certificate)
                    .map_err(|(_, e)| e)
                    .unwrap(),
            ),
            certificate.clone(),
        )
        .map_err(|(_, e)| e)
        .unwrap();
        Card {
            transport,
            signer,
            certificate,
        }
    }

    fn key(&self) -> CardSigningKey {
        CardSigningKey::new(self.signer.clone())
    }

    fn client(&self) -> Arc<ClientConfig> {
        client_config(self.key(), roots(), false).unwrap()
    }

    /// Signatures the card itself counted.
    fn card_signatures(&self) -> u64 {
        self.transport.with_card(|c| c.signature_count())
    }
}

fn cert(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

fn roots() -> Vec<CertificateDer<'static>> {
    vec![cert(&support::pki::test_pki().root_ca_pem)]
}

fn trust(with_crl: bool) -> TrustMaterial {
    let pki = support::pki::test_pki();
    TrustMaterial {
        anchors: vec![cert(&pki.root_ca_pem)],
        intermediates: vec![cert(&pki.person_ca_pem)],
        crls: if with_crl {
            vec![CertificateRevocationListDer::from_pem_slice(pki.crl_pem.as_bytes()).unwrap()]
        } else {
            vec![]
        },
    }
}

/// The TEST PKI is a test PKI: only a test environment accepts it.
fn test_policy() -> AuthPolicy {
    AuthPolicy {
        test_environment: true,
        ..AuthPolicy::default()
    }
}

fn server_chain() -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let gateway = support::pki::variant("gateway");
    let chain = vec![
        cert(&gateway.cert_pem),
        cert(&support::pki::test_pki().person_ca_pem),
    ];
    let key = PrivateKeyDer::from_pem_slice(gateway.key_pem.as_bytes()).unwrap();
    (chain, key)
}

fn identity() -> ServerIdentity {
    let (chain, key) = server_chain();
    ServerIdentity::new(chain, key).unwrap()
}

fn gateway(policy: AuthPolicy) -> Arc<ServerConfig> {
    let (chain, key) = server_chain();
    let verifier = GatewayClientVerifier::new(&trust(true), policy).unwrap();
    server_config(chain, key, verifier).unwrap()
}

type Ends = (
    io::Result<client::TlsStream<DuplexStream>>,
    io::Result<server::TlsStream<DuplexStream>>,
);

async fn handshake(client: Arc<ClientConfig>, server: Arc<ServerConfig>) -> Ends {
    let (c, s) = duplex(64 * 1024);
    let connector = TlsConnector::from(client);
    let acceptor = TlsAcceptor::from(server);
    let name = ServerName::try_from("localhost").unwrap();
    let both = async { tokio::join!(connector.connect(name, c), acceptor.accept(s)) };
    tokio::time::timeout(LIMIT, both)
        .await
        .expect("the handshake ends in time")
}

/// One message each way, so both ends really hold a working session.
async fn ping(
    c: &mut client::TlsStream<DuplexStream>,
    s: &mut server::TlsStream<DuplexStream>,
    round: u8,
) {
    let exchange = async {
        c.write_all(&[b'c', round]).await.unwrap();
        c.flush().await.unwrap();
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, [b'c', round]);
        s.write_all(&[b's', round]).await.unwrap();
        s.flush().await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, [b's', round]);
    };
    tokio::time::timeout(LIMIT, exchange)
        .await
        .expect("the session answers in time");
}

/// The handshake with `variant`'s card fails on the gateway; returns why.
async fn refusal(variant: &str, policy: AuthPolicy) -> (TlsRefusal, String) {
    let card = Card::new(variant);
    let (_, s) = handshake(card.client(), gateway(policy)).await;
    let err = s
        .err()
        .unwrap_or_else(|| panic!("{variant}: the gateway accepted it"));
    let r = refusal_detail_of(&err).unwrap_or_else(|| panic!("{variant}: no refusal in {err:?}"));
    (r.refusal, r.detail)
}

#[tokio::test]
async fn rsa_person_high_tls13_with_one_card_signature() {
    let card = Card::new("person-high");
    let key = card.key();
    let client = client_config(key.clone(), roots(), false).unwrap();
    let (c, s) = handshake(client, gateway(test_policy())).await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    ping(&mut c, &mut s, 1).await;

    let seen = verified_client(s.get_ref().1).unwrap();
    assert_eq!(seen.certificate.as_ref(), card.certificate.as_slice());
    assert_eq!(seen.version, ProtocolVersion::TLSv1_3);
    assert_eq!(
        c.get_ref().1.protocol_version(),
        Some(ProtocolVersion::TLSv1_3)
    );
    assert_eq!(c.get_ref().1.alpn_protocol(), Some(ALPN));
    check_alpn(c.get_ref().1).unwrap();
    assert_eq!(key.last_scheme(), Some(SignatureScheme::RSA_PSS_SHA256));

    assert_eq!(card.signer.signatures(), 1);
    assert_eq!(card.card_signatures(), 1);
    // The session goes on without the card.
    ping(&mut c, &mut s, 2).await;
    assert_eq!(card.card_signatures(), 1);
}

#[tokio::test]
async fn ec_p256_person_high_tls13_with_one_card_signature() {
    let card = Card::new("person-high-ec");
    let key = card.key();
    let client = client_config(key.clone(), roots(), false).unwrap();
    let (c, s) = handshake(client, gateway(test_policy())).await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    ping(&mut c, &mut s, 1).await;
    let seen = verified_client(s.get_ref().1).unwrap();
    assert_eq!(seen.certificate.as_ref(), card.certificate.as_slice());
    assert_eq!(seen.version, ProtocolVersion::TLSv1_3);
    assert_eq!(
        key.last_scheme(),
        Some(SignatureScheme::ECDSA_NISTP256_SHA256)
    );
    assert_eq!(card.signer.signatures(), 1);
    assert_eq!(card.card_signatures(), 1);
}

#[tokio::test]
async fn every_refusal_names_its_reason_on_the_gateway() {
    let cases = [
        ("expired", TlsRefusal::Expired),
        ("not-yet-valid", TlsRefusal::NotYetValid),
        ("revoked", TlsRefusal::Revoked),
        ("untrusted", TlsRefusal::Untrusted),
        ("wrong-usage", TlsRefusal::WrongUsage),
        ("person-standard", TlsRefusal::LevelTooLow),
        ("person-hsm", TlsRefusal::LevelTooLow),
        ("enterprise", TlsRefusal::LevelTooLow),
    ];
    for (variant, want) in cases {
        let (got, detail) = refusal(variant, test_policy()).await;
        assert_eq!(got, want, "{variant}: {detail}");
        assert!(!detail.is_empty());
    }
}

#[tokio::test]
async fn test_certificates_are_refused_outside_a_test_environment() {
    let (got, detail) = refusal("person-high", AuthPolicy::default()).await;
    assert_eq!(got, TlsRefusal::LevelTooLow);
    assert!(detail.contains("test"), "{detail}");
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates({
            let mut store = rustls::RootCertStore::empty();
            store.add(roots().remove(0)).unwrap();
            store
        })
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN.to_vec()];
    let (_, s) = handshake(Arc::new(config), gateway(test_policy())).await;
    let err = s.unwrap_err();
    assert_eq!(refusal_of(&err), Some(TlsRefusal::NoCertificate), "{err:?}");
}

#[tokio::test]
async fn a_client_without_our_alpn_gets_no_handshake_and_no_signature() {
    let card = Card::new("person-high");
    let mut config = (*card.client()).clone();
    config.alpn_protocols.clear();
    let (c, s) = handshake(Arc::new(config), gateway(test_policy())).await;
    assert!(c.is_err());
    let err = s.unwrap_err();
    assert_eq!(refusal_of(&err), None, "{err:?}");
    assert_eq!(card.card_signatures(), 0);
}

#[tokio::test]
async fn a_pulled_card_is_a_clean_client_error() {
    let card = Card::new("person-high");
    card.transport.set_inserted(false);
    let (c, s) = handshake(card.client(), gateway(test_policy())).await;
    let err = c.unwrap_err();
    assert_eq!(
        card_error_of(&err),
        Some(SignerError::CardRemoved),
        "{err:?}"
    );
    assert!(s.is_err());

    // Put back, the card was reset: the PIN is needed again, and nothing retries it.
    card.transport.set_inserted(true);
    let (c, _) = handshake(card.client(), gateway(test_policy())).await;
    let err = c.unwrap_err();
    let card_error = card_error_of(&err).unwrap();
    assert_eq!(card_error, SignerError::PinStateLost);
    assert!(card_error.needs_pin());
    assert_eq!(card.card_signatures(), 0);
    assert!(card.signer.clone().into_key().unwrap().pin_state_lost());
}

#[tokio::test]
async fn tls12_mode_for_a_pkcs1_only_card() {
    let card = Card::new("person-high");
    let key = card.key();
    let client = client_config(key.clone(), roots(), true).unwrap();
    let (c, s) = handshake(client, gateway(test_policy())).await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    ping(&mut c, &mut s, 1).await;
    let seen = verified_client(s.get_ref().1).unwrap();
    assert_eq!(seen.version, ProtocolVersion::TLSv1_2);
    let suite = c.get_ref().1.negotiated_cipher_suite().unwrap();
    assert!(CIPHER_SUITES.contains(&suite));
    let name = format!("{:?}", suite.suite());
    assert!(
        name.starts_with("TLS_ECDHE_") && (name.contains("_GCM_") || name.contains("POLY1305")),
        "{name}"
    );
    assert_eq!(key.last_scheme(), Some(SignatureScheme::RSA_PKCS1_SHA256));
    assert_eq!(card.card_signatures(), 1);

    let ec = Card::new("person-high-ec");
    assert_eq!(
        client_config(ec.key(), roots(), true).unwrap_err(),
        TlsError::Tls12NeedsRsa
    );
}

#[tokio::test]
async fn a_reload_reaches_new_handshakes_and_spares_live_sessions() {
    let gateway = ReloadableServerConfig::new(identity(), &trust(false), test_policy()).unwrap();
    // Without a CRL, the revoked card gets in.
    let card = Card::new("revoked");
    let (c, s) = handshake(card.client(), gateway.current()).await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    ping(&mut c, &mut s, 1).await;

    // Reload from the files, now with the CRL.
    let dir = support::pki::dir();
    let files = TrustMaterial::read_files(
        &[dir.join("root-ca.pem")],
        &[dir.join("person-ca.pem")],
        &[dir.join("crl.pem")],
    )
    .unwrap();
    assert_eq!(files, trust(true));
    let summary = gateway.reload(&files).unwrap();
    assert_eq!((summary.trust_anchors, summary.crls), (1, 1));
    assert_eq!(summary.generation, 2);

    // The session from before goes on.
    ping(&mut c, &mut s, 2).await;
    // A new handshake sees the CRL.
    let (_, s2) = handshake(card.client(), gateway.current()).await;
    assert_eq!(refusal_of(&s2.unwrap_err()), Some(TlsRefusal::Revoked));
    // Good cards still get in.
    let good = Card::new("person-high");
    let (c3, s3) = handshake(good.client(), gateway.current()).await;
    ping(&mut c3.unwrap(), &mut s3.unwrap(), 3).await;
    ping(&mut c, &mut s, 4).await;

    // Material that cannot be used leaves the configuration in force.
    let before = gateway.current();
    assert_eq!(
        gateway.reload(&TrustMaterial::default()).unwrap_err(),
        TlsError::NoTrustAnchors
    );
    let bad_crl = TrustMaterial {
        crls: vec![CertificateRevocationListDer::from(b"not a crl".to_vec())],
        ..trust(true)
    };
    assert!(matches!(
        gateway.reload(&bad_crl),
        Err(TlsError::BadCrl { index: 1, .. })
    ));
    assert!(Arc::ptr_eq(&before, &gateway.current()));
}

/// A clock fixed at the real time plus an offset.
#[derive(Debug)]
struct Later(Duration);

impl TimeProvider for Later {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(
            UnixTime::now()
                .as_secs()
                .checked_add(self.0.as_secs())
                .map(Duration::from_secs)?,
        ))
    }
}

#[tokio::test]
async fn the_gateway_judges_at_its_own_clock_and_an_old_crl_refuses() {
    // The TEST CRL is current for 90 days; the certificates for three years.
    let later = ReloadableServerConfig::with_time_provider(
        identity(),
        &trust(true),
        test_policy(),
        Arc::new(Later(Duration::from_secs(100 * 24 * 3600))),
    )
    .unwrap();
    let card = Card::new("person-high");
    let (_, s) = handshake(card.client(), later.current()).await;
    assert_eq!(refusal_of(&s.unwrap_err()), Some(TlsRefusal::CrlExpired));
}

#[test]
fn identity_and_trust_files_are_checked() {
    let (chain, _) = server_chain();
    let wrong_key =
        PrivateKeyDer::from_pem_slice(support::pki::variant("person-high-ec").key_pem.as_bytes())
            .unwrap();
    assert!(matches!(
        ServerIdentity::new(chain, wrong_key),
        Err(TlsError::BadServerIdentity(_))
    ));
    let (_, key) = server_chain();
    assert!(matches!(
        ServerIdentity::new(vec![], key),
        Err(TlsError::BadServerIdentity(_))
    ));
    let dir = support::pki::dir();
    let (cert_file, key_file) = support::pki::files("gateway");
    ServerIdentity::read_files(&cert_file, &key_file).unwrap();
    assert!(matches!(
        ServerIdentity::read_files(&dir.join("missing.pem"), &key_file),
        Err(TlsError::Read { .. })
    ));
    assert!(matches!(
        TrustMaterial::read_files(std::slice::from_ref(&key_file), &[], &[]),
        Err(TlsError::Read { .. })
    ));
    assert_eq!(
        GatewayClientVerifier::new(&TrustMaterial::default(), test_policy()).unwrap_err(),
        TlsError::NoTrustAnchors
    );
}

#[tokio::test]
async fn the_client_learns_of_a_refusal_from_an_alert_on_its_first_read() {
    use rustls::AlertDescription;
    for (variant, policy, alert) in [
        (
            "revoked",
            test_policy(),
            AlertDescription::CertificateRevoked,
        ),
        (
            "person-standard",
            test_policy(),
            AlertDescription::CertificateUnknown,
        ),
    ] {
        let card = Card::new(variant);
        let (c, s) = handshake(card.client(), gateway(policy)).await;
        assert!(s.is_err());
        // TLS 1.3: the client's side of the handshake finished before the gateway judged.
        let mut c = c.unwrap();
        let mut buf = [0u8; 1];
        let err = tokio::time::timeout(LIMIT, c.read(&mut buf))
            .await
            .expect("the alert arrives in time")
            .unwrap_err();
        let tls = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>());
        assert_eq!(
            tls,
            Some(&rustls::Error::AlertReceived(alert)),
            "{variant}: {err:?}"
        );
        assert_eq!(card_error_of(&err), None);
    }
}

#[test]
fn cas_sharing_a_name_each_keep_their_own_revocation_list() {
    use rustls::server::danger::ClientCertVerifier;
    let first = support::pki::test_pki();
    let second = hjemmekontor::vcard::pki::generate(&hjemmekontor::vcard::pki::PkiOptions::new(
        time::OffsetDateTime::now_utc(),
    ))
    .unwrap();
    let subject = |pem: &str| {
        hjemmekontor::cert::parse::read(cert(pem).as_ref())
            .unwrap()
            .subject
    };
    assert_eq!(
        subject(&first.person_ca_pem),
        subject(&second.person_ca_pem),
        "the two issuing CAs share a name"
    );
    let crl = |pem: &str| CertificateRevocationListDer::from_pem_slice(pem.as_bytes()).unwrap();
    // The second PKI's list comes first, so a match by name alone picks it for both.
    let trust = TrustMaterial {
        anchors: vec![cert(&second.root_ca_pem), cert(&first.root_ca_pem)],
        intermediates: vec![cert(&second.person_ca_pem), cert(&first.person_ca_pem)],
        crls: vec![crl(&second.crl_pem), crl(&first.crl_pem)],
    };
    let verifier = GatewayClientVerifier::new(&trust, test_policy()).unwrap();
    for pki in [first, &second] {
        let good = cert(&pki.get("person-high").unwrap().cert_pem);
        verifier
            .verify_client_cert(&good, &[], UnixTime::now())
            .expect("a sound card of either CA is accepted");
        let revoked = cert(&pki.get("revoked").unwrap().cert_pem);
        let err = verifier
            .verify_client_cert(&revoked, &[], UnixTime::now())
            .unwrap_err();
        assert_eq!(
            refusal_of(&io::Error::other(err.clone())),
            Some(TlsRefusal::Revoked),
            "{err:?}"
        );
    }
}
