//! The narrow hardware seam: a transport moves APDU bytes inside a short transaction.
//!
//! Everything card-protocol-shaped that is not application specific — command chaining,
//! `61xx` GET RESPONSE, `6Cxx` re-send — is written once here in [`exchange`], over any
//! transport: PC/SC, the in-process emulator, or a replay of recorded pairs.

use super::apdu::{ApduError, Command, LengthForm, Response, Status, SHORT_MAX_DATA};

/// How a transport failed to move bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The smart card service (pcscd / Windows Smart Card) is not running or not reachable.
    #[error("the smart card service is not running")]
    NoService,
    /// No reader is connected.
    #[error("no smart card reader found")]
    NoReader,
    /// The named reader does not exist.
    #[error("no reader named {0:?}")]
    UnknownReader(String),
    /// The reader is there but holds no card.
    #[error("no card in reader {0:?}")]
    NoCard(String),
    /// The card was taken out while we were using it.
    #[error("the card was removed")]
    CardRemoved,
    /// The card was reset (by us or another program): any verified PIN state is gone.
    /// The transport has reconnected; the caller must start again from an unverified state.
    #[error("the card was reset; its PIN state is lost")]
    CardReset,
    /// Another program holds the card exclusively.
    #[error("another program is using the card")]
    Busy,
    /// The card does not answer (mute or unpowered).
    #[error("the card does not answer")]
    Unresponsive,
    /// A replayed exchange did not match the recording.
    #[error("replay mismatch: {0}")]
    ReplayMismatch(String),
    /// Anything else the stack reported.
    #[error("smart card stack error: {0}")]
    Other(String),
}

/// Moves one command APDU to the card and returns the raw response (data + SW1 SW2).
pub trait Transmit {
    /// Sends `command` (encoded bytes) and returns the response bytes.
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;
}

/// A card reached through some stack. Commands go through a [`Transmit`] obtained from
/// [`CardTransport::transaction`], which holds the card exclusively until dropped, so
/// another program cannot slip a command between ours (e.g. between VERIFY and SIGN).
pub trait CardTransport: Send {
    /// Starts an exclusive transaction; it ends when the returned value is dropped.
    fn transaction(&mut self) -> Result<Box<dyn Transmit + '_>, TransportError>;

    /// The card's answer to reset.
    fn atr(&self) -> Vec<u8>;

    /// Whether the card/reader accepts extended-length APDUs. Short plus chaining is the
    /// safe default that every card in `docs/cards.md` supports.
    fn supports_extended_length(&self) -> bool {
        false
    }

    /// A human name for where the card sits (reader name, "in-process", "replay").
    fn describe(&self) -> String;

    /// Asks the transport to reset the card when it lets go of it, so a PIN verified in our
    /// session does not stay verified for other programs. Drivers call this after VERIFY.
    fn reset_when_done(&mut self) {}
}

/// Errors from a whole exchange (one logical command), above the transport.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The card sent bytes that are not an APDU response, or we could not encode the command.
    #[error("malformed APDU: {0}")]
    Apdu(#[from] ApduError),
    /// The card refused a chained block.
    #[error("the card refused command chaining (SW {0})")]
    ChainingRefused(super::apdu::StatusWord),
    /// The answer exceeded the bound we keep on answers.
    #[error("the card's answer exceeded {limit} bytes")]
    AnswerTooLong {
        /// The bound.
        limit: usize,
    },
    /// The card kept asking for `6Cxx` re-sends.
    #[error("the card kept asking to resend with a different length")]
    LengthLoop,
    /// The card kept announcing more data (`61xx`) past the bound on GET RESPONSE rounds.
    #[error("the card kept announcing more data after {limit} GET RESPONSE rounds")]
    ResponseLoop {
        /// The bound.
        limit: usize,
    },
}

/// Largest answer we accept from one logical command (certificates are far smaller).
pub const MAX_ANSWER: usize = 64 * 1024;

/// Most GET RESPONSE rounds for one logical command. [`MAX_ANSWER`] alone does not end the
/// rounds of a card that announces more data (`61xx`) and sends none; 256 rounds of the
/// largest short answer already fill [`MAX_ANSWER`], so this leaves room for cards that send
/// less per round.
pub const MAX_GET_RESPONSES: usize = 1024;

