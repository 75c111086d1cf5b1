//! Lockout: failed logins counted per username (only with a card bound to it), per card and
//! per source address, with locks that double up to a bound. Pure, with the clock passed in;
//! [`Lockout::snapshot`] and [`Lockout::restore`] carry the state across a restart.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::config::LockoutPolicy;

/// Which key is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockScope {
    /// The username: only failures with a card bound to that user count here, so a stranger's
    /// card can never lock a user out.
    User,
    /// The card (its personal identifier), whatever usernames it tried.
    Card,
    /// The source address.
    Address,
}

/// Whether a login may go ahead, as far as lockout is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// Not locked.
    Open,
    /// Locked until `until` because of `scope` (the user's lock wins when both are).
    Locked {
        /// When the lock ends.
        until: Instant,
        /// What is locked.
        scope: LockScope,
    },
}

impl LockState {
    /// True when locked.
    pub fn is_locked(&self) -> bool {
        matches!(self, LockState::Locked { .. })
    }
}

/// Failures and locks of one key.
#[derive(Debug, Clone)]
struct Counter {
    /// Times of recent failures, oldest first, within the window.
    failures: VecDeque<Instant>,
    /// End of the current or last lock.
    locked_until: Option<Instant>,
    /// Locks so far in a row; the next lasts `lock_secs * 2^level`, up to `max_lock_secs`.
    level: u32,
    /// Last failure, for eviction.
    last_event: Instant,
}

impl Counter {
    fn new(now: Instant) -> Self {
        Counter {
            failures: VecDeque::new(),
            locked_until: None,
            level: 0,
            last_event: now,
        }
    }

    fn locked(&self, now: Instant) -> Option<Instant> {
        self.locked_until.filter(|until| now < *until)
    }

    /// Records a failure; returns the lock end if this key is now locked. Failures while
    /// locked are not counted (they neither extend the lock nor count towards the next).
    fn fail(&mut self, now: Instant, max_failures: u32, policy: &LockoutPolicy) -> Option<Instant> {
        if let Some(until) = self.locked(now) {
            return Some(until);
        }
        let window = Duration::from_secs(policy.window_secs);
        let max_lock = Duration::from_secs(policy.max_lock_secs);
        if let Some(until) = self.locked_until {
            // Quiet for as long as the longest lock after the last one ended: start over.
            if now.saturating_duration_since(until) >= max_lock {
                self.level = 0;
                self.locked_until = None;
            }
        }
        while self
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
        self.last_event = now;
        if self.failures.len() >= max_failures as usize {
            let factor = 1u64 << self.level.min(32);
            let secs = policy
                .lock_secs
                .saturating_mul(factor)
                .min(policy.max_lock_secs)
                .min(LONGEST_LOCK_SECS);
            let until = now + Duration::from_secs(secs);
            self.locked_until = Some(until);
            self.level = self.level.saturating_add(1);
            self.failures.clear();
            return Some(until);
        }
        None
    }

    /// Nothing left to remember: not locked, no failures in the window, level decayed.
    fn idle(&self, now: Instant, policy: &LockoutPolicy) -> bool {
        let window = Duration::from_secs(policy.window_secs);
        let max_lock = Duration::from_secs(policy.max_lock_secs);
        self.locked(now).is_none()
            && self
                .failures
                .back()
                .is_none_or(|t| now.saturating_duration_since(*t) >= window)
            && self
                .locked_until
                .is_none_or(|u| now.saturating_duration_since(u) >= max_lock)
    }
}

/// A hard cap on one lock whatever the policy says, so the clock arithmetic cannot overflow
/// (the configuration allows at most a week).
pub(crate) const LONGEST_LOCK_SECS: u64 = 365 * 86_400;

/// Most keys remembered at once (per kind); beyond it idle keys are dropped, then the oldest.
const MAX_TRACKED: usize = 100_000;

/// Longest username kept as a key; no configured username is longer.
const MAX_KEY_CHARS: usize = 64;

/// Lockout state for all usernames and source addresses: in memory, injected clock.
#[derive(Debug, Clone)]
pub struct Lockout {
    policy: LockoutPolicy,
    users: HashMap<String, Counter>,
    cards: HashMap<String, Counter>,
    addresses: HashMap<IpAddr, Counter>,
}

/// The first of the keys that is locked, in the order given (the more personal key wins).
pub(crate) fn first_lock(locks: &[(Option<Instant>, LockScope)]) -> LockState {
    locks
        .iter()
        .find_map(|(until, scope)| {
            until.map(|until| LockState::Locked {
                until,
                scope: *scope,
            })
        })
        .unwrap_or(LockState::Open)
}

