//! Watching readers and cards come and go (`SCardGetStatusChange`), so the tunnel can close
//! when the card is pulled.
//!
//! The event logic is a pure diff of two snapshots ([`diff`]); [`Monitor`] is the PC/SC shell
//! that blocks until the stack reports a change.

use std::ffi::CString;
use std::time::Duration;

use pcsc::{Context, ReaderState, State, PNP_NOTIFICATION};

use super::pcsc::map_error;
use super::transport::TransportError;

/// Something that happened to a reader or its card.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum CardEvent {
    /// A reader was plugged in.
    ReaderAdded {
        /// Reader name.
        reader: String,
    },
    /// A reader was unplugged (its card, if any, is gone too).
    ReaderRemoved {
        /// Reader name.
        reader: String,
    },
    /// A card was put in.
    CardInserted {
        /// Reader name.
        reader: String,
        /// The card's ATR.
        atr: Vec<u8>,
    },
    /// A card was taken out.
    CardRemoved {
        /// Reader name.
        reader: String,
    },
}

/// The state of one reader at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Reader name.
    pub reader: String,
    /// Card present.
    pub present: bool,
    /// ATR when present.
    pub atr: Vec<u8>,
    /// The stack's card-event counter for the reader (pcsc-lite counts insertions and
    /// removals), so a pull-and-reinsert between two looks is not missed.
    pub event_count: u32,
}

/// Events that turn `before` into `after`. Pure.
pub fn diff(before: &[Snapshot], after: &[Snapshot]) -> Vec<CardEvent> {
    let mut events = Vec::new();
    for old in before {
        if !after.iter().any(|s| s.reader == old.reader) {
            if old.present {
                events.push(CardEvent::CardRemoved {
                    reader: old.reader.clone(),
                });
            }
            events.push(CardEvent::ReaderRemoved {
                reader: old.reader.clone(),
            });
        }
    }
    for new in after {
        let reader = new.reader.clone();
        match before.iter().find(|s| s.reader == new.reader) {
            None => {
                events.push(CardEvent::ReaderAdded {
                    reader: reader.clone(),
                });
                if new.present {
                    events.push(CardEvent::CardInserted {
                        reader,
                        atr: new.atr.clone(),
                    });
                }
            }
            Some(old) => match (old.present, new.present) {
                (false, true) => events.push(CardEvent::CardInserted {
                    reader,
                    atr: new.atr.clone(),
                }),
                (true, false) => events.push(CardEvent::CardRemoved { reader }),
                (true, true) if old.event_count != new.event_count || old.atr != new.atr => {
                    events.push(CardEvent::CardRemoved {
                        reader: reader.clone(),
                    });
                    events.push(CardEvent::CardInserted {
                        reader,
                        atr: new.atr.clone(),
                    });
                }
                _ => {}
            },
        }
    }
    events
}

/// Blocks on the PC/SC stack until readers or cards change.
pub struct Monitor {
    ctx: Context,
    states: Vec<ReaderState>,
    known: Vec<Snapshot>,
}

impl Monitor {
    /// Starts watching from the current state: only later changes are reported.
    pub fn new(ctx: &Context) -> Result<Self, TransportError> {
        let mut m = Monitor {
            ctx: ctx.clone(),
            states: Vec::new(),
            known: Vec::new(),
        };
        m.rebuild()?;
        m.known = m.snapshot();
        Ok(m)
    }

    /// The readers as last seen.
    pub fn current(&self) -> &[Snapshot] {
        &self.known
    }

    /// A handle whose `cancel()` wakes a blocked [`Monitor::wait`] from another thread.
    pub fn canceller(&self) -> Context {
        self.ctx.clone()
    }

