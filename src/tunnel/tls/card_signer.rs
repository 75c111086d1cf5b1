//! The unlocked key on a thread of its own.
//!
//! rustls asks for the client's signature synchronously, in the middle of processing the
//! server's flight, and a card takes a few hundred milliseconds to sign. So the key lives on a
//! dedicated thread: [`CardSigner::sign`] sends the request over a channel and waits for the
//! answer for a bounded time ([`DEFAULT_SIGN_TIMEOUT`]), never forever. The thread owns the
//! [`LoginKey`] — whichever backend it comes from — and hands it back with
//! [`CardSigner::into_key`] when the tunnel closes, so a reconnect can reuse a card that kept
//! its verified PIN.
//!
//! A card that lost its PIN state (it was reset, or pulled and put back) answers
//! [`SignerError::PinStateLost`]; a pulled card [`SignerError::CardRemoved`]. Neither is retried
//! here: the client asks the person for the PIN again, or stops.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::pki_types::CertificateDer;

use crate::card::credential::{KeyError, KeyKind, LoginKey, Mechanisms, SignOp};
use crate::card::padding::PaddingError;

/// How long one signature may take before the caller gives up: a slow card over a slow reader
/// signs RSA-2048 in well under two seconds, so thirty means the card or reader is stuck.
pub const DEFAULT_SIGN_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the card did not sign. `PinStateLost` and `CardRemoved` are distinct because the client
/// acts on them: ask for the PIN again, or tell the person the card is gone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The card no longer holds the verified PIN (it was reset); the person must enter it again.
    #[error("the card no longer holds the verified PIN; enter the PIN again")]
    PinStateLost,
    /// The card was taken out of the reader.
    #[error("the card was removed")]
    CardRemoved,
    /// The card did not answer in time.
    #[error("the card did not answer within {} seconds", waited.as_secs())]
    Timeout {
        /// How long we waited.
        waited: Duration,
    },
    /// The signer's thread has stopped (the key was handed back, or the thread failed).
    #[error("the card signer has stopped")]
    Stopped,
    /// The card refused or failed in another way.
    #[error("the card could not sign: {0}")]
    Card(KeyError),
    /// The certificate's key is not one the backend signs with.
    #[error("the certificate's key cannot be used: {0}")]
    UnsupportedKey(String),
    /// The RSA block could not be built.
    #[error("the signature block could not be built: {0}")]
    Padding(#[from] PaddingError),
    /// No random bytes for the PSS salt.
    #[error("no random bytes for the signature: {0}")]
    Random(String),
    /// The card's thread could not be started.
    #[error("could not start the card thread: {0}")]
    Thread(String),
}

impl SignerError {
    /// The person must enter the PIN again before the card signs (never retried by itself).
    pub fn needs_pin(&self) -> bool {
        matches!(self, SignerError::PinStateLost)
    }

    fn from_key(e: KeyError) -> Self {
        if e.is_card_removed() {
            SignerError::CardRemoved
        } else if e.is_pin_state_lost() {
            SignerError::PinStateLost
        } else {
            SignerError::Card(e)
        }
    }
}

/// One signature request: the operation and where to send the answer.
struct Request {
    op: SignOp,
    reply: mpsc::SyncSender<Result<Vec<u8>, KeyError>>,
}

struct Inner {
    /// `None` once the key was asked back: no new requests.
    requests: Mutex<Option<mpsc::Sender<Request>>>,
    /// Where the thread hands the key back when its request channel closes.
    returned: Mutex<Option<mpsc::Receiver<Box<dyn LoginKey>>>>,
    kind: KeyKind,
    mechanisms: Mechanisms,
    certificate: CertificateDer<'static>,
    spki: Vec<u8>,
    signatures: Arc<AtomicU64>,
    timeout: Duration,
}

