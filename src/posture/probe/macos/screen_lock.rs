//! The screen lock. On a Mac the screen locks when the password is asked for after the
//! screen saver starts or the display turns off ("Require password … after screen saver
//! begins or display is turned off"), so three settings make it:
//!
//! 1. whether, and how long after, the password is asked for: `sysadminctl -screenLock
//!    status` (macOS 10.13 and later; the `askForPassword` keys of `com.apple.screensaver`
//!    stopped telling the truth in 10.13, so they are not read);
//! 2. when the screen saver starts: `defaults -currentHost read com.apple.screensaver
//!    idleTime` (seconds, 0 = never);
//! 3. when the display turns off, or the Mac sleeps: `pmset -g custom`, `displaysleep` and
//!    `sleep` (minutes, 0 = never) for each power source.
//!
//! The screen locks after the first of (2) and (3) plus the delay of (1). Where the power
//! sources differ (battery, mains) the longest counts, and if any power source never turns
//! the display off, sleeps or starts the screen saver, the screen does not lock by itself.
//! Every doubt lengthens the time reported, never shortens it.

use super::{all_output, failed, not_understood, Host};
use crate::posture::report::{Fact, ScreenLock};

const SYSADMINCTL: &str = "/usr/sbin/sysadminctl";
const DEFAULTS: &str = "/usr/bin/defaults";
const PMSET: &str = "/usr/bin/pmset";

/// Whether the password is asked for once the screen saver starts or the display turns off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Password {
    /// Never: the screen does not lock.
    Off,
    /// After this many seconds (0: immediately).
    After(u32),
}

/// Reads `sysadminctl -screenLock status`, which logs to standard error with a time stamp:
/// "… sysadminctl[…] screenLock delay is immediate", "… screenLock delay is 300 seconds" or
/// "… screenLock is off". A negative delay means off.
pub(super) fn parse_sysadminctl(text: &str) -> Option<Password> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("screenlock is off") {
        return Some(Password::Off);
    }
    let (_, rest) = lower.split_once("screenlock delay is")?;
    let rest = rest.trim_start();
    if rest.starts_with("immediate") {
        return Some(Password::After(0));
    }
    if rest.starts_with("off") {
        return Some(Password::Off);
    }
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    let seconds: f64 = number.parse().ok()?;
    if !rest[number.len()..].trim_start().starts_with("second") || !seconds.is_finite() {
        return None;
    }
    if seconds < 0.0 {
        Some(Password::Off)
    } else {
        Some(Password::After(seconds.min(f64::from(u32::MAX)) as u32))
    }
}

/// Reads `defaults -currentHost read com.apple.screensaver idleTime`: `Some(Some(seconds))`
/// when the screen saver starts by itself, `Some(None)` when it never does (0) or the key is
/// not set ("The domain/default pair of … does not exist"), `None` for anything else.
pub(super) fn parse_idle_time(text: &str) -> Option<Option<u32>> {
    if text.contains("does not exist") {
        return Some(None);
    }
    let value: f64 = text.trim().parse().ok()?;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let secs = value.min(f64::from(u32::MAX)) as u32;
    Some((secs > 0).then_some(secs))
}

/// One power source's timers from `pmset -g custom`, in minutes (0 = never).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PowerSource {
    /// "Battery Power", "AC Power", "UPS Power".
    pub name: String,
    /// `displaysleep`.
    pub display_sleep: Option<u32>,
    /// `sleep` (the whole Mac).
    pub sleep: Option<u32>,
}

/// Reads `pmset -g custom`: a "Battery Power:"/"AC Power:"/"UPS Power:" line per power source,
/// each followed by indented "name value" lines. Sources without either timer are left out.
pub(super) fn parse_pmset_custom(text: &str) -> Vec<PowerSource> {
    let mut sources: Vec<PowerSource> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if !line.starts_with(char::is_whitespace) && trimmed.ends_with(':') {
            sources.push(PowerSource {
                name: trimmed.trim_end_matches(':').to_string(),
                display_sleep: None,
                sleep: None,
            });
            continue;
        }
        let mut words = trimmed.split_whitespace();
        let (Some(key), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let (Some(source), Ok(minutes)) = (sources.last_mut(), value.parse::<u32>()) else {
            continue;
        };
        match key {
            "displaysleep" => source.display_sleep = Some(minutes),
            "sleep" => source.sleep = Some(minutes),
            _ => {}
        }
    }
    sources.retain(|s| s.display_sleep.is_some() || s.sleep.is_some());
    sources
}

