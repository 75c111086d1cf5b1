//! The gateway's TLS configuration: a client certificate is required and judged twice.
//!
//! 1. rustls' webpki verifier: a path to a configured trust anchor (with the configured
//!    intermediates added to whatever the client sent, since a card holds only its own
//!    certificate), valid at the handshake's time, and not revoked by a configured CRL (the
//!    end-entity certificate; a CRL past its nextUpdate or one that does not cover the issuer
//!    refuses).
//! 2. The certificate core ([`crate::cert::inspect_der`]) with the configured [`AuthPolicy`]
//!    at the same time: level, key usage, personal identifier.
//!
//! Either refusal ends the handshake with a reason the audit log names ([`super::refusal_of`]).
//! TLS 1.3 is preferred; TLS 1.2 is allowed (ECDHE, AEAD, extended master secret) for cards
//! that need it. A client that does not offer [`ALPN`] gets no certificate and no handshake.
//! No resumption: every session is a full handshake with a fresh card signature.
//!
//! [`ReloadableServerConfig`] holds the configuration new handshakes use; reloading anchors
//! and CRLs builds a new one, while sessions already running keep theirs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{
    ClientHello, NoServerSessionStorage, ResolvesServerCert, ServerConnection, WebPkiClientVerifier,
};
use rustls::sign::CertifiedKey;
use rustls::time_provider::{DefaultTimeProvider, TimeProvider};
use rustls::{
    CipherSuite, DigitallySignedStruct, DistinguishedName, ProtocolVersion, RootCertStore,
    ServerConfig, SignatureScheme,
};
use time::OffsetDateTime;

use super::crl_sets::PerIssuer;
use super::refusal::{refusal_detail_of, TlsRefusal, TlsRefusalError};
use super::{provider, TlsError, ALPN, POLICY_ALPN};
use crate::cert::{certificates_from_bytes, crls_from_bytes, inspect_der, AuthPolicy};

/// Largest trust file read: CRLs of big CAs run to megabytes, never near this.
pub const MAX_TRUST_FILE: u64 = 64 * 1024 * 1024;

/// Trust anchors, intermediates and CRLs, as DER: what the gateway re-reads on SIGHUP and on
/// its timer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustMaterial {
    /// Certificates we trust (roots, or an issuing CA trusted directly).
    pub anchors: Vec<CertificateDer<'static>>,
    /// CA certificates that may sit between a client's certificate and an anchor.
    pub intermediates: Vec<CertificateDer<'static>>,
    /// Revocation lists.
    pub crls: Vec<CertificateRevocationListDer<'static>>,
}

impl TrustMaterial {
    /// Reads PEM (or single DER) files: every certificate of every anchor and intermediate
    /// file, every CRL of every CRL file.
    pub fn read_files(
        anchors: &[PathBuf],
        intermediates: &[PathBuf],
        crls: &[PathBuf],
    ) -> Result<Self, TlsError> {
        let certs = |paths: &[PathBuf]| -> Result<Vec<CertificateDer<'static>>, TlsError> {
            let mut out = Vec::new();
            for path in paths {
                let bytes = read_bounded(path)?;
                let ders = certificates_from_bytes(&bytes).map_err(|e| read_error(path, e))?;
                out.extend(ders.into_iter().map(CertificateDer::from));
            }
            Ok(out)
        };
        let mut crl_ders = Vec::new();
        for path in crls {
            let bytes = read_bounded(path)?;
            let ders = crls_from_bytes(&bytes).map_err(|e| read_error(path, e))?;
            crl_ders.extend(ders.into_iter().map(CertificateRevocationListDer::from));
        }
        Ok(TrustMaterial {
            anchors: certs(anchors)?,
            intermediates: certs(intermediates)?,
            crls: crl_ders,
        })
    }
}

