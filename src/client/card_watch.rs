//! The card watch of `connect`: a thread that reports once when the card leaves its reader
//! (PC/SC events), or leaves a backend that can only be asked (PKCS#11, the Windows store), or
//! can no longer be watched at all. A watch that ends without a report is never taken for a
//! pulled card.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::card::credential::Presence;
use crate::card::monitor::{CardEvent, Monitor};

use crate::cli::failure::{exit, Failure};
use crate::i18n::catalogue::card as m;

/// What the card watch reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardWatch {
    /// The card left the reader (or the reader was unplugged).
    Removed,
    /// The card can no longer be watched (the smart-card service went away and did not come
    /// back). The tunnel closes, since a pull would go unnoticed, but nobody is told the card
    /// was pulled.
    Lost(String),
}

/// Watches the card on its own thread; reports once when it leaves or can no longer be
/// watched. The returned flag stops the thread. A PC/SC reader is watched for events; a
/// backend that cannot be watched that way is asked four times a second.
pub fn watch_card(presence: Presence, report: mpsc::UnboundedSender<CardWatch>) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let spawned = std::thread::Builder::new()
        .name("card-watch".into())
        .spawn(move || {
            let seen = match presence {
                Presence::Reader(reader) => watch_reader(&reader, &flag),
                Presence::Poll(present) => loop {
                    if flag.load(Ordering::SeqCst) {
                        break None;
                    }
                    if !present() {
                        break Some(CardWatch::Removed);
                    }
                    std::thread::sleep(Duration::from_millis(250));
                },
                Presence::Unknown => None,
            };
            if let Some(seen) = seen {
                let _ = report.send(seen);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot watch the card: {e}");
    }
    stop
}

/// Watches one PC/SC reader until the card leaves, `stop` is set, or the smart-card service
/// stays away. A service that restarts is watched again: the reader is looked at afresh, so a
/// card pulled meanwhile is still seen.
fn watch_reader(reader: &str, stop: &AtomicBool) -> Option<CardWatch> {
    const ATTEMPTS: u32 = 8;
    let mut failures = 0;
    while !stop.load(Ordering::SeqCst) {
        let watched =
            crate::card::pcsc::establish().and_then(|ctx| Monitor::new(&ctx).map(|m| (ctx, m)));
        let (_ctx, mut monitor) = match watched {
            Ok(w) => w,
            Err(e) => {
                failures += 1;
                if failures >= ATTEMPTS {
                    return Some(CardWatch::Lost(e.to_string()));
                }
                std::thread::sleep(Duration::from_millis(250));
                continue;
            }
        };
        let present = monitor
            .current()
            .iter()
            .any(|s| s.reader == reader && s.present);
        if !present {
            return Some(CardWatch::Removed);
        }
        while !stop.load(Ordering::SeqCst) {
            match monitor.wait(Duration::from_millis(250)) {
                Ok(events) => {
                    let gone = events.iter().any(|e| {
                        matches!(e,
                        CardEvent::CardRemoved { reader: r } | CardEvent::ReaderRemoved { reader: r } if r == reader)
                    });
                    if gone {
                        return Some(CardWatch::Removed);
                    }
                    failures = 0;
                }
                Err(e) => {
                    tracing::warn!(
                        "the card watch lost the smart-card service ({e}); watching again"
                    );
                    break;
                }
            }
        }
    }
    None
}

/// What the watch saw, as a sentence.
pub fn watch_failure(watch: &CardWatch) -> Failure {
    match watch {
        CardWatch::Removed => card_pulled(),
        CardWatch::Lost(detail) => Failure::new(
            "card-watch-lost",
            exit::NO_CARD,
            m::WATCH_LOST.with(&[("detail", detail)]),
        )
        .fix(m::WATCH_LOST_FIX.text()),
    }
}

/// The card was pulled: the tunnel is closed.
pub fn card_pulled() -> Failure {
    Failure::new("card-removed", exit::NO_CARD, m::PULLED.text()).fix(m::PULLED_FIX.text())
}
