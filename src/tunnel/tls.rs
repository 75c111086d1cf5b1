//! The TLS layer of the tunnel, on both ends, with rustls and its *ring* provider.
//!
//! - Client ([`client`]): the private key stays on the card. [`CardSigner`] owns the verified
//!   card on a thread of its own (rustls signs synchronously, a card is slow); [`CardSigningKey`]
//!   is the rustls signing key whose `sign` goes to that thread. TLS 1.3 with RSA-PSS (padding
//!   built on the host, raw RSA on the card) or ECDSA; TLS 1.2 only for a card that can do
//!   nothing but PKCS#1 v1.5, and the client log says so. One card signature per session:
//!   resumption is off on both ends, so every session proves the card is there.
//! - Gateway ([`server`]): a client certificate is required. [`GatewayClientVerifier`] runs
//!   rustls' own webpki verifier (chain to the configured anchors, CRLs), then the certificate
//!   core's level and usage rules, and refuses with a reason the audit log can name
//!   ([`TlsRefusal`], read back from the handshake error with [`refusal_of`]).
//!   [`ReloadableServerConfig`] swaps in new anchors and CRLs without touching live sessions.
//!
//! Both ends: AEAD cipher suites with ECDHE only ([`CIPHER_SUITES`]), ALPN [`ALPN`].
//! No sockets here: callers hand the configurations to `tokio-rustls` (see `docs/tls.md`).

pub mod card_key;
pub mod card_signer;
pub mod client;
pub mod crl_sets;
pub mod refusal;
pub mod server;

use std::sync::Arc;

use rustls::crypto::ring::cipher_suite as suites;
use rustls::crypto::CryptoProvider;
use rustls::SupportedCipherSuite;

pub use card_key::{card_error_of, CardSigningKey, OsSalt, SaltSource};
pub use card_signer::{CardSigner, SignerError, DEFAULT_SIGN_TIMEOUT};
pub use client::{check_alpn, client_config};
pub use refusal::{refusal_detail_of, refusal_of, TlsRefusal, TlsRefusalError};
pub use server::{
    asks_for_policy, server_config, verified_client, GatewayClientVerifier, RefusalRecorder,
    ReloadSummary, ReloadableServerConfig, ServerIdentity, TrustMaterial, Unrecorded,
    VerifiedClient,
};

/// The application protocol both ends name in ALPN (defined with the wire protocol).
pub use super::protocol::{ALPN, POLICY_ALPN};

/// The cipher suites either end will use: AEAD only, and for TLS 1.2 only ECDHE key exchange
/// (TLS 1.3 suites always use an ephemeral exchange). The server's order is the preference.
pub static CIPHER_SUITES: &[SupportedCipherSuite] = &[
    suites::TLS13_AES_256_GCM_SHA384,
    suites::TLS13_AES_128_GCM_SHA256,
    suites::TLS13_CHACHA20_POLY1305_SHA256,
    suites::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    suites::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    suites::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    suites::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    suites::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// The *ring* provider limited to [`CIPHER_SUITES`]; both ends build on it.
pub fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = CIPHER_SUITES.to_vec();
    Arc::new(provider)
}

/// Why a TLS configuration could not be built, or a finished handshake is not one we accept.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TlsError {
    /// No trust anchor was given: nobody could be verified.
    #[error("no trust anchors: no certificate could be verified")]
    NoTrustAnchors,
    /// A trust anchor that cannot be used.
    #[error("trust anchor number {index} cannot be used: {detail}")]
    BadTrustAnchor {
        /// Position in the list, from 1.
        index: usize,
        /// What was wrong.
        detail: String,
    },
    /// A CRL that cannot be read.
    #[error("CRL number {index} cannot be read: {detail}")]
    BadCrl {
        /// Position in the list, from 1.
        index: usize,
        /// What was wrong.
        detail: String,
    },
    /// A file of trust material or the server's identity could not be read.
    #[error("cannot read {path}: {detail}")]
    Read {
        /// The file.
        path: String,
        /// What the system or the PEM reader said.
        detail: String,
    },
    /// The server's certificate chain is empty or its key unusable or not its certificate's.
    #[error("the server certificate and key cannot be used: {0}")]
    BadServerIdentity(String),
    /// TLS 1.2 mode was asked for a card whose key is not RSA: such a card signs TLS 1.3.
    #[error("TLS 1.2 mode is only for RSA cards that can do nothing but PKCS#1 v1.5")]
    Tls12NeedsRsa,
    /// rustls refused the configuration.
    #[error("TLS configuration refused: {0}")]
    Config(String),
    /// The handshake is not finished yet.
    #[error("the TLS handshake is not finished")]
    HandshakeIncomplete,
    /// The peer presented no certificate (cannot happen behind [`GatewayClientVerifier`]).
    #[error("the client presented no certificate")]
    NoClientCertificate,
    /// The peer did not agree on [`ALPN`].
    #[error("the peer does not speak hjemmekontor/1 (ALPN)")]
    WrongAlpn,
}

/// The rustls error inside an error from a handshake: the `rustls::Error` itself, or the
/// `std::io::Error` tokio-rustls wraps it in, or one further down a `source()` chain.
pub(crate) fn rustls_error_in<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    // A chain longer than this is not one tokio-rustls makes; the bound keeps a cyclic
    // `source()` from looping.
    for _ in 0..8 {
        let e = current?;
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                    return Some(tls);
                }
            }
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_aead_suites_and_ecdhe_for_tls12() {
        for suite in CIPHER_SUITES {
            let name = format!("{:?}", suite.suite());
            assert!(
                name.contains("_GCM_") || name.contains("CHACHA20_POLY1305"),
                "{name} is not AEAD"
            );
            if suite.version() == &rustls::version::TLS12 {
                assert!(name.starts_with("TLS_ECDHE_"), "{name} is not ECDHE");
            }
        }
        assert_eq!(provider().cipher_suites.len(), CIPHER_SUITES.len());
    }

    #[test]
    fn the_rustls_error_is_found_inside_io_errors() {
        let tls = rustls::Error::NoCertificatesPresented;
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls.clone());
        assert_eq!(rustls_error_in(&io), Some(&tls));
        assert_eq!(rustls_error_in(&tls), Some(&tls));
        let plain = std::io::Error::other("no tls here");
        assert_eq!(rustls_error_in(&plain), None);
    }
}
