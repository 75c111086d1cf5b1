//! The gateway's door: connections that have not logged in yet live in a budget of their
//! own, bounded in total and per source, so that nobody without a login can hold what a
//! logged-in session needs.
//!
//! When a budget is full, a newcomer must show that it is a client: the server waits a moment
//! for its TLS ClientHello (a real client sends one at once). A newcomer that shows one takes
//! the place of a waiting connection that has not shown one within a short grace (a silent or
//! slow connection), or of one whose handshake has stalled for longer; first from its own
//! source, else from a source holding more than its own, else any silent one. A newcomer that
//! shows nothing is told "busy". So a flood of silent or slow connections, held or renewed,
//! from any address including the user's own, never keeps a real client out; a connection that
//! finished its TLS handshake holds a trusted card and gives way only to other card holders;
//! one that is checking its password never gives way.
//!
//! Pure bookkeeping with the clock passed in; the server does the I/O.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// How far a waiting connection has come. Ordered: the lowest gives way first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// TCP accepted; no complete TLS ClientHello yet.
    Accepted,
    /// A ClientHello arrived; the handshake (the card's signature) is under way.
    Hello,
    /// The handshake finished with a trusted card; the login message is awaited.
    Handshaken,
    /// The password is being checked. Never displaced.
    Checking,
}

/// How long a connection that has not shown its ClientHello is safe from being displaced: a
/// real client's arrives with its first packet, and the server reads it within this.
pub const SILENT_GRACE: Duration = Duration::from_millis(250);

/// How long a connection whose handshake is under way is safe from being displaced: its card
/// signs within a second or so.
pub const GRACE: Duration = Duration::from_secs(2);

/// How long a newcomer at a full door is given to show its ClientHello: a real client sends
/// it right behind the packet that completes the TCP handshake, whatever the round trip.
pub const HELLO_WAIT: Duration = Duration::from_millis(300);

impl Stage {
    /// How long a connection at this stage is safe from being displaced.
    fn grace(self) -> Duration {
        match self {
            Stage::Accepted => SILENT_GRACE,
            _ => GRACE,
        }
    }
}

/// Why a newcomer was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Its source already holds as many waiting connections as it may, and none can give way.
    Source,
    /// The gateway holds as many waiting connections as it may, and none can give way.
    Total,
}

/// The budget's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Waiting connections over all sources.
    pub total: usize,
    /// Waiting connections from one source.
    pub per_source: usize,
}

/// One source, as far as the budget is concerned: an IPv4 address, or an IPv6 /64 (one
/// subscriber usually holds a whole /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceKey([u8; 8], bool);

impl SourceKey {
    /// The key of `ip`; an IPv4-mapped IPv6 address counts as its IPv4 address.
    pub fn of(ip: IpAddr) -> SourceKey {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(v4) => {
                let mut key = [0u8; 8];
                key[..4].copy_from_slice(&v4.octets());
                SourceKey(key, false)
            }
            IpAddr::V6(v6) => {
                let mut key = [0u8; 8];
                key.copy_from_slice(&v6.octets()[..8]);
                SourceKey(key, true)
            }
        }
    }
}

struct Waiting {
    id: u64,
    stage: Stage,
    since: Instant,
    displaced: CancellationToken,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    total: usize,
    by_source: HashMap<SourceKey, Vec<Waiting>>,
}

impl Table {
    /// The connection of `source` that gives way first, if any may: past its grace, not
    /// checking a password, the least advanced, then the oldest.
    fn weakest(&self, source: SourceKey, now: Instant) -> Option<(SourceKey, u64)> {
        self.by_source
            .get(&source)?
            .iter()
            .filter(|w| w.stage < Stage::Checking && now.duration_since(w.since) >= w.stage.grace())
            .min_by_key(|w| (w.stage, w.since))
            .map(|w| (source, w.id))
    }

