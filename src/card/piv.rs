//! PIV driver (NIST SP 800-73-4): select, read CHUID and certificates, PIN status and
//! VERIFY, and GENERAL AUTHENTICATE.
//!
//! The PIN state is a type: [`Piv<Unverified>`] can read; only [`Piv<Verified>`], which
//! [`Piv::verify_pin`] returns after the card accepted the PIN, can sign. The driver never
//! sends a PIN the caller did not hand it, and never retries one.

use std::io::Read;
use std::marker::PhantomData;

use zeroize::Zeroizing;

use super::apdu::{Command, Response, Status, StatusWord};
use super::tlv;
use super::transport::{exchange, CardTransport, ExchangeError, TransportError};
use crate::secret::Pin;

/// The PIV application identifier (NIST SP 800-73-4 Part 1, 2.2).
pub const PIV_AID: [u8; 11] = [
    0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
];
/// PIV PINs are 6 to 8 digits.
pub const PIN_MIN: usize = 6;
/// PIV PINs are 6 to 8 digits.
pub const PIN_MAX: usize = 8;
/// A gzip-compressed certificate is never larger than this once inflated.
const MAX_CERT: usize = 16 * 1024;

/// The key slots a PIV card has for certificates we care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Slot {
    /// 9A: PIV Authentication — the one that logs in.
    #[serde(rename = "9A")]
    Authentication,
    /// 9C: Digital Signature (PIN needed for every signature).
    #[serde(rename = "9C")]
    Signature,
    /// 9D: Key Management (encryption).
    #[serde(rename = "9D")]
    KeyManagement,
    /// 9E: Card Authentication (no PIN).
    #[serde(rename = "9E")]
    CardAuthentication,
}

impl Slot {
    /// Every slot, in the order we show them.
    pub const ALL: [Slot; 4] = [
        Slot::Authentication,
        Slot::Signature,
        Slot::KeyManagement,
        Slot::CardAuthentication,
    ];

    /// The key reference (P2 of GENERAL AUTHENTICATE).
    pub fn key_reference(self) -> u8 {
        match self {
            Slot::Authentication => 0x9A,
            Slot::Signature => 0x9C,
            Slot::KeyManagement => 0x9D,
            Slot::CardAuthentication => 0x9E,
        }
    }

    /// The slot a key reference names, if any.
    pub fn from_key_reference(key_reference: u8) -> Option<Slot> {
        Slot::ALL
            .into_iter()
            .find(|s| s.key_reference() == key_reference)
    }

    /// The data object holding the slot's certificate.
    pub fn object_tag(self) -> u32 {
        match self {
            Slot::Authentication => 0x5FC105,
            Slot::Signature => 0x5FC10A,
            Slot::KeyManagement => 0x5FC10B,
            Slot::CardAuthentication => 0x5FC101,
        }
    }

    /// A short human name.
    pub fn label(self) -> &'static str {
        match self {
            Slot::Authentication => "PIV Authentication (9A)",
            Slot::Signature => "Digital Signature (9C)",
            Slot::KeyManagement => "Key Management (9D)",
            Slot::CardAuthentication => "Card Authentication (9E)",
        }
    }
}

/// Key algorithms a PIV card signs with (SP 800-78-4 identifiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum KeyAlgorithm {
    /// RSA 2048, raw RSA: the host pads.
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    /// ECDSA P-256: the card signs a hash.
    #[serde(rename = "ecdsa-p256")]
    EccP256,
    /// ECDSA P-384.
    #[serde(rename = "ecdsa-p384")]
    EccP384,
}

impl KeyAlgorithm {
    /// The algorithm identifier (P1 of GENERAL AUTHENTICATE).
    pub fn id(self) -> u8 {
        match self {
            KeyAlgorithm::Rsa2048 => 0x07,
            KeyAlgorithm::EccP256 => 0x11,
            KeyAlgorithm::EccP384 => 0x14,
        }
    }

    /// The algorithm an identifier names, if it is one we support.
    pub fn from_id(id: u8) -> Option<Self> {
        [
            KeyAlgorithm::Rsa2048,
            KeyAlgorithm::EccP256,
            KeyAlgorithm::EccP384,
        ]
        .into_iter()
        .find(|a| a.id() == id)
    }