/// Sends one logical command: chains long data in short blocks (CLA bit `10`), re-sends
/// once on `6Cxx`, collects `61xx` answers with GET RESPONSE, and bounds the total.
///
/// The returned status word is the card's final one; application errors are left to the
/// driver, which knows what `6982` or `63Cx` mean for its command.
pub fn exchange(
    tx: &mut dyn Transmit,
    command: &Command,
    extended: bool,
) -> Result<Response, ExchangeError> {
    let data = command.data();
    if extended || data.len() <= SHORT_MAX_DATA {
        let form = if extended {
            LengthForm::Extended
        } else {
            LengthForm::Short
        };
        return send_collecting(tx, command, form);
    }
    // Command chaining: every block but the last has CLA | 0x10 and must answer 9000.
    let blocks: Vec<&[u8]> = data.chunks(SHORT_MAX_DATA).collect();
    let last = blocks.len() - 1;
    for (i, block) in blocks.iter().enumerate() {
        let mut part = copy_header(command, block);
        if i < last {
            part.cla |= 0x10;
            part.le = None;
            let bytes = part.to_bytes(LengthForm::Short)?;
            trace_command(&part);
            let resp = Response::parse(&tx.transmit(&bytes)?)?;
            trace_response(&resp);
            if !resp.is_ok() {
                return Err(ExchangeError::ChainingRefused(resp.sw));
            }
        } else {
            part.le = command.le;
            return send_collecting(tx, &part, LengthForm::Short);
        }
    }
    unreachable!("chunks of non-empty data yield at least one block")
}

fn copy_header(command: &Command, block: &[u8]) -> Command {
    let base = Command::new(command.cla, command.ins, command.p1, command.p2);
    if command.is_secret() {
        base.with_secret_data(zeroize::Zeroizing::new(block.to_vec()))
    } else {
        base.with_data(block.to_vec())
    }
}

fn send_collecting(
    tx: &mut dyn Transmit,
    command: &Command,
    form: LengthForm,
) -> Result<Response, ExchangeError> {
    let bytes = command.to_bytes(form)?;
    trace_command(command);
    let mut resp = Response::parse(&tx.transmit(&bytes)?)?;
    trace_response(&resp);
    if let Status::WrongLe(le) = resp.sw.meaning() {
        let mut again = command.clone();
        again.le = Some(le);
        trace_command(&again);
        resp = Response::parse(&tx.transmit(&again.to_bytes(form)?)?)?;
        trace_response(&resp);
        if let Status::WrongLe(_) = resp.sw.meaning() {
            return Err(ExchangeError::LengthLoop);
        }
    }
    let mut data = std::mem::take(&mut resp.data);
    let mut rounds = 0;
    while let Status::MoreData(n) = resp.sw.meaning() {
        rounds += 1;
        if rounds > MAX_GET_RESPONSES {
            return Err(ExchangeError::ResponseLoop {
                limit: MAX_GET_RESPONSES,
            });
        }
        let get = Command::new(command.cla & !0x10 & 0xF0, 0xC0, 0, 0).with_le(n);
        trace_command(&get);
        resp = Response::parse(&tx.transmit(&get.to_bytes(LengthForm::Short)?)?)?;
        trace_response(&resp);
        if let Status::WrongLe(le) = resp.sw.meaning() {
            let get = get.with_le(le);
            resp = Response::parse(&tx.transmit(&get.to_bytes(LengthForm::Short)?)?)?;
            trace_response(&resp);
        }
        data.extend_from_slice(&resp.data);
        if data.len() > MAX_ANSWER {
            return Err(ExchangeError::AnswerTooLong { limit: MAX_ANSWER });
        }
    }
    resp.data = data;
    Ok(resp)
}

fn trace_command(command: &Command) {
    tracing::trace!(target: "hjemmekontor::apdu", "> {command}");
}

