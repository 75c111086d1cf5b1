//! A PIV card application (NIST SP 800-73-4) as a pure state machine: command bytes in,
//! response bytes out, no I/O.
//!
//! It behaves like a T=1 card spoken to with short APDUs: answers longer than Le come in
//! pieces with `61xx` and GET RESPONSE, long inputs arrive by command chaining (CLA `10`),
//! and extended lengths are honoured when a host uses them. The same value serves the
//! in-process transport and, through `vpcd`, the real PC/SC stack, so OpenSC and our own
//! driver meet exactly the same card.

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::keys::{KeyAlgorithm, KeyError, SlotKey};
use crate::card::apdu::{hex, Command, StatusWord};
use crate::card::emulated::SimulatedCard;
use crate::card::tlv;
use crate::secret::Pin;

/// The full PIV application identifier (NIST RID + PIX, version 01 00).
pub const PIV_AID: [u8; 11] = [
    0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
];

/// Shortest AID prefix that selects the application (RID + `00 00 10 00`), as hosts send it.
pub const PIV_AID_SHORT_LEN: usize = 9;

/// The default ATR: a generic T=1 card (IFSC 254). Its historical bytes are ISO compact-TLV with
/// issuer data "HKPIV", matching no real product, so hosts (OpenSC above all) find the
/// card by selecting the PIV application and send nothing vendor specific.
pub const DEFAULT_ATR: [u8; 14] = [
    0x3B, 0x87, 0x81, 0x31, 0xFE, 0x45, 0x80, 0x55, b'H', b'K', b'P', b'I', b'V', 0x15,
];

/// Largest input accepted through command chaining; a PIV input is at most a few hundred
/// bytes, so this only stops a host from growing the card's memory without bound.
pub const MAX_CHAINED_INPUT: usize = 4096;

const INS_SELECT: u8 = 0xA4;
const INS_GET_DATA: u8 = 0xCB;
const INS_GET_RESPONSE: u8 = 0xC0;
const INS_VERIFY: u8 = 0x20;
const INS_CHANGE_REFERENCE: u8 = 0x24;
const INS_RESET_RETRY: u8 = 0x2C;
const INS_GENERAL_AUTHENTICATE: u8 = 0x87;

const KEY_REF_PIN: u8 = 0x80;
const KEY_REF_PUK: u8 = 0x81;

const TAG_DISCOVERY: u32 = 0x7E;
const TAG_CHUID: u32 = 0x5FC102;
const TAG_CCC: u32 = 0x5FC107;

/// The key slots are the host driver's: card and host speak of the same four.
pub use crate::card::piv::Slot;

/// Why a card configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// PIV PINs are 6 to 8 digits.
    #[error("the PIN must be 6 to 8 digits")]
    PinFormat,
    /// The PUK is up to 8 digits too (6 to 8 accepted here).
    #[error("the PUK must be 6 to 8 digits")]
    PukFormat,
    /// The retry counter must be able to show in `63Cx`.
    #[error("the retry limit must be between 1 and 15, not {0}")]
    Retries(u8),
    /// An ATR is 2 to 33 bytes starting with `3B` or `3F`.
    #[error("the ATR is not a plausible answer to reset")]
    Atr,
    /// A certificate could not be prepared.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// What the virtual card holds and how it behaves.
#[derive(Debug)]
pub struct PivConfig {
    /// Card-holder PIN (6 to 8 digits; default "123456").
    pub pin: Pin,
    /// PUK for RESET RETRY COUNTER; `None` leaves a blocked PIN blocked.
    pub puk: Option<Pin>,
    /// Wrong PIN entries allowed before the PIN blocks (default 3), also used for the PUK.
    pub retries: u8,
    /// Store certificate objects gzip-compressed (CertInfo `01`), as some issuers do.
    pub gzip_certificates: bool,
    /// The answer to reset.
    pub atr: Vec<u8>,
    slots: BTreeMap<Slot, SlotKey>,
}

