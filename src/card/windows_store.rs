//! The Windows certificate store as a credential: the user's certificates (`CurrentUser\MY`)
//! whose private key sits behind CNG — how Buypass Access (and Windows' own smart-card
//! provider) shows a smartcard's certificates. Signing goes through CNG with `rustls-cng`;
//! the card's middleware shows its own PIN dialog.
//!
//! Why the PIN is not handed to CNG here: `rustls-cng`'s `set_pin` gives
//! `NCRYPT_PIN_PROPERTY` a length in characters where CNG reads bytes, so a provider could
//! see half a PIN — a wrong PIN that costs a try. Until that is right, the middleware's dialog
//! asks ([`PinEntry::Middleware`]), which is also what Buypass Access users know.
//!
//! The parts that decide (which certificates are candidates, what CNG is asked for) are pure
//! and tested on every platform; the store and CNG calls compile on Windows only. Wine has no
//! smart-card service, so the shell is exercised on a real Windows machine only
//! (`docs/windows.md`).

use super::credential::{KeyError, KeyKind, Mechanisms, SignOp};
use super::padding::HashAlg;

/// What CNG is asked for: the hash to sign and the padding around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CngRequest {
    /// The hash of the message (CNG infers SHA-256/384/512 from its length).
    pub hash: Vec<u8>,
    /// The padding.
    pub padding: CngPadding,
}

/// The padding CNG applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CngPadding {
    /// RSA PKCS#1 v1.5.
    Pkcs1,
    /// RSA-PSS with a salt as long as the hash.
    Pss,
    /// None (ECDSA); the answer is `r || s`.
    Ecdsa,
}

/// CNG pads RSA itself (PSS or PKCS#1 v1.5) and signs ECDSA hashes; it offers no raw RSA.
pub fn cng_mechanisms(kind: KeyKind) -> Mechanisms {
    Mechanisms {
        raw_rsa: false,
        rsa_pss: kind.is_rsa(),
        rsa_pkcs1: kind.is_rsa(),
        ecdsa: !kind.is_rsa(),
    }
}

/// The CNG request for a signature.
pub fn cng_request(op: &SignOp) -> Result<CngRequest, KeyError> {
    let check = |hash: HashAlg, digest: &[u8]| {
        if digest.len() == hash.output_len() {
            Ok(digest.to_vec())
        } else {
            Err(KeyError::Unsupported(format!(
                "a {hash:?} hash of {} bytes",
                digest.len()
            )))
        }
    };
    Ok(match op {
        SignOp::RsaPss { hash, digest } => CngRequest {
            hash: check(*hash, digest)?,
            padding: CngPadding::Pss,
        },
        SignOp::RsaPkcs1 { hash, digest } => CngRequest {
            hash: check(*hash, digest)?,
            padding: CngPadding::Pkcs1,
        },
        SignOp::Ecdsa { digest } if matches!(digest.len(), 32 | 48 | 64) => CngRequest {
            hash: digest.clone(),
            padding: CngPadding::Ecdsa,
        },
        other => {
            return Err(KeyError::Unsupported(format!(
                "CNG signs hashes with PSS, PKCS#1 v1.5 or ECDSA, not {other:?}"
            )))
        }
    })
}

#[cfg(windows)]
pub use shell::{open, StoreError, StoreKey, StoreSession};

#[cfg(windows)]
mod shell {
    use std::sync::Arc;

    use rustls_cng::cert::CertContext;
    use rustls_cng::key::{NCryptKey, SignaturePadding};
    use rustls_cng::store::{CertStore, CertStoreType};

    use super::{cng_mechanisms, cng_request, CngPadding};
    use crate::card::credential::{
        Backend, CardCertificate, CardSession, CredentialInfo, KeyError, KeyKind, LoginKey,
        Mechanisms, PinEntry, PinState, Presence, SignOp,
    };
    use crate::card::padding::ecdsa_to_der;
    use crate::card::trace::TraceSink;
    use crate::secret::Pin;

