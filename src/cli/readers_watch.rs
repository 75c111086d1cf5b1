//! `hjemmekontor readers --watch`: readers and cards coming and going, live, with the time and
//! the ATR, until Ctrl-C; for support on the phone ("pull the card out, put it back in").
//!
//! [`changes`] is the pure core: from the stack as last seen and as seen now to what happened.
//! The loop at the edge waits on `SCardGetStatusChange` ([`Monitor`], with the PnP pseudo-reader
//! for readers arriving) a quarter of a second at a time, so Ctrl-C is honoured promptly, and
//! opens a new context when the smart-card service comes back.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::card::apdu::hex_spaced;
use crate::card::monitor::{diff, CardEvent, Monitor, Snapshot};
use crate::card::trace::TraceSink;
use crate::card::TransportError;
use crate::i18n::catalogue::readers as m;
use crate::i18n::Msg;

/// How long one wait on the stack lasts: the bound on noticing Ctrl-C.
const WAIT: Duration = Duration::from_millis(250);

/// The smart-card stack as seen at one moment. While the service is away, `readers` is what
/// was seen last, so a card pulled meanwhile shows up as removed when it is back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    /// The service answers.
    pub up: bool,
    /// The readers and their cards.
    pub readers: Vec<Snapshot>,
}

/// Something seen, as printed (`--json`: `event` in kebab-case, the fields beside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Change {
    /// At the start: a reader that is there.
    ReaderPresent {
        /// Reader name.
        reader: String,
    },
    /// At the start: a card that is in a reader.
    CardPresent {
        /// Reader name.
        reader: String,
        /// The card's ATR in hex, as `readers --json` writes it.
        atr: String,
        /// `piv`, `buypass`, or `null`: unknown, not looked at (another program uses the
        /// card), or the probe failed.
        application: Option<&'static str>,
    },
    /// A reader was plugged in.
    ReaderAttached {
        /// Reader name.
        reader: String,
    },
    /// A reader was unplugged.
    ReaderDetached {
        /// Reader name.
        reader: String,
    },
    /// A card was put in.
    CardInserted {
        /// Reader name.
        reader: String,
        /// The card's ATR in hex.
        atr: String,
        /// As for `card-present`.
        application: Option<&'static str>,
    },
    /// A card was taken out.
    CardRemoved {
        /// Reader name.
        reader: String,
    },
    /// The smart-card service went away (stopped, restarted), or is not running at the start.
    ServiceLost,
    /// The smart-card service answers again.
    ServiceBack,
}

/// What happened between `before` (`None`: this is the first look) and `now`. Pure.
pub fn changes(before: Option<&Stack>, now: &Stack) -> Vec<Change> {
    let Some(before) = before else {
        if !now.up {
            return vec![Change::ServiceLost];
        }
        return now.readers.iter().flat_map(present).collect();
    };
    match (before.up, now.up) {
        (true, false) => vec![Change::ServiceLost],
        (false, false) => Vec::new(),
        (false, true) => std::iter::once(Change::ServiceBack)
            .chain(
                diff(&before.readers, &now.readers)
                    .into_iter()
                    .map(from_event),
            )
            .collect(),
        (true, true) => diff(&before.readers, &now.readers)
            .into_iter()
            .map(from_event)
            .collect(),
    }
}

fn present(s: &Snapshot) -> Vec<Change> {
    let mut out = vec![Change::ReaderPresent {
        reader: s.reader.clone(),
    }];
    if s.present {
        out.push(Change::CardPresent {
            reader: s.reader.clone(),
            atr: hex_spaced(&s.atr),
            application: None,
        });
    }
    out
}

fn from_event(e: CardEvent) -> Change {
    match e {
        CardEvent::ReaderAdded { reader } => Change::ReaderAttached { reader },
        CardEvent::ReaderRemoved { reader } => Change::ReaderDetached { reader },
        CardEvent::CardInserted { reader, atr } => Change::CardInserted {
            reader,
            atr: hex_spaced(&atr),
            application: None,
        },
        CardEvent::CardRemoved { reader } => Change::CardRemoved { reader },
    }
}

/// The time as printed: ISO 8601 in UTC, to the millisecond.
pub fn timestamp(t: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    let utc = t.to_offset(time::UtcOffset::UTC);
    utc.format(format).unwrap_or_else(|_| utc.to_string())
}

/// One line for `--json`: `{"time":…,"event":…,…}`.
pub fn json_line(time: &str, change: &Change) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        time: &'a str,
        #[serde(flatten)]
        change: &'a Change,
    }
    serde_json::to_string(&Line { time, change }).unwrap_or_default()
}