impl PivConfig {
    /// A card with a PIV Authentication key (9A, required) and defaults for the rest.
    pub fn new(authentication: SlotKey) -> Self {
        let mut slots = BTreeMap::new();
        slots.insert(Slot::Authentication, authentication);
        PivConfig {
            pin: Pin::from_input("123456".into()).expect("a constant of digits"),
            puk: None,
            retries: 3,
            gzip_certificates: false,
            atr: DEFAULT_ATR.to_vec(),
            slots,
        }
    }

    /// Puts a key in one more slot (9C, 9D or 9E; 9A replaces the authentication key).
    pub fn with_slot(mut self, slot: Slot, key: SlotKey) -> Self {
        self.slots.insert(slot, key);
        self
    }

    /// The key in a slot.
    pub fn slot(&self, slot: Slot) -> Option<&SlotKey> {
        self.slots.get(&slot)
    }
}

/// A partly received chained command.
struct Chain {
    ins: u8,
    p1: u8,
    p2: u8,
    data: Zeroizing<Vec<u8>>,
}

/// The virtual PIV card.
pub struct VirtualPiv {
    atr: Vec<u8>,
    pin: Zeroizing<Vec<u8>>,
    puk: Option<Zeroizing<Vec<u8>>>,
    retry_limit: u8,
    slots: BTreeMap<Slot, SlotKey>,
    objects: BTreeMap<u32, Vec<u8>>,
    // Non-volatile.
    pin_tries: u8,
    puk_tries: u8,
    signatures: u64,
    apdus: u64,
    // Volatile: lost on reset.
    selected: bool,
    pin_verified: bool,
    /// Set by a successful VERIFY, consumed by one 9C signature ("PIN always").
    pin_fresh: bool,
    pending: Vec<u8>,
    chain: Option<Chain>,
}

impl fmt::Debug for VirtualPiv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualPiv")
            .field("slots", &self.slots.keys().collect::<Vec<_>>())
            .field("pin_tries", &self.pin_tries)
            .field("selected", &self.selected)
            .field("pin_verified", &self.pin_verified)
            .field("apdus", &self.apdus)
            .field("signatures", &self.signatures)
            .finish_non_exhaustive()
    }
}

/// One answer before it is split to fit Le.
struct Reply {
    data: Vec<u8>,
    sw: StatusWord,
}

impl Reply {
    fn sw(sw: StatusWord) -> Self {
        Reply {
            data: Vec::new(),
            sw,
        }
    }
    fn ok(data: Vec<u8>) -> Self {
        Reply {
            data,
            sw: StatusWord::OK,
        }
    }
}

impl VirtualPiv {
    /// Builds the card: checks the configuration and prepares its data objects.
    pub fn new(config: PivConfig) -> Result<Self, ConfigError> {
        let pin = pad_reference(config.pin.expose()).ok_or(ConfigError::PinFormat)?;
        let puk = match &config.puk {
            Some(p) => Some(pad_reference(p.expose()).ok_or(ConfigError::PukFormat)?),
            None => None,
        };
        if !(1..=15).contains(&config.retries) {
            return Err(ConfigError::Retries(config.retries));
        }
        let atr_ok =
            (2..=33).contains(&config.atr.len()) && matches!(config.atr.first(), Some(0x3B | 0x3F));
        if !atr_ok {
            return Err(ConfigError::Atr);
        }
        let auth = config
            .slots
            .get(&Slot::Authentication)
            .ok_or(KeyError::BadInput(
                "the PIV Authentication slot (9A) is empty",
            ))?;
        let mut objects = BTreeMap::new();
        let seed: [u8; 32] = Sha256::digest(auth.certificate_der()).into();
        objects.insert(TAG_DISCOVERY, discovery_object());
        objects.insert(TAG_CCC, ccc_object(&seed));
        objects.insert(
            TAG_CHUID,
            chuid_object(&seed, &expiry_of(auth.certificate_der())),
        );
        for (slot, key) in &config.slots {
            objects.insert(
                slot.object_tag(),
                certificate_object(key.certificate_der(), config.gzip_certificates)?,
            );
        }
        Ok(VirtualPiv {
            atr: config.atr,
            pin,
            puk,
            retry_limit: config.retries,
            slots: config.slots,
            objects,
            pin_tries: config.retries,
            puk_tries: config.retries,
            signatures: 0,
            apdus: 0,
            selected: false,
            pin_verified: false,
            pin_fresh: false,
            pending: Vec::new(),
            chain: None,
        })
    }

