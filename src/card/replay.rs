//! A transport that replays recorded command/response pairs, for unit tests of drivers
//! and for checking a driver against a trace captured from a real card.
//!
//! Recording format, one exchange per pair of lines (blank lines and `#` comments ignored):
//!
//! ```text
//! > 00 A4 04 00 09 A0 00 00 03 08 00 00 10 00 00
//! < 61 11 ... 90 00
//! > 00 20 00 80 08 *
//! < 90 00
//! ```
//!
//! A `*` after the header matches any data, so a trace never needs to contain a PIN.

use std::collections::VecDeque;

use super::apdu::parse_hex;
use super::transport::{CardTransport, Transmit, TransportError};

/// One recorded exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    expect: Vec<u8>,
    any_data: bool,
    answer: Vec<u8>,
}

/// Replays a recording; any command that differs from the next recorded one is an error.
#[derive(Debug, Clone)]
pub struct ReplayTransport {
    atr: Vec<u8>,
    pairs: VecDeque<Pair>,
}

/// A recording that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("recording line {line}: {problem}")]
pub struct RecordingError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

impl ReplayTransport {
    /// Parses a recording in the format above.
    pub fn parse(atr: &[u8], text: &str) -> Result<Self, RecordingError> {
        let mut pairs = VecDeque::new();
        let mut pending: Option<(Vec<u8>, bool)> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            let err = |problem: &str| RecordingError {
                line: i + 1,
                problem: problem.into(),
            };
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('>') {
                if pending.is_some() {
                    return Err(err("two commands without a response between them"));
                }
                let rest = rest.trim();
                let (hex, any) = match rest.strip_suffix('*') {
                    Some(h) => (h, true),
                    None => (rest, false),
                };
                pending = Some((parse_hex(hex).map_err(|p| err(&p))?, any));
            } else if let Some(rest) = line.strip_prefix('<') {
                let (expect, any_data) = pending
                    .take()
                    .ok_or_else(|| err("a response without a command"))?;
                let answer = parse_hex(rest).map_err(|p| err(&p))?;
                if answer.len() < 2 {
                    return Err(err("a response needs at least SW1 SW2"));
                }
                pairs.push_back(Pair {
                    expect,
                    any_data,
                    answer,
                });
            } else {
                return Err(err("lines must start with '>' or '<'"));
            }
        }
        if pending.is_some() {
            return Err(RecordingError {
                line: text.lines().count(),
                problem: "the last command has no response".into(),
            });
        }
        Ok(ReplayTransport {
            atr: atr.to_vec(),
            pairs,
        })
    }

    /// How many recorded exchanges were not used.
    pub fn remaining(&self) -> usize {
        self.pairs.len()
    }
}

struct ReplayTx<'a>(&'a mut ReplayTransport);

impl Transmit for ReplayTx<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let pair = self.0.pairs.pop_front().ok_or_else(|| {
            TransportError::ReplayMismatch(format!(
                "unexpected command {} after the recording ended",
                super::apdu::hex(&command[..command.len().min(4)])
            ))
        })?;
        let matches = if pair.any_data {
            command.len() >= pair.expect.len() && command.starts_with(&pair.expect)
        } else {
            command == pair.expect.as_slice()
        };
        if !matches {
            // Show only the header: the command may carry a PIN.
            return Err(TransportError::ReplayMismatch(format!(
                "expected a command starting {}, got one starting {}",
                super::apdu::hex(&pair.expect[..pair.expect.len().min(4)]),
                super::apdu::hex(&command[..command.len().min(4)])
            )));
        }
        Ok(pair.answer)
    }
}

impl CardTransport for ReplayTransport {
    fn transaction(&mut self) -> Result<Box<dyn Transmit + '_>, TransportError> {
        Ok(Box::new(ReplayTx(self)))
    }

    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }

    fn describe(&self) -> String {
        "replayed recording".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_and_detects_mismatch() {
        let rec = "# select\n> 00 A4 04 00 02 AA BB\n< 90 00\n> 00 20 00 80 08 *\n< 63 C2\n";
        let mut t = ReplayTransport::parse(&[0x3B], rec).unwrap();
        {
            let mut tx = t.transaction().unwrap();
            assert_eq!(
                tx.transmit(&[0, 0xA4, 4, 0, 2, 0xAA, 0xBB]).unwrap(),
                [0x90, 0]
            );
            assert_eq!(
                tx.transmit(&[0, 0x20, 0, 0x80, 8, 1, 2, 3, 4, 5, 6, 7, 8])
                    .unwrap(),
                [0x63, 0xC2]
            );
            assert!(matches!(
                tx.transmit(&[0, 0xB0, 0, 0]),
                Err(TransportError::ReplayMismatch(_))
            ));
        }
        let mut t = ReplayTransport::parse(&[0x3B], "> 00 A4 04 00\n< 90 00").unwrap();
        let mut tx = t.transaction().unwrap();
        assert!(matches!(
            tx.transmit(&[0, 0xA5, 4, 0]),
            Err(TransportError::ReplayMismatch(_))
        ));
    }

    #[test]
    fn bad_recordings_are_refused_with_a_line() {
        assert_eq!(ReplayTransport::parse(&[], "< 90 00").unwrap_err().line, 1);
        assert_eq!(
            ReplayTransport::parse(&[], "> 00\n> 01").unwrap_err().line,
            2
        );
        assert_eq!(
            ReplayTransport::parse(&[], "> 0G\n< 9000")
                .unwrap_err()
                .line,
            1
        );
        assert!(ReplayTransport::parse(&[], "> 00 A4 04 00").is_err());
    }
}