fn user_key(username: &str) -> String {
    username
        .trim()
        .chars()
        .take(MAX_KEY_CHARS)
        .collect::<String>()
        .to_ascii_lowercase()
}

fn make_room<K: Clone + Eq + std::hash::Hash>(
    map: &mut HashMap<K, Counter>,
    now: Instant,
    policy: &LockoutPolicy,
) {
    if map.len() < MAX_TRACKED {
        return;
    }
    map.retain(|_, c| !c.idle(now, policy));
    while map.len() >= MAX_TRACKED {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, c)| c.last_event)
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        map.remove(&oldest);
    }
}

impl Lockout {
    /// No failures yet.
    pub fn new(policy: LockoutPolicy) -> Self {
        Lockout {
            policy,
            users: HashMap::new(),
            cards: HashMap::new(),
            addresses: HashMap::new(),
        }
    }

    /// Takes a new policy (configuration reload) and keeps the counts.
    pub fn set_policy(&mut self, policy: LockoutPolicy) {
        self.policy = policy;
    }

    /// Whether `username` or `source` is locked at `now`.
    pub fn state(&self, username: &str, source: IpAddr, now: Instant) -> LockState {
        if let Some(until) = self
            .users
            .get(&user_key(username))
            .and_then(|c| c.locked(now))
        {
            return LockState::Locked {
                until,
                scope: LockScope::User,
            };
        }
        if let Some(until) = self.addresses.get(&source).and_then(|c| c.locked(now)) {
            return LockState::Locked {
                until,
                scope: LockScope::Address,
            };
        }
        LockState::Open
    }

    /// Counts a failed login against the username and the address; returns the state after.
    pub fn record_failure(&mut self, username: &str, source: IpAddr, now: Instant) -> LockState {
        let policy = self.policy;
        make_room(&mut self.users, now, &policy);
        let user_lock = self
            .users
            .entry(user_key(username))
            .or_insert_with(|| Counter::new(now))
            .fail(now, policy.max_failures, &policy);
        let address_lock = self.count_address(source, now);
        first_lock(&[
            (user_lock, LockScope::User),
            (address_lock, LockScope::Address),
        ])
    }

    /// Whether `card` (a personal identifier, as the certificate carries it) is locked.
    pub fn card_state(&self, card: &str, now: Instant) -> LockState {
        let lock = self.cards.get(&user_key(card)).and_then(|c| c.locked(now));
        first_lock(&[(lock, LockScope::Card)])
    }

    /// Counts a failure of a card that is not bound to the username it tried (or tried a
    /// username that does not exist): against the card and the address, never the username,
    /// so that nobody locks another person out with their own card. A card, like an address,
    /// may fail `max_failures_per_address` times (it is one person trying many names).
    pub fn record_foreign_failure(
        &mut self,
        card: &str,
        source: IpAddr,
        now: Instant,
    ) -> LockState {
        let card_lock = self.count_card(card, now);
        let address_lock = self.count_address(source, now);
        first_lock(&[
            (card_lock, LockScope::Card),
            (address_lock, LockScope::Address),
        ])
    }

    /// Counts a failure against the card; the lock end if it is now locked.
    pub(crate) fn count_card(&mut self, card: &str, now: Instant) -> Option<Instant> {
        let policy = self.policy;
        make_room(&mut self.cards, now, &policy);
        self.cards
            .entry(user_key(card))
            .or_insert_with(|| Counter::new(now))
            .fail(now, policy.max_failures_per_address, &policy)
    }

    /// Counts a failure against the address; the lock end if it is now locked.
    fn count_address(&mut self, source: IpAddr, now: Instant) -> Option<Instant> {
        let policy = self.policy;
        make_room(&mut self.addresses, now, &policy);
        self.addresses
            .entry(source)
            .or_insert_with(|| Counter::new(now))
            .fail(now, policy.max_failures_per_address, &policy)
    }

    /// A successful login: the user's and the card's failures and lock history are
    /// forgotten. The address keeps its count (one good account must not wash an address
    /// clean).
    pub fn record_success(&mut self, username: &str, card: &str) {
        self.users.remove(&user_key(username));
        self.cards.remove(&user_key(card));
    }

    /// Keys remembered (usernames, addresses), for metrics and tests.
    pub fn tracked(&self) -> (usize, usize) {
        (self.users.len(), self.addresses.len())
    }

