//! Repeated login refusals, counted instead of recorded one by one. Pure: the caller passes
//! the time.
//!
//! One client without a certificate was seen making 341 refused attempts a second. A record
//! apiece costs a disk flush each and buries the log. So, per (source address, reason), the
//! first refusal of a window is recorded as usual and the rest are only counted; when the
//! window ends, one `login-refused-repeated` event carries the count. Nothing is lost: the
//! records plus the counts are every refusal.
//!
//! The table is bounded, so a flood from many addresses cannot grow memory: once it holds
//! `max_keys` addresses, refusals from further addresses are counted per reason under no
//! address (`source: null`).

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use time::OffsetDateTime;

use super::record::{AuditEvent, RefusalReason};

/// How long a window lasts unless the constructor is told otherwise.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10);

/// Most addresses in the table unless the constructor is told otherwise.
pub const DEFAULT_MAX_KEYS: usize = 10_000;

/// What to do with one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The first of its window: write its `login-refused` record as usual.
    Record,
    /// Counted; it appears in a later `login-refused-repeated` event. Write nothing now.
    Counted,
}

/// Address (`None`: the overflow of a full table) and reason.
type Key = (Option<IpAddr>, RefusalReason);

/// One key's window.
#[derive(Debug, Clone, Copy)]
struct Window {
    opened: OffsetDateTime,
    count: u64,
    first: OffsetDateTime,
    last: OffsetDateTime,
}

impl Window {
    fn open(now: OffsetDateTime) -> Window {
        Window {
            opened: now,
            count: 0,
            first: now,
            last: now,
        }
    }

    fn count(&mut self, now: OffsetDateTime) {
        if self.count == 0 {
            self.first = now;
        }
        self.count = self.count.saturating_add(1);
        self.last = now;
    }

    fn event(&self, key: Key) -> Option<AuditEvent> {
        (self.count > 0).then_some(AuditEvent::LoginRefusedRepeated {
            source: key.0,
            reason: key.1,
            count: self.count,
            first: self.first,
            last: self.last,
        })
    }
}

/// Decides which refusals are recorded and counts the others; see the module documentation.
///
/// The server calls [`admit`](Self::admit) for each refusal, [`flush_due`](Self::flush_due)
/// from a timer (every second or so) and [`drain`](Self::drain) at shutdown, and appends the
/// events the last two return.
#[derive(Debug, Clone)]
pub struct RefusalCoalescer {
    window: time::Duration,
    max_keys: usize,
    windows: BTreeMap<Key, Window>,
    addresses: usize,
}

impl Default for RefusalCoalescer {
    fn default() -> Self {
        RefusalCoalescer::new(DEFAULT_WINDOW, DEFAULT_MAX_KEYS)
    }
}

impl RefusalCoalescer {
    /// A coalescer whose windows last `window` and whose table holds at most `max_keys`
    /// addresses (plus one overflow entry per reason).
    pub fn new(window: Duration, max_keys: usize) -> RefusalCoalescer {
        RefusalCoalescer {
            window: time::Duration::try_from(window).unwrap_or(time::Duration::MAX),
            max_keys,
            windows: BTreeMap::new(),
            addresses: 0,
        }
    }

    /// One refusal from `source` for `reason` at `now`: record it, or only count it.
    pub fn admit(
        &mut self,
        source: IpAddr,
        reason: RefusalReason,
        now: OffsetDateTime,
    ) -> Admission {
        if let Some(window) = self.windows.get_mut(&(Some(source), reason)) {
            window.count(now);
            return Admission::Counted;
        }
        let key = if self.addresses < self.max_keys {
            self.addresses += 1;
            (Some(source), reason)
        } else {
            (None, reason)
        };
        match self.windows.entry(key) {
            Entry::Occupied(mut e) => {
                e.get_mut().count(now);
                Admission::Counted
            }
            Entry::Vacant(e) => {
                e.insert(Window::open(now));
                Admission::Record
            }
        }
    }

    /// Closes the windows that have ended by `now` (or that lie in its future: the clock was
    /// set back) and returns one event for each that counted refusals.
    pub fn flush_due(&mut self, now: OffsetDateTime) -> Vec<AuditEvent> {
        let window = self.window;
        self.close_where(|w| {
            let age = now - w.opened;
            age >= window || age.is_negative()
        })
    }

    /// Closes every window, at shutdown, and returns one event for each that counted refusals.
    pub fn drain(&mut self) -> Vec<AuditEvent> {
        self.close_where(|_| true)
    }

    /// Windows open: addresses plus overflow entries.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether no window is open.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    fn close_where(&mut self, ended: impl Fn(&Window) -> bool) -> Vec<AuditEvent> {
        let mut events = Vec::new();
        let mut closed_addresses = 0;
        self.windows.retain(|key, w| {
            if !ended(w) {
                return true;
            }
            events.extend(w.event(*key));
            if key.0.is_some() {
                closed_addresses += 1;
            }
            false
        });
        self.addresses -= closed_addresses;
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T: OffsetDateTime = datetime!(2025-05-25 12:00 UTC);

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    fn ms(n: i64) -> time::Duration {
        time::Duration::milliseconds(n)
    }

