//! ISO 7816-4 command and response APDUs as plain values: encoding, parsing, status words.
//!
//! Pure: no I/O. The card drivers build [`Command`]s, the transports move bytes, and the
//! virtual card parses the same bytes back with [`Command::parse`].

use std::fmt;
use zeroize::Zeroizing;

/// Largest data field of a short APDU.
pub const SHORT_MAX_DATA: usize = 255;
/// Largest answer a short APDU can ask for (`Le = 00`).
pub const SHORT_MAX_LE: usize = 256;
/// Largest data field of an extended APDU.
pub const EXTENDED_MAX_DATA: usize = 65_535;
/// Largest answer an extended APDU can ask for (`Le = 0000`).
pub const EXTENDED_MAX_LE: usize = 65_536;

/// Bytes that do not form a valid APDU, or a command that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    /// A response must carry at least SW1 SW2.
    #[error("a response APDU needs at least 2 bytes (SW1 SW2), got {len}")]
    ResponseTooShort {
        /// Bytes received.
        len: usize,
    },
    /// A command needs at least CLA INS P1 P2.
    #[error("a command APDU needs at least 4 bytes (CLA INS P1 P2), got {len}")]
    CommandTooShort {
        /// Bytes received.
        len: usize,
    },
    /// The length fields do not match the number of bytes.
    #[error("the command's length fields do not match its {len} bytes")]
    BadLength {
        /// Bytes received.
        len: usize,
    },
    /// Data longer than the chosen length form allows.
    #[error("{len} bytes of command data do not fit a {form} APDU (at most {max})")]
    DataTooLong {
        /// Data bytes.
        len: usize,
        /// Most the form allows.
        max: usize,
        /// "short" or "extended".
        form: &'static str,
    },
    /// An expected length the form cannot express.
    #[error("an expected length of {le} cannot be asked for in a {form} APDU")]
    LeTooLarge {
        /// Expected length.
        le: usize,
        /// "short" or "extended".
        form: &'static str,
    },
}

/// Short (1-byte Lc/Le) or extended (3-byte Lc, 2- or 3-byte Le) encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthForm {
    /// Lc and Le in one byte: data up to 255, answers up to 256.
    Short,
    /// Lc and Le in two bytes after a `00` marker: data up to 65 535, answers up to 65 536.
    Extended,
}

/// A command APDU. Data marked secret (a PIN) is wiped on drop and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    data: Zeroizing<Vec<u8>>,
    secret: bool,
    /// Expected answer length (`None`: no answer data expected; 256/65 536 are the maxima).
    pub le: Option<usize>,
}

