//! The screen lock, from the registry (all readable without admin rights):
//!
//! - the user's screen saver, `HKCU\Control Panel\Desktop`: `ScreenSaveActive` ("1"),
//!   `ScreenSaverIsSecure` ("1": the sign-in screen on resume), `ScreenSaveTimeOut` (seconds,
//!   as text) and `SCRNSAVE.EXE` (which screen saver; Windows runs none without one, the
//!   "(None)" choice, even with `ScreenSaveActive` on);
//! - Group Policy's, `HKCU\Software\Policies\Microsoft\Windows\Control Panel\Desktop`, the
//!   same values, each overriding the user's where set;
//! - the machine inactivity limit, `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\
//!   System\InactivityTimeoutSecs` (seconds; Windows locks the session after it whatever the
//!   screen saver says).
//!
//! The screen locks by itself when either locks; its timeout is the shorter. Not read: the
//! lock on waking from sleep (power settings), so a computer that only sleeps and asks for the
//! password on waking is reported as not locking.

use super::access::{Hive, RegData, System};
use crate::posture::probe::Host;
use crate::posture::report::{Fact, ScreenLock};

/// The user's screen saver settings.
pub const DESKTOP: &str = r"Control Panel\Desktop";
/// Group Policy's screen saver settings.
pub const DESKTOP_POLICY: &str = r"Software\Policies\Microsoft\Windows\Control Panel\Desktop";
/// The machine inactivity limit's key.
pub const SYSTEM_POLICY: &str = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System";

/// The screen saver values of one key, each `None` where not set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScreenSaver {
    /// `ScreenSaveActive`.
    pub active: Option<RegData>,
    /// `ScreenSaverIsSecure`.
    pub secure: Option<RegData>,
    /// `ScreenSaveTimeOut`.
    pub timeout: Option<RegData>,
    /// `SCRNSAVE.EXE`.
    pub program: Option<RegData>,
}

impl ScreenSaver {
    /// These values, each overridden by `policy`'s where set.
    fn under(self, policy: &ScreenSaver) -> ScreenSaver {
        ScreenSaver {
            active: policy.active.clone().or(self.active),
            secure: policy.secure.clone().or(self.secure),
            timeout: policy.timeout.clone().or(self.timeout),
            program: policy.program.clone().or(self.program),
        }
    }
}

fn is_on(v: &Option<RegData>) -> bool {
    v.as_ref().and_then(RegData::number) == Some(1)
}

/// The screen lock from the user's values (`None`: their key does not exist), Group Policy's,
/// and the machine inactivity limit.
pub fn decide(
    user: Option<ScreenSaver>,
    policy: &ScreenSaver,
    inactivity_secs: Option<u64>,
) -> Fact<ScreenLock> {
    if user.is_none() && *policy == ScreenSaver::default() && inactivity_secs.is_none() {
        return Fact::unknown(format!(r"HKCU\{DESKTOP} does not exist"));
    }
    let saver = user.unwrap_or_default().under(policy);
    let has_program = saver
        .program
        .as_ref()
        .and_then(RegData::text)
        .is_some_and(|p| !p.trim().is_empty());
    let timeout = saver.timeout.as_ref().and_then(RegData::number);
    // A screen saver that shows the sign-in screen on resume: its timeout, if it says.
    let saver_lock: Option<Option<u64>> =
        (is_on(&saver.active) && is_on(&saver.secure) && has_program && timeout != Some(0))
            .then_some(timeout);
    let machine_lock = inactivity_secs.filter(|s| *s > 0);
    let enabled = saver_lock.is_some() || machine_lock.is_some();
    let timeout = [saver_lock.flatten(), machine_lock]
        .into_iter()
        .flatten()
        .min()
        .map(|s| u32::try_from(s).unwrap_or(u32::MAX));
    Fact::known(ScreenLock {
        enabled,
        timeout_secs: if enabled { timeout } else { None },
    })
}

