//! The window's card watch: a thread that reads the card when it arrives and reports it gone
//! within a quarter of a second of being pulled (PC/SC events, `card::monitor`).
//!
//! While a connection runs, the card belongs to it: the watch never opens the card then (a
//! second connection could reset it and cost the session its verified PIN), and only reports
//! its absence. When the connection ends, [`CardWatch::refresh`] has the card read again, so
//! the tries left after a wrong PIN are shown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::card::monitor::{Monitor, Snapshot};
use crate::card::pcsc;
use crate::client::card_status::CardStatus;

use super::model::Update;

/// How long one wait on the smart-card stack lasts: the bound on noticing a stop, a refresh
/// or (with a stack that misses an event) a pulled card.
const WAIT: Duration = Duration::from_millis(250);

/// How often the stack is asked again while the smart-card service does not answer.
const SERVICE_RETRY: Duration = Duration::from_secs(2);

/// Where the watch sends what it saw.
pub type Sink = Arc<dyn Fn(Update) + Send + Sync>;

/// Reads the card now (the PIN is never involved).
pub type Reader = Box<dyn Fn() -> CardStatus + Send>;

/// The running watch; stopped when dropped.
pub struct CardWatch {
    flags: Arc<Flags>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Flags {
    stop: AtomicBool,
    busy: AtomicBool,
    refresh: AtomicBool,
}

impl CardWatch {
    /// Starts watching; the first report comes at once.
    pub fn start(read: Reader, sink: Sink) -> std::io::Result<Self> {
        let flags = Arc::new(Flags::default());
        let theirs = Arc::clone(&flags);
        let lang = crate::i18n::current();
        let thread = std::thread::Builder::new()
            .name("card-watch".into())
            .spawn(move || crate::i18n::with_lang(lang, || watch(&theirs, &read, &sink)))?;
        Ok(CardWatch {
            flags,
            thread: Some(thread),
        })
    }

    /// A connection holds the card (`true`) or let it go (`false`).
    pub fn set_busy(&self, busy: bool) {
        self.flags.busy.store(busy, Ordering::SeqCst);
    }

    /// Reads the card again at the next wake-up.
    pub fn refresh(&self) {
        self.flags.refresh.store(true, Ordering::SeqCst);
    }
}

impl Drop for CardWatch {
    fn drop(&mut self) {
        self.flags.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the readers alone say: no reader, no card, or a card to read (`None`).
fn presence(readers: &[Snapshot]) -> Option<CardStatus> {
    if readers.is_empty() {
        Some(CardStatus::NoReader)
    } else if readers.iter().any(|r| r.present) {
        None
    } else {
        Some(CardStatus::NoCard)
    }
}

fn watch(flags: &Flags, read: &Reader, sink: &Sink) {
    let report = |flags: &Flags, readers: &[Snapshot]| {
        match presence(readers) {
            Some(absent) => sink(Update::Card(absent)),
            // The card belongs to the connection: nothing is read.
            None if flags.busy.load(Ordering::SeqCst) => {}
            None => {
                sink(Update::CardReading);
                sink(Update::Card(read()));
            }
        }
    };
    while !flags.stop.load(Ordering::SeqCst) {
        let monitor = pcsc::establish().and_then(|ctx| Monitor::new(&ctx));
        let mut monitor = match monitor {
            Ok(m) => m,
            Err(_) => {
                // The service is away: `read` words why (and, for a backend that needs no
                // service, reads the card).
                if !flags.busy.load(Ordering::SeqCst) {
                    sink(Update::Card(read()));
                }
                sleep_unless_stopped(flags, SERVICE_RETRY);
                continue;
            }
        };
        flags.refresh.store(false, Ordering::SeqCst);
        report(flags, monitor.current());
        while !flags.stop.load(Ordering::SeqCst) {
            let events = match monitor.wait(WAIT) {
                Ok(events) => events,
                // The service went away: start over with a new context.
                Err(_) => break,
            };
            let refresh = flags.refresh.swap(false, Ordering::SeqCst);
            if !events.is_empty() || refresh {
                report(flags, monitor.current());
            }
        }
    }
}

fn sleep_unless_stopped(flags: &Flags, total: Duration) {
    let mut left = total;
    while !left.is_zero() && !flags.stop.load(Ordering::SeqCst) {
        let step = left.min(WAIT);
        std::thread::sleep(step);
        left -= step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(present: bool) -> Snapshot {
        Snapshot {
            reader: "Virtual PCD 00 00".into(),
            present,
            atr: Vec::new(),
            event_count: 0,
        }
    }

    #[test]
    fn presence_says_no_reader_no_card_or_read_it() {
        assert_eq!(presence(&[]), Some(CardStatus::NoReader));
        assert_eq!(presence(&[reader(false)]), Some(CardStatus::NoCard));
        assert_eq!(presence(&[reader(false), reader(true)]), None);
    }
}