    /// When the whole budget is full: a connection from the source holding the most, if it
    /// holds more than the newcomer's source would; else a silent one anywhere, the oldest.
    fn weakest_anywhere(&self, newcomer: SourceKey, now: Instant) -> Option<(SourceKey, u64)> {
        let own = self.by_source.get(&newcomer).map_or(0, Vec::len);
        let crowded = self
            .by_source
            .iter()
            .filter(|(_, list)| list.len() > own + 1)
            .max_by_key(|(_, list)| list.len())
            .and_then(|(key, _)| self.weakest(*key, now));
        crowded.or_else(|| {
            self.by_source
                .iter()
                .flat_map(|(key, list)| list.iter().map(move |w| (key, w)))
                .filter(|(_, w)| {
                    w.stage == Stage::Accepted && now.duration_since(w.since) >= SILENT_GRACE
                })
                .min_by_key(|(_, w)| w.since)
                .map(|(key, w)| (*key, w.id))
        })
    }

    fn remove(&mut self, source: SourceKey, id: u64) -> Option<Waiting> {
        let list = self.by_source.get_mut(&source)?;
        let at = list.iter().position(|w| w.id == id)?;
        let gone = list.swap_remove(at);
        if list.is_empty() {
            self.by_source.remove(&source);
        }
        self.total -= 1;
        Some(gone)
    }

    fn displace(&mut self, (source, id): (SourceKey, u64)) {
        if let Some(gone) = self.remove(source, id) {
            gone.displaced.cancel();
        }
    }
}

