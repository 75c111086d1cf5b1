//! The client's TLS configuration: the card's certificate and key, the gateway's roots.
//!
//! TLS 1.3 only, unless the card can do nothing but PKCS#1 v1.5: then TLS 1.2 only (with
//! ECDHE and AEAD suites, extended master secret required), and the log says so. Session
//! resumption is off, so every session is a full handshake with one card signature: a tunnel
//! never outlives the proof that the card is in the reader.

use std::sync::Arc;

use rustls::client::Resumption;
use rustls::pki_types::CertificateDer;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, RootCertStore};

use super::card_key::CardSigningKey;
use super::{provider, TlsError, ALPN};

/// The client's configuration: `card_key` signs, `gateway_roots` verify the gateway.
///
/// `tls12_only_pkcs1` is for an RSA card that can do nothing but PKCS#1 v1.5 (TLS 1.3 does not
/// allow that for the handshake signature): the client then speaks TLS 1.2 only and signs with
/// RSA-PKCS1. Anything else is refused ([`TlsError::Tls12NeedsRsa`]).
pub fn client_config(
    card_key: CardSigningKey,
    gateway_roots: Vec<CertificateDer<'static>>,
    tls12_only_pkcs1: bool,
) -> Result<Arc<ClientConfig>, TlsError> {
    if gateway_roots.is_empty() {
        return Err(TlsError::NoTrustAnchors);
    }
    let mut roots = RootCertStore::empty();
    for (i, root) in gateway_roots.into_iter().enumerate() {
        roots.add(root).map_err(|e| TlsError::BadTrustAnchor {
            index: i + 1,
            detail: e.to_string(),
        })?;
    }
    let (versions, card_key): (&[&rustls::SupportedProtocolVersion], _) = if tls12_only_pkcs1 {
        if !card_key.signer().kind().is_rsa() {
            return Err(TlsError::Tls12NeedsRsa);
        }
        tracing::warn!(
            "TLS 1.2 with RSA-PKCS1: the card can do nothing but PKCS#1 v1.5 signatures, which \
             TLS 1.3 does not allow; the tunnel still uses ECDHE and AEAD suites only"
        );
        (&[&rustls::version::TLS12], card_key.pkcs1_only())
    } else {
        (&[&rustls::version::TLS13], card_key)
    };
    let certificate = card_key.signer().certificate().clone();
    let certified = CertifiedKey::new(vec![certificate], Arc::new(card_key));
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.resumption = Resumption::disabled();
    config.require_ems = true;
    Ok(Arc::new(config))
}

/// Whether the finished handshake agreed on [`ALPN`]; the client stops otherwise, since a
/// server that does not name our protocol is not our gateway.
pub fn check_alpn(conn: &rustls::CommonState) -> Result<(), TlsError> {
    if conn.is_handshaking() {
        return Err(TlsError::HandshakeIncomplete);
    }
    match conn.alpn_protocol() {
        Some(p) if p == ALPN => Ok(()),
        _ => Err(TlsError::WrongAlpn),
    }
}