    /// How many bytes the card expects as input: the whole RSA block, or the hash size.
    pub fn input_len(self) -> usize {
        match self {
            KeyAlgorithm::Rsa2048 => 256,
            KeyAlgorithm::EccP256 => 32,
            KeyAlgorithm::EccP384 => 48,
        }
    }
}

/// What the card says about its PIN, learnt without spending a try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinStatus {
    /// Already verified in this card session.
    Verified,
    /// Not verified; this many tries left.
    TriesLeft(u8),
    /// Blocked: only the PUK (or the card issuer) can unblock it.
    Blocked,
}

/// Errors of the PIV driver, with what a caller needs to explain them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PivError {
    /// Talking to the card failed.
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// The card has no PIV application.
    #[error("the card has no PIV application (SELECT answered {0})")]
    NotPiv(StatusWord),
    /// Wrong PIN; this many tries left.
    #[error("wrong PIN, {tries_left} tries left")]
    WrongPin {
        /// Tries left before the PIN blocks.
        tries_left: u8,
    },
    /// The PIN is blocked.
    #[error("the PIN is blocked")]
    PinBlocked,
    /// The PIN does not have the form PIV requires (nothing was sent to the card).
    #[error("the PIN has a form the card cannot take: {0}")]
    PinFormat(#[from] crate::secret::PinFormatError),
    /// The card lost the verified state (it was reset); verify again.
    #[error("the card was reset and no longer holds the verified PIN")]
    PinStateLost,
    /// The card wants the PIN for this operation.
    #[error("the card requires the PIN for this operation")]
    PinRequired,
    /// A data object was malformed.
    #[error("malformed {object}: {problem}")]
    Malformed {
        /// Which object.
        object: &'static str,
        /// What was wrong.
        problem: String,
    },
    /// The input had the wrong length for the algorithm.
    #[error("signature input must be {want} bytes for {alg:?}, got {got}")]
    InputLength {
        /// Algorithm.
        alg: KeyAlgorithm,
        /// Bytes needed.
        want: usize,
        /// Bytes given.
        got: usize,
    },
    /// The card refused a command for a reason we do not map.
    #[error("the card refused {command} with status {sw}")]
    Refused {
        /// Which command.
        command: &'static str,
        /// Its status word.
        sw: StatusWord,
    },
}

impl PivError {
    /// True when the transport reports the card gone.
    pub fn is_card_removed(&self) -> bool {
        matches!(
            self,
            PivError::Exchange(ExchangeError::Transport(TransportError::CardRemoved))
        )
    }
}

/// PIN state marker: the PIN has not been verified in this driver session.
#[derive(Debug)]
pub enum Unverified {}
/// PIN state marker: the card accepted the PIN; signing is possible.
#[derive(Debug)]
pub enum Verified {}

/// The two PIN states. Sealed: nobody else can make a state that signs.
pub trait PinState: sealed::Sealed {}
impl PinState for Unverified {}
impl PinState for Verified {}
mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Unverified {}
    impl Sealed for super::Verified {}
}

/// The Card Holder Unique Identifier, as far as we show it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chuid {
    /// The card's GUID (16 bytes), the best card identity PIV has.
    pub guid: Option<[u8; 16]>,
    /// Expiration date as written on the card (YYYYMMDD).
    pub expiration: Option<String>,
}

/// A PIV card session in PIN state `S`.
pub struct Piv<S: PinState> {
    transport: Box<dyn CardTransport>,
    extended: bool,
    lost_pin_state: bool,
    /// The card was reset: select the application again before the next command.
    needs_select: bool,
    _state: PhantomData<S>,
}

impl<S: PinState> std::fmt::Debug for Piv<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Piv")
            .field("transport", &self.transport.describe())
            .field("state", &std::any::type_name::<S>())
            .finish()
    }
}

