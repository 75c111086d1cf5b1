//! The PC/SC shell: the real smart-card stack (pcsc-lite, WinSCard) behind [`CardTransport`].
//!
//! Kept thin: it maps PC/SC errors to [`TransportError`], holds the card in shared mode
//! (T=0 or T=1, whichever the card offers), reconnects after a reset, and reads reader
//! state without connecting. Protocol logic lives in `transport` and the drivers.

use std::ffi::{CStr, CString};
use std::time::Duration;

use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

use super::transport::{CardTransport, Transmit, TransportError};

/// Maps a PC/SC error to what our callers can act on.
pub fn map_error(e: pcsc::Error) -> TransportError {
    use pcsc::Error as E;
    match e {
        E::NoService | E::ServiceStopped => TransportError::NoService,
        E::NoReadersAvailable => TransportError::NoReader,
        E::RemovedCard | E::NoSmartcard => TransportError::CardRemoved,
        E::ResetCard => TransportError::CardReset,
        E::SharingViolation => TransportError::Busy,
        E::UnresponsiveCard | E::UnpoweredCard | E::UnsupportedCard => TransportError::Unresponsive,
        other => TransportError::Other(other.to_string()),
    }
}

/// Opens a PC/SC context; fails with [`TransportError::NoService`] when the service is down.
pub fn establish() -> Result<Context, TransportError> {
    Context::establish(Scope::User).map_err(map_error)
}

/// A reader as seen without connecting to its card.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReaderInfo {
    /// The reader's name as PC/SC reports it.
    pub name: String,
    /// Whether a card is in the reader.
    pub card_present: bool,
    /// The card does not answer (inserted upside down, broken, or not a smart card).
    pub card_mute: bool,
    /// Another program holds the card exclusively.
    pub exclusive: bool,
    /// The card's ATR, when a card is present.
    #[serde(serialize_with = "serialize_hex")]
    pub atr: Option<Vec<u8>>,
    /// Whether the reader has its own PIN pad (`None`: could not be asked).
    pub pin_pad: Option<bool>,
}

fn serialize_hex<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => s.serialize_str(&super::apdu::hex_spaced(b)),
        None => s.serialize_none(),
    }
}

/// Lists readers and their card state. An empty list is not an error here: callers
/// decide how to explain it.
pub fn list_readers(ctx: &Context) -> Result<Vec<ReaderInfo>, TransportError> {
    let names = match ctx.list_readers_owned() {
        Ok(n) => n,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(map_error(e)),
    };
    let mut states: Vec<ReaderState> = names
        .iter()
        .map(|n| ReaderState::new(n.clone(), State::UNAWARE))
        .collect();
    if !states.is_empty() {
        ctx.get_status_change(Duration::ZERO, &mut states)
            .map_err(map_error)?;
    }
    Ok(states
        .iter()
        .map(|rs| {
            let ev = rs.event_state();
            let present = ev.contains(State::PRESENT);
            ReaderInfo {
                name: rs.name().to_string_lossy().into_owned(),
                card_present: present,
                card_mute: ev.contains(State::MUTE),
                exclusive: ev.contains(State::EXCLUSIVE),
                atr: present.then(|| rs.atr().to_vec()),
                pin_pad: pin_pad(ctx, rs.name()),
            }
        })
        .collect())
}

/// Asks the reader driver for its features (PC/SC part 10, `CM_IOCTL_GET_FEATURE_REQUEST`)
/// and looks for a secure PIN-entry feature. Works in direct mode, card or not.
fn pin_pad(ctx: &Context, reader: &CStr) -> Option<bool> {
    const FEATURE_VERIFY_PIN_START: u8 = 0x01;
    const FEATURE_VERIFY_PIN_DIRECT: u8 = 0x06;
    let card = ctx
        .connect(reader, ShareMode::Direct, Protocols::UNDEFINED)
        .ok()?;
    let code = pcsc::ctl_code(3400);
    let mut buf = [0u8; 256];
    let features = card.control(code, &[], &mut buf).ok()?;
    // Each entry: tag (1), length 4, control code (4).
    let has = features.chunks(6).any(|e| {
        e.len() == 6 && matches!(e[0], FEATURE_VERIFY_PIN_START | FEATURE_VERIFY_PIN_DIRECT)
    });
    let _ = card.disconnect(Disposition::LeaveCard);
    Some(has)
}