    /// Cards remembered, for metrics and tests.
    pub fn tracked_cards(&self) -> usize {
        self.cards.len()
    }
}

// ---------------------------------------------------------------------------------------------
// Across restarts

/// The lockout state as written to disk. Times are milliseconds before `written_at_ms`
/// (negative: after it, for locks still running), so the state means the same after a
/// restart whatever the new process's monotonic clock says; the time the gateway was down
/// counts as time passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutSnapshot {
    /// Wall-clock time of writing, Unix milliseconds.
    pub written_at_ms: i64,
    users: Vec<(String, CounterSnapshot)>,
    cards: Vec<(String, CounterSnapshot)>,
    addresses: Vec<(IpAddr, CounterSnapshot)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterSnapshot {
    failures_ms_ago: Vec<i64>,
    locked_until_ms_ago: Option<i64>,
    level: u32,
    last_event_ms_ago: i64,
}

fn ms_ago(now: Instant, t: Instant) -> i64 {
    match now.checked_duration_since(t) {
        Some(ago) => i64::try_from(ago.as_millis()).unwrap_or(i64::MAX),
        None => -i64::try_from(t.duration_since(now).as_millis()).unwrap_or(i64::MAX),
    }
}

/// The instant `ago` milliseconds before `now` (negative: after), if the clock can say it.
fn instant_of(now: Instant, ago: i64) -> Option<Instant> {
    let d = Duration::from_millis(ago.unsigned_abs());
    if ago >= 0 {
        now.checked_sub(d)
    } else {
        now.checked_add(d)
    }
}

impl Counter {
    fn snapshot(&self, now: Instant) -> CounterSnapshot {
        CounterSnapshot {
            failures_ms_ago: self.failures.iter().map(|t| ms_ago(now, *t)).collect(),
            locked_until_ms_ago: self.locked_until.map(|t| ms_ago(now, t)),
            level: self.level,
            last_event_ms_ago: ms_ago(now, self.last_event),
        }
    }

    fn restore(s: &CounterSnapshot, now: Instant, down_ms: i64) -> Option<Counter> {
        let at = |ago: i64| instant_of(now, ago.saturating_add(down_ms));
        let failures = s
            .failures_ms_ago
            .iter()
            .map(|a| at(*a))
            .collect::<Option<VecDeque<_>>>()?;
        let locked_until = match s.locked_until_ms_ago {
            Some(a) => Some(at(a)?),
            None => None,
        };
        Some(Counter {
            failures,
            locked_until,
            level: s.level,
            last_event: at(s.last_event_ms_ago)?,
        })
    }
}

