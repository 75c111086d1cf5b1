//! The lockout state on disk, so a restart does not forget who is locked: next to the audit
//! log as `<audit log>.lockout`, read at start, written owner-only and atomically (a new file
//! renamed over the old) at most every two seconds while logins fail, and at shutdown. A crash
//! loses at most those two seconds of counts; a damaged file is reported and ignored (lockout
//! starts empty, as before this file existed).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::lockout::LockoutSnapshot;

/// Least time between two writes while logins fail.
const EVERY: Duration = Duration::from_secs(2);

/// Where the lockout state of an audit log's gateway lives.
pub fn path_for(audit_log: &Path) -> PathBuf {
    let mut name = audit_log.as_os_str().to_owned();
    name.push(".lockout");
    PathBuf::from(name)
}

/// Reads the state; `Ok(None)` when there is none yet.
pub fn load(path: &Path) -> Result<Option<LockoutSnapshot>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes the state: a new owner-only file, synced, then renamed over the old one.
pub fn save(path: &Path, snapshot: &LockoutSnapshot) -> std::io::Result<()> {
    let text = serde_json::to_vec(snapshot).map_err(std::io::Error::other)?;
    let mut fresh = path.as_os_str().to_owned();
    fresh.push(".new");
    let fresh = PathBuf::from(fresh);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&fresh)?;
    file.write_all(&text)?;
    file.sync_all()?;
    std::fs::rename(&fresh, path)
}

/// The file and when it was last written.
#[derive(Debug)]
pub struct LockoutFile {
    path: PathBuf,
    last: Mutex<Option<Instant>>,
}

impl LockoutFile {
    /// The state file for `path`.
    pub fn new(path: PathBuf) -> Self {
        LockoutFile {
            path,
            last: Mutex::new(None),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a write is due at `now` (and if so, takes the turn).
    pub fn due(&self, now: Instant) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| now.saturating_duration_since(t) < EVERY) {
            return false;
        }
        *last = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::config::LockoutPolicy;
    use crate::gateway::lockout::Lockout;

    #[test]
    fn written_state_reads_back_and_writes_are_spaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("audit.jsonl"));
        assert!(path.ends_with("audit.jsonl.lockout"));
        assert_eq!(load(&path).unwrap(), None);
        let now = Instant::now();
        let mut l = Lockout::new(LockoutPolicy::default());
        l.record_failure("kari", "192.0.2.1".parse().unwrap(), now);
        let snapshot = l.snapshot(now, 1_000);
        save(&path, &snapshot).unwrap();
        assert_eq!(load(&path).unwrap(), Some(snapshot));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        std::fs::write(&path, b"{not json").unwrap();
        assert!(load(&path).is_err());

        let file = LockoutFile::new(path);
        assert!(file.due(now));
        assert!(!file.due(now + Duration::from_secs(1)));
        assert!(file.due(now + Duration::from_secs(3)));
    }
}