/// The screen lock from the three settings. `idle`: the screen saver's start in seconds, if
/// it starts by itself. `power`: the power sources, if `pmset` answered.
pub(super) fn combine(
    password: Password,
    idle: Option<u32>,
    power: Option<&[PowerSource]>,
) -> Option<ScreenLock> {
    let Password::After(delay) = password else {
        return Some(ScreenLock {
            enabled: false,
            timeout_secs: None,
        });
    };
    let never = ScreenLock {
        enabled: false,
        timeout_secs: None,
    };
    let first_of =
        |timers: &[Option<u32>]| timers.iter().flatten().copied().filter(|t| *t > 0).min();
    let trigger = match power {
        Some(sources) if !sources.is_empty() => {
            let mut worst = 0;
            for s in sources {
                let minutes = |m: Option<u32>| m.map(|m| m.saturating_mul(60));
                match first_of(&[minutes(s.display_sleep), minutes(s.sleep), idle]) {
                    Some(t) => worst = worst.max(t),
                    None => return Some(never),
                }
            }
            worst
        }
        // Without pmset the screen saver's start is an upper bound, if it starts at all.
        _ => first_of(&[idle])?,
    };
    Some(ScreenLock {
        enabled: true,
        timeout_secs: Some(trigger.saturating_add(delay)),
    })
}