fn trace_response(response: &Response) {
    tracing::trace!(target: "hjemmekontor::apdu", "< {response}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::apdu::StatusWord;

    /// Records what was sent and answers from a script.
    struct Scripted {
        sent: Vec<Vec<u8>>,
        answers: std::collections::VecDeque<Vec<u8>>,
    }

    impl Transmit for Scripted {
        fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
            self.sent.push(command.to_vec());
            self.answers
                .pop_front()
                .ok_or(TransportError::Other("script ended".into()))
        }
    }

    fn scripted(answers: &[&[u8]]) -> Scripted {
        Scripted {
            sent: Vec::new(),
            answers: answers.iter().map(|a| a.to_vec()).collect(),
        }
    }

    #[test]
    fn collects_61xx_with_get_response() {
        let mut s = scripted(&[&[1, 2, 0x61, 0x03], &[3, 4, 5, 0x61, 0x01], &[6, 0x90, 0]]);
        let cmd = Command::new(0, 0xCB, 0x3F, 0xFF)
            .with_data(vec![0x5C, 1, 0x7E])
            .with_le(256);
        let r = exchange(&mut s, &cmd, false).unwrap();
        assert_eq!(r.data, [1, 2, 3, 4, 5, 6]);
        assert!(r.is_ok());
        assert_eq!(s.sent[1], [0, 0xC0, 0, 0, 3]);
        assert_eq!(s.sent[2], [0, 0xC0, 0, 0, 1]);
    }

    #[test]
    fn resends_once_on_6cxx() {
        let mut s = scripted(&[&[0x6C, 0x02], &[9, 9, 0x90, 0]]);
        let cmd = Command::new(0, 0xCA, 0, 0x66).with_le(256);
        let r = exchange(&mut s, &cmd, false).unwrap();
        assert_eq!(r.data, [9, 9]);
        assert_eq!(s.sent[1], [0, 0xCA, 0, 0x66, 2]);
        let mut s = scripted(&[&[0x6C, 0x02], &[0x6C, 0x03]]);
        assert_eq!(
            exchange(&mut s, &cmd, false),
            Err(ExchangeError::LengthLoop)
        );
    }

    #[test]
    fn chains_long_data_in_short_blocks() {
        let mut s = scripted(&[&[0x90, 0], &[0x90, 0]]);
        let data: Vec<u8> = (0..300u16).map(|i| i as u8).collect();
        let cmd = Command::new(0, 0x87, 7, 0x9A)
            .with_data(data.clone())
            .with_le(256);
        exchange(&mut s, &cmd, false).unwrap();
        assert_eq!(s.sent[0][0], 0x10);
        assert_eq!(s.sent[0][4], 255);
        assert_eq!(&s.sent[0][5..], &data[..255]);
        assert_eq!(s.sent[1][0], 0x00);
        assert_eq!(s.sent[1][4], 45);
        assert_eq!(*s.sent[1].last().unwrap(), 0);
    }

    #[test]
    fn refused_chaining_is_an_error() {
        let mut s = scripted(&[&[0x68, 0x84]]);
        let cmd = Command::new(0, 0x87, 7, 0x9A).with_data(vec![0; 400]);
        assert_eq!(
            exchange(&mut s, &cmd, false),
            Err(ExchangeError::ChainingRefused(StatusWord(0x6884)))
        );
    }

    #[test]
    fn endless_61xx_is_bounded() {
        struct Endless;
        impl Transmit for Endless {
            fn transmit(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
                let mut v = vec![0u8; 255];
                v.extend_from_slice(&[0x61, 0xFF]);
                Ok(v)
            }
        }
        let cmd = Command::new(0, 0xCB, 0x3F, 0xFF).with_le(256);
        assert_eq!(
            exchange(&mut Endless, &cmd, false),
            Err(ExchangeError::AnswerTooLong { limit: MAX_ANSWER })
        );
    }

    /// Found by fuzzing (`tests/fuzz/regressions/card_answers/`): `61 04` with no data, again
    /// and again, kept the client asking forever.
    #[test]
    fn more_data_without_data_is_bounded() {
        struct Announcing(usize);
        impl Transmit for Announcing {
            fn transmit(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
                self.0 += 1;
                Ok(vec![0x61, 0x04])
            }
        }
        let mut card = Announcing(0);
        let cmd = Command::new(0, 0xCB, 0x3F, 0xFF).with_le(256);
        assert_eq!(
            exchange(&mut card, &cmd, false),
            Err(ExchangeError::ResponseLoop {
                limit: MAX_GET_RESPONSES
            })
        );
        assert_eq!(card.0, MAX_GET_RESPONSES + 1);
    }

    #[test]
    fn short_garbage_answer_is_an_error_not_a_panic() {
        let mut s = scripted(&[&[0x90]]);
        let cmd = Command::new(0, 0xA4, 4, 0);
        assert!(matches!(
            exchange(&mut s, &cmd, false),
            Err(ExchangeError::Apdu(_))
        ));
    }
}
