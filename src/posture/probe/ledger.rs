//! Since when updates have waited, for update tools that say what is pending but not since
//! when (apt among them): the client remembers when it first saw each pending update, in a
//! small file of its own. It only ever makes the wait look shorter than it was on the first
//! run; after that it is exact to the probe's interval.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The file of first sightings.
pub struct Ledger {
    path: PathBuf,
}

impl Ledger {
    /// Kept in `path` (created when first needed).
    pub fn new(path: PathBuf) -> Ledger {
        Ledger { path }
    }

    /// Records `pending` as seen at `now` where new, forgets what is no longer pending, and
    /// gives the oldest first sighting. A file that cannot be read starts afresh; one that
    /// cannot be written still gives the answer.
    pub fn first_seen(&self, pending: &[String], now: i64) -> Option<i64> {
        let old: BTreeMap<String, i64> = std::fs::read(&self.path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        let seen = remember(&old, pending, now);
        if seen != old {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Ok(bytes) = serde_json::to_vec(&seen) {
                let _ = std::fs::write(&self.path, bytes);
            }
        }
        seen.values().min().copied()
    }
}

/// The new sightings: what is pending now, with its first sighting kept.
fn remember(old: &BTreeMap<String, i64>, pending: &[String], now: i64) -> BTreeMap<String, i64> {
    pending
        .iter()
        .map(|id| (id.clone(), old.get(id).copied().unwrap_or(now).min(now)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_first_sightings_and_forgets_what_was_installed() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path().join("state/pending-updates.json"));
        let ids = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(ledger.first_seen(&ids(&["openssl 3.0.15"]), 100), Some(100));
        assert_eq!(
            ledger.first_seen(&ids(&["openssl 3.0.15", "curl 7.88"]), 200),
            Some(100)
        );
        // openssl installed: only curl waits, since 200.
        assert_eq!(ledger.first_seen(&ids(&["curl 7.88"]), 300), Some(200));
        assert_eq!(ledger.first_seen(&[], 400), None);
        // A broken file starts afresh.
        std::fs::write(dir.path().join("state/pending-updates.json"), b"{oops").unwrap();
        assert_eq!(ledger.first_seen(&ids(&["curl 7.88"]), 500), Some(500));
    }
}