/// The probe.
pub(super) fn probe(host: &dyn Host) -> Fact<ScreenLock> {
    let password = match host.run(SYSADMINCTL, &["-screenLock", "status"]) {
        Ok(out) => match parse_sysadminctl(&all_output(&out)) {
            Some(p) => p,
            None if !out.success() => {
                return Fact::unknown(failed("sysadminctl -screenLock status", &out))
            }
            None => return Fact::unknown(not_understood("sysadminctl -screenLock status", &out)),
        },
        Err(e) => return Fact::unknown(e),
    };
    if password == Password::Off {
        return Fact::known(ScreenLock {
            enabled: false,
            timeout_secs: None,
        });
    }
    // A screen saver whose start is not known counts as never starting: the display timers
    // then decide, which can only make the time longer.
    let idle = host
        .run(
            DEFAULTS,
            &["-currentHost", "read", "com.apple.screensaver", "idleTime"],
        )
        .ok()
        .and_then(|out| parse_idle_time(&all_output(&out)))
        .flatten();
    let mut why_no_power = String::new();
    let power = match host.run(PMSET, &["-g", "custom"]) {
        Ok(out) => {
            let sources = parse_pmset_custom(&out.stdout);
            if sources.is_empty() {
                why_no_power = if out.success() {
                    not_understood("pmset -g custom", &out)
                } else {
                    failed("pmset -g custom", &out)
                };
                None
            } else {
                Some(sources)
            }
        }
        Err(e) => {
            why_no_power = e;
            None
        }
    };
    match combine(password, idle, power.as_deref()) {
        Some(lock) => Fact::known(lock),
        None => Fact::unknown(format!(
            "when the display turns off is not known ({why_no_power}), and the screen saver \
             does not start by itself"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;
    use crate::posture::probe::fake::FakeHost;
    use crate::posture::probe::CommandOutput;

    #[test]
    fn sysadminctl_in_its_forms() {
        for (name, expected) in [
            (
                "sysadminctl-screenlock-immediate.txt",
                Some(Password::After(0)),
            ),
            ("sysadminctl-screenlock-300.txt", Some(Password::After(300))),
            ("sysadminctl-screenlock-5.txt", Some(Password::After(5))),
            ("sysadminctl-screenlock-off.txt", Some(Password::Off)),
            ("sysadminctl-screenlock-negative.txt", Some(Password::Off)),
            ("sysadminctl-screenlock-garbage.txt", None),
        ] {
            assert_eq!(parse_sysadminctl(&fixture(name)), expected, "{name}");
        }
        assert_eq!(
            parse_sysadminctl("screenLock delay is 60.000000 seconds"),
            Some(Password::After(60))
        );
        assert_eq!(parse_sysadminctl("screenLock delay is soon"), None);
        assert_eq!(parse_sysadminctl("screenLock delay is 60 apples"), None);
        assert_eq!(parse_sysadminctl(""), None);
    }

    #[test]
    fn idle_time_in_its_forms() {
        assert_eq!(
            parse_idle_time(&fixture("screensaver-idletime-300.txt")),
            Some(Some(300))
        );
        assert_eq!(
            parse_idle_time(&fixture("screensaver-idletime-0.txt")),
            Some(None)
        );
        assert_eq!(
            parse_idle_time(&fixture("screensaver-idletime-unset.txt")),
            Some(None)
        );
        assert_eq!(parse_idle_time("1200.5\n"), Some(Some(1200)));
        assert_eq!(parse_idle_time("-5\n"), None);
        assert_eq!(parse_idle_time("twenty minutes"), None);
    }

    fn source(name: &str, display_sleep: u32, sleep: u32) -> PowerSource {
        PowerSource {
            name: name.into(),
            display_sleep: Some(display_sleep),
            sleep: Some(sleep),
        }
    }

    #[test]
    fn pmset_custom_in_its_forms() {
        assert_eq!(
            parse_pmset_custom(&fixture("pmset-custom-laptop.txt")),
            [source("Battery Power", 2, 1), source("AC Power", 10, 1)]
        );
        assert_eq!(
            parse_pmset_custom(&fixture("pmset-custom-desktop.txt")),
            [source("AC Power", 10, 0)]
        );
        assert_eq!(
            parse_pmset_custom(&fixture("pmset-custom-never.txt")),
            [source("Battery Power", 5, 1), source("AC Power", 0, 0)]
        );
        assert_eq!(parse_pmset_custom(&fixture("pmset-custom-garbage.txt")), []);
    }

    #[test]
    fn the_first_timer_plus_the_delay_on_the_slowest_power_source() {
        let laptop = [source("Battery Power", 2, 1), source("AC Power", 10, 1)];
        let lock = |t| {
            Some(ScreenLock {
                enabled: true,
                timeout_secs: Some(t),
            })
        };
        let never = Some(ScreenLock {
            enabled: false,
            timeout_secs: None,
        });
        // On battery the Mac sleeps after 1 minute; on mains it sleeps after 1 too.
        assert_eq!(combine(Password::After(0), None, Some(&laptop)), lock(60));
        let desktop = [source("AC Power", 10, 0)];
        assert_eq!(combine(Password::After(0), None, Some(&desktop)), lock(600));
        assert_eq!(
            combine(Password::After(5), Some(300), Some(&desktop)),
            lock(305)
        );
        assert_eq!(
            combine(Password::After(0), Some(1200), Some(&desktop)),
            lock(600)
        );
        // Mains never turns the display off and no screen saver: the screen does not lock.
        let never_on_mains = [source("Battery Power", 5, 1), source("AC Power", 0, 0)];
        assert_eq!(
            combine(Password::After(0), None, Some(&never_on_mains)),
            never
        );
        // ... unless the screen saver starts.
        assert_eq!(
            combine(Password::After(0), Some(900), Some(&never_on_mains)),
            lock(900)
        );
        // The password is never asked for: whatever the timers, it does not lock.
        assert_eq!(combine(Password::Off, Some(60), Some(&desktop)), never);
        // Without pmset the screen saver bounds it; without either there is no answer.
        assert_eq!(combine(Password::After(60), Some(300), None), lock(360));
        assert_eq!(combine(Password::After(60), None, None), None);
        assert_eq!(combine(Password::After(60), None, Some(&[])), None);
    }

    const STATUS: &str = "/usr/sbin/sysadminctl -screenLock status";
    const IDLE: &str = "/usr/bin/defaults -currentHost read com.apple.screensaver idleTime";
    const CUSTOM: &str = "/usr/bin/pmset -g custom";

    /// sysadminctl and defaults say what matters on standard error.
    fn stderr(host: &mut FakeHost, line: &str, status: i32, text: &str) {
        host.commands.insert(
            line.into(),
            Ok(CommandOutput {
                status: Some(status),
                stdout: String::new(),
                stderr: text.into(),
            }),
        );
    }

    #[test]
    fn the_probe_combines_the_three() {
        let mut host = FakeHost::default();
        stderr(
            &mut host,
            STATUS,
            0,
            &fixture("sysadminctl-screenlock-5.txt"),
        );
        host.command(IDLE, 0, &fixture("screensaver-idletime-300.txt"))
            .command(CUSTOM, 0, &fixture("pmset-custom-desktop.txt"));
        assert_eq!(
            probe(&host),
            Fact::known(ScreenLock {
                enabled: true,
                timeout_secs: Some(305)
            })
        );
        // The screen saver not set: the display's 10 minutes decide.
        stderr(
            &mut host,
            IDLE,
            1,
            &fixture("screensaver-idletime-unset.txt"),
        );
        assert_eq!(
            probe(&host),
            Fact::known(ScreenLock {
                enabled: true,
                timeout_secs: Some(605)
            })
        );
        stderr(
            &mut host,
            STATUS,
            0,
            &fixture("sysadminctl-screenlock-off.txt"),
        );
        assert_eq!(
            probe(&host),
            Fact::known(ScreenLock {
                enabled: false,
                timeout_secs: None
            })
        );
    }

    #[test]
    fn missing_tools_give_reasons() {
        let mut host = FakeHost::default();
        assert_eq!(
            probe(&host),
            Fact::unknown("/usr/sbin/sysadminctl is not installed")
        );
        stderr(
            &mut host,
            STATUS,
            0,
            &fixture("sysadminctl-screenlock-garbage.txt"),
        );
        let Fact::Unknown { reason } = probe(&host) else {
            panic!("known from garbage")
        };
        assert!(
            reason.starts_with("sysadminctl -screenLock status said «"),
            "{reason}"
        );
        stderr(
            &mut host,
            STATUS,
            0,
            &fixture("sysadminctl-screenlock-immediate.txt"),
        );
        assert_eq!(
            probe(&host),
            Fact::unknown(
                "when the display turns off is not known (/usr/bin/pmset is not installed), \
                 and the screen saver does not start by itself"
            )
        );
        host.command(CUSTOM, 0, &fixture("pmset-custom-garbage.txt"))
            .command(IDLE, 0, "600\n");
        assert_eq!(
            probe(&host),
            Fact::known(ScreenLock {
                enabled: true,
                timeout_secs: Some(600)
            })
        );
    }
}