impl Piv<Unverified> {
    /// Selects the PIV application. Fails with [`PivError::NotPiv`] on other cards.
    pub fn open(transport: Box<dyn CardTransport>) -> Result<Self, PivError> {
        Self::try_open(transport).map_err(|(_, e)| e)
    }

    /// Like [`Piv::open`], but a card that is not PIV (or fails) gives its transport back
    /// with the reason, so another driver can probe it.
    pub fn try_open(
        transport: Box<dyn CardTransport>,
    ) -> Result<Self, (Box<dyn CardTransport>, PivError)> {
        let mut piv = Piv {
            extended: transport.supports_extended_length(),
            transport,
            lost_pin_state: false,
            needs_select: false,
            _state: PhantomData,
        };
        match piv.select() {
            Ok(()) => Ok(piv),
            Err(e) => Err((piv.transport, e)),
        }
    }

    /// Verifies the PIN once. On success the session can sign; on failure the unverified
    /// session comes back with the reason (wrong PIN with tries left, blocked, …).
    ///
    /// The PIN's form is checked first, so a PIN the card could never accept costs no try.
    pub fn verify_pin(mut self, pin: &Pin) -> Result<Piv<Verified>, (Self, PivError)> {
        if let Err(e) = pin.check_length(PIN_MIN, PIN_MAX) {
            return Err((self, e.into()));
        }
        match self.send_verify(pin) {
            Ok(()) => {
                self.transport.reset_when_done();
                Ok(Piv {
                    transport: self.transport,
                    extended: self.extended,
                    lost_pin_state: false,
                    needs_select: false,
                    _state: PhantomData,
                })
            }
            Err(e) => Err((self, e)),
        }
    }

    fn send_verify(&mut self, pin: &Pin) -> Result<(), PivError> {
        let mut block = Zeroizing::new(vec![0xFF; 8]);
        block[..pin.len()].copy_from_slice(pin.expose());
        let cmd = Command::new(0x00, 0x20, 0x00, 0x80).with_secret_data(block);
        let resp = self.run(&cmd)?;
        match resp.sw.meaning() {
            Status::Ok => Ok(()),
            Status::TriesLeft(0) | Status::Blocked => Err(PivError::PinBlocked),
            Status::TriesLeft(n) => Err(PivError::WrongPin { tries_left: n }),
            _ => Err(PivError::Refused {
                command: "VERIFY",
                sw: resp.sw,
            }),
        }
    }
}

impl<S: PinState> Piv<S> {
    fn run(&mut self, command: &Command) -> Result<Response, PivError> {
        let extended = self.extended;
        let mut tx = match self.transport.transaction() {
            Ok(tx) => tx,
            Err(e) => {
                if e == TransportError::CardReset {
                    self.needs_select = true;
                }
                return Err(ExchangeError::from(e).into());
            }
        };
        if self.needs_select {
            let resp = exchange(tx.as_mut(), &select_command(), extended)?;
            if !resp.is_ok() {
                return Err(PivError::NotPiv(resp.sw));
            }
            self.needs_select = false;
        }
        Ok(exchange(tx.as_mut(), command, extended)?)
    }

    fn select(&mut self) -> Result<(), PivError> {
        // Select with the 9-byte PIX-less AID, as the spec allows; cards answer with the
        // application property template.
        let resp = self.run(&select_command())?;
        if !resp.is_ok() {
            return Err(PivError::NotPiv(resp.sw));
        }
        Ok(())
    }

    /// Reads a data object (`GET DATA`); `None` when the card does not have it.
    pub fn get_data(&mut self, tag: u32) -> Result<Option<Vec<u8>>, PivError> {
        let tag_bytes = tlv::encode(0x5C, &tag_to_bytes(tag));
        let cmd = Command::new(0x00, 0xCB, 0x3F, 0xFF)
            .with_data(tag_bytes)
            .with_le(256);
        let resp = self.run(&cmd)?;
        match resp.sw.meaning() {
            Status::Ok => {
                let (outer, _) = tlv::parse_one(&resp.data).map_err(|e| PivError::Malformed {
                    object: "data object",
                    problem: e.to_string(),
                })?;
                if outer.tag != 0x53 {
                    return Err(PivError::Malformed {
                        object: "data object",
                        problem: format!("expected tag 53, found {:X}", outer.tag),
                    });
                }
                Ok(Some(outer.value.to_vec()))
            }
            Status::NotFound | Status::ReferencedDataNotFound => Ok(None),
            Status::SecurityNotSatisfied => Err(PivError::PinRequired),
            _ => Err(PivError::Refused {
                command: "GET DATA",
                sw: resp.sw,
            }),
        }
    }