impl Command {
    /// A command with no data and no expected answer (case 1).
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: Zeroizing::new(Vec::new()),
            secret: false,
            le: None,
        }
    }

    /// Adds command data.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = Zeroizing::new(data.into());
        self
    }

    /// Adds command data that must never be traced or kept (a PIN).
    pub fn with_secret_data(mut self, data: Zeroizing<Vec<u8>>) -> Self {
        self.data = data;
        self.secret = true;
        self
    }

    /// Asks for up to `le` bytes of answer.
    pub fn with_le(mut self, le: usize) -> Self {
        self.le = Some(le);
        self
    }

    /// The command data.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Whether the data is secret (shown as `REDACTED` in traces).
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// Encodes the command. The result is zeroizing because it may hold a PIN.
    pub fn to_bytes(&self, form: LengthForm) -> Result<Zeroizing<Vec<u8>>, ApduError> {
        let n = self.data.len();
        let mut out = Zeroizing::new(Vec::with_capacity(n + 9));
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        match form {
            LengthForm::Short => {
                if n > SHORT_MAX_DATA {
                    return Err(ApduError::DataTooLong {
                        len: n,
                        max: SHORT_MAX_DATA,
                        form: "short",
                    });
                }
                if n > 0 {
                    out.push(n as u8);
                    out.extend_from_slice(&self.data);
                }
                if let Some(le) = self.le {
                    if le == 0 || le > SHORT_MAX_LE {
                        return Err(ApduError::LeTooLarge { le, form: "short" });
                    }
                    out.push((le % 256) as u8);
                }
            }
            LengthForm::Extended => {
                if n > EXTENDED_MAX_DATA {
                    return Err(ApduError::DataTooLong {
                        len: n,
                        max: EXTENDED_MAX_DATA,
                        form: "extended",
                    });
                }
                if n > 0 {
                    out.push(0);
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                    out.extend_from_slice(&self.data);
                }
                if let Some(le) = self.le {
                    if le == 0 || le > EXTENDED_MAX_LE {
                        return Err(ApduError::LeTooLarge {
                            le,
                            form: "extended",
                        });
                    }
                    if n == 0 {
                        out.push(0);
                    }
                    out.extend_from_slice(&((le % 65_536) as u16).to_be_bytes());
                }
            }
        }
        Ok(out)
    }

    /// Parses a command as a card sees it (all seven ISO 7816-3 cases).
    ///
    /// The parsed data is not marked secret: the card side decides what is sensitive.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        let len = bytes.len();
        if len < 4 {
            return Err(ApduError::CommandTooShort { len });
        }
        let mut cmd = Command::new(bytes[0], bytes[1], bytes[2], bytes[3]);
        let body = &bytes[4..];
        let bad = || ApduError::BadLength { len };
        match body.len() {
            0 => {}
            1 => cmd.le = Some(if body[0] == 0 { 256 } else { body[0] as usize }),
            _ if body[0] != 0 => {
                let lc = body[0] as usize;
                let rest = &body[1..];
                if rest.len() == lc {
                    cmd.data = Zeroizing::new(rest.to_vec());
                } else if rest.len() == lc + 1 {
                    cmd.data = Zeroizing::new(rest[..lc].to_vec());
                    let le = rest[lc] as usize;
                    cmd.le = Some(if le == 0 { 256 } else { le });
                } else {
                    return Err(bad());
                }
            }
            3 => {
                // Case 2E: 00 Le1 Le2.
                let le = u16::from_be_bytes([body[1], body[2]]) as usize;
                cmd.le = Some(if le == 0 { 65_536 } else { le });
            }
            n if n > 3 => {
                let lc = u16::from_be_bytes([body[1], body[2]]) as usize;
                let rest = &body[3..];
                if lc == 0 {
                    return Err(bad());
                }
                if rest.len() == lc {
                    cmd.data = Zeroizing::new(rest.to_vec());
                } else if rest.len() == lc + 2 {
                    cmd.data = Zeroizing::new(rest[..lc].to_vec());
                    let le = u16::from_be_bytes([rest[lc], rest[lc + 1]]) as usize;
                    cmd.le = Some(if le == 0 { 65_536 } else { le });
                } else {
                    return Err(bad());
                }
            }
            _ => return Err(bad()),
        }
        Ok(cmd)
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Command({self})")
    }
}

/// Trace form: header in hex, then the data in hex, or `REDACTED (n bytes)` when secret.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02X} {:02X} {:02X} {:02X}",
            self.cla, self.ins, self.p1, self.p2
        )?;
        if !self.data.is_empty() {
            if self.secret {
                write!(f, " [REDACTED {} bytes]", self.data.len())?;
            } else {
                write!(f, " [{}]", hex(&self.data))?;
            }
        }
        if let Some(le) = self.le {
            write!(f, " Le={le}")?;
        }
        Ok(())
    }
}

/// A response APDU: data and status word.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Answer data, without SW1 SW2.
    pub data: Vec<u8>,
    /// The status word.
    pub sw: StatusWord,
}

impl Response {
    /// Splits raw response bytes into data and status word.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        if bytes.len() < 2 {
            return Err(ApduError::ResponseTooShort { len: bytes.len() });
        }
        let (data, sw) = bytes.split_at(bytes.len() - 2);
        Ok(Response {
            data: data.to_vec(),
            sw: StatusWord::from_bytes(sw[0], sw[1]),
        })
    }

    /// A response with data and status word.
    pub fn new(data: impl Into<Vec<u8>>, sw: StatusWord) -> Self {
        Response {
            data: data.into(),
            sw,
        }
    }

    /// A bare status word with no data.
    pub fn status(sw: StatusWord) -> Self {
        Response::new(Vec::new(), sw)
    }

    /// Encodes data followed by SW1 SW2.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.0.to_be_bytes());
        out
    }

    /// True for `90 00`.
    pub fn is_ok(&self) -> bool {
        self.sw == StatusWord::OK
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Response({self})")
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.data.is_empty() {
            write!(f, "[{}] ", hex(&self.data))?;
        }
        write!(f, "{}", self.sw)
    }
}

/// The two status bytes SW1 SW2.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u16);

