//! What the fuzz targets share: how one input is cut into parts, a card that gives scripted
//! answers, the fixed moment everything is judged at, the frame limits and posture rules the
//! gateway really uses.
//!
//! The seed writer (`tests/fuzz_seeds.rs` in the main package) writes inputs in these same
//! forms, and the regression tests (`tests/fuzz_regressions.rs`) replay kept crashes through
//! these same functions.

use hjemmekontor::card::identify::{identify, Application};
use hjemmekontor::card::piv::{KeyAlgorithm, Slot};
use hjemmekontor::card::{CardTransport, Transmit, TransportError};
use hjemmekontor::gateway::config::BOUNDS;
use hjemmekontor::posture::policy::{Action, Policy, Rule, SupportedOs};
use hjemmekontor::secret::Pin;
use hjemmekontor::tunnel::protocol::DEFAULT_MAX_FRAME_LEN;
use time::OffsetDateTime;

/// The moment certificates, CRLs and posture reports are judged at (2026-06-01 00:00 UTC),
/// so a run never depends on the clock.
pub const NOW_UNIX: i64 = 1_780_272_000;

/// [`NOW_UNIX`] as a time.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW_UNIX).expect("a valid moment")
}

/// Cuts an input into two parts: a 2-byte big-endian length, that many bytes, the rest.
/// A short input gives what there is to the first part and nothing to the second.
pub fn two_parts(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return (data, &[]);
    };
    let len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
    rest.split_at(len)
}

/// A card whose answers come from the input: the first byte's low bit says whether it takes
/// extended-length APDUs, then come chunks of a 2-byte big-endian length and that many bytes:
/// the ATR, then one raw answer (data and SW1 SW2) per command, in order. Once the chunks run
/// out the last answer comes again and again, as from a card stuck on it; with no answer at
/// all the card is mute.
pub struct ScriptedCard {
    atr: Vec<u8>,
    answers: Vec<Vec<u8>>,
    next: usize,
    extended: bool,
}

impl ScriptedCard {
    /// The card the input describes.
    pub fn new(data: &[u8]) -> ScriptedCard {
        let (flags, mut rest) = data.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
        let mut chunks = Vec::new();
        while let Some((len, tail)) = rest.split_first_chunk::<2>() {
            let len = usize::from(u16::from_be_bytes(*len)).min(tail.len());
            let (chunk, tail) = tail.split_at(len);
            chunks.push(chunk.to_vec());
            rest = tail;
        }
        let atr = if chunks.is_empty() {
            Vec::new()
        } else {
            chunks.remove(0)
        };
        ScriptedCard {
            atr,
            answers: chunks,
            next: 0,
            extended: flags & 1 == 1,
        }
    }

    fn answer(&mut self) -> Result<Vec<u8>, TransportError> {
        let last = self.answers.len().checked_sub(1);
        let i = match last {
            None => return Err(TransportError::Unresponsive),
            Some(last) => self.next.min(last),
        };
        self.next = self.next.saturating_add(1);
        Ok(self.answers[i].clone())
    }
}

struct Exchange<'a>(&'a mut ScriptedCard);

impl Transmit for Exchange<'_> {
    fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.0.answer()
    }
}

impl CardTransport for ScriptedCard {
    fn transaction(&mut self) -> Result<Box<dyn Transmit + '_>, TransportError> {
        Ok(Box::new(Exchange(self)))
    }

    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }

    fn supports_extended_length(&self) -> bool {
        self.extended
    }

    fn describe(&self) -> String {
        "fuzz input".into()
    }
}

/// What the client does with a card, as far as the card's answers let it: identification
/// (PIV, then Buypass BEID), then PIV: CHUID, the four certificates, the PIN state, VERIFY
/// and a signature of each kind; Buypass: the PIN tries.
pub fn drive_card(card: impl CardTransport + 'static) {
    match identify(Box::new(card)) {
        Ok(Application::Piv(mut piv)) => {
            let _ = piv.read_chuid();
            for slot in Slot::ALL {
                let _ = piv.read_certificate(slot);
            }
            let _ = piv.pin_status();
            let pin = Pin::from_input("123456".into()).expect("a well-formed PIN");
            if let Ok(mut verified) = piv.verify_pin(&pin) {
                let _ = verified.sign(Slot::Authentication, KeyAlgorithm::EccP256, &[7; 32]);
                let _ = verified.sign(Slot::Authentication, KeyAlgorithm::Rsa2048, &[7; 256]);
            }
        }
        Ok(Application::Buypass(mut beid)) => {
            let _ = beid.pin_tries();
        }
        Err(_) => {}
    }
}

/// Runs `future` to its end on this thread's runtime (one per thread, made on first use;
/// with timers, which the multiplexer's close uses).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
    }
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// The frame limits a frame reader meets: the client's own, and the gateway's default and
/// largest `limits.max_frame_bytes`, taken from the configuration's table of bounds.
pub fn frame_limits() -> [usize; 3] {
    let bound = BOUNDS
        .iter()
        .find(|b| b.key == "limits.max_frame_bytes")
        .expect("the configuration bounds the frame size");
    let size = |n: i64| usize::try_from(n).expect("a positive bound");
    [DEFAULT_MAX_FRAME_LEN, size(bound.default), size(bound.max)]
}

/// A posture policy with every rule, `days` and `secs` as its ages and timeouts, and the OS
/// `family` supported from `min_version` until `end_of_support`.
pub fn every_rule(days: u32, secs: u32, os: SupportedOs) -> Policy {
    Policy::of([
        (Rule::Firewall, Action::Deny),
        (
            Rule::Antivirus {
                max_definitions_age_days: Some(days),
            },
            Action::Deny,
        ),
        (
            Rule::Updates {
                max_pending_days: days,
            },
            Action::Warn,
        ),
        (Rule::DiskEncryption, Action::Deny),
        (Rule::SupportedOs { os: vec![os] }, Action::Deny),
        (
            Rule::ScreenLock {
                max_timeout_secs: secs,
            },
            Action::Warn,
        ),
    ])
}