    /// Reads the CHUID.
    pub fn read_chuid(&mut self) -> Result<Option<Chuid>, PivError> {
        let Some(body) = self.get_data(0x5FC102)? else {
            return Ok(None);
        };
        let malformed = |e: tlv::TlvError| PivError::Malformed {
            object: "CHUID",
            problem: e.to_string(),
        };
        let mut chuid = Chuid::default();
        for item in tlv::parse_all(&body).map_err(malformed)? {
            match item.tag {
                0x34 => chuid.guid = item.value.try_into().ok(),
                0x35 => chuid.expiration = Some(String::from_utf8_lossy(item.value).into_owned()),
                _ => {}
            }
        }
        Ok(Some(chuid))
    }

    /// Reads the certificate of `slot` as DER, inflating it when the card stores it
    /// gzip-compressed. `None` when the slot is empty.
    pub fn read_certificate(&mut self, slot: Slot) -> Result<Option<Vec<u8>>, PivError> {
        let Some(body) = self.get_data(slot.object_tag())? else {
            return Ok(None);
        };
        decode_certificate_object(&body).map(Some)
    }

    /// Asks the PIN state without spending a try (VERIFY with no data).
    pub fn pin_status(&mut self) -> Result<PinStatus, PivError> {
        let resp = self.run(&Command::new(0x00, 0x20, 0x00, 0x80))?;
        match resp.sw.meaning() {
            Status::Ok => Ok(PinStatus::Verified),
            Status::TriesLeft(0) | Status::Blocked => Ok(PinStatus::Blocked),
            Status::TriesLeft(n) => Ok(PinStatus::TriesLeft(n)),
            _ => Err(PivError::Refused {
                command: "VERIFY (status)",
                sw: resp.sw,
            }),
        }
    }

    /// Where the card sits, for messages.
    pub fn describe(&self) -> String {
        self.transport.describe()
    }

    /// The card's ATR.
    pub fn atr(&self) -> Vec<u8> {
        self.transport.atr()
    }
}

impl Piv<Verified> {
    /// Signs with the key in `slot`. `input` is the full padded block for RSA (see
    /// [`super::padding`]) or the hash for ECDSA; ECDSA answers are DER `ECDSA-Sig-Value`.
    ///
    /// If the card was reset since the PIN was verified, this fails with
    /// [`PivError::PinStateLost`] now and on every later call: go back with
    /// [`Piv::relock`] and ask the user for the PIN again.
    pub fn sign(
        &mut self,
        slot: Slot,
        alg: KeyAlgorithm,
        input: &[u8],
    ) -> Result<Vec<u8>, PivError> {
        if self.lost_pin_state {
            return Err(PivError::PinStateLost);
        }
        if input.len() != alg.input_len() {
            return Err(PivError::InputLength {
                alg,
                want: alg.input_len(),
                got: input.len(),
            });
        }
        let mut template = tlv::encode(0x82, &[]);
        template.extend_from_slice(&tlv::encode(0x81, input));
        let cmd = Command::new(0x00, 0x87, alg.id(), slot.key_reference())
            .with_data(tlv::encode(0x7C, &template))
            .with_le(256);
        let resp = match self.run(&cmd) {
            Err(PivError::Exchange(ExchangeError::Transport(TransportError::CardReset))) => {
                self.lost_pin_state = true;
                return Err(PivError::PinStateLost);
            }
            other => other?,
        };
        match resp.sw.meaning() {
            Status::Ok => {}
            Status::SecurityNotSatisfied => {
                // The card forgot the PIN (reset by someone else, or PIN-always slot).
                self.lost_pin_state = true;
                return Err(PivError::PinStateLost);
            }
            _ => {
                return Err(PivError::Refused {
                    command: "GENERAL AUTHENTICATE",
                    sw: resp.sw,
                })
            }
        }
        let malformed = |problem: String| PivError::Malformed {
            object: "signature response",
            problem,
        };
        let outer = tlv::find(&resp.data, 0x7C)
            .map_err(|e| malformed(e.to_string()))?
            .ok_or_else(|| malformed("no 7C template".into()))?;
        let sig = tlv::find(outer, 0x82)
            .map_err(|e| malformed(e.to_string()))?
            .ok_or_else(|| malformed("no 82 response".into()))?;
        Ok(sig.to_vec())
    }

