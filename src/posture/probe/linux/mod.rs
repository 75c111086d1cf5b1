//! The Linux probes: one module per fact, each a thin layer of glue over the [`Host`] and pure
//! parsers of what the tools print, tested on fixtures of real output
//! (`tests/fixtures/posture/linux/`). None needs admin rights; run as root, the firewall probe
//! sees the netfilter rules themselves. What each reads and the rules they apply are in
//! `docs/posture-probes.md` (Linux).

mod antivirus;
mod disk_encryption;
mod firewall;
mod os;
mod screen_lock;
mod updates;

use super::{CommandOutput, Host, Probes};

/// The Linux probes, one per fact.
pub fn probes() -> Probes {
    Probes {
        os: os::probe,
        firewall: firewall::probe,
        antivirus: antivirus::probe,
        updates: updates::probe,
        disk_encryption: disk_encryption::probe,
        screen_lock: screen_lock::probe,
    }
}

/// Where system tools live. A desktop user's `PATH` often lacks the `sbin` directories, where
/// `nft`, `iptables-save` and `ufw` are, so those are tried first, by full path.
const SYSTEM_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// Runs a system tool from the system directories, or else from `PATH`. Errors name the tool,
/// not the path ("nft is not installed").
fn run_tool(host: &dyn Host, program: &str, args: &[&str]) -> Result<CommandOutput, String> {
    for dir in SYSTEM_DIRS {
        let path = format!("{dir}/{program}");
        if host.exists(&path) {
            return host.run(&path, args).map_err(|e| e.replace(&path, program));
        }
    }
    host.run(program, args)
}

/// Whether a tool failed for want of admin rights (its own words for it).
fn denied(output: &CommandOutput) -> bool {
    let text = format!("{}\n{}", output.stderr, output.stdout).to_ascii_lowercase();
    [
        "permission denied",
        "operation not permitted",
        "must be root",
        "need to be root",
        "root privileges",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// Why a tool failed, in one line: its first line of complaint, or its exit status.
fn failure(program: &str, output: &CommandOutput) -> String {
    let said = output
        .stderr
        .lines()
        .chain(output.stdout.lines())
        .map(str::trim)
        .find(|l| !l.is_empty());
    match (said, output.status) {
        (Some(line), _) => format!("{program} failed: {}", clip(line)),
        (None, Some(code)) => format!("{program} failed with exit status {code}"),
        (None, None) => format!("{program} was killed by a signal"),
    }
}

/// A line of someone else's text, cut to a length fit for a reason.
fn clip(line: &str) -> String {
    const MAX: usize = 160;
    if line.chars().count() <= MAX {
        line.to_string()
    } else {
        let cut: String = line.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// `YYYY-MM-DD HH:MM:SS` in the computer's local time (apt's history, dnf's advisories) as
/// Unix seconds. `date -d` knows the time zone and its summer time; without it the text is
/// read as UTC, off by at most the zone's offset (hours, where the rules count days).
fn local_time(host: &dyn Host, text: &str) -> Option<i64> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let utc = as_utc(&text)?;
    let local = run_tool(host, "date", &["-d", &text, "+%s"])
        .ok()
        .filter(CommandOutput::success)
        .and_then(|out| out.stdout.trim().parse::<i64>().ok())
        // A time zone is never more than a day off: anything else is not an answer.
        .filter(|local| (local - utc).abs() <= 86_400);
    Some(local.unwrap_or(utc))
}

/// `YYYY-MM-DD HH:MM:SS` read as UTC, if it is that.
fn as_utc(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(text.trim(), format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// A test fixture's text.
#[cfg(test)]
fn fixture(name: &str) -> String {
    super::fake::fixture("linux", name)
}

#[cfg(test)]
mod tests;
