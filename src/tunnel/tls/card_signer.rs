//! The verified card on a thread of its own.
//!
//! rustls asks for the client's signature synchronously, in the middle of processing the
//! server's flight, and a card takes a few hundred milliseconds to sign. So the card lives on a
//! dedicated thread: [`CardSigner::sign`] sends the block over a channel and waits for the
//! answer for a bounded time ([`DEFAULT_SIGN_TIMEOUT`]), never forever. The thread owns the
//! [`Piv<Verified>`] session, and hands it back with [`CardSigner::into_card`] when the tunnel
//! closes, so a reconnect can reuse a card that kept its verified PIN.
//!
//! A card that lost its PIN state (it was reset, or pulled and put back) answers
//! [`SignerError::PinStateLost`]; a pulled card [`SignerError::CardRemoved`]. Neither is retried
//! here: the client asks the person for the PIN again, or stops.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use crate::card::padding::PaddingError;
use crate::card::piv::{KeyAlgorithm, Piv, PivError, Slot, Verified};

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
    /// The signer's thread has stopped (the card was handed back, or the thread failed).
    #[error("the card signer has stopped")]
    Stopped,
    /// The card refused or failed in another way.
    #[error("the card could not sign: {0}")]
    Card(PivError),
    /// The certificate's key is not one a PIV card signs with (RSA-2048, P-256, P-384).
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

    fn from_piv(e: PivError) -> Self {
        if e.is_card_removed() {
            SignerError::CardRemoved
        } else if e == PivError::PinStateLost {
            SignerError::PinStateLost
        } else {
            SignerError::Card(e)
        }
    }
}

/// One signature request: the card's input and where to send the answer.
struct Request {
    input: Vec<u8>,
    reply: mpsc::SyncSender<Result<Vec<u8>, PivError>>,
}

struct Inner {
    /// `None` once the card was asked back: no new requests.
    requests: Mutex<Option<mpsc::Sender<Request>>>,
    /// Where the thread hands the card back when its request channel closes.
    returned: Mutex<Option<mpsc::Receiver<Piv<Verified>>>>,
    slot: Slot,
    algorithm: KeyAlgorithm,
    certificate: CertificateDer<'static>,
    spki: Vec<u8>,
    signatures: Arc<AtomicU64>,
    timeout: Duration,
}