    /// Command APDUs processed since the card was made (GET RESPONSE and chain parts count).
    pub fn apdu_count(&self) -> u64 {
        self.apdus
    }

    /// Private-key operations performed: the measure of "one signature per session".
    pub fn signature_count(&self) -> u64 {
        self.signatures
    }

    /// PIN tries left before it blocks (0 = blocked).
    pub fn pin_tries_left(&self) -> u8 {
        self.pin_tries
    }

    /// Whether the PIN is verified in the current session.
    pub fn is_pin_verified(&self) -> bool {
        self.pin_verified
    }

    /// Whether the PIV application is selected.
    pub fn is_selected(&self) -> bool {
        self.selected
    }

    /// The raw data object for a GET DATA tag, as the card would answer it.
    pub fn data_object(&self, tag: u32) -> Option<&[u8]> {
        self.objects.get(&tag).map(Vec::as_slice)
    }

    fn handle(&mut self, bytes: &[u8]) -> (Reply, usize) {
        let Ok(cmd) = Command::parse(bytes) else {
            self.pending.clear();
            self.chain = None;
            return (Reply::sw(StatusWord::WRONG_LENGTH), 256);
        };
        let le = cmd.le.unwrap_or(256);
        if cmd.cla & !0x10 != 0x00 {
            self.pending.clear();
            self.chain = None;
            return (Reply::sw(StatusWord::CLA_NOT_SUPPORTED), le);
        }
        if cmd.ins == INS_GET_RESPONSE && cmd.cla == 0 {
            self.chain = None;
            return (self.get_response(&cmd), le);
        }
        self.pending.clear();

        // Command chaining: a part with the same header continues the chain, anything
        // else aborts it.
        let mut data = Zeroizing::new(cmd.data().to_vec());
        if let Some(chain) = self.chain.take() {
            if (chain.ins, chain.p1, chain.p2) == (cmd.ins, cmd.p1, cmd.p2) {
                let mut all = chain.data;
                all.extend_from_slice(&data);
                data = all;
            }
        }
        if data.len() > MAX_CHAINED_INPUT {
            return (Reply::sw(StatusWord::WRONG_LENGTH), le);
        }
        if cmd.cla & 0x10 != 0 {
            if cmd.ins != INS_GENERAL_AUTHENTICATE || !self.selected {
                return (Reply::sw(StatusWord::CHAINING_NOT_SUPPORTED), le);
            }
            self.chain = Some(Chain {
                ins: cmd.ins,
                p1: cmd.p1,
                p2: cmd.p2,
                data,
            });
            return (Reply::sw(StatusWord::OK), le);
        }

        if cmd.ins == INS_SELECT {
            return (self.select(&cmd), le);
        }
        if !self.selected {
            return (Reply::sw(StatusWord::INS_NOT_SUPPORTED), le);
        }
        let reply = match cmd.ins {
            INS_GET_DATA => self.get_data(&cmd),
            INS_VERIFY => self.verify(&cmd),
            INS_CHANGE_REFERENCE => self.change_reference(&cmd),
            INS_RESET_RETRY => self.reset_retry_counter(&cmd),
            INS_GENERAL_AUTHENTICATE => self.general_authenticate(cmd.p1, cmd.p2, &data),
            _ => Reply::sw(StatusWord::INS_NOT_SUPPORTED),
        };
        (reply, le)
    }

    fn select(&mut self, cmd: &Command) -> Reply {
        if cmd.p1 != 0x04 || !matches!(cmd.p2, 0x00 | 0x0C) {
            return Reply::sw(StatusWord::WRONG_P1P2);
        }
        let aid = cmd.data();
        if aid.len() < PIV_AID_SHORT_LEN || !PIV_AID.starts_with(aid) {
            // ISO 7816-4: a failed selection leaves the current one in place.
            return Reply::sw(StatusWord::NOT_FOUND);
        }
        self.selected = true;
        if cmd.p2 == 0x0C {
            return Reply::sw(StatusWord::OK);
        }
        Reply::ok(self.application_property_template())
    }