fn read_error(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::Read {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, TlsError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| read_error(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_TRUST_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(path, e))?;
    if bytes.len() as u64 > MAX_TRUST_FILE {
        return Err(read_error(
            path,
            format!("larger than {MAX_TRUST_FILE} bytes"),
        ));
    }
    Ok(bytes)
}

/// Told of every certificate the verifier refuses, before rustls answers the client with an
/// alert, so that no refusal is answered unrecorded. Runs inside the handshake: it may block
/// briefly (the gateway's writes a durable record).
pub trait RefusalRecorder: Send + Sync + std::fmt::Debug {
    /// Records `refusal` of the certificate `end_entity` (DER). `Err` means it could not be
    /// recorded: the handshake then ends with an `access_denied` alert instead, which tells
    /// the client nothing but "not now".
    fn record(&self, refusal: &TlsRefusalError, end_entity: &[u8]) -> Result<(), Unrecorded>;
}

/// A refusal the recorder could not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the refusal could not be recorded")]
pub struct Unrecorded;

/// The gateway's client certificate verifier: webpki first, then the certificate rules.
#[derive(Debug)]
pub struct GatewayClientVerifier {
    webpki: PerIssuer<dyn ClientCertVerifier>,
    intermediates: Vec<CertificateDer<'static>>,
    policy: AuthPolicy,
    anchors: usize,
    crls: usize,
    recorder: Option<Arc<dyn RefusalRecorder>>,
}

impl GatewayClientVerifier {
    /// A verifier for `trust` and `policy`. Without CRLs revocation is not checked (the
    /// configuration allows that only as a dangerous option).
    pub fn new(trust: &TrustMaterial, policy: AuthPolicy) -> Result<Arc<Self>, TlsError> {
        Self::with_recorder(trust, policy, None)
    }

    fn with_recorder(
        trust: &TrustMaterial,
        policy: AuthPolicy,
        recorder: Option<Arc<dyn RefusalRecorder>>,
    ) -> Result<Arc<Self>, TlsError> {
        if trust.anchors.is_empty() {
            return Err(TlsError::NoTrustAnchors);
        }
        let mut roots = RootCertStore::empty();
        for (i, anchor) in trust.anchors.iter().enumerate() {
            roots
                .add(anchor.clone())
                .map_err(|e| TlsError::BadTrustAnchor {
                    index: i + 1,
                    detail: e.to_string(),
                })?;
        }
        // Parsed one by one first, so an unreadable CRL is named by its position.
        for (i, crl) in trust.crls.iter().enumerate() {
            webpki::BorrowedCertRevocationList::from_der(crl).map_err(|e| TlsError::BadCrl {
                index: i + 1,
                detail: format!("{e:?}"),
            })?;
        }
        let roots = Arc::new(roots);
        let webpki = PerIssuer::new(&trust.crls, |crls| {
            WebPkiClientVerifier::builder_with_provider(Arc::clone(&roots), provider())
                .with_crls(crls.iter().cloned())
                .only_check_end_entity_revocation()
                .enforce_revocation_expiration()
                .build()
                .map_err(|e| TlsError::Config(format!("{e:?}")))
        })?;
        Ok(Arc::new(GatewayClientVerifier {
            webpki,
            intermediates: trust.intermediates.clone(),
            policy,
            anchors: trust.anchors.len(),
            crls: trust.crls.len(),
            recorder,
        }))
    }

    /// Both checks, in order.
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let mut candidates: Vec<CertificateDer<'_>> =
            Vec::with_capacity(intermediates.len() + self.intermediates.len());
        candidates.extend(
            intermediates
                .iter()
                .map(|c| CertificateDer::from(c.as_ref())),
        );
        candidates.extend(
            self.intermediates
                .iter()
                .map(|c| CertificateDer::from(c.as_ref())),
        );
        let webpki = self.webpki.for_cert(end_entity.as_ref());
        if let Err(e) = webpki.verify_client_cert(end_entity, &candidates, now) {
            tracing::debug!(error = %e, "client certificate refused by the chain check");
            return Err(e);
        }
        if let Err(refusal) = self.judge(end_entity.as_ref(), now) {
            tracing::debug!(%refusal, "client certificate refused by the certificate rules");
            return Err(refusal.into_rustls());
        }
        Ok(())
    }

    /// The policy the certificate rules apply.
    pub fn policy(&self) -> &AuthPolicy {
        &self.policy
    }

    fn judge(&self, end_entity: &[u8], now: UnixTime) -> Result<(), TlsRefusalError> {
        let at = i64::try_from(now.as_secs())
            .ok()
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
            .ok_or_else(|| TlsRefusalError::new(TlsRefusal::Untrusted, "the clock is unusable"))?;
        let inspection = inspect_der(end_entity, &self.policy, at, None)
            .map_err(|e| TlsRefusalError::new(TlsRefusal::Untrusted, e.to_string()))?;
        if inspection.verdict.usable {
            return Ok(());
        }
        Err(
            TlsRefusalError::from_reasons(&inspection.verdict.reasons).unwrap_or_else(|| {
                TlsRefusalError::new(TlsRefusal::Untrusted, "refused by the certificate rules")
            }),
        )
    }
}