/// A handle to the key's signing thread. Clones share the thread, the key and the counter.
#[derive(Clone)]
pub struct CardSigner {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CardSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSigner")
            .field("kind", &self.inner.kind)
            .field("mechanisms", &self.inner.mechanisms)
            .field("signatures", &self.signatures())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A key that could not be put on its thread, handed back with the reason.
pub type SpawnError = (Box<dyn LoginKey>, SignerError);

impl CardSigner {
    /// Starts the key's thread with [`DEFAULT_SIGN_TIMEOUT`]. `certificate` is the login
    /// certificate as read from the card; its key must be the key's. On error the key comes
    /// back unused.
    pub fn spawn(
        key: Box<dyn LoginKey>,
        certificate: impl Into<CertificateDer<'static>>,
    ) -> Result<CardSigner, SpawnError> {
        Self::spawn_with_timeout(key, certificate, DEFAULT_SIGN_TIMEOUT)
    }

    /// [`CardSigner::spawn`] with another bound on each wait for the card.
    pub fn spawn_with_timeout(
        key: Box<dyn LoginKey>,
        certificate: impl Into<CertificateDer<'static>>,
        timeout: Duration,
    ) -> Result<CardSigner, SpawnError> {
        let certificate = certificate.into();
        let spki = match spki_of(&certificate) {
            Ok(s) => s,
            Err(e) => return Err((key, e)),
        };
        match KeyKind::of_certificate(&certificate) {
            Ok(kind) if kind == key.kind() => {}
            Ok(kind) => {
                let e = format!("the certificate holds {kind:?}, the card {:?}", key.kind());
                return Err((key, SignerError::UnsupportedKey(e)));
            }
            Err(e) => return Err((key, SignerError::UnsupportedKey(e))),
        }
        let (kind, mechanisms) = (key.kind(), key.mechanisms());
        if mechanisms.tls_mode(kind).is_none() {
            let e = format!("{kind:?} offers no signature TLS accepts ({mechanisms:?})");
            return Err((key, SignerError::UnsupportedKey(e)));
        }
        let (request_tx, request_rx) = mpsc::channel::<Request>();
        let (key_tx, key_rx) = mpsc::sync_channel::<Box<dyn LoginKey>>(1);
        let (returned_tx, returned_rx) = mpsc::sync_channel::<Box<dyn LoginKey>>(1);
        let signatures = Arc::new(AtomicU64::new(0));
        let counter = signatures.clone();
        // The key goes to the thread over a channel, so it is still ours if the thread
        // cannot be started.
        let started = std::thread::Builder::new()
            .name("card-signer".into())
            .spawn(move || {
                let Ok(key) = key_rx.recv() else { return };
                let key = serve(key, request_rx, &counter);
                let _ = returned_tx.send(key);
            });
        if let Err(e) = started {
            return Err((key, SignerError::Thread(e.to_string())));
        }
        if let Err(mpsc::SendError(key)) = key_tx.send(key) {
            return Err((key, SignerError::Thread("the thread ended at start".into())));
        }
        Ok(CardSigner {
            inner: Arc::new(Inner {
                requests: Mutex::new(Some(request_tx)),
                returned: Mutex::new(Some(returned_rx)),
                kind,
                mechanisms,
                certificate,
                spki,
                signatures,
                timeout,
            }),
        })
    }

    /// Has the key sign. Waits at most the signer's timeout.
    pub fn sign(&self, op: SignOp) -> Result<Vec<u8>, SignerError> {
        let sender = lock(&self.inner.requests)
            .clone()
            .ok_or(SignerError::Stopped)?;
        let (reply, answer) = mpsc::sync_channel(1);
        sender
            .send(Request { op, reply })
            .map_err(|_| SignerError::Stopped)?;
        drop(sender);
        match answer.recv_timeout(self.inner.timeout) {
            Ok(Ok(signature)) => Ok(signature),
            Ok(Err(e)) => Err(SignerError::from_key(e)),
            Err(RecvTimeoutError::Timeout) => Err(SignerError::Timeout {
                waited: self.inner.timeout,
            }),
            Err(RecvTimeoutError::Disconnected) => Err(SignerError::Stopped),
        }
    }

