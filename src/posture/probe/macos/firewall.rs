//! The macOS Application Firewall (the one in System Settings › Network › Firewall).
//!
//! Asked in this order, the first that answers wins:
//! 1. `socketfilterfw --getglobalstate`: the running firewall's own answer;
//! 2. a configuration profile's `EnableFirewall` in
//!    `/Library/Managed Preferences/com.apple.security.firewall.plist` (managed Macs, where
//!    `socketfilterfw` may refuse to answer);
//! 3. `globalstate` in `/Library/Preferences/com.apple.alf.plist` (macOS 14 and earlier keep
//!    the setting there; later ones have no such file).

use super::{all_output, not_understood, read_plist, Host};
use crate::posture::report::{Fact, Firewall};

const SOCKETFILTERFW: &str = "/usr/libexec/ApplicationFirewall/socketfilterfw";
const MANAGED: &str = "/Library/Managed Preferences/com.apple.security.firewall.plist";
const ALF: &str = "/Library/Preferences/com.apple.alf.plist";

/// The product's name in the report.
pub(super) const NAME: &str = "macOS Application Firewall";

/// Reads `socketfilterfw --getglobalstate`: "Firewall is enabled. (State = 1)", state 2 when
/// it blocks all incoming connections, "Firewall is disabled. (State = 0)". The state number
/// wins over the words; `None` for anything else (such as the refusal on managed Macs,
/// "Firewall settings cannot be modified from command line on managed Mac computers.").
pub(super) fn parse_global_state(text: &str) -> Option<bool> {
    let lower = text.to_ascii_lowercase();
    if let Some(at) = lower.find("state =") {
        let digits: String = lower[at + "state =".len()..]
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(state) = digits.parse::<u32>() {
            return Some(state >= 1);
        }
    }
    if lower.contains("firewall is disabled") {
        Some(false)
    } else if lower.contains("firewall is enabled") || lower.contains("firewall is blocking") {
        Some(true)
    } else {
        None
    }
}

/// The probe.
pub(super) fn probe(host: &dyn Host) -> Fact<Vec<Firewall>> {
    let found = |enabled| {
        Fact::known(vec![Firewall {
            name: NAME.into(),
            enabled,
        }])
    };
    let mut why_not = Vec::new();

    match host.run(SOCKETFILTERFW, &["--getglobalstate"]) {
        Ok(out) => match parse_global_state(&all_output(&out)) {
            Some(enabled) => return found(enabled),
            None => why_not.push(not_understood("socketfilterfw --getglobalstate", &out)),
        },
        Err(e) => why_not.push(e),
    }

    if host.exists(MANAGED) {
        match read_plist(host, MANAGED) {
            Ok(p) => match p.get("EnableFirewall").and_then(|v| v.as_bool()) {
                Some(enabled) => return found(enabled),
                None => why_not.push(format!("{MANAGED} does not set EnableFirewall")),
            },
            Err(e) => why_not.push(e),
        }
    }

    match read_plist(host, ALF) {
        Ok(p) => match p.get("globalstate").and_then(|v| v.as_i64()) {
            Some(state) if (0..=2).contains(&state) => return found(state >= 1),
            Some(state) => why_not.push(format!("{ALF} has the unknown globalstate {state}")),
            None => why_not.push(format!("{ALF} has no globalstate")),
        },
        Err(e) => why_not.push(e),
    }

    Fact::unknown(why_not.join("; "))
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;
    use crate::posture::probe::fake::FakeHost;

    #[test]
    fn the_global_state_in_its_forms() {
        for (name, expected) in [
            ("socketfilterfw-enabled.txt", Some(true)),
            ("socketfilterfw-disabled.txt", Some(false)),
            ("socketfilterfw-block-all.txt", Some(true)),
            ("socketfilterfw-managed-refusal.txt", None),
            ("socketfilterfw-garbage.txt", None),
        ] {
            assert_eq!(parse_global_state(&fixture(name)), expected, "{name}");
        }
        assert_eq!(parse_global_state("Firewall is enabled.\n"), Some(true));
        assert_eq!(parse_global_state("Firewall is disabled.\n"), Some(false));
        assert_eq!(parse_global_state(""), None);
    }

    fn fw(enabled: bool) -> Fact<Vec<Firewall>> {
        Fact::known(vec![Firewall {
            name: NAME.into(),
            enabled,
        }])
    }

    const GETGLOBALSTATE: &str = "/usr/libexec/ApplicationFirewall/socketfilterfw --getglobalstate";

    #[test]
    fn socketfilterfw_answers_first() {
        let mut host = FakeHost::default();
        host.command(GETGLOBALSTATE, 0, &fixture("socketfilterfw-disabled.txt"))
            .file(ALF, fixture("alf-globalstate-1.plist"));
        assert_eq!(probe(&host), fw(false));
    }

    #[test]
    fn a_managed_mac_is_answered_by_its_profile() {
        let mut host = FakeHost::default();
        host.command(
            GETGLOBALSTATE,
            0,
            &fixture("socketfilterfw-managed-refusal.txt"),
        )
        .file(MANAGED, fixture("managed-firewall-enabled.plist"));
        assert_eq!(probe(&host), fw(true));
    }

    #[test]
    fn older_macs_are_answered_by_the_alf_preferences() {
        let mut host = FakeHost::default();
        host.file(ALF, fixture("alf-globalstate-1.plist"));
        assert_eq!(probe(&host), fw(true));
        host.file(ALF, fixture("alf-globalstate-0.plist"));
        assert_eq!(probe(&host), fw(false));
    }

    #[test]
    fn a_binary_alf_file_is_read_through_plutil() {
        let mut host = FakeHost::default();
        let binary = std::fs::read(format!(
            "{}/tests/fixtures/posture/macos/alf-globalstate-1.binary.plist",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        host.file(ALF, binary);
        let Fact::Unknown { reason } = probe(&host) else {
            panic!("a binary file read without plutil")
        };
        assert!(
            reason.ends_with("is a binary property list, and /usr/bin/plutil is not installed"),
            "{reason}"
        );
        host.command(
            "/usr/bin/plutil -convert xml1 -o - /Library/Preferences/com.apple.alf.plist",
            0,
            &fixture("alf-globalstate-1.plist"),
        );
        assert_eq!(probe(&host), fw(true));
    }

    #[test]
    fn nothing_answers_and_each_reason_is_given() {
        let host = FakeHost::default();
        assert_eq!(
            probe(&host),
            Fact::unknown(
                "/usr/libexec/ApplicationFirewall/socketfilterfw is not installed; \
                 /Library/Preferences/com.apple.alf.plist does not exist"
            )
        );
        let mut host = FakeHost::default();
        host.command(GETGLOBALSTATE, 0, &fixture("socketfilterfw-garbage.txt"))
            .file(MANAGED, "<plist><dict/></plist>")
            .file(
                ALF,
                "<plist><dict><key>globalstate</key><integer>7</integer></dict></plist>",
            );
        let Fact::Unknown { reason } = probe(&host) else {
            panic!("known from garbage")
        };
        assert!(
            reason.starts_with("socketfilterfw --getglobalstate said «"),
            "{reason}"
        );
        assert!(reason.contains("does not set EnableFirewall"), "{reason}");
        assert!(reason.contains("unknown globalstate 7"), "{reason}");
    }
}