impl ClientCertVerifier for GatewayClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.webpki.any().root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let Err(error) = self.check(end_entity, intermediates, now) else {
            return Ok(ClientCertVerified::assertion());
        };
        if let Some(recorder) = &self.recorder {
            let refusal = refusal_detail_of(&error)
                .unwrap_or_else(|| TlsRefusalError::new(TlsRefusal::Untrusted, error.to_string()));
            if recorder.record(&refusal, end_entity.as_ref()).is_err() {
                // The one refusal of ours that becomes `access_denied`: clients read it as
                // "cannot log in now", not as a verdict on the card.
                return Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ApplicationVerificationFailure,
                ));
            }
        }
        Err(error)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.any().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.any().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.any().supported_verify_schemes()
    }
}

/// The gateway's own certificate chain and key, loaded once and shared by every configuration.
#[derive(Debug, Clone)]
pub struct ServerIdentity {
    key: Arc<CertifiedKey>,
}

impl ServerIdentity {
    /// `chain` starts with the gateway's certificate, then its issuers; `key` must match it.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        if chain.is_empty() {
            return Err(TlsError::BadServerIdentity(
                "no certificate in the chain".into(),
            ));
        }
        let key = CertifiedKey::from_der(chain, key, &provider())
            .map_err(|e| TlsError::BadServerIdentity(e.to_string()))?;
        Ok(ServerIdentity { key: Arc::new(key) })
    }

    /// Reads the chain (PEM, every certificate in order) and the key (PEM: PKCS#8, PKCS#1 or
    /// SEC1) from files.
    pub fn read_files(cert_chain: &Path, key: &Path) -> Result<Self, TlsError> {
        let chain = certificates_from_bytes(&read_bounded(cert_chain)?)
            .map_err(|e| read_error(cert_chain, e))?
            .into_iter()
            .map(CertificateDer::from)
            .collect();
        let key_bytes = zeroize::Zeroizing::new(read_bounded(key)?);
        let key_der = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| read_error(key, e))?;
        Self::new(chain, key_der)
    }
}

/// Answers only clients that offer its ALPN name: anyone else gets no certificate, so the
/// handshake fails before a card is asked to sign.
#[derive(Debug)]
struct AlpnGate {
    identity: ServerIdentity,
    alpn: &'static [u8],
}

impl ResolvesServerCert for AlpnGate {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut offered = hello.alpn()?;
        offered
            .any(|p| p == self.alpn)
            .then(|| self.identity.key.clone())
    }
}

/// The configuration for connections that only ask for the published posture policy
/// ([`POLICY_ALPN`]): the gateway proves who it is, the client shows no card, and nothing but
/// the policy is ever sent on it.
fn policy_config(identity: &ServerIdentity) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(AlpnGate {
            identity: identity.clone(),
            alpn: POLICY_ALPN,
        }));
    config.alpn_protocols = vec![POLICY_ALPN.to_vec()];
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// Whether a ClientHello asks for the published posture policy rather than a session.
pub fn asks_for_policy(hello: &ClientHello<'_>) -> bool {
    hello
        .alpn()
        .is_some_and(|mut offered| offered.any(|p| p == POLICY_ALPN))
}

/// The gateway's configuration with the real clock.
pub fn server_config(
    server_cert_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
    verifier: Arc<GatewayClientVerifier>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let identity = ServerIdentity::new(server_cert_chain, server_key)?;
    build(&identity, verifier, Arc::new(DefaultTimeProvider))
}

fn build(
    identity: &ServerIdentity,
    verifier: Arc<GatewayClientVerifier>,
    time: Arc<dyn TimeProvider>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_details(provider(), time)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(AlpnGate {
            identity: identity.clone(),
            alpn: ALPN,
        }));
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.ignore_client_order = true;
    config.require_ems = true;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    config.max_early_data_size = 0;
    Ok(Arc::new(config))
}

/// What a reload put in force, for the audit log's `config-reloaded` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Trust anchors now in force.
    pub trust_anchors: usize,
    /// Revocation lists now in force.
    pub crls: usize,
    /// How many configurations have been in force, counting this one (1 before any reload).
    pub generation: u64,
}