/// One line for people, in the run's language.
pub fn human_line(time: &str, change: &Change) -> String {
    let card = |msg: Msg, reader: &str, atr: &str, application: Option<&str>| {
        let application = application_words(application);
        msg.with(&[
            ("reader", &reader),
            ("application", &application),
            ("atr", &atr),
        ])
    };
    let what = match change {
        Change::ReaderPresent { reader } => m::READER_PRESENT.with(&[("reader", reader)]),
        Change::CardPresent {
            reader,
            atr,
            application,
        } => card(m::CARD_PRESENT, reader, atr, *application),
        Change::ReaderAttached { reader } => m::READER_ATTACHED.with(&[("reader", reader)]),
        Change::ReaderDetached { reader } => m::READER_DETACHED.with(&[("reader", reader)]),
        Change::CardInserted {
            reader,
            atr,
            application,
        } => card(m::CARD_INSERTED, reader, atr, *application),
        Change::CardRemoved { reader } => m::CARD_REMOVED.with(&[("reader", reader)]),
        Change::ServiceLost => m::SERVICE_LOST.text(),
        Change::ServiceBack => m::SERVICE_BACK.text(),
    };
    format!("{time}  {what}")
}

fn application_words(application: Option<&str>) -> &'static str {
    match application {
        Some("piv") => m::PIV_CARD.as_str(),
        Some("buypass") => m::BUYPASS_SHORT.as_str(),
        _ => m::UNKNOWN_APPLICATION.as_str(),
    }
}

/// Watches until Ctrl-C, printing every change; exits 0.
pub fn run(json: bool, trace: Option<&TraceSink>) -> ExitCode {
    let stop = stop_on_ctrl_c();
    eprintln!("{}", m::WATCHING.text());
    let mut watcher = Watcher { watching: None };
    let mut before: Option<Stack> = None;
    while !stop.load(Ordering::SeqCst) {
        let last = before.as_ref().map_or(&[][..], |b| &b.readers[..]);
        let now = watcher.look(last);
        for mut change in changes(before.as_ref(), &now) {
            if let Some((ctx, _)) = &watcher.watching {
                identify(ctx, &mut change, trace);
            }
            let time = timestamp(time::OffsetDateTime::now_utc());
            if json {
                println!("{}", json_line(&time, &change));
            } else {
                println!("{}", human_line(&time, &change));
            }
        }
        before = Some(now);
    }
    ExitCode::SUCCESS
}

/// The PC/SC context and its monitor, while the service answers.
struct Watcher {
    watching: Option<(::pcsc::Context, Monitor)>,
}

impl Watcher {
    /// Waits up to [`WAIT`] and returns the stack as it is then. `last` is what was seen
    /// before, kept while the service is away.
    fn look(&mut self, last: &[Snapshot]) -> Stack {
        let away = |last: &[Snapshot]| Stack {
            up: false,
            readers: last.to_vec(),
        };
        let Some((_, monitor)) = &mut self.watching else {
            let started =
                crate::card::pcsc::establish().and_then(|ctx| Monitor::new(&ctx).map(|m| (ctx, m)));
            return match started {
                Ok(w) => {
                    let readers = w.1.current().to_vec();
                    self.watching = Some(w);
                    Stack { up: true, readers }
                }
                Err(e) => {
                    tracing::debug!("the smart-card service does not answer: {e}");
                    std::thread::sleep(WAIT);
                    away(last)
                }
            };
        };
        match monitor.wait(WAIT) {
            Ok(_) => Stack {
                up: true,
                readers: monitor.current().to_vec(),
            },
            Err(e) => {
                self.watching = None;
                if matches!(e, TransportError::NoService) {
                    away(last)
                } else {
                    // Not the service: look again with a new context, reporting nothing.
                    tracing::debug!("watching again after: {e}");
                    Stack {
                        up: true,
                        readers: last.to_vec(),
                    }
                }
            }
        }
    }
}

/// Fills in the application of a card just seen, by probing it (no PIN; see `readers`), but
/// only when no other program has the card connected: a SELECT in the middle of another
/// program's work could cost it its selected application or verified PIN.
fn identify(ctx: &::pcsc::Context, change: &mut Change, trace: Option<&TraceSink>) {
    let (Change::CardPresent {
        reader,
        application,
        ..
    }
    | Change::CardInserted {
        reader,
        application,
        ..
    }) = change
    else {
        return;
    };
    if unused_card(ctx, reader) {
        *application = super::readers::probe_application(ctx, reader, trace);
    }
}

/// Whether the reader holds a card that answers and that no program has connected.
fn unused_card(ctx: &::pcsc::Context, reader: &str) -> bool {
    use ::pcsc::{ReaderState, State};
    let Ok(name) = std::ffi::CString::new(reader) else {
        return false;
    };
    let mut states = [ReaderState::new(name, State::UNAWARE)];
    if ctx.get_status_change(Duration::ZERO, &mut states).is_err() {
        return false;
    }
    let s = states[0].event_state();
    s.contains(State::PRESENT) && !s.intersects(State::INUSE | State::EXCLUSIVE | State::MUTE)
}