/// The budget of connections that have not logged in. Cheap to share.
#[derive(Clone)]
pub struct Admission {
    limits: AdmissionLimits,
    table: Arc<Mutex<Table>>,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("limits", &self.limits)
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl Admission {
    /// An empty budget with these bounds (each at least 1).
    pub fn new(limits: AdmissionLimits) -> Admission {
        Admission {
            limits: AdmissionLimits {
                total: limits.total.max(1),
                per_source: limits.per_source.max(1),
            },
            table: Arc::default(),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connections waiting now.
    pub fn waiting(&self) -> usize {
        self.table().total
    }

    /// Lets a new connection from `source` in if there is room; at a full door the server
    /// waits for its ClientHello and asks again with [`Admission::admit_with_hello`].
    pub fn admit(&self, source: IpAddr, now: Instant) -> Result<Pending, Busy> {
        let key = SourceKey::of(source);
        let mut table = self.table();
        if table.by_source.get(&key).map_or(0, Vec::len) >= self.limits.per_source {
            return Err(Busy::Source);
        }
        if table.total >= self.limits.total {
            return Err(Busy::Total);
        }
        Ok(self.enter(&mut table, key, Stage::Accepted, now))
    }

    /// Lets in a newcomer that has shown its ClientHello, displacing a weaker connection if
    /// the door is full, or says why it cannot.
    pub fn admit_with_hello(&self, source: IpAddr, now: Instant) -> Result<Pending, Busy> {
        let key = SourceKey::of(source);
        let mut table = self.table();
        if table.by_source.get(&key).map_or(0, Vec::len) >= self.limits.per_source {
            let victim = table.weakest(key, now).ok_or(Busy::Source)?;
            table.displace(victim);
        }
        if table.total >= self.limits.total {
            let victim = table.weakest_anywhere(key, now).ok_or(Busy::Total)?;
            table.displace(victim);
        }
        Ok(self.enter(&mut table, key, Stage::Hello, now))
    }

    fn enter(&self, table: &mut Table, key: SourceKey, stage: Stage, now: Instant) -> Pending {
        table.next_id += 1;
        let id = table.next_id;
        let displaced = CancellationToken::new();
        table.by_source.entry(key).or_default().push(Waiting {
            id,
            stage,
            since: now,
            displaced: displaced.clone(),
        });
        table.total += 1;
        Pending {
            admission: self.clone(),
            source: key,
            id,
            displaced,
        }
    }
}

/// One waiting connection's place in the budget; dropping it (login done or failed) frees
/// the place.
pub struct Pending {
    admission: Admission,
    source: SourceKey,
    id: u64,
    displaced: CancellationToken,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("id", &self.id).finish()
    }
}

impl Pending {
    /// Records progress, which protects the connection from being displaced by less advanced
    /// ones.
    pub fn advance(&self, stage: Stage) {
        let mut table = self.admission.table();
        if let Some(w) = table
            .by_source
            .get_mut(&self.source)
            .and_then(|list| list.iter_mut().find(|w| w.id == self.id))
        {
            w.stage = w.stage.max(stage);
        }
    }

    /// Fires when a newcomer displaced this connection; the server then drops it.
    pub fn displaced(&self) -> CancellationToken {
        self.displaced.clone()
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.admission.table().remove(self.source, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn budget(total: usize, per_source: usize) -> Admission {
        Admission::new(AdmissionLimits { total, per_source })
    }

    #[test]
    fn places_are_freed_when_dropped() {
        let a = budget(4, 4);
        let t = Instant::now();
        let p = a.admit(ip(1), t).unwrap();
        assert_eq!(a.waiting(), 1);
        drop(p);
        assert_eq!(a.waiting(), 0);
    }

    #[test]
    fn a_full_door_says_busy_to_a_newcomer_that_shows_nothing() {
        let a = budget(3, 2);
        let t = Instant::now();
        let _held: Vec<_> = (0..2).map(|_| a.admit(ip(1), t).unwrap()).collect();
        assert_eq!(a.admit(ip(1), t + GRACE).unwrap_err(), Busy::Source);
        let _other = a.admit(ip(2), t).unwrap();
        assert_eq!(a.admit(ip(3), t + GRACE).unwrap_err(), Busy::Total);
        assert_eq!(a.waiting(), 3);
    }

    #[test]
    fn a_hello_displaces_a_silent_one_of_its_own_source_once_its_grace_is_over() {
        let a = budget(100, 3);
        let t = Instant::now();
        let ms = Duration::from_millis;
        let first = a.admit(ip(1), t).unwrap();
        let second = a.admit(ip(1), t + ms(1)).unwrap();
        let third = a.admit(ip(1), t + ms(2)).unwrap();
        first.advance(Stage::Handshaken);
        // Just accepted, the others may still be about to show their ClientHello.
        assert_eq!(
            a.admit_with_hello(ip(1), t + ms(3)).unwrap_err(),
            Busy::Source
        );
        let _fourth = a.admit_with_hello(ip(1), t + SILENT_GRACE + ms(1)).unwrap();
        assert!(
            second.displaced().is_cancelled(),
            "the oldest silent one goes"
        );
        assert!(!first.displaced().is_cancelled(), "a handshaken one stays");
        assert!(!third.displaced().is_cancelled());
        assert_eq!(a.waiting(), 3);
        // Dropping a displaced place does not free anybody else's.
        drop(second);
        assert_eq!(a.waiting(), 3);
    }

    #[test]
    fn a_handshake_under_way_gives_way_only_after_its_longer_grace() {
        let a = budget(100, 2);
        let t = Instant::now();
        let one = a.admit_with_hello(ip(1), t).unwrap();
        let _two = a.admit_with_hello(ip(1), t).unwrap();
        assert_eq!(
            a.admit_with_hello(ip(1), t + SILENT_GRACE).unwrap_err(),
            Busy::Source
        );
        assert!(!one.displaced().is_cancelled());
        let _three = a.admit_with_hello(ip(1), t + GRACE).unwrap();
        assert_eq!(
            [
                one.displaced().is_cancelled(),
                _two.displaced().is_cancelled()
            ]
            .iter()
            .filter(|d| **d)
            .count(),
            1
        );
    }

    #[test]
    fn connections_checking_a_password_are_never_displaced() {
        let a = budget(100, 2);
        let t = Instant::now();
        let one = a.admit(ip(1), t).unwrap();
        let two = a.admit(ip(1), t).unwrap();
        one.advance(Stage::Checking);
        two.advance(Stage::Checking);
        let later = t + GRACE * 10;
        assert_eq!(a.admit_with_hello(ip(1), later).unwrap_err(), Busy::Source);
        assert!(!one.displaced().is_cancelled() && !two.displaced().is_cancelled());
    }

    #[test]
    fn a_silent_flood_from_the_users_own_address_never_keeps_the_user_out() {
        let a = budget(100, 8);
        let t = Instant::now();
        let mut flood: Vec<_> = (0..8).map(|_| a.admit(ip(1), t).unwrap()).collect();
        // The flood renews itself; its newcomers show nothing and are turned away.
        for i in 0..1_000u32 {
            let at = t + Duration::from_micros(u64::from(i));
            assert_eq!(a.admit(ip(1), at).unwrap_err(), Busy::Source);
        }
        // The user shows a ClientHello and takes a silent one's place.
        let user = a
            .admit_with_hello(ip(1), t + SILENT_GRACE)
            .expect("a client in");
        assert_eq!(
            flood
                .iter()
                .filter(|p| p.displaced().is_cancelled())
                .count(),
            1
        );
        // Flood newcomers that also send a ClientHello displace silent ones, not the user.
        for i in 0..7u32 {
            let at = t + SILENT_GRACE + Duration::from_millis(u64::from(i));
            flood.push(a.admit_with_hello(ip(1), at).unwrap());
        }
        assert_eq!(
            a.admit_with_hello(ip(1), t + SILENT_GRACE + Duration::from_millis(10))
                .unwrap_err(),
            Busy::Source,
            "only handshakes under way are left, all within their grace"
        );
        assert!(!user.displaced().is_cancelled());
    }

    #[test]
    fn one_source_cannot_keep_another_out() {
        let a = budget(10, 10);
        let t = Instant::now();
        let flood: Vec<_> = (0..10).map(|_| a.admit(ip(1), t).unwrap()).collect();
        assert_eq!(a.admit(ip(2), t).unwrap_err(), Busy::Total);
        let user = a
            .admit_with_hello(ip(2), t + SILENT_GRACE)
            .expect("the crowded source gives way");
        assert_eq!(
            flood
                .iter()
                .filter(|p| p.displaced().is_cancelled())
                .count(),
            1
        );
        // The flood's next connections are turned away or displace their own, never the user.
        let mut more = Vec::new();
        for i in 0..20u32 {
            let at = t + SILENT_GRACE + Duration::from_millis(u64::from(i));
            match a.admit_with_hello(ip(1), at) {
                Ok(p) => more.push(p),
                Err(busy) => assert_eq!(busy, Busy::Total),
            }
        }
        assert!(!user.displaced().is_cancelled());
        assert_eq!(a.waiting(), 10);
    }

    #[test]
    fn many_sources_give_way_only_when_silent() {
        let a = budget(3, 3);
        let t = Instant::now();
        let silent: Vec<_> = (1..=3).map(|i| a.admit(ip(i), t).unwrap()).collect();
        let later = t + SILENT_GRACE;
        let _newcomer = a.admit_with_hello(ip(9), later).unwrap();
        assert_eq!(
            silent
                .iter()
                .filter(|p| p.displaced().is_cancelled())
                .count(),
            1
        );
        // Ones that sent a ClientHello are not displaced by a stranger from elsewhere.
        let b = budget(2, 2);
        let _x = b.admit_with_hello(ip(1), t).unwrap();
        let _y = b.admit_with_hello(ip(2), t).unwrap();
        assert_eq!(
            b.admit_with_hello(ip(3), t + GRACE).unwrap_err(),
            Busy::Total
        );
    }

    #[test]
    fn ipv6_counts_per_slash_64_and_mapped_v4_as_v4() {
        let a = budget(100, 1);
        let t = Instant::now();
        let v6 = |last: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, last));
        let first = a.admit(v6(1), t).unwrap();
        let _second = a.admit_with_hello(v6(2), t + GRACE).unwrap();
        assert!(first.displaced().is_cancelled(), "same /64, same source");
        let v4 = a.admit(ip(7), t).unwrap();
        let _mapped = a
            .admit_with_hello(
                IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped()),
                t + GRACE,
            )
            .unwrap();
        assert!(v4.displaced().is_cancelled());
    }
}