fn snapshot_map<K: Clone + Ord>(
    map: &HashMap<K, Counter>,
    now: Instant,
    policy: &LockoutPolicy,
) -> Vec<(K, CounterSnapshot)> {
    let mut out: Vec<_> = map
        .iter()
        .filter(|(_, c)| !c.idle(now, policy))
        .map(|(k, c)| (k.clone(), c.snapshot(now)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn restore_map<K: Clone + Eq + std::hash::Hash>(
    entries: &[(K, CounterSnapshot)],
    now: Instant,
    down_ms: i64,
) -> HashMap<K, Counter> {
    entries
        .iter()
        .take(MAX_TRACKED)
        .filter_map(|(k, s)| Counter::restore(s, now, down_ms).map(|c| (k.clone(), c)))
        .collect()
}

impl Lockout {
    /// What is worth keeping (keys with failures, locks or lock history), as of `now`, the
    /// wall clock saying `wall_ms`.
    pub fn snapshot(&self, now: Instant, wall_ms: i64) -> LockoutSnapshot {
        LockoutSnapshot {
            written_at_ms: wall_ms,
            users: snapshot_map(&self.users, now, &self.policy),
            cards: snapshot_map(&self.cards, now, &self.policy),
            addresses: snapshot_map(&self.addresses, now, &self.policy),
        }
    }

    /// The state a snapshot kept, as of `now` with the wall clock at `wall_ms`: the time
    /// between writing and now has passed for every count and lock. Entries the clock cannot
    /// place are dropped.
    pub fn restore(
        policy: LockoutPolicy,
        snapshot: &LockoutSnapshot,
        now: Instant,
        wall_ms: i64,
    ) -> Lockout {
        let down_ms = wall_ms.saturating_sub(snapshot.written_at_ms).max(0);
        Lockout {
            policy,
            users: restore_map(&snapshot.users, now, down_ms),
            cards: restore_map(&snapshot.cards, now, down_ms),
            addresses: restore_map(&snapshot.addresses, now, down_ms),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared between gateways

/// One key's counts as another gateway reads them (a row of the shared lockout table): the
/// same form as a snapshot's entry, with its own time of writing. Gateways' wall clocks are
/// assumed to agree (NTP), as the audit chain's times already are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedCounter {
    written_at_ms: i64,
    counter: CounterSnapshot,
}

/// A key one login touches, named as the shared table names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockKey {
    /// A username, trimmed, shortened and in lower case.
    User(String),
    /// A card's personal identifier, likewise.
    Card(String),
    /// A source address.
    Address(IpAddr),
}

impl LockKey {
    /// The three keys of a login: its username, card and address.
    pub fn of_login(username: &str, card: &str, source: IpAddr) -> [LockKey; 3] {
        [
            LockKey::User(user_key(username)),
            LockKey::Card(user_key(card)),
            LockKey::Address(source),
        ]
    }

    /// The scope and the key as text, for a table's two key columns.
    pub fn columns(&self) -> (&'static str, String) {
        match self {
            LockKey::User(k) => ("user", k.clone()),
            LockKey::Card(k) => ("card", k.clone()),
            LockKey::Address(a) => ("address", a.to_string()),
        }
    }
}

impl Lockout {
    fn counter(&self, key: &LockKey) -> Option<&Counter> {
        match key {
            LockKey::User(k) => self.users.get(k),
            LockKey::Card(k) => self.cards.get(k),
            LockKey::Address(a) => self.addresses.get(a),
        }
    }

    /// The key's counts for the other gateways; `None` when there is nothing to remember.
    pub fn share(&self, key: &LockKey, now: Instant, wall_ms: i64) -> Option<SharedCounter> {
        self.counter(key)
            .filter(|c| !c.idle(now, &self.policy))
            .map(|c| SharedCounter {
                written_at_ms: wall_ms,
                counter: c.snapshot(now),
            })
    }

    /// Takes the key's counts as the gateways share them (`None`: nothing is remembered),
    /// replacing this gateway's own. The time since they were written has passed.
    pub fn adopt(
        &mut self,
        key: &LockKey,
        shared: Option<&SharedCounter>,
        now: Instant,
        wall_ms: i64,
    ) {
        let counter = shared.and_then(|s| {
            let since = wall_ms.saturating_sub(s.written_at_ms).max(0);
            Counter::restore(&s.counter, now, since)
        });
        fn put<K: Eq + std::hash::Hash>(map: &mut HashMap<K, Counter>, k: K, c: Option<Counter>) {
            match c {
                Some(c) => {
                    map.insert(k, c);
                }
                None => {
                    map.remove(&k);
                }
            }
        }
        match key.clone() {
            LockKey::User(k) => put(&mut self.users, k, counter),
            LockKey::Card(k) => put(&mut self.cards, k, counter),
            LockKey::Address(a) => put(&mut self.addresses, a, counter),
        }
    }
}

/// The small policy the unit tests use: 3 failures per user, 5 per card or address, one
/// minute windows and locks, at most four minutes.
#[cfg(test)]
pub(crate) fn test_policy() -> LockoutPolicy {
    LockoutPolicy {
        max_failures: 3,
        max_failures_per_address: 5,
        window_secs: 60,
        lock_secs: 60,
        max_lock_secs: 240,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99));

    fn policy() -> LockoutPolicy {
        test_policy()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn memory_is_bounded() {
        let t0 = Instant::now();
        let mut l = Lockout::new(LockoutPolicy {
            max_failures_per_address: 10_000,
            ..policy()
        });
        for i in 0..(MAX_TRACKED + 10) {
            l.record_failure(&format!("u{i}"), HOME, t0 + Duration::from_millis(i as u64));
        }
        assert!(l.tracked().0 <= MAX_TRACKED);
        // Over-long usernames are keyed by their first characters only.
        let long = "x".repeat(10_000);
        l.record_failure(&long, OTHER, t0);
        assert!(l.users.keys().all(|k| k.chars().count() <= MAX_KEY_CHARS));
    }

    #[test]
    fn a_lock_and_counts_survive_a_restart_and_the_downtime_counts() {
        let t0 = Instant::now() + secs(1000);
        let mut l = Lockout::new(policy());
        for s in 0..3 {
            l.record_failure("kari", HOME, t0 + secs(s));
        }
        l.record_foreign_failure("UN:NO-9578-4050-1", OTHER, t0 + secs(3));
        assert!(l.state("kari", HOME, t0 + secs(3)).is_locked());
        let wall = 1_800_000_000_000;
        let written = l.snapshot(t0 + secs(3), wall);
        let text = serde_json::to_string(&written).unwrap();
        let read: LockoutSnapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(read, written);

        // Ten seconds later, in a new process: still locked, with ten seconds less to go.
        let t1 = Instant::now() + secs(5000);
        let back = Lockout::restore(policy(), &read, t1, wall + 10_000);
        match back.state("kari", HOME, t1) {
            LockState::Locked { until, scope } => {
                assert_eq!(scope, LockScope::User);
                let left = until.duration_since(t1);
                assert!(left <= secs(50) && left > secs(48), "{left:?}");
            }
            LockState::Open => panic!("the lock was forgotten"),
        }
        assert_eq!(back.tracked_cards(), 1);
        // Down for longer than the lock: open again, and the doubling remembered.
        let later = Lockout::restore(policy(), &read, t1, wall + 61_000);
        assert_eq!(later.state("kari", HOME, t1), LockState::Open);
        let mut later = later;
        for s in 0..2 {
            later.record_failure("kari", HOME, t1 + secs(s));
        }
        match later.record_failure("kari", HOME, t1 + secs(2)) {
            LockState::Locked { until, .. } => assert_eq!(until, t1 + secs(2) + secs(120)),
            LockState::Open => panic!("not locked again"),
        }
    }

    #[test]
    fn idle_keys_are_not_written_and_unknown_fields_are_refused() {
        let t0 = Instant::now();
        let mut l = Lockout::new(policy());
        l.record_failure("ola", HOME, t0);
        let quiet = l.snapshot(t0 + secs(61), 0);
        assert!(
            quiet.users.is_empty() && quiet.addresses.is_empty(),
            "{quiet:?}"
        );
        let bad = r#"{"written_at_ms":0,"users":[],"cards":[],"addresses":[],"extra":1}"#;
        assert!(serde_json::from_str::<LockoutSnapshot>(bad).is_err());
    }

    #[test]
    fn counts_shared_key_by_key_lock_the_user_on_the_other_gateway() {
        // Two gateways with their own monotonic clocks; the wall clock agrees.
        let (a0, b0) = (Instant::now(), Instant::now() + secs(1_000));
        let wall = 1_700_000_000_000i64;
        let (mut a, mut b) = (Lockout::new(policy()), Lockout::new(policy()));
        let keys = LockKey::of_login(" Kari ", "UN:NO-1", HOME);
        assert_eq!(keys[0], LockKey::User("kari".into()));
        let mut table: HashMap<LockKey, SharedCounter> = HashMap::new();
        // Each failure: read the keys, count, write them back, alternating gateways.
        for i in 0..3u64 {
            let (l, t) = if i % 2 == 0 {
                (&mut a, a0)
            } else {
                (&mut b, b0)
            };
            let (t, w) = (t + secs(i), wall + 1_000 * i as i64);
            for k in &keys {
                l.adopt(k, table.get(k), t, w);
            }
            l.record_failure("kari", HOME, t);
            for k in &keys {
                match l.share(k, t, w) {
                    Some(c) => table.insert(k.clone(), c),
                    None => table.remove(k),
                };
            }
        }
        // Neither saw three failures itself; gateway B, reading the table, finds the lock.
        for k in &keys {
            b.adopt(k, table.get(k), b0 + secs(5), wall + 5_000);
        }
        match b.state("KARI", HOME, b0 + secs(5)) {
            LockState::Locked { until, scope } => {
                assert_eq!(scope, LockScope::User);
                assert_eq!(until, b0 + secs(2) + secs(60));
            }
            LockState::Open => panic!("the shared failures did not lock"),
        }
        // An absent row forgets the key; a row written a lock ago has run out.
        b.adopt(&keys[0], None, b0 + secs(5), wall + 5_000);
        assert_eq!(b.tracked().0, 0);
        let row = table.get(&keys[0]).cloned();
        b.adopt(&keys[0], row.as_ref(), b0 + secs(5), wall + 70_000);
        assert_eq!(b.state("kari", OTHER, b0 + secs(5)), LockState::Open);
        let text = serde_json::to_string(&row).unwrap();
        assert_eq!(
            serde_json::from_str::<Option<SharedCounter>>(&text).unwrap(),
            row
        );
    }
}