impl StatusWord {
    /// `90 00`: done.
    pub const OK: StatusWord = StatusWord(0x9000);
    /// `67 00`: wrong length.
    pub const WRONG_LENGTH: StatusWord = StatusWord(0x6700);
    /// `68 84`: command chaining not supported.
    pub const CHAINING_NOT_SUPPORTED: StatusWord = StatusWord(0x6884);
    /// `69 82`: security status not satisfied (PIN needed).
    pub const SECURITY_NOT_SATISFIED: StatusWord = StatusWord(0x6982);
    /// `69 83`: authentication method blocked (PIN blocked).
    pub const AUTH_BLOCKED: StatusWord = StatusWord(0x6983);
    /// `69 85`: conditions of use not satisfied.
    pub const CONDITIONS_NOT_SATISFIED: StatusWord = StatusWord(0x6985);
    /// `6A 80`: incorrect data.
    pub const WRONG_DATA: StatusWord = StatusWord(0x6A80);
    /// `6A 81`: function not supported.
    pub const FUNCTION_NOT_SUPPORTED: StatusWord = StatusWord(0x6A81);
    /// `6A 82`: file or application not found.
    pub const NOT_FOUND: StatusWord = StatusWord(0x6A82);
    /// `6A 86`: incorrect P1 P2.
    pub const WRONG_P1P2: StatusWord = StatusWord(0x6A86);
    /// `6A 88`: referenced data (key, object) not found.
    pub const REFERENCED_DATA_NOT_FOUND: StatusWord = StatusWord(0x6A88);
    /// `6D 00`: instruction not supported.
    pub const INS_NOT_SUPPORTED: StatusWord = StatusWord(0x6D00);
    /// `6E 00`: class not supported.
    pub const CLA_NOT_SUPPORTED: StatusWord = StatusWord(0x6E00);
    /// `6F 00`: no precise diagnosis.
    pub const UNKNOWN_ERROR: StatusWord = StatusWord(0x6F00);

    /// From SW1 and SW2.
    pub fn from_bytes(sw1: u8, sw2: u8) -> Self {
        StatusWord(u16::from_be_bytes([sw1, sw2]))
    }

    /// SW1.
    pub fn sw1(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// SW2.
    pub fn sw2(self) -> u8 {
        self.0 as u8
    }

    /// What the status word means.
    pub fn meaning(self) -> Status {
        match (self.sw1(), self.sw2()) {
            (0x90, 0x00) => Status::Ok,
            (0x61, n) => Status::MoreData(if n == 0 { 256 } else { n as usize }),
            (0x6C, n) => Status::WrongLe(if n == 0 { 256 } else { n as usize }),
            (0x63, n) if n & 0xF0 == 0xC0 => Status::TriesLeft(n & 0x0F),
            (0x69, 0x83) => Status::Blocked,
            (0x69, 0x82) => Status::SecurityNotSatisfied,
            (0x69, 0x85) => Status::ConditionsNotSatisfied,
            (0x6A, 0x82) => Status::NotFound,
            (0x6A, 0x88) => Status::ReferencedDataNotFound,
            (0x6A, 0x80) => Status::WrongData,
            (0x6A, 0x86) => Status::WrongParameters,
            (0x67, 0x00) => Status::WrongLength,
            (0x6D, 0x00) => Status::InsNotSupported,
            (0x6E, 0x00) => Status::ClaNotSupported,
            _ => Status::Other(self),
        }
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X}{:02X}", self.sw1(), self.sw2())
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SW {self}")
    }
}

/// The meaning of a status word, as far as this client cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `9000`.
    Ok,
    /// `61xx`: this many more bytes wait for GET RESPONSE.
    MoreData(usize),
    /// `6Cxx`: send again with this Le.
    WrongLe(usize),
    /// `63Cx`: verification failed (or status asked), this many tries left.
    TriesLeft(u8),
    /// `6983`: PIN blocked.
    Blocked,
    /// `6982`: PIN not verified.
    SecurityNotSatisfied,
    /// `6985`.
    ConditionsNotSatisfied,
    /// `6A82`: no such file or application.
    NotFound,
    /// `6A88`: no such key or data object.
    ReferencedDataNotFound,
    /// `6A80`.
    WrongData,
    /// `6A86`.
    WrongParameters,
    /// `6700`.
    WrongLength,
    /// `6D00`.
    InsNotSupported,
    /// `6E00`.
    ClaNotSupported,
    /// Anything else.
    Other(StatusWord),
}

/// Upper-case hex without separators, for traces and reports.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// Bytes from hex digits; white space between them is ignored.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !digits.is_ascii() {
        return Err("not hex: non-ASCII characters".into());
    }
    if !digits.len().is_multiple_of(2) {
        return Err("odd number of hex digits".into());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .map_err(|_| format!("not hex: {:?}", &digits[i..i + 2]))
        })
        .collect()
}

