//! The probes: what the home computer says about itself, found without admin rights.
//!
//! Each platform module (`linux`, `windows`, `macos`) gives one function per fact
//! ([`Probes`]); each function reads files, runs programs or asks the system through a
//! [`Host`], and hands the text to pure parsers that are tested on fixtures of real output.
//! [`collect`] runs every probe at once in its own thread, each bounded in time: a probe that
//! fails, panics or hangs gives an unknown fact with the reason, never a failed report.

#[cfg(test)]
pub(crate) mod fake;
mod host;
mod ledger;
pub mod linux;
pub mod macos;
pub mod windows;

pub use host::{CommandOutput, Host, LocalHost};
pub use ledger::Ledger;

use super::report::{
    Antivirus, Fact, Firewall, OsFacts, Report, ScreenLock, Updates, REPORT_VERSION,
};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How long one probe may take before its fact is given as unknown. Long enough for a slow
/// update check on a busy laptop; short enough that the login does not wait on a hung tool.
pub const DEFAULT_PROBE_BOUND: Duration = Duration::from_secs(15);

/// One platform's probes, one function per fact.
#[derive(Clone, Copy)]
pub struct Probes {
    /// The operating system.
    pub os: fn(&dyn Host) -> Fact<OsFacts>,
    /// Firewalls and whether they filter.
    pub firewall: fn(&dyn Host) -> Fact<Vec<Firewall>>,
    /// Antivirus products.
    pub antivirus: fn(&dyn Host) -> Fact<Vec<Antivirus>>,
    /// Pending and past updates.
    pub updates: fn(&dyn Host) -> Fact<Updates>,
    /// Whether the system volume is encrypted.
    pub disk_encryption: fn(&dyn Host) -> Fact<bool>,
    /// The screen lock.
    pub screen_lock: fn(&dyn Host) -> Fact<ScreenLock>,
}

/// The probes of the platform this program was built for.
pub fn this_platform() -> Probes {
    if cfg!(windows) {
        windows::probes()
    } else if cfg!(target_os = "macos") {
        macos::probes()
    } else {
        linux::probes()
    }
}

/// One probe, ready to run in its thread.
type Job = Box<dyn FnOnce(&dyn Host) -> Found + Send>;

/// A fact from one probe thread.
enum Found {
    Os(Fact<OsFacts>),
    Firewall(Fact<Vec<Firewall>>),
    Antivirus(Fact<Vec<Antivirus>>),
    Updates(Fact<Updates>),
    DiskEncryption(Fact<bool>),
    ScreenLock(Fact<ScreenLock>),
}

/// Runs every probe in parallel, each in its own thread, and gives the report once all have
/// answered or `bound` has passed; a probe still running then is left behind (its programs
/// are killed by their own time bound) and its fact is unknown.
pub fn collect(host: Arc<dyn Host>, probes: Probes, bound: Duration) -> Report {
    let started = Instant::now();
    let mut report = Report::unknown(host.now(), "not probed");
    let (tx, rx) = mpsc::channel();
    let jobs: [(&'static str, Job); 6] = [
        ("os", Box::new(move |h| Found::Os((probes.os)(h)))),
        (
            "firewall",
            Box::new(move |h| Found::Firewall((probes.firewall)(h))),
        ),
        (
            "antivirus",
            Box::new(move |h| Found::Antivirus((probes.antivirus)(h))),
        ),
        (
            "updates",
            Box::new(move |h| Found::Updates((probes.updates)(h))),
        ),
        (
            "disk-encryption",
            Box::new(move |h| Found::DiskEncryption((probes.disk_encryption)(h))),
        ),
        (
            "screen-lock",
            Box::new(move |h| Found::ScreenLock((probes.screen_lock)(h))),
        ),
    ];
    let mut waiting: Vec<&'static str> = Vec::new();
    for (name, job) in jobs {
        let (tx, host) = (tx.clone(), Arc::clone(&host));
        let spawned = std::thread::Builder::new()
            .name(format!("posture-{name}"))
            .spawn(move || {
                let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&*host)));
                let _ = tx.send((name, found.ok()));
            });
        match spawned {
            Ok(_) => waiting.push(name),
            Err(e) => set_unknown(
                &mut report,
                name,
                &format!("the probe could not start: {e}"),
            ),
        }
    }
    drop(tx);
    while !waiting.is_empty() {
        let left = bound.saturating_sub(started.elapsed());
        let Ok((name, found)) = rx.recv_timeout(left) else {
            break;
        };
        waiting.retain(|w| *w != name);
        match found {
            Some(found) => fill(&mut report, found),
            None => set_unknown(&mut report, name, "the probe failed unexpectedly"),
        }
    }
    for name in waiting {
        let reason = format!("the probe did not finish within {} s", bound.as_secs());
        set_unknown(&mut report, name, &reason);
    }
    report.version = REPORT_VERSION;
    report
}

fn fill(report: &mut Report, found: Found) {
    match found {
        Found::Os(f) => report.os = f,
        Found::Firewall(f) => report.firewall = f,
        Found::Antivirus(f) => report.antivirus = f,
        Found::Updates(f) => report.updates = f,
        Found::DiskEncryption(f) => report.disk_encryption = f,
        Found::ScreenLock(f) => report.screen_lock = f,
    }
}

fn set_unknown(report: &mut Report, name: &str, reason: &str) {
    match name {
        "os" => report.os = Fact::unknown(reason),
        "firewall" => report.firewall = Fact::unknown(reason),
        "antivirus" => report.antivirus = Fact::unknown(reason),
        "updates" => report.updates = Fact::unknown(reason),
        "disk-encryption" => report.disk_encryption = Fact::unknown(reason),
        _ => report.screen_lock = Fact::unknown(reason),
    }
}

#[cfg(test)]
mod tests;