    /// A window from `T` on with one refusal counted.
    fn counted_once(c: &mut RefusalCoalescer, source: IpAddr, r: RefusalReason) {
        assert_eq!(c.admit(source, r, T), Admission::Record);
        assert_eq!(c.admit(source, r, T + ms(1)), Admission::Counted);
    }

    fn repeated(e: &AuditEvent) -> (Option<IpAddr>, RefusalReason, u64) {
        match e {
            AuditEvent::LoginRefusedRepeated {
                source,
                reason,
                count,
                ..
            } => (*source, *reason, *count),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_flood_from_one_client_is_one_record_and_one_count() {
        let mut c = RefusalCoalescer::default();
        let none = RefusalReason::NoCertificate;
        assert_eq!(c.admit(ip(7), none, T), Admission::Record);
        for i in 1..341 {
            assert_eq!(c.admit(ip(7), none, T + ms(i * 2)), Admission::Counted);
        }
        assert!(c.flush_due(T + ms(9_999)).is_empty());
        let events = c.flush_due(T + ms(10_000));
        assert_eq!(
            events,
            [AuditEvent::LoginRefusedRepeated {
                source: Some(ip(7)),
                reason: none,
                count: 340,
                first: T + ms(2),
                last: T + ms(680),
            }]
        );
        assert!(c.is_empty());
        // A new window begins with a record again.
        assert_eq!(c.admit(ip(7), none, T + ms(10_001)), Admission::Record);
    }

    #[test]
    fn address_and_reason_make_the_key() {
        let mut c = RefusalCoalescer::new(Duration::from_secs(5), 100);
        let (a, b) = (RefusalReason::NoCertificate, RefusalReason::ServerBusy);
        assert_eq!(c.admit(ip(1), a, T), Admission::Record);
        assert_eq!(c.admit(ip(1), b, T), Admission::Record);
        assert_eq!(c.admit(ip(2), a, T), Admission::Record);
        assert_eq!(c.admit(ip(1), b, T + ms(1)), Admission::Counted);
        assert_eq!(c.len(), 3);
        // Windows that counted nothing close without an event.
        let events: Vec<_> = c.flush_due(T + ms(5_000)).iter().map(repeated).collect();
        assert_eq!(events, [(Some(ip(1)), b, 1)]);
        assert!(c.is_empty());
    }

    #[test]
    fn windows_close_on_their_own_time() {
        let mut c = RefusalCoalescer::new(Duration::from_secs(10), 100);
        let r = RefusalReason::WrongPassword;
        counted_once(&mut c, ip(1), r);
        c.admit(ip(2), r, T + ms(6_000));
        c.admit(ip(2), r, T + ms(6_001));
        let first: Vec<_> = c.flush_due(T + ms(10_000)).iter().map(repeated).collect();
        assert_eq!(first, [(Some(ip(1)), r, 1)]);
        // Counting goes on past the window's end until the timer closes it.
        c.admit(ip(2), r, T + ms(16_500));
        let second: Vec<_> = c.flush_due(T + ms(17_000)).iter().map(repeated).collect();
        assert_eq!(second, [(Some(ip(2)), r, 2)]);
    }

    #[test]
    fn a_clock_set_back_closes_windows() {
        let mut c = RefusalCoalescer::default();
        let r = RefusalReason::Untrusted;
        counted_once(&mut c, ip(1), r);
        assert_eq!(c.flush_due(T - ms(60_000)).len(), 1);
        assert!(c.is_empty());
    }

    #[test]
    fn a_full_table_counts_new_addresses_per_reason_without_address() {
        let mut c = RefusalCoalescer::new(Duration::from_secs(10), 3);
        let (a, b) = (RefusalReason::NoCertificate, RefusalReason::ServerBusy);
        for i in 0..3 {
            assert_eq!(c.admit(ip(i), a, T), Admission::Record);
        }
        // Addresses beyond the bound: the first of each reason is recorded, the rest counted.
        assert_eq!(c.admit(ip(10), a, T), Admission::Record);
        for i in 11..200 {
            assert_eq!(c.admit(ip(i), a, T), Admission::Counted);
        }
        assert_eq!(c.admit(ip(10), b, T), Admission::Record);
        assert_eq!(c.admit(ip(11), b, T), Admission::Counted);
        // Addresses already in the table keep their own entries.
        assert_eq!(c.admit(ip(0), a, T), Admission::Counted);
        assert_eq!(c.len(), 3 + 2);
        let mut events: Vec<_> = c.drain().iter().map(repeated).collect();
        events.sort();
        assert_eq!(events, [(None, a, 189), (None, b, 1), (Some(ip(0)), a, 1)]);
        // A drained table takes addresses again.
        assert_eq!(c.admit(ip(50), a, T), Admission::Record);
        assert_eq!(c.admit(ip(51), a, T), Admission::Record);
    }

    #[test]
    fn drain_closes_everything_at_shutdown() {
        let mut c = RefusalCoalescer::default();
        let r = RefusalReason::BadRequest;
        counted_once(&mut c, ip(1), r);
        c.admit(ip(2), r, T);
        let events: Vec<_> = c.drain().iter().map(repeated).collect();
        assert_eq!(events, [(Some(ip(1)), r, 1)]);
        assert!(c.is_empty());
        assert!(c.drain().is_empty());
    }
}
