//! FileVault, from `fdesetup status` (no admin rights needed). Only "FileVault is On." with
//! no conversion under way counts as encrypted: while encryption is in progress (or pending,
//! or deferred to the next login) part of the disk is still in the clear.

use super::{all_output, failed, not_understood, Host};
use crate::posture::report::Fact;

const FDESETUP: &str = "/usr/bin/fdesetup";

/// Reads `fdesetup status`: "FileVault is On." alone is `true`; "FileVault is Off." (with or
/// without "Deferred enablement appears to be active…"), and "On." or "Off." followed by
/// "Encryption in progress: …" or "Decryption in progress: …", are `false`; `None` otherwise.
pub(super) fn parse_fdesetup_status(text: &str) -> Option<bool> {
    let lower = text.to_ascii_lowercase();
    let on = lower.contains("filevault is on");
    let off = lower.contains("filevault is off");
    let converting = lower.contains("encryption in progress")
        || lower.contains("decryption in progress")
        || lower.contains("deferred enablement");
    match (on, off) {
        (true, false) => Some(!converting),
        (false, true) => Some(false),
        // "Encryption in progress" alone (some versions drop the first line): not yet whole.
        (false, false) if converting => Some(false),
        _ => None,
    }
}

/// The probe.
pub(super) fn probe(host: &dyn Host) -> Fact<bool> {
    let out = match host.run(FDESETUP, &["status"]) {
        Ok(out) => out,
        Err(e) => return Fact::unknown(e),
    };
    match parse_fdesetup_status(&all_output(&out)) {
        Some(on) => Fact::known(on),
        None if !out.success() => Fact::unknown(failed("fdesetup status", &out)),
        None => Fact::unknown(not_understood("fdesetup status", &out)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;
    use crate::posture::probe::fake::FakeHost;

    #[test]
    fn only_a_whole_filevault_counts() {
        for (name, expected) in [
            ("fdesetup-on.txt", Some(true)),
            ("fdesetup-off.txt", Some(false)),
            ("fdesetup-encrypting.txt", Some(false)),
            ("fdesetup-encryption-pending.txt", Some(false)),
            ("fdesetup-decrypting.txt", Some(false)),
            ("fdesetup-deferred.txt", Some(false)),
            ("fdesetup-garbage.txt", None),
        ] {
            assert_eq!(parse_fdesetup_status(&fixture(name)), expected, "{name}");
        }
        assert_eq!(parse_fdesetup_status(""), None);
        assert_eq!(
            parse_fdesetup_status("Encryption in progress: Percent completed = 3\n"),
            Some(false)
        );
    }

    #[test]
    fn the_probe_reports_what_fdesetup_says_or_why_not() {
        let mut host = FakeHost::default();
        assert_eq!(
            probe(&host),
            Fact::unknown("/usr/bin/fdesetup is not installed")
        );
        host.command("/usr/bin/fdesetup status", 0, &fixture("fdesetup-on.txt"));
        assert_eq!(probe(&host), Fact::known(true));
        host.command(
            "/usr/bin/fdesetup status",
            0,
            &fixture("fdesetup-encrypting.txt"),
        );
        assert_eq!(probe(&host), Fact::known(false));
        host.command(
            "/usr/bin/fdesetup status",
            1,
            "Error: unable to read volume state.\n",
        );
        assert_eq!(
            probe(&host),
            Fact::unknown("fdesetup status exited with 1: «Error: unable to read volume state.»")
        );
        host.command(
            "/usr/bin/fdesetup status",
            0,
            &fixture("fdesetup-garbage.txt"),
        );
        let Fact::Unknown { reason } = probe(&host) else {
            panic!("known from garbage")
        };
        assert!(reason.ends_with("which is not understood"), "{reason}");
    }
}