    /// Signatures the card made through this signer (all clones together).
    pub fn signatures(&self) -> u64 {
        self.inner.signatures.load(Ordering::SeqCst)
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        self.inner.kind
    }

    /// The operations the key offers.
    pub fn mechanisms(&self) -> Mechanisms {
        self.inner.mechanisms
    }

    /// The login certificate, as the client presents it.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.inner.certificate
    }

    /// The certificate's SubjectPublicKeyInfo, DER.
    pub fn spki(&self) -> &[u8] {
        &self.inner.spki
    }

    /// How long one signature may take.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Stops the thread and hands the key back, still unlocked unless the card lost its PIN
    /// state (see [`LoginKey::pin_state_lost`]). Other clones of this signer stop signing
    /// ([`SignerError::Stopped`]). Waits at most the signer's timeout for a signature in
    /// progress; only one handle gets the key.
    pub fn into_key(self) -> Result<Box<dyn LoginKey>, SignerError> {
        lock(&self.inner.requests).take();
        let returned = lock(&self.inner.returned)
            .take()
            .ok_or(SignerError::Stopped)?;
        match returned.recv_timeout(self.inner.timeout) {
            Ok(key) => Ok(key),
            Err(RecvTimeoutError::Timeout) => Err(SignerError::Timeout {
                waited: self.inner.timeout,
            }),
            Err(RecvTimeoutError::Disconnected) => Err(SignerError::Stopped),
        }
    }
}

/// The thread's loop: one request at a time until every sender is gone.
fn serve(
    mut key: Box<dyn LoginKey>,
    requests: mpsc::Receiver<Request>,
    counter: &AtomicU64,
) -> Box<dyn LoginKey> {
    for request in requests {
        let result = key.sign(&request.op);
        if result.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        // The caller may have stopped waiting; its answer is then dropped.
        let _ = request.reply.try_send(result);
    }
    key
}