fn read(sys: &impl System, hive: Hive, key: &str) -> ScreenSaver {
    let value = |name: &str| sys.value(hive, key, name).ok().flatten();
    ScreenSaver {
        active: value("ScreenSaveActive"),
        secure: value("ScreenSaverIsSecure"),
        timeout: value("ScreenSaveTimeOut"),
        program: value("SCRNSAVE.EXE"),
    }
}

/// The probe.
pub fn probe(_host: &dyn Host, sys: &impl System) -> Fact<ScreenLock> {
    let user = sys
        .key_exists(Hive::CurrentUser, DESKTOP)
        .then(|| read(sys, Hive::CurrentUser, DESKTOP));
    let policy = read(sys, Hive::CurrentUser, DESKTOP_POLICY);
    let inactivity = sys
        .value(Hive::LocalMachine, SYSTEM_POLICY, "InactivityTimeoutSecs")
        .ok()
        .flatten()
        .and_then(|v| v.number());
    decide(user, &policy, inactivity)
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeSystem;
    use super::*;
    use crate::posture::probe::fake::FakeHost;

    fn text(s: &str) -> RegData {
        RegData::Text(s.into())
    }

    fn desktop(sys: &mut FakeSystem, key: &str, values: &[(&str, &str)]) {
        for (name, value) in values {
            sys.set(Hive::CurrentUser, key, name, text(value));
        }
    }

    #[test]
    fn a_secure_screen_saver_locks_after_its_timeout() {
        let mut sys = FakeSystem::default();
        desktop(
            &mut sys,
            DESKTOP,
            &[
                ("ScreenSaveActive", "1"),
                ("ScreenSaverIsSecure", "1"),
                ("ScreenSaveTimeOut", "600"),
                ("SCRNSAVE.EXE", r"C:\WINDOWS\system32\scrnsave.scr"),
            ],
        );
        assert_eq!(
            probe(&FakeHost::default(), &sys),
            Fact::known(ScreenLock {
                enabled: true,
                timeout_secs: Some(600)
            })
        );
    }

    #[test]
    fn windows_defaults_do_not_lock() {
        // A fresh Windows: active, but no screen saver chosen and not secure.
        let mut sys = FakeSystem::default();
        desktop(
            &mut sys,
            DESKTOP,
            &[("ScreenSaveActive", "1"), ("ScreenSaveTimeOut", "900")],
        );
        assert_eq!(
            probe(&FakeHost::default(), &sys),
            Fact::known(ScreenLock {
                enabled: false,
                timeout_secs: None
            })
        );
    }

    #[test]
    fn group_policy_overrides_and_the_machine_limit_is_shorter() {
        let mut sys = FakeSystem::default();
        desktop(
            &mut sys,
            DESKTOP,
            &[("ScreenSaveActive", "0"), ("ScreenSaveTimeOut", "1800")],
        );
        desktop(
            &mut sys,
            DESKTOP_POLICY,
            &[
                ("ScreenSaveActive", "1"),
                ("ScreenSaverIsSecure", "1"),
                ("ScreenSaveTimeOut", "900"),
                ("SCRNSAVE.EXE", "scrnsave.scr"),
            ],
        );
        sys.set(
            Hive::LocalMachine,
            SYSTEM_POLICY,
            "InactivityTimeoutSecs",
            RegData::Number(300),
        );
        assert_eq!(
            probe(&FakeHost::default(), &sys),
            Fact::known(ScreenLock {
                enabled: true,
                timeout_secs: Some(300)
            })
        );
    }

    #[test]
    fn the_machine_limit_alone_locks() {
        let mut sys = FakeSystem::default();
        sys.key(Hive::CurrentUser, DESKTOP).set(
            Hive::LocalMachine,
            SYSTEM_POLICY,
            "InactivityTimeoutSecs",
            RegData::Number(900),
        );
        assert_eq!(
            probe(&FakeHost::default(), &sys),
            Fact::known(ScreenLock {
                enabled: true,
                timeout_secs: Some(900)
            })
        );
    }

    #[test]
    fn no_desktop_key_is_unknown() {
        assert_eq!(
            probe(&FakeHost::default(), &FakeSystem::default()),
            Fact::unknown(r"HKCU\Control Panel\Desktop does not exist")
        );
    }
}