/// Upper-case hex with a space between bytes, as ATRs are usually shown.
pub fn hex_spaced(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_four_short_cases() {
        let c1 = Command::new(0x00, 0xA4, 0x00, 0x00);
        assert_eq!(
            &c1.to_bytes(LengthForm::Short).unwrap()[..],
            [0, 0xA4, 0, 0]
        );
        let c2 = Command::new(0x00, 0xC0, 0, 0).with_le(256);
        assert_eq!(
            &c2.to_bytes(LengthForm::Short).unwrap()[..],
            [0, 0xC0, 0, 0, 0]
        );
        let c3 = Command::new(0x00, 0xA4, 0, 0).with_data(vec![0x3F, 0x00]);
        assert_eq!(
            &c3.to_bytes(LengthForm::Short).unwrap()[..],
            [0, 0xA4, 0, 0, 2, 0x3F, 0]
        );
        let c4 = Command::new(0x00, 0xCB, 0x3F, 0xFF)
            .with_data(vec![0x5C, 0x01, 0x7E])
            .with_le(256);
        assert_eq!(
            &c4.to_bytes(LengthForm::Short).unwrap()[..],
            [0, 0xCB, 0x3F, 0xFF, 3, 0x5C, 1, 0x7E, 0]
        );
    }

    #[test]
    fn encodes_extended_lengths() {
        let c = Command::new(0, 0x87, 7, 0x9A)
            .with_data(vec![0xAB; 300])
            .with_le(65_536);
        let b = c.to_bytes(LengthForm::Extended).unwrap();
        assert_eq!(&b[..7], [0, 0x87, 7, 0x9A, 0, 0x01, 0x2C]);
        assert_eq!(&b[b.len() - 2..], [0, 0]);
        assert_eq!(Command::parse(&b).unwrap(), c);
        let c2e = Command::new(0, 0xC0, 0, 0).with_le(1000);
        let b = c2e.to_bytes(LengthForm::Extended).unwrap();
        assert_eq!(&b[..], [0, 0xC0, 0, 0, 0, 0x03, 0xE8]);
        assert_eq!(Command::parse(&b).unwrap(), c2e);
    }

    #[test]
    fn short_form_refuses_long_data() {
        let c = Command::new(0, 0x87, 7, 0x9A).with_data(vec![0; 256]);
        assert!(matches!(
            c.to_bytes(LengthForm::Short),
            Err(ApduError::DataTooLong { len: 256, .. })
        ));
    }

    #[test]
    fn parse_round_trips_and_rejects_garbage() {
        for cmd in [
            Command::new(0, 0x20, 0, 0x80),
            Command::new(0, 0x20, 0, 0x80).with_data(vec![0x31; 8]),
            Command::new(0, 0xCB, 0x3F, 0xFF)
                .with_data(vec![0x5C, 1, 0x7E])
                .with_le(256),
            Command::new(0, 0xC0, 0, 0).with_le(12),
        ] {
            let b = cmd.to_bytes(LengthForm::Short).unwrap();
            assert_eq!(Command::parse(&b).unwrap(), cmd);
        }
        assert!(Command::parse(&[0, 1, 2]).is_err());
        assert!(Command::parse(&[0, 0xA4, 0, 0, 5, 1, 2]).is_err());
        assert!(Command::parse(&[0, 0xA4, 0, 0, 0, 0]).is_err());
        assert!(Command::parse(&[0, 0xA4, 0, 0, 0, 0, 0, 1]).is_err());
        assert!(Response::parse(&[0x90]).is_err());
    }

    #[test]
    fn status_words_have_meanings() {
        assert_eq!(StatusWord(0x63C2).meaning(), Status::TriesLeft(2));
        assert_eq!(StatusWord(0x6983).meaning(), Status::Blocked);
        assert_eq!(StatusWord(0x6100).meaning(), Status::MoreData(256));
        assert_eq!(StatusWord(0x6C10).meaning(), Status::WrongLe(16));
        assert_eq!(StatusWord(0x6A82).meaning(), Status::NotFound);
        assert_eq!(
            StatusWord(0x6400).meaning(),
            Status::Other(StatusWord(0x6400))
        );
    }

    #[test]
    fn secret_data_is_redacted_in_traces() {
        let pin = Zeroizing::new(b"123456\xFF\xFF".to_vec());
        let c = Command::new(0, 0x20, 0, 0x80).with_secret_data(pin);
        let shown = format!("{c} {c:?}");
        assert!(shown.contains("REDACTED 8 bytes"), "{shown}");
        assert!(!shown.contains("313233"), "{shown}");
    }
}