/// The certificate's SubjectPublicKeyInfo, DER.
fn spki_of(certificate: &[u8]) -> Result<Vec<u8>, SignerError> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(certificate)
        .map_err(|e| SignerError::UnsupportedKey(format!("not a certificate: {e}")))?;
    Ok(cert.public_key().raw.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::credential::{CardCertificate, CardSession};
    use crate::card::emulated::{InProcessTransport, SimulatedCard};
    use crate::card::piv::{Piv, PivError};
    use crate::card::piv_credential::PivSession;
    use crate::secret::Pin;
    use crate::vcard::{PivConfig, SlotKey, VirtualPiv};
    use std::time::Instant;

    /// A P-256 card key made on the spot (fast), with a self-signed certificate.
    fn ec_slot() -> SlotKey {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec![])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        SlotKey::from_der_certificate(cert.der().to_vec(), &key.serialize_pem()).unwrap()
    }

    /// A card that takes `delay` for every GENERAL AUTHENTICATE.
    struct SlowCard {
        card: VirtualPiv,
        delay: Duration,
    }

    impl SimulatedCard for SlowCard {
        fn atr(&self) -> Vec<u8> {
            self.card.atr()
        }
        fn process(&mut self, command: &[u8]) -> Vec<u8> {
            if command.get(1) == Some(&0x87) {
                std::thread::sleep(self.delay);
            }
            self.card.process(command)
        }
        fn reset(&mut self) {
            self.card.reset()
        }
    }

    /// The card's login key, unlocked with the TEST PIN.
    fn unlocked<C: SimulatedCard + 'static>(
        t: &InProcessTransport<C>,
        cert: &[u8],
    ) -> Box<dyn LoginKey> {
        let piv = Piv::open(Box::new(t.clone())).unwrap();
        let session = Box::new(PivSession::new(piv, None).unwrap());
        let login = CardCertificate {
            id: "9A".into(),
            label: String::new(),
            der: cert.to_vec(),
            has_key: true,
        };
        let pin = Pin::from_input("123456".into()).unwrap();
        session
            .login(&login, Some(&pin))
            .map_err(|(_, e)| e)
            .unwrap()
    }

    fn card(delay: Duration) -> (InProcessTransport<SlowCard>, Vec<u8>) {
        let slot = ec_slot();
        let cert = slot.certificate_der().to_vec();
        let card = VirtualPiv::new(PivConfig::new(slot)).unwrap();
        (InProcessTransport::new(SlowCard { card, delay }), cert)
    }

    fn ecdsa(byte: u8, len: usize) -> SignOp {
        SignOp::Ecdsa {
            digest: vec![byte; len],
        }
    }

    #[test]
    fn signs_counts_and_hands_the_key_back() {
        let (t, cert) = card(Duration::ZERO);
        let signer = CardSigner::spawn(unlocked(&t, &cert), cert).unwrap();
        assert_eq!(signer.kind(), KeyKind::EcP256);
        let sig = signer.sign(ecdsa(7, 32)).unwrap();
        assert_eq!(sig[0], 0x30, "DER ECDSA-Sig-Value");
        assert!(matches!(
            signer.sign(ecdsa(7, 31)),
            Err(SignerError::Card(KeyError::Piv(
                PivError::InputLength { .. }
            )))
        ));
        assert_eq!(signer.signatures(), 1);
        assert_eq!(t.with_card(|c| c.card.signature_count()), 1);

        let other = signer.clone();
        let mut key = signer.into_key().unwrap();
        assert_eq!(other.sign(ecdsa(7, 32)), Err(SignerError::Stopped));
        assert!(matches!(other.into_key(), Err(SignerError::Stopped)));
        // Still unlocked: the card signs again without a PIN.
        key.sign(&ecdsa(1, 32)).unwrap();
    }

    #[test]
    fn a_stuck_card_is_a_timeout_not_a_hang() {
        let (t, cert) = card(Duration::from_millis(600));
        let signer =
            CardSigner::spawn_with_timeout(unlocked(&t, &cert), cert, Duration::from_millis(100))
                .unwrap();
        let start = Instant::now();
        assert_eq!(
            signer.sign(ecdsa(7, 32)),
            Err(SignerError::Timeout {
                waited: Duration::from_millis(100)
            })
        );
        assert!(start.elapsed() < Duration::from_millis(500));
        // The card finished in the background, and counted it.
        std::thread::sleep(Duration::from_millis(700));
        assert_eq!(signer.signatures(), 1);
    }

    #[test]
    fn pulled_and_reset_cards_are_told_apart() {
        let (t, cert) = card(Duration::ZERO);
        let signer = CardSigner::spawn(unlocked(&t, &cert), cert).unwrap();
        t.set_inserted(false);
        assert_eq!(signer.sign(ecdsa(7, 32)), Err(SignerError::CardRemoved));
        t.set_inserted(true);
        let e = signer.sign(ecdsa(7, 32)).unwrap_err();
        assert_eq!(e, SignerError::PinStateLost);
        assert!(e.needs_pin());
        assert_eq!(signer.signatures(), 0);
        let key = signer.into_key().unwrap();
        assert!(key.pin_state_lost());
    }

    #[test]
    fn a_certificate_that_is_not_the_keys_is_refused_and_the_key_returned() {
        let (t, cert) = card(Duration::ZERO);
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let other = rcgen::CertificateParams::new(vec![])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (key, e) = CardSigner::spawn(unlocked(&t, &cert), other.der().to_vec()).unwrap_err();
        assert!(matches!(e, SignerError::UnsupportedKey(_)), "{e:?}");
        assert!(!key.pin_state_lost());
        let (_, e) = CardSigner::spawn(key, b"junk".to_vec()).unwrap_err();
        assert!(matches!(e, SignerError::UnsupportedKey(_)));
    }
}