/// A flag set by Ctrl-C (SIGINT, or the console's Ctrl-C on Windows), which then no longer
/// ends the process: the loop sees the flag within [`WAIT`] and exits 0. The handler is in
/// place before this returns, so an early Ctrl-C is not the default kill.
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                let _ = ready_tx.send(());
                return;
            };
            rt.block_on(async move {
                let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
                // Polled once first, which installs the handler, then we say we are ready.
                let first = tokio::select! {
                    biased;
                    r = &mut ctrl_c => Some(r),
                    _ = std::future::ready(()) => None,
                };
                let _ = ready_tx.send(());
                if first.is_none() {
                    let _ = ctrl_c.await;
                }
            });
            flag.store(true, Ordering::SeqCst);
        });
    match spawned {
        Ok(_) => {
            let _ = ready_rx.recv_timeout(Duration::from_secs(2));
        }
        Err(e) => tracing::warn!("Ctrl-C will end the watch abruptly: {e}"),
    }
    stop
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATR: [u8; 3] = [0x3B, 0x87, 0x81];

    fn snap(reader: &str, present: bool, count: u32) -> Snapshot {
        Snapshot {
            reader: reader.into(),
            present,
            atr: if present { ATR.to_vec() } else { Vec::new() },
            event_count: count,
        }
    }

    fn up(readers: &[Snapshot]) -> Stack {
        Stack {
            up: true,
            readers: readers.to_vec(),
        }
    }

    fn inserted(reader: &str) -> Change {
        Change::CardInserted {
            reader: reader.into(),
            atr: "3B 87 81".into(),
            application: None,
        }
    }

    fn removed(reader: &str) -> Change {
        Change::CardRemoved {
            reader: reader.into(),
        }
    }

    #[test]
    fn the_first_look_lists_what_is_there() {
        let now = up(&[snap("A", true, 1), snap("B", false, 0)]);
        assert_eq!(
            changes(None, &now),
            [
                Change::ReaderPresent { reader: "A".into() },
                Change::CardPresent {
                    reader: "A".into(),
                    atr: "3B 87 81".into(),
                    application: None
                },
                Change::ReaderPresent { reader: "B".into() },
            ]
        );
        let down = Stack {
            up: false,
            readers: Vec::new(),
        };
        assert_eq!(changes(None, &down), [Change::ServiceLost]);
        assert!(changes(None, &up(&[])).is_empty());
    }

    #[test]
    fn cards_and_readers_coming_and_going() {
        let a = up(&[snap("A", true, 1)]);
        let pulled = up(&[snap("A", false, 2)]);
        assert_eq!(changes(Some(&a), &pulled), [removed("A")]);
        assert_eq!(changes(Some(&pulled), &a), [inserted("A")]);
        assert!(changes(Some(&a), &a).is_empty());
        // Out and in again between two looks: the event counter tells.
        let again = up(&[snap("A", true, 3)]);
        assert_eq!(changes(Some(&a), &again), [removed("A"), inserted("A")]);
        let plugged = up(&[snap("A", true, 1), snap("B", true, 0)]);
        assert_eq!(
            changes(Some(&a), &plugged),
            [Change::ReaderAttached { reader: "B".into() }, inserted("B")]
        );
        assert_eq!(
            changes(Some(&plugged), &a),
            [removed("B"), Change::ReaderDetached { reader: "B".into() }]
        );
    }

    #[test]
    fn the_service_going_away_and_coming_back() {
        let a = up(&[snap("A", true, 1)]);
        let away = Stack {
            up: false,
            readers: a.readers.clone(),
        };
        assert_eq!(changes(Some(&a), &away), [Change::ServiceLost]);
        assert!(changes(Some(&away), &away).is_empty());
        // The card was pulled while the service was away.
        let back = up(&[snap("A", false, 0)]);
        assert_eq!(
            changes(Some(&away), &back),
            [Change::ServiceBack, removed("A")]
        );
        assert_eq!(changes(Some(&away), &a), [Change::ServiceBack]);
    }

    #[test]
    fn lines_for_scripts_and_for_people() {
        let t = time::macros::datetime!(2026-12-02 08:00:01.5 +01:00);
        let time = timestamp(t);
        assert_eq!(time, "2026-12-02T07:00:01.500Z");
        let card = Change::CardInserted {
            reader: "Virtual PCD 00 00".into(),
            atr: "3B 87 81".into(),
            application: Some("piv"),
        };
        assert_eq!(
            json_line(&time, &card),
            r#"{"time":"2026-12-02T07:00:01.500Z","event":"card-inserted","reader":"Virtual PCD 00 00","atr":"3B 87 81","application":"piv"}"#
        );
        assert_eq!(
            json_line(&time, &Change::ServiceLost),
            r#"{"time":"2026-12-02T07:00:01.500Z","event":"service-lost"}"#
        );
        assert_eq!(
            human_line(&time, &card),
            "2026-12-02T07:00:01.500Z  Kort satt inn i «Virtual PCD 00 00»: PIV-kort, ATR 3B 87 81"
        );
        assert_eq!(
            human_line(&time, &removed("R")),
            "2026-12-02T07:00:01.500Z  Kort tatt ut av «R»"
        );
        let english = crate::i18n::with_lang(crate::i18n::Lang::En, || {
            human_line("2026-12-02T07:00:01.500Z", &removed("R"))
        });
        assert_eq!(english, "2026-12-02T07:00:01.500Z  Card taken out of “R”");
    }
}