/// Connects in shared mode with T=0 or T=1. A card another program left in a protocol we did
/// not ask for (PC/SC answers "protocol mismatch": the protocol stays as the first program set
/// it until the card is reset) is taken in the protocol it is already using, raw included,
/// rather than refused.
fn connect_shared(ctx: &Context, reader: &CStr) -> Result<pcsc::Card, pcsc::Error> {
    match ctx.connect(reader, ShareMode::Shared, Protocols::T0 | Protocols::T1) {
        Err(pcsc::Error::ProtoMismatch) => {
            tracing::debug!("the card is in use with another protocol; taking that one");
            ctx.connect(
                reader,
                ShareMode::Shared,
                Protocols::T0 | Protocols::T1 | Protocols::RAW,
            )
        }
        other => other,
    }
}

/// A card held through PC/SC in shared mode.
pub struct PcscTransport {
    ctx: Context,
    reader: CString,
    card: Option<pcsc::Card>,
    atr: Vec<u8>,
    reset_on_close: bool,
}

impl PcscTransport {
    /// Connects to the card in `reader` (T=0 or T=1, shared).
    pub fn connect(ctx: &Context, reader: &str) -> Result<Self, TransportError> {
        let name =
            CString::new(reader).map_err(|_| TransportError::UnknownReader(reader.into()))?;
        let card = connect_shared(ctx, &name).map_err(|e| match e {
            pcsc::Error::NoSmartcard | pcsc::Error::RemovedCard => {
                TransportError::NoCard(reader.into())
            }
            pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable => {
                TransportError::UnknownReader(reader.into())
            }
            other => map_error(other),
        })?;
        let atr = card
            .status2_owned()
            .map(|s| s.atr().to_vec())
            .map_err(map_error)?;
        tracing::debug!(reader, protocol = ?card.status2_owned().ok().and_then(|s| s.protocol2()), "connected to card");
        Ok(PcscTransport {
            ctx: ctx.clone(),
            reader: name,
            card: Some(card),
            atr,
            reset_on_close: false,
        })
    }

    /// The PC/SC context this transport uses (to watch the same reader).
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    fn card(&mut self) -> Result<&mut pcsc::Card, TransportError> {
        self.card.as_mut().ok_or(TransportError::CardRemoved)
    }
}

impl Drop for PcscTransport {
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            let how = if self.reset_on_close {
                Disposition::ResetCard
            } else {
                Disposition::LeaveCard
            };
            let _ = card.disconnect(how);
        }
    }
}

struct PcscTx<'a> {
    tx: pcsc::Transaction<'a>,
}

impl Transmit for PcscTx<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let resp = self.tx.transmit(command, &mut buf).map_err(map_error)?;
        Ok(resp.to_vec())
    }
}

impl CardTransport for PcscTransport {
    fn transaction(&mut self) -> Result<Box<dyn Transmit + '_>, TransportError> {
        let card = self.card()?;
        match card.transaction2() {
            Ok(tx) => Ok(Box::new(PcscTx { tx })),
            Err((card, pcsc::Error::ResetCard)) => {
                // Someone reset the card: reconnect so later calls work, and tell the
                // caller that any verified PIN is gone.
                tracing::info!("card was reset by another program; reconnecting");
                card.reconnect(
                    ShareMode::Shared,
                    Protocols::T0 | Protocols::T1,
                    Disposition::LeaveCard,
                )
                .map_err(map_error)?;
                Err(TransportError::CardReset)
            }
            Err((_, e)) => Err(map_error(e)),
        }
    }

    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }

    fn describe(&self) -> String {
        self.reader.to_string_lossy().into_owned()
    }

    fn reset_when_done(&mut self) {
        self.reset_on_close = true;
    }
}