/// A handle to the card's signing thread. Clones share the thread, the card and the counter.
#[derive(Clone)]
pub struct CardSigner {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CardSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSigner")
            .field("slot", &self.inner.slot)
            .field("algorithm", &self.inner.algorithm)
            .field("signatures", &self.signatures())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CardSigner {
    /// Starts the card's thread with [`DEFAULT_SIGN_TIMEOUT`]. `certificate` is the slot's
    /// certificate as read from the card; its key decides the algorithm. On error the card
    /// comes back unused.
    pub fn spawn(
        piv: Piv<Verified>,
        slot: Slot,
        certificate: impl Into<CertificateDer<'static>>,
    ) -> Result<CardSigner, (Piv<Verified>, SignerError)> {
        Self::spawn_with_timeout(piv, slot, certificate, DEFAULT_SIGN_TIMEOUT)
    }

    /// [`CardSigner::spawn`] with another bound on each wait for the card.
    pub fn spawn_with_timeout(
        piv: Piv<Verified>,
        slot: Slot,
        certificate: impl Into<CertificateDer<'static>>,
        timeout: Duration,
    ) -> Result<CardSigner, (Piv<Verified>, SignerError)> {
        let certificate = certificate.into();
        let (algorithm, spki) = match key_of(&certificate) {
            Ok(k) => k,
            Err(e) => return Err((piv, e)),
        };
        let (request_tx, request_rx) = mpsc::channel::<Request>();
        let (card_tx, card_rx) = mpsc::sync_channel::<Piv<Verified>>(1);
        let (returned_tx, returned_rx) = mpsc::sync_channel::<Piv<Verified>>(1);
        let signatures = Arc::new(AtomicU64::new(0));
        let counter = signatures.clone();
        // The card goes to the thread over a channel, so it is still ours if the thread
        // cannot be started.
        let started = std::thread::Builder::new()
            .name("card-signer".into())
            .spawn(move || {
                let Ok(piv) = card_rx.recv() else { return };
                let piv = serve(piv, slot, algorithm, request_rx, &counter);
                let _ = returned_tx.send(piv);
            });
        if let Err(e) = started {
            return Err((piv, SignerError::Thread(e.to_string())));
        }
        if let Err(mpsc::SendError(piv)) = card_tx.send(piv) {
            return Err((piv, SignerError::Thread("the thread ended at start".into())));
        }
        Ok(CardSigner {
            inner: Arc::new(Inner {
                requests: Mutex::new(Some(request_tx)),
                returned: Mutex::new(Some(returned_rx)),
                slot,
                algorithm,
                certificate,
                spki,
                signatures,
                timeout,
            }),
        })
    }

    /// Has the card sign `input`: the whole padded block for RSA, the hash for ECDSA (the
    /// answer is then DER). Waits at most the signer's timeout.
    pub fn sign(&self, input: &[u8]) -> Result<Vec<u8>, SignerError> {
        let sender = lock(&self.inner.requests)
            .clone()
            .ok_or(SignerError::Stopped)?;
        let (reply, answer) = mpsc::sync_channel(1);
        sender
            .send(Request {
                input: input.to_vec(),
                reply,
            })
            .map_err(|_| SignerError::Stopped)?;
        drop(sender);
        match answer.recv_timeout(self.inner.timeout) {
            Ok(Ok(signature)) => Ok(signature),
            Ok(Err(e)) => Err(SignerError::from_piv(e)),
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

    /// The card's key algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.inner.algorithm
    }

    /// The slot the card signs with.
    pub fn slot(&self) -> Slot {
        self.inner.slot
    }

    /// The slot's certificate, as the client presents it.
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

    /// Stops the thread and hands the card session back, still verified unless the card lost
    /// its PIN state (see [`Piv::pin_state_lost`]). Other clones of this signer stop signing
    /// ([`SignerError::Stopped`]). Waits at most the signer's timeout for a signature in
    /// progress; only one handle gets the card.
    pub fn into_card(self) -> Result<Piv<Verified>, SignerError> {
        lock(&self.inner.requests).take();
        let returned = lock(&self.inner.returned)
            .take()
            .ok_or(SignerError::Stopped)?;
        match returned.recv_timeout(self.inner.timeout) {
            Ok(piv) => Ok(piv),
            Err(RecvTimeoutError::Timeout) => Err(SignerError::Timeout {
                waited: self.inner.timeout,
            }),
            Err(RecvTimeoutError::Disconnected) => Err(SignerError::Stopped),
        }
    }
}

/// The thread's loop: one request at a time until every sender is gone.
fn serve(
    mut piv: Piv<Verified>,
    slot: Slot,
    algorithm: KeyAlgorithm,
    requests: mpsc::Receiver<Request>,
    counter: &AtomicU64,
) -> Piv<Verified> {
    for request in requests {
        let result = piv.sign(slot, algorithm, &request.input);
        if result.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        // The caller may have stopped waiting; its answer is then dropped.
        let _ = request.reply.try_send(result);
    }
    piv
}

/// The PIV algorithm and SPKI of a certificate's key, or why a PIV card cannot hold it.
fn key_of(certificate: &[u8]) -> Result<(KeyAlgorithm, Vec<u8>), SignerError> {
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(certificate)
        .map_err(|e| SignerError::UnsupportedKey(format!("not a certificate: {e}")))?;
    let spki = cert.public_key();
    let algorithm = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() == 2048 => KeyAlgorithm::Rsa2048,
        Ok(PublicKey::RSA(rsa)) => {
            return Err(SignerError::UnsupportedKey(format!(
                "RSA {} (a PIV card signs with RSA 2048)",
                rsa.key_size()
            )))
        }
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => KeyAlgorithm::EccP256,
                Some("1.3.132.0.34") => KeyAlgorithm::EccP384,
                other => {
                    return Err(SignerError::UnsupportedKey(format!(
                        "EC curve {} (a PIV card signs with P-256 or P-384)",
                        other.unwrap_or("unnamed")
                    )))
                }
            }
        }
        Ok(_) | Err(_) => {
            return Err(SignerError::UnsupportedKey(format!(
                "key algorithm {}",
                spki.algorithm.algorithm.to_id_string()
            )))
        }
    };
    Ok((algorithm, spki.raw.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::emulated::{InProcessTransport, SimulatedCard};
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

    fn verified<C: SimulatedCard + 'static>(t: &InProcessTransport<C>) -> Piv<Verified> {
        Piv::open(Box::new(t.clone()))
            .unwrap()
            .verify_pin(&Pin::from_input("123456".into()).unwrap())
            .map_err(|(_, e)| e)
            .unwrap()
    }

    fn card(delay: Duration) -> (InProcessTransport<SlowCard>, Vec<u8>) {
        let slot = ec_slot();
        let cert = slot.certificate_der().to_vec();
        let card = VirtualPiv::new(PivConfig::new(slot)).unwrap();
        (InProcessTransport::new(SlowCard { card, delay }), cert)
    }

    #[test]
    fn signs_counts_and_hands_the_card_back() {
        let (t, cert) = card(Duration::ZERO);
        let signer = CardSigner::spawn(verified(&t), Slot::Authentication, cert).unwrap();
        assert_eq!(signer.algorithm(), KeyAlgorithm::EccP256);
        let sig = signer.sign(&[7; 32]).unwrap();
        assert_eq!(sig[0], 0x30, "DER ECDSA-Sig-Value");
        assert!(matches!(
            signer.sign(&[7; 31]),
            Err(SignerError::Card(PivError::InputLength { .. }))
        ));
        assert_eq!(signer.signatures(), 1);
        assert_eq!(t.with_card(|c| c.card.signature_count()), 1);

        let other = signer.clone();
        let mut piv = signer.into_card().unwrap();
        assert_eq!(other.sign(&[7; 32]), Err(SignerError::Stopped));
        assert!(matches!(other.into_card(), Err(SignerError::Stopped)));
        // Still verified: the card signs again without a PIN.
        piv.sign(Slot::Authentication, KeyAlgorithm::EccP256, &[1; 32])
            .unwrap();
    }

    #[test]
    fn a_stuck_card_is_a_timeout_not_a_hang() {
        let (t, cert) = card(Duration::from_millis(600));
        let signer = CardSigner::spawn_with_timeout(
            verified(&t),
            Slot::Authentication,
            cert,
            Duration::from_millis(100),
        )
        .unwrap();
        let start = Instant::now();
        assert_eq!(
            signer.sign(&[7; 32]),
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
        let signer = CardSigner::spawn(verified(&t), Slot::Authentication, cert).unwrap();
        t.set_inserted(false);
        assert_eq!(signer.sign(&[7; 32]), Err(SignerError::CardRemoved));
        t.set_inserted(true);
        let e = signer.sign(&[7; 32]).unwrap_err();
        assert_eq!(e, SignerError::PinStateLost);
        assert!(e.needs_pin());
        assert_eq!(signer.signatures(), 0);
        let piv = signer.into_card().unwrap();
        assert!(piv.pin_state_lost());
    }

    #[test]
    fn a_key_no_piv_card_holds_is_refused_and_the_card_returned() {
        let (t, _) = card(Duration::ZERO);
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let cert = rcgen::CertificateParams::new(vec![])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (piv, e) =
            CardSigner::spawn(verified(&t), Slot::Authentication, cert.der().to_vec()).unwrap_err();
        assert!(matches!(e, SignerError::UnsupportedKey(_)), "{e:?}");
        assert!(!piv.pin_state_lost());
        let (_, e) = CardSigner::spawn(piv, Slot::Authentication, b"junk".to_vec()).unwrap_err();
        assert!(matches!(e, SignerError::UnsupportedKey(_)));
    }
}