    fn application_property_template(&self) -> Vec<u8> {
        let mut apt = tlv::encode(0x4F, &PIV_AID[5..]);
        apt.extend(tlv::encode(0x79, &tlv::encode(0x4F, &PIV_AID[..5])));
        apt.extend(tlv::encode(0x50, b"hjemmekontor virtual PIV (TEST)"));
        let mut algs = Vec::new();
        for alg in [
            KeyAlgorithm::Rsa2048,
            KeyAlgorithm::EccP256,
            KeyAlgorithm::EccP384,
        ] {
            algs.extend(tlv::encode(0x80, &[alg.id()]));
        }
        algs.extend(tlv::encode(0x06, &[0x00]));
        apt.extend(tlv::encode(0xAC, &algs));
        tlv::encode(0x61, &apt)
    }

    fn get_response(&mut self, cmd: &Command) -> Reply {
        if cmd.p1 != 0 || cmd.p2 != 0 {
            self.pending.clear();
            return Reply::sw(StatusWord::WRONG_P1P2);
        }
        if self.pending.is_empty() {
            return Reply::sw(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        Reply::ok(std::mem::take(&mut self.pending))
    }

    fn get_data(&self, cmd: &Command) -> Reply {
        if (cmd.p1, cmd.p2) != (0x3F, 0xFF) {
            return Reply::sw(StatusWord::WRONG_P1P2);
        }
        if cmd.data().is_empty() {
            return Reply::sw(StatusWord::WRONG_LENGTH);
        }
        let tag = match tlv::parse_one(cmd.data()) {
            Ok((t, rest))
                if t.tag == 0x5C && rest.is_empty() && (1..=3).contains(&t.value.len()) =>
            {
                t.value
                    .iter()
                    .fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
            }
            _ => return Reply::sw(StatusWord::WRONG_DATA),
        };
        match self.objects.get(&tag) {
            Some(obj) => Reply::ok(obj.clone()),
            None => Reply::sw(StatusWord::NOT_FOUND),
        }
    }

    fn tries_status(tries: u8) -> StatusWord {
        if tries == 0 {
            StatusWord::AUTH_BLOCKED
        } else {
            StatusWord::from_bytes(0x63, 0xC0 | tries.min(15))
        }
    }

    fn verify(&mut self, cmd: &Command) -> Reply {
        if cmd.p2 != KEY_REF_PIN {
            return Reply::sw(StatusWord::REFERENCED_DATA_NOT_FOUND);
        }
        match cmd.p1 {
            0xFF => {
                if !cmd.data().is_empty() {
                    return Reply::sw(StatusWord::WRONG_LENGTH);
                }
                self.pin_verified = false;
                self.pin_fresh = false;
                Reply::sw(StatusWord::OK)
            }
            0x00 if cmd.data().is_empty() => {
                if self.pin_tries == 0 {
                    Reply::sw(StatusWord::AUTH_BLOCKED)
                } else if self.pin_verified {
                    Reply::sw(StatusWord::OK)
                } else {
                    Reply::sw(Self::tries_status(self.pin_tries))
                }
            }
            0x00 => {
                if cmd.data().len() != 8 {
                    return Reply::sw(StatusWord::WRONG_LENGTH);
                }
                Reply::sw(self.check_pin(cmd.data()))
            }
            _ => Reply::sw(StatusWord::WRONG_P1P2),
        }
    }

    /// Compares a padded PIN, spending a try when wrong.
    fn check_pin(&mut self, candidate: &[u8]) -> StatusWord {
        if self.pin_tries == 0 {
            return StatusWord::AUTH_BLOCKED;
        }
        if constant_time_eq(&self.pin, candidate) {
            self.pin_tries = self.retry_limit;
            self.pin_verified = true;
            self.pin_fresh = true;
            StatusWord::OK
        } else {
            self.pin_tries -= 1;
            self.pin_verified = false;
            self.pin_fresh = false;
            Self::tries_status(self.pin_tries)
        }
    }

    fn change_reference(&mut self, cmd: &Command) -> Reply {
        if cmd.p1 != 0 || !matches!(cmd.p2, KEY_REF_PIN | KEY_REF_PUK) {
            return Reply::sw(StatusWord::WRONG_P1P2);
        }
        let data = cmd.data();
        if data.len() != 16 {
            return Reply::sw(StatusWord::WRONG_LENGTH);
        }
        let (old, new) = data.split_at(8);
        if !is_padded_reference(new) {
            return Reply::sw(StatusWord::WRONG_DATA);
        }
        if cmd.p2 == KEY_REF_PIN {
            let sw = self.check_pin(old);
            if sw == StatusWord::OK {
                self.pin = Zeroizing::new(new.to_vec());
            }
            return Reply::sw(sw);
        }
        Reply::sw(self.check_puk(old, |card| {
            card.puk = Some(Zeroizing::new(new.to_vec()));
        }))
    }

    fn reset_retry_counter(&mut self, cmd: &Command) -> Reply {
        if (cmd.p1, cmd.p2) != (0x00, KEY_REF_PIN) {
            return Reply::sw(StatusWord::WRONG_P1P2);
        }
        let data = cmd.data();
        if data.len() != 16 {
            return Reply::sw(StatusWord::WRONG_LENGTH);
        }
        let (puk, new) = data.split_at(8);
        if !is_padded_reference(new) {
            return Reply::sw(StatusWord::WRONG_DATA);
        }
        Reply::sw(self.check_puk(puk, |card| {
            card.pin = Zeroizing::new(new.to_vec());
            card.pin_tries = card.retry_limit;
            card.pin_verified = false;
            card.pin_fresh = false;
        }))
    }

    fn check_puk(&mut self, candidate: &[u8], on_success: impl FnOnce(&mut Self)) -> StatusWord {
        let Some(puk) = &self.puk else {
            return StatusWord::AUTH_BLOCKED;
        };
        if self.puk_tries == 0 {
            return StatusWord::AUTH_BLOCKED;
        }
        if constant_time_eq(puk, candidate) {
            self.puk_tries = self.retry_limit;
            on_success(self);
            StatusWord::OK
        } else {
            self.puk_tries -= 1;
            Self::tries_status(self.puk_tries)
        }
    }

    fn general_authenticate(&mut self, p1: u8, p2: u8, data: &[u8]) -> Reply {
        let Some(slot) = Slot::from_key_reference(p2) else {
            return Reply::sw(StatusWord::WRONG_P1P2);
        };
        let Some(alg) = KeyAlgorithm::from_id(p1) else {
            return Reply::sw(StatusWord::WRONG_P1P2);
        };
        let Some(key) = self.slots.get(&slot) else {
            return Reply::sw(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        if key.algorithm() != alg {
            return Reply::sw(StatusWord::WRONG_P1P2);
        }
        let Some(input) = parse_sign_request(data) else {
            return Reply::sw(StatusWord::WRONG_DATA);
        };
        let allowed = match slot {
            Slot::CardAuthentication => true,
            Slot::Signature => self.pin_verified && self.pin_fresh,
            Slot::Authentication | Slot::KeyManagement => self.pin_verified,
        };
        if !allowed {
            return Reply::sw(StatusWord::SECURITY_NOT_SATISFIED);
        }
        match key.private_operation(input) {
            Ok(sig) => {
                self.signatures += 1;
                if slot == Slot::Signature {
                    self.pin_fresh = false;
                }
                Reply::ok(tlv::encode(0x7C, &tlv::encode(0x82, &sig)))
            }
            Err(KeyError::BadInput(_)) => Reply::sw(StatusWord::WRONG_DATA),
            Err(_) => Reply::sw(StatusWord::UNKNOWN_ERROR),
        }
    }
}

impl SimulatedCard for VirtualPiv {
    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }

    fn process(&mut self, command: &[u8]) -> Vec<u8> {
        self.apdus = self.apdus.saturating_add(1);
        let (reply, le) = self.handle(command);
        let Reply { mut data, sw } = reply;
        if data.len() > le {
            self.pending = data.split_off(le);
        }
        let sw = if self.pending.is_empty() {
            sw
        } else {
            StatusWord::from_bytes(0x61, self.pending.len().min(256) as u8)
        };
        data.extend_from_slice(&sw.0.to_be_bytes());
        data
    }

    fn reset(&mut self) {
        self.selected = false;
        self.pin_verified = false;
        self.pin_fresh = false;
        self.pending.clear();
        self.chain = None;
    }
}

/// Command data bytes shown in a trace before it is cut short.
const TRACE_DATA: usize = 24;

/// A one-line trace of a command for logs: PIN and PUK data redacted, long data cut short.
pub fn describe_command(bytes: &[u8]) -> String {
    let Ok(cmd) = Command::parse(bytes) else {
        let head = &bytes[..bytes.len().min(4)];
        return format!("{} [unparseable, {} bytes]", hex(head), bytes.len());
    };
    let data = cmd.data();
    let mut shown = Command::new(cmd.cla, cmd.ins, cmd.p1, cmd.p2);
    if matches!(cmd.ins, INS_VERIFY | INS_CHANGE_REFERENCE | INS_RESET_RETRY) {
        if !data.is_empty() {
            shown = shown.with_secret_data(Zeroizing::new(data.to_vec()));
        }
    } else if data.len() > TRACE_DATA {
        let mut line = format!(
            "{:02X} {:02X} {:02X} {:02X} [{}… {} bytes]",
            cmd.cla,
            cmd.ins,
            cmd.p1,
            cmd.p2,
            hex(&data[..TRACE_DATA]),
            data.len()
        );
        if let Some(le) = cmd.le {
            line.push_str(&format!(" Le={le}"));
        }
        return line;
    } else {
        shown = shown.with_data(data.to_vec());
    }
    shown.le = cmd.le;
    shown.to_string()
}

/// Pads a 6–8 digit PIN or PUK with `FF` to 8 bytes, the way it travels in VERIFY.
fn pad_reference(digits: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if !(6..=8).contains(&digits.len()) || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut out = Zeroizing::new(vec![0xFF; 8]);
    out[..digits.len()].copy_from_slice(digits);
    Some(out)
}

/// Whether 8 bytes are 6–8 digits followed by `FF` padding.
fn is_padded_reference(bytes: &[u8]) -> bool {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    bytes.len() == 8 && (6..=8).contains(&digits) && bytes[digits..].iter().all(|b| *b == 0xFF)
}

/// Equality whose time does not depend on where the first difference is.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The input of `7C { 82 00, 81 input }` (tags in any order, nothing else).
fn parse_sign_request(data: &[u8]) -> Option<&[u8]> {
    let (outer, rest) = tlv::parse_one(data).ok()?;
    if outer.tag != 0x7C || !rest.is_empty() {
        return None;
    }
    let inner = tlv::parse_all(outer.value).ok()?;
    let mut response_asked = false;
    let mut input = None;
    for t in inner {
        match t.tag {
            0x82 if t.value.is_empty() => response_asked = true,
            0x81 if !t.value.is_empty() => input = Some(t.value),
            _ => return None,
        }
    }
    if response_asked {
        input
    } else {
        None
    }
}

/// Discovery object: the PIV AID and a PIN usage policy of "application PIN only".
fn discovery_object() -> Vec<u8> {
    let mut v = tlv::encode(0x4F, &PIV_AID);
    v.extend(tlv::encode(0x5F2F, &[0x40, 0x00]));
    tlv::encode(0x7E, &v)
}

/// Card Capability Container (SP 800-73-4 part 1, table 8), version 21, data model 10.
fn ccc_object(seed: &[u8; 32]) -> Vec<u8> {
    // Card identifier: GSC-RID, manufacturer ID, card type, then 14 bytes of card ID.
    let mut card_id = vec![0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x02];
    card_id.extend_from_slice(&seed[16..30]);
    let mut v = tlv::encode(0xF0, &card_id);
    v.extend(tlv::encode(0xF1, &[0x21]));
    v.extend(tlv::encode(0xF2, &[0x21]));
    v.extend(tlv::encode(0xF3, &[]));
    v.extend(tlv::encode(0xF4, &[0x00]));
    v.extend(tlv::encode(0xF5, &[0x10]));
    for tag in [0xF6, 0xF7, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE] {
        v.extend(tlv::encode(tag, &[]));
    }
    tlv::encode(0x53, &v)
}

/// CHUID: FASC-N, GUID (which hosts use as the card's serial) and expiry date.
fn chuid_object(seed: &[u8; 32], expiry: &[u8; 8]) -> Vec<u8> {
    let guid = &seed[..16];
    // Credential and person numbers derived from the GUID keep the card self-consistent.
    let digits = |bytes: &[u8], n: usize| -> Vec<u8> {
        let mut x = bytes.iter().fold(0u64, |acc, b| {
            acc.wrapping_mul(251).wrapping_add(u64::from(*b))
        });
        let mut out = vec![0u8; n];
        for d in out.iter_mut().rev() {
            *d = (x % 10) as u8;
            x /= 10;
        }
        out
    };
    let fascn = fasc_n(&FascN {
        agency: [9, 9, 9, 9],
        system: [9, 9, 9, 9],
        credential: digits(&guid[..8], 6),
        series: 1,
        issue: 1,
        person: digits(&guid[8..], 10),
        org_category: 1,
        org: [9, 9, 9, 9],
        association: 1,
    });
    let mut v = tlv::encode(0x30, &fascn);
    v.extend(tlv::encode(0x34, guid));
    v.extend(tlv::encode(0x35, expiry));
    // Issuer asymmetric signature: empty, as on cards personalised without a content signer.
    v.extend(tlv::encode(0x3E, &[]));
    v.extend(tlv::encode(0xFE, &[]));
    tlv::encode(0x53, &v)
}

/// The fields of a FASC-N (TIG SCEPACS), each a string of decimal digits.
struct FascN {
    agency: [u8; 4],
    system: [u8; 4],
    credential: Vec<u8>,
    series: u8,
    issue: u8,
    person: Vec<u8>,
    org_category: u8,
    org: [u8; 4],
    association: u8,
}

/// Encodes a FASC-N: 5-bit characters (4 data bits least significant first, then odd
/// parity) framed by start, field and end sentinels and a longitudinal check character.
fn fasc_n(f: &FascN) -> Vec<u8> {
    const SS: u8 = 0x0B;
    const FS: u8 = 0x0D;
    const ES: u8 = 0x0F;
    let mut chars = vec![SS];
    chars.extend_from_slice(&f.agency);
    chars.push(FS);
    chars.extend_from_slice(&f.system);
    chars.push(FS);
    chars.extend_from_slice(&f.credential);
    chars.push(FS);
    chars.push(f.series);
    chars.push(FS);
    chars.push(f.issue);
    chars.push(FS);
    chars.extend_from_slice(&f.person);
    chars.push(f.org_category);
    chars.extend_from_slice(&f.org);
    chars.push(f.association);
    chars.push(ES);
    let lrc = chars.iter().fold(0u8, |acc, c| acc ^ c) & 0x0F;
    chars.push(lrc);
    let mut bits = Vec::with_capacity(chars.len() * 5);
    for c in chars {
        let data: Vec<u8> = (0..4).map(|i| (c >> i) & 1).collect();
        let ones: u8 = data.iter().sum();
        bits.extend_from_slice(&data);
        bits.push(u8::from(ones.is_multiple_of(2)));
    }
    bits.chunks(8)
        .map(|byte| {
            byte.iter()
                .enumerate()
                .fold(0u8, |acc, (i, b)| acc | (b << (7 - i)))
        })
        .collect()
}

/// The certificate's notAfter as `YYYYMMDD` (the CHUID expiry must not outlive it).
fn expiry_of(cert_der: &[u8]) -> [u8; 8] {
    use x509_parser::prelude::FromDer;
    let mut out = *b"20301231";
    if let Ok((_, cert)) = x509_parser::certificate::X509Certificate::from_der(cert_der) {
        let t = cert.validity().not_after.to_datetime();
        let s = format!(
            "{:04}{:02}{:02}",
            t.year().clamp(0, 9999),
            u8::from(t.month()),
            t.day()
        );
        if s.len() == 8 {
            out.copy_from_slice(s.as_bytes());
        }
    }
    out
}

/// `53 { 70 cert, 71 CertInfo, FE LRC }`; CertInfo `01` marks a gzip-compressed cert.
fn certificate_object(cert_der: &[u8], gzip: bool) -> Result<Vec<u8>, ConfigError> {
    let (body, info) = if gzip {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(cert_der)
            .and_then(|_| enc.finish())
            .map(|z| (z, 0x01))
            .map_err(|e| KeyError::Crypto(format!("gzip: {e}")))?
    } else {
        (cert_der.to_vec(), 0x00)
    };
    let mut v = tlv::encode(0x70, &body);
    v.extend(tlv::encode(0x71, &[info]));
    v.extend(tlv::encode(0xFE, &[]));
    Ok(tlv::encode(0x53, &v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fasc_n_encodes_sentinels_digits_and_parity() {
        let f = FascN {
            agency: [9, 9, 9, 9],
            system: [9, 9, 9, 9],
            credential: vec![9; 6],
            series: 9,
            issue: 9,
            person: vec![9; 10],
            org_category: 1,
            org: [9, 9, 9, 9],
            association: 1,
        };
        let b = fasc_n(&f);
        assert_eq!(b.len(), 25, "40 characters of 5 bits");
        // SS 9 9 9 9 FS 9 9 ...
        assert_eq!(&b[..5], [0xD4, 0xE7, 0x39, 0xDA, 0x73]);
    }

    #[test]
    fn references_are_padded_and_checked() {
        assert_eq!(&pad_reference(b"123456").unwrap()[..], b"123456\xFF\xFF");
        assert!(pad_reference(b"12345").is_none());
        assert!(pad_reference(b"12a456").is_none());
        assert!(is_padded_reference(b"1234567\xFF"));
        assert!(!is_padded_reference(b"12345\xFF\xFF\xFF"));
        assert!(!is_padded_reference(b"123456\xFF1"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn sign_request_is_parsed_strictly() {
        assert_eq!(
            parse_sign_request(&[0x7C, 0x05, 0x82, 0x00, 0x81, 0x01, 0xAA]),
            Some(&[0xAA][..])
        );
        assert_eq!(
            parse_sign_request(&[0x7C, 0x05, 0x81, 0x01, 0xAA, 0x82, 0x00]),
            Some(&[0xAA][..])
        );
        assert_eq!(parse_sign_request(&[0x7C, 0x03, 0x81, 0x01, 0xAA]), None);
        assert_eq!(parse_sign_request(&[0x7C, 0x05, 0x82, 0x00, 0x81]), None);
        assert_eq!(parse_sign_request(&[]), None);
    }

    #[test]
    fn default_atr_is_well_formed() {
        // TCK makes the XOR of T0..TCK zero.
        assert_eq!(DEFAULT_ATR[1..].iter().fold(0, |a, b| a ^ b), 0);
        assert_eq!(DEFAULT_ATR[1] & 0x0F, 7, "seven historical bytes");
    }

    #[test]
    fn redacts_pin_data_in_traces() {
        let line = describe_command(b"\x00\x20\x00\x80\x08123456\xFF\xFF");
        assert!(line.contains("REDACTED"), "{line}");
        assert!(!line.contains("313233"), "{line}");
        let line = describe_command(&[0x00, 0xCB, 0x3F, 0xFF, 0x03, 0x5C, 0x01, 0x7E, 0x00]);
        assert!(line.contains("5C017E"), "{line}");
        assert!(describe_command(&[1, 2]).contains("unparseable"));
        let mut long = vec![0x10, 0x87, 0x07, 0x9A, 0xFF];
        long.extend(std::iter::repeat_n(0xAB, 255));
        let line = describe_command(&long);
        assert!(line.ends_with("… 255 bytes]"), "{line}");
    }
}