    /// Whether the session still holds a verified PIN as far as we know.
    pub fn pin_state_lost(&self) -> bool {
        self.lost_pin_state
    }

    /// Goes back to the unverified state (after a reset, or when done signing).
    pub fn relock(self) -> Piv<Unverified> {
        Piv {
            transport: self.transport,
            extended: self.extended,
            lost_pin_state: false,
            needs_select: self.needs_select || self.lost_pin_state,
            _state: PhantomData,
        }
    }
}

fn select_command() -> Command {
    Command::new(0x00, 0xA4, 0x04, 0x00)
        .with_data(PIV_AID[..9].to_vec())
        .with_le(256)
}

fn tag_to_bytes(tag: u32) -> Vec<u8> {
    let b = tag.to_be_bytes();
    let skip = b.iter().take_while(|x| **x == 0).count().min(3);
    b[skip..].to_vec()
}

/// Unpacks `70 cert, 71 certinfo, FE lrc` (the inside of the `53` object).
pub fn decode_certificate_object(body: &[u8]) -> Result<Vec<u8>, PivError> {
    let malformed = |problem: String| PivError::Malformed {
        object: "certificate object",
        problem,
    };
    let items = tlv::parse_all(body).map_err(|e| malformed(e.to_string()))?;
    let cert = items
        .iter()
        .find(|t| t.tag == 0x70)
        .ok_or_else(|| malformed("no certificate (tag 70)".into()))?
        .value;
    let compressed = items
        .iter()
        .find(|t| t.tag == 0x71)
        .map(|t| t.value.first().copied().unwrap_or(0) & 0x01 == 0x01)
        .unwrap_or(false);
    if !compressed {
        return Ok(cert.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(cert)
        .take(MAX_CERT as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| malformed(format!("gzip: {e}")))?;
    if out.len() > MAX_CERT {
        return Err(malformed(format!("inflates to more than {MAX_CERT} bytes")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::replay::ReplayTransport;

    const SELECT: &str = "> 00 A4 04 00 09 A0 00 00 03 08 00 00 10 00 00\n< 61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08 90 00\n";

    fn open(rec: &str) -> Piv<Unverified> {
        let t = ReplayTransport::parse(&[0x3B], &format!("{SELECT}{rec}")).unwrap();
        Piv::open(Box::new(t)).unwrap()
    }

    #[test]
    fn not_piv_is_reported() {
        let t = ReplayTransport::parse(
            &[0x3B],
            "> 00 A4 04 00 09 A0 00 00 03 08 00 00 10 00 00\n< 6A 82\n",
        )
        .unwrap();
        assert_eq!(
            Piv::open(Box::new(t)).unwrap_err(),
            PivError::NotPiv(StatusWord::NOT_FOUND)
        );
    }

    #[test]
    fn pin_status_spends_no_try() {
        let mut piv =
            open("> 00 20 00 80\n< 63 C3\n> 00 20 00 80\n< 69 83\n> 00 20 00 80\n< 90 00\n");
        assert_eq!(piv.pin_status().unwrap(), PinStatus::TriesLeft(3));
        assert_eq!(piv.pin_status().unwrap(), PinStatus::Blocked);
        assert_eq!(piv.pin_status().unwrap(), PinStatus::Verified);
    }

    #[test]
    fn wrong_pin_returns_the_unverified_session() {
        let piv = open("> 00 20 00 80 08 *\n< 63 C2\n> 00 20 00 80 08 *\n< 69 83\n");
        let pin = Pin::from_input("000000".into()).unwrap();
        let (piv, e) = piv.verify_pin(&pin).unwrap_err();
        assert_eq!(e, PivError::WrongPin { tries_left: 2 });
        let (_, e) = piv.verify_pin(&pin).unwrap_err();
        assert_eq!(e, PivError::PinBlocked);
    }

    #[test]
    fn badly_formed_pin_costs_no_try() {
        // The recording has no VERIFY: sending one would be a replay mismatch.
        let piv = open("");
        let (_, e) = piv
            .verify_pin(&Pin::from_input("1234".into()).unwrap())
            .unwrap_err();
        assert!(matches!(e, PivError::PinFormat(_)));
    }

    #[test]
    fn verify_pads_with_ff_and_unlocks_signing() {
        let rec = "> 00 20 00 80 08 31 32 33 34 35 36 FF FF\n< 90 00\n\
                   > 00 87 11 9A 26 7C 24 82 00 81 20 *\n< 7C 04 82 02 AB CD 90 00\n";
        let piv = open(rec);
        let mut piv = piv
            .verify_pin(&Pin::from_input("123456".into()).unwrap())
            .unwrap();
        let sig = piv
            .sign(Slot::Authentication, KeyAlgorithm::EccP256, &[7; 32])
            .unwrap();
        assert_eq!(sig, [0xAB, 0xCD]);
        assert!(matches!(
            piv.sign(Slot::Authentication, KeyAlgorithm::EccP256, &[7; 31]),
            Err(PivError::InputLength { .. })
        ));
    }

    #[test]
    fn forgotten_pin_state_sticks_until_relock() {
        let rec = "> 00 20 00 80 08 *\n< 90 00\n> 00 87 11 9A 26 *\n< 69 82\n";
        let piv = open(rec)
            .verify_pin(&Pin::from_input("123456".into()).unwrap())
            .unwrap();
        let mut piv = piv;
        assert_eq!(
            piv.sign(Slot::Authentication, KeyAlgorithm::EccP256, &[0; 32]),
            Err(PivError::PinStateLost)
        );
        // No APDU is sent now: the replay would fail if one were.
        assert_eq!(
            piv.sign(Slot::Authentication, KeyAlgorithm::EccP256, &[0; 32]),
            Err(PivError::PinStateLost)
        );
        let _unverified: Piv<Unverified> = piv.relock();
    }

    #[test]
    fn certificate_objects_plain_and_gzip() {
        let cert = b"0\x82fake-der".to_vec();
        let mut body = tlv::encode(0x70, &cert);
        body.extend(tlv::encode(0x71, &[0]));
        body.extend(tlv::encode(0xFE, &[]));
        assert_eq!(decode_certificate_object(&body).unwrap(), cert);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &cert).unwrap();
        let mut body = tlv::encode(0x70, &gz.finish().unwrap());
        body.extend(tlv::encode(0x71, &[1]));
        assert_eq!(decode_certificate_object(&body).unwrap(), cert);

        let mut body = tlv::encode(0x70, b"not gzip at all");
        body.extend(tlv::encode(0x71, &[1]));
        assert!(decode_certificate_object(&body).is_err());
        assert!(decode_certificate_object(&[0x70, 0x05]).is_err());
    }

    #[test]
    fn missing_object_is_none_and_chuid_parses() {
        let guid = "34 10 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF";
        let rec = format!(
            "> 00 CB 3F FF 05 5C 03 5F C1 05 00\n< 6A 82\n\
             > 00 CB 3F FF 05 5C 03 5F C1 02 00\n< 53 1E {guid} 35 08 32 30 33 30 30 31 30 31 3E 00 90 00\n"
        );
        let mut piv = open(&rec);
        assert_eq!(piv.read_certificate(Slot::Authentication).unwrap(), None);
        let chuid = piv.read_chuid().unwrap().unwrap();
        assert_eq!(chuid.guid.unwrap()[15], 0xFF);
        assert_eq!(chuid.expiration.as_deref(), Some("20300101"));
    }
}