    /// Why the store could not be read.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    pub enum StoreError {
        /// The store could not be opened.
        #[error("the certificate store cannot be opened: {0}")]
        Open(String),
        /// No certificate in it has a private key.
        #[error("no certificate in the store has a private key (is the card in the reader?)")]
        NoCertificate,
    }

    /// One certificate with its CNG key.
    struct Entry {
        context: CertContext,
        key: NCryptKey,
    }

    /// The user's store, opened; no key used yet.
    pub struct StoreSession {
        entries: Vec<Entry>,
        info: CredentialInfo,
        trace: Option<TraceSink>,
    }

    /// Opens `CurrentUser\MY` and keeps the certificates whose key CNG can reach without
    /// asking anything (silent acquire: no PIN dialog now).
    pub fn open(
        _reader: Option<&str>,
        trace: Option<TraceSink>,
    ) -> Result<StoreSession, StoreError> {
        let store = CertStore::open(CertStoreType::CurrentUser, "My")
            .map_err(|e| StoreError::Open(e.to_string()))?;
        let all = store
            .find_all()
            .map_err(|e| StoreError::Open(e.to_string()))?;
        let entries: Vec<Entry> = all
            .into_iter()
            .filter_map(|context| {
                let key = context.acquire_key(true).ok()?;
                Some(Entry { context, key })
            })
            .collect();
        if let Some(t) = &trace {
            t.note(&format!(
                "certificate store CurrentUser\\My: {} with a key",
                entries.len()
            ));
        }
        if entries.is_empty() {
            return Err(StoreError::NoCertificate);
        }
        let info = CredentialInfo {
            backend: Backend::Windows,
            reader: None,
            atr: None,
            application: "certificate-store".into(),
            card_id: None,
            token: None,
        };
        Ok(StoreSession {
            entries,
            info,
            trace,
        })
    }

    impl StoreSession {
        fn entry(&self, certificate: &CardCertificate) -> Option<&Entry> {
            self.entries
                .iter()
                .find(|e| e.context.as_der() == certificate.der.as_slice())
        }
    }

    impl CardSession for StoreSession {
        fn info(&self) -> &CredentialInfo {
            &self.info
        }

        fn certificates(&mut self) -> Result<Vec<CardCertificate>, KeyError> {
            Ok(self
                .entries
                .iter()
                .map(|e| {
                    let der = e.context.as_der().to_vec();
                    let id =
                        crate::card::apdu::hex(&crate::card::padding::HashAlg::Sha256.digest(&der));
                    CardCertificate {
                        id: id[..16].to_string(),
                        label: "Windows-sertifikatlager".into(),
                        der,
                        has_key: true,
                    }
                })
                .collect())
        }

        fn mechanisms(&mut self, certificate: &CardCertificate) -> Result<Mechanisms, KeyError> {
            let kind = KeyKind::of_certificate(&certificate.der).map_err(KeyError::Unsupported)?;
            Ok(cng_mechanisms(kind))
        }

        fn pin_state(&mut self) -> Result<PinState, KeyError> {
            Ok(PinState::Unknown)
        }

        fn pin_entry(&self) -> PinEntry {
            PinEntry::Middleware
        }

        fn login(
            self: Box<Self>,
            certificate: &CardCertificate,
            _pin: Option<&Pin>,
        ) -> Result<Box<dyn LoginKey>, (Box<dyn CardSession>, KeyError)> {
            let kind = match KeyKind::of_certificate(&certificate.der) {
                Ok(k) => k,
                Err(e) => return Err((self, KeyError::Unsupported(e))),
            };
            // Not silent from here on: the middleware may show its PIN dialog when the key is
            // first used.
            let key = match self
                .entry(certificate)
                .map(|e| e.context.acquire_key(false))
            {
                Some(Ok(key)) => key,
                Some(Err(e)) => return Err((self, KeyError::Store(e.to_string()))),
                None => {
                    let e = KeyError::Store("the certificate left the store".into());
                    return Err((self, e));
                }
            };
            Ok(Box::new(StoreKey {
                key,
                kind,
                session: *self,
            }))
        }

        fn presence(&self, certificate: &CardCertificate) -> Presence {
            // Asking a smart-card key for a property goes to the card; it fails once the
            // card is gone (to be confirmed on a real Buypass Access installation).
            match self.entry(certificate) {
                Some(e) => {
                    let key = e.key.clone();
                    Presence::Poll(Arc::new(move || key.algorithm().is_ok()))
                }
                None => Presence::Unknown,
            }
        }
    }

    /// A store certificate's key, signing through CNG.
    pub struct StoreKey {
        key: NCryptKey,
        kind: KeyKind,
        session: StoreSession,
    }

    impl LoginKey for StoreKey {
        fn kind(&self) -> KeyKind {
            self.kind
        }

        fn mechanisms(&self) -> Mechanisms {
            cng_mechanisms(self.kind)
        }

        fn sign(&mut self, op: &SignOp) -> Result<Vec<u8>, KeyError> {
            let request = cng_request(op)?;
            let padding = match request.padding {
                CngPadding::Pkcs1 => SignaturePadding::Pkcs1,
                CngPadding::Pss => SignaturePadding::Pss,
                CngPadding::Ecdsa => SignaturePadding::None,
            };
            let start = std::time::Instant::now();
            let result = self.key.sign(&request.hash, padding);
            if let Some(t) = &self.session.trace {
                let outcome = match &result {
                    Ok(_) => "ok".to_string(),
                    Err(e) => e.to_string(),
                };
                let detail = format!("{padding:?} {} bytes", request.hash.len());
                t.call("NCryptSignHash", &detail, outcome, start.elapsed());
            }
            let signature = result.map_err(|e| KeyError::Store(e.to_string()))?;
            match request.padding {
                CngPadding::Ecdsa => ecdsa_to_der(&signature),
                _ => Ok(signature),
            }
        }

        fn pin_state_lost(&self) -> bool {
            false
        }

        fn relock(self: Box<Self>) -> Box<dyn CardSession> {
            Box::new(self.session)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cng_pads_rsa_itself_and_gets_hashes() {
        let rsa = KeyKind::Rsa { bits: 2048 };
        let m = cng_mechanisms(rsa);
        assert!(m.rsa_pss && m.rsa_pkcs1 && !m.raw_rsa && !m.ecdsa);
        assert_eq!(
            m.tls_mode(rsa),
            Some(crate::card::credential::TlsMode::Tls13)
        );
        assert!(cng_mechanisms(KeyKind::EcP384).ecdsa);
        let pss = cng_request(&SignOp::RsaPss {
            hash: HashAlg::Sha384,
            digest: vec![1; 48],
        })
        .unwrap();
        assert_eq!(pss.padding, CngPadding::Pss);
        assert_eq!(pss.hash.len(), 48);
        let ec = cng_request(&SignOp::Ecdsa {
            digest: vec![2; 32],
        })
        .unwrap();
        assert_eq!(ec.padding, CngPadding::Ecdsa);
    }

    #[test]
    fn what_cng_cannot_do_is_refused_before_it_is_asked() {
        assert!(cng_request(&SignOp::RawRsa(vec![0; 256])).is_err());
        assert!(cng_request(&SignOp::RsaPkcs1 {
            hash: HashAlg::Sha256,
            digest: vec![0; 31],
        })
        .is_err());
        assert!(cng_request(&SignOp::Ecdsa {
            digest: vec![0; 20]
        })
        .is_err());
    }
}