    /// Waits up to `timeout` for changes and returns them (empty on timeout or cancel).
    pub fn wait(&mut self, timeout: Duration) -> Result<Vec<CardEvent>, TransportError> {
        match self.ctx.get_status_change(timeout, &mut self.states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) | Err(pcsc::Error::Cancelled) => return Ok(Vec::new()),
            Err(e) => return Err(map_error(e)),
        }
        let readers_changed =
            self.states.iter().any(|s| {
                s.name() == PNP_NOTIFICATION() && s.event_state().contains(State::CHANGED)
            }) || self.states.iter().any(|s| {
                s.event_state()
                    .intersects(State::UNKNOWN | State::UNAVAILABLE)
                    && s.name() != PNP_NOTIFICATION()
            });
        for s in &mut self.states {
            s.sync_current_state();
        }
        if readers_changed {
            self.rebuild()?;
            // Pick up the new readers' state before diffing.
            let _ = self.ctx.get_status_change(Duration::ZERO, &mut self.states);
            for s in &mut self.states {
                s.sync_current_state();
            }
        }
        let now = self.snapshot();
        let events = diff(&self.known, &now);
        self.known = now;
        Ok(events)
    }

    fn rebuild(&mut self) -> Result<(), TransportError> {
        let names = match self.ctx.list_readers_owned() {
            Ok(n) => n,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(e) => return Err(map_error(e)),
        };
        let mut states: Vec<ReaderState> = names
            .into_iter()
            .map(|n| ReaderState::new(n, State::UNAWARE))
            .collect();
        states.push(ReaderState::new(
            CString::from(PNP_NOTIFICATION()),
            State::UNAWARE,
        ));
        match self.ctx.get_status_change(Duration::ZERO, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(map_error(e)),
        }
        for s in &mut states {
            s.sync_current_state();
        }
        self.states = states;
        Ok(())
    }

    fn snapshot(&self) -> Vec<Snapshot> {
        self.states
            .iter()
            .filter(|s| s.name() != PNP_NOTIFICATION())
            .filter(|s| {
                !s.current_state()
                    .intersects(State::UNKNOWN | State::UNAVAILABLE)
            })
            .map(|s| {
                let present = s.current_state().contains(State::PRESENT);
                Snapshot {
                    reader: s.name().to_string_lossy().into_owned(),
                    present,
                    atr: if present {
                        s.atr().to_vec()
                    } else {
                        Vec::new()
                    },
                    event_count: s.event_count(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(reader: &str, present: bool, count: u32) -> Snapshot {
        Snapshot {
            reader: reader.into(),
            present,
            atr: if present { vec![0x3B, 0x80] } else { vec![] },
            event_count: count,
        }
    }

    #[test]
    fn insert_and_remove() {
        let a = [snap("R", false, 0)];
        let b = [snap("R", true, 1)];
        assert_eq!(
            diff(&a, &b),
            [CardEvent::CardInserted {
                reader: "R".into(),
                atr: vec![0x3B, 0x80]
            }]
        );
        assert_eq!(
            diff(&b, &a),
            [CardEvent::CardRemoved { reader: "R".into() }]
        );
        assert!(diff(&b, &b).is_empty());
    }

    #[test]
    fn quick_reinsert_is_seen_through_the_counter() {
        let a = [snap("R", true, 1)];
        let b = [snap("R", true, 3)];
        assert_eq!(
            diff(&a, &b),
            [
                CardEvent::CardRemoved { reader: "R".into() },
                CardEvent::CardInserted {
                    reader: "R".into(),
                    atr: vec![0x3B, 0x80]
                }
            ]
        );
    }

    #[test]
    fn reader_unplugged_with_card_in_it() {
        let a = [snap("R", true, 1), snap("S", false, 0)];
        let b = [snap("S", false, 0), snap("T", true, 0)];
        assert_eq!(
            diff(&a, &b),
            [
                CardEvent::CardRemoved { reader: "R".into() },
                CardEvent::ReaderRemoved { reader: "R".into() },
                CardEvent::ReaderAdded { reader: "T".into() },
                CardEvent::CardInserted {
                    reader: "T".into(),
                    atr: vec![0x3B, 0x80]
                },
            ]
        );
    }
}