/// The configuration new handshakes use, replaceable while sessions run: a session keeps the
/// configuration it started with, so a reload never drops one.
#[derive(Debug)]
pub struct ReloadableServerConfig {
    identity: ServerIdentity,
    policy: AuthPolicy,
    time: Arc<dyn TimeProvider>,
    recorder: Option<Arc<dyn RefusalRecorder>>,
    current: RwLock<Arc<ServerConfig>>,
    generation: AtomicU64,
    policy_only: Arc<ServerConfig>,
}

impl ReloadableServerConfig {
    /// A configuration with the real clock.
    pub fn new(
        identity: ServerIdentity,
        trust: &TrustMaterial,
        policy: AuthPolicy,
    ) -> Result<Self, TlsError> {
        Self::with_time_provider(identity, trust, policy, Arc::new(DefaultTimeProvider))
    }

    /// A configuration whose handshakes (validity, CRL expiry, the certificate rules) are
    /// judged at the time `time` gives, so tests can fix it.
    pub fn with_time_provider(
        identity: ServerIdentity,
        trust: &TrustMaterial,
        policy: AuthPolicy,
        time: Arc<dyn TimeProvider>,
    ) -> Result<Self, TlsError> {
        Self::assemble(identity, trust, policy, time, None)
    }

    /// A configuration with the real clock whose certificate refusals go to `recorder`
    /// before the client is answered.
    pub fn recording(
        identity: ServerIdentity,
        trust: &TrustMaterial,
        policy: AuthPolicy,
        recorder: Arc<dyn RefusalRecorder>,
    ) -> Result<Self, TlsError> {
        Self::assemble(
            identity,
            trust,
            policy,
            Arc::new(DefaultTimeProvider),
            Some(recorder),
        )
    }

    fn assemble(
        identity: ServerIdentity,
        trust: &TrustMaterial,
        policy: AuthPolicy,
        time: Arc<dyn TimeProvider>,
        recorder: Option<Arc<dyn RefusalRecorder>>,
    ) -> Result<Self, TlsError> {
        let verifier =
            GatewayClientVerifier::with_recorder(trust, policy.clone(), recorder.clone())?;
        let config = build(&identity, verifier, time.clone())?;
        let policy_only = policy_config(&identity)?;
        Ok(ReloadableServerConfig {
            policy_only,
            identity,
            policy,
            time,
            recorder,
            current: RwLock::new(config),
            generation: AtomicU64::new(1),
        })
    }

    /// The configuration for a connection that asks only for the posture policy.
    pub fn policy_only(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.policy_only)
    }

    /// The configuration for the next handshake (hand it to `tokio_rustls::TlsAcceptor`).
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Puts new anchors, intermediates and CRLs in force for new handshakes. If they cannot be
    /// used, the configuration in force stays and the error says why.
    pub fn reload(&self, trust: &TrustMaterial) -> Result<ReloadSummary, TlsError> {
        let verifier = GatewayClientVerifier::with_recorder(
            trust,
            self.policy.clone(),
            self.recorder.clone(),
        )?;
        let (trust_anchors, crls) = (verifier.anchors, verifier.crls);
        let config = build(&self.identity, verifier, self.time.clone())?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = config;
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        tracing::info!(
            trust_anchors,
            crls,
            generation,
            "trust anchors and CRLs reloaded"
        );
        Ok(ReloadSummary {
            trust_anchors,
            crls,
            generation,
        })
    }
}

/// What the gateway knows of a client after a finished handshake: the verified certificate
/// for the login step (it binds the certificate's personal identifier to the user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedClient {
    /// The client's certificate, verified during the handshake.
    pub certificate: CertificateDer<'static>,
    /// The TLS version agreed.
    pub version: ProtocolVersion,
    /// The cipher suite agreed.
    pub cipher_suite: CipherSuite,
}

/// The verified client of a finished server handshake, or why it is not one to talk to.
pub fn verified_client(conn: &ServerConnection) -> Result<VerifiedClient, TlsError> {
    if conn.is_handshaking() {
        return Err(TlsError::HandshakeIncomplete);
    }
    if conn.alpn_protocol() != Some(ALPN) {
        return Err(TlsError::WrongAlpn);
    }
    let certificate = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .cloned()
        .ok_or(TlsError::NoClientCertificate)?;
    let version = conn
        .protocol_version()
        .ok_or(TlsError::HandshakeIncomplete)?;
    let cipher_suite = conn
        .negotiated_cipher_suite()
        .ok_or(TlsError::HandshakeIncomplete)?
        .suite();
    Ok(VerifiedClient {
        certificate,
        version,
        cipher_suite,
    })
}
