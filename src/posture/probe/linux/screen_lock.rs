//! The screen lock of the desktop this program runs in: GNOME (and the desktops built on its
//! settings) through `gsettings`, KDE Plasma through `kscreenlockerrc`. Outside a graphical
//! session there is nothing to read.
//!
//! `gsettings` reads the user's settings database directly, with or without a session bus;
//! what the user never changed it gives as the schema's default, which is the truth of what
//! GNOME does — but only when GNOME is the desktop, so the desktop is asked first.

use super::{failure, run_tool};
use crate::posture::probe::Host;
use crate::posture::report::{Fact, ScreenLock};

pub(super) fn probe(host: &dyn Host) -> Fact<ScreenLock> {
    let desktop = host.env("XDG_CURRENT_DESKTOP").unwrap_or_default();
    let graphical = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| host.env(v).is_some_and(|s| !s.is_empty()));
    if desktop.trim().is_empty() && !graphical {
        return Fact::unknown(
            "no desktop session: this program runs outside a graphical login (no DISPLAY, \
             WAYLAND_DISPLAY or XDG_CURRENT_DESKTOP), so no screen lock applies to it",
        );
    }
    let names: Vec<String> = desktop
        .split(':')
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
    let is = |wanted: &[&str]| names.iter().any(|n| wanted.contains(&n.as_str()));
    let found = if is(&["kde"]) {
        kde(host)
    } else if is(&["gnome", "unity", "gnome-classic", "gnome-flashback"]) {
        gnome(host)
    } else if desktop.trim().is_empty() {
        Err("the desktop cannot be told (XDG_CURRENT_DESKTOP is not set), so neither can its screen lock".into())
    } else {
        Err(format!(
            "the screen lock of the {desktop} desktop is not read here (only GNOME's and KDE Plasma's are)"
        ))
    };
    match found {
        Ok(lock) => Fact::known(lock),
        Err(e) => Fact::unknown(e),
    }
}

/// GNOME: the screen blanks after `org.gnome.desktop.session idle-delay` seconds (0: never)
/// and locks `org.gnome.desktop.screensaver lock-delay` seconds later if `lock-enabled`,
/// unless `org.gnome.desktop.lockdown disable-lock-screen`.
fn gnome(host: &dyn Host) -> Result<ScreenLock, String> {
    let get = |schema: &str, key: &str| -> Result<String, String> {
        let out = run_tool(host, "gsettings", &["get", schema, key])?;
        if !out.success() {
            return Err(failure(&format!("gsettings get {schema} {key}"), &out));
        }
        if out.stderr.contains("'memory' GSettings backend") {
            return Err("gsettings cannot reach the user's settings (memory backend)".into());
        }
        Ok(out.stdout)
    };
    let lock_enabled = get("org.gnome.desktop.screensaver", "lock-enabled")?;
    let idle_delay = get("org.gnome.desktop.session", "idle-delay")?;
    let lock_delay = get("org.gnome.desktop.screensaver", "lock-delay")?;
    // Not every GNOME has the lockdown schema: absent is not disabled.
    let disabled = get("org.gnome.desktop.lockdown", "disable-lock-screen").ok();
    gnome_lock(&lock_enabled, &idle_delay, &lock_delay, disabled.as_deref())
}

/// The GNOME rule over the four `gsettings get` answers (`true`, `uint32 300`, `uint32 0`).
pub(super) fn gnome_lock(
    lock_enabled: &str,
    idle_delay: &str,
    lock_delay: &str,
    disable_lock_screen: Option<&str>,
) -> Result<ScreenLock, String> {
    let lock_enabled = gvariant_bool(lock_enabled)
        .ok_or_else(|| format!("gsettings gave lock-enabled as {:?}", lock_enabled.trim()))?;
    let idle = gvariant_u32(idle_delay)
        .ok_or_else(|| format!("gsettings gave idle-delay as {:?}", idle_delay.trim()))?;
    let delay = gvariant_u32(lock_delay)
        .ok_or_else(|| format!("gsettings gave lock-delay as {:?}", lock_delay.trim()))?;
    let lockdown = disable_lock_screen.and_then(gvariant_bool).unwrap_or(false);
    let enabled = lock_enabled && idle > 0 && !lockdown;
    Ok(ScreenLock {
        enabled,
        timeout_secs: enabled.then(|| idle.saturating_add(delay)),
    })
}

fn gvariant_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// `uint32 300`, or `300` where the type is implied.
fn gvariant_u32(text: &str) -> Option<u32> {
    let text = text.trim();
    text.strip_prefix("uint32 ")
        .unwrap_or(text)
        .trim()
        .parse()
        .ok()
}

/// KDE Plasma: `kscreenlockerrc`, the system's (`/etc/xdg`) under the user's.
fn kde(host: &dyn Host) -> Result<ScreenLock, String> {
    let config = match host.env("XDG_CONFIG_HOME").filter(|d| d.starts_with('/')) {
        Some(dir) => dir,
        None => {
            let home = host
                .env("HOME")
                .ok_or("HOME is not set, so KDE's settings cannot be found")?;
            format!("{home}/.config")
        }
    };
    let mut texts = Vec::new();
    for path in [
        "/etc/xdg/kscreenlockerrc".to_string(),
        format!("{config}/kscreenlockerrc"),
    ] {
        if host.exists(&path) {
            texts.push(host.read_to_string(&path)?);
        }
    }
    kde_lock(&texts.iter().map(String::as_str).collect::<Vec<_>>())
}

/// KDE's rule over `kscreenlockerrc` files, later ones overriding earlier ones unless a key
/// is marked immutable (`[$i]`): in `[Daemon]`, the screen locks after `Timeout` minutes
/// (default 5) if `Autolock` (default true) and `RequirePassword` (default true); for
/// `LockGrace` seconds more (default 5) a touch still unlocks it without the password, so
/// the lock holds from `Timeout` × 60 + `LockGrace` seconds.
pub(super) fn kde_lock(files: &[&str]) -> Result<ScreenLock, String> {
    let mut autolock = true;
    let mut timeout_minutes = 5.0_f64;
    let mut grace = 5_u32;
    let mut password = true;
    let mut fixed: Vec<String> = Vec::new();
    for text in files {
        let mut in_daemon = false;
        let mut group_fixed = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_daemon = line.starts_with("[Daemon]");
                group_fixed = line.ends_with("[$i]");
                continue;
            }
            if !in_daemon || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            let immutable = group_fixed || key.ends_with("[$i]");
            let key = key.split('[').next().unwrap_or(key).to_string();
            if fixed.contains(&key) {
                continue;
            }
            let bad = || format!("kscreenlockerrc has {key}={value}");
            match key.as_str() {
                "Autolock" => autolock = kde_bool(value).ok_or_else(bad)?,
                "RequirePassword" => password = kde_bool(value).ok_or_else(bad)?,
                "Timeout" => {
                    timeout_minutes = value
                        .parse()
                        .ok()
                        .filter(|m: &f64| m.is_finite())
                        .ok_or_else(bad)?;
                }
                "LockGrace" => grace = value.parse().map_err(|_| bad())?,
                _ => continue,
            }
            if immutable {
                fixed.push(key);
            }
        }
    }
    let secs = (timeout_minutes * 60.0).round();
    let enabled = autolock && password && secs > 0.0;
    Ok(ScreenLock {
        enabled,
        // Bounded above: a timeout of years is as good as none.
        timeout_secs: enabled
            .then(|| (secs.min(f64::from(u32::MAX / 2)) as u32).saturating_add(grace)),
    })
}

/// KConfig's booleans.
fn kde_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::probe::fake::FakeHost;
    use crate::posture::probe::linux::fixture;

    fn lock(enabled: bool, timeout_secs: Option<u32>) -> ScreenLock {
        ScreenLock {
            enabled,
            timeout_secs,
        }
    }

    #[test]
    fn gnome_defaults_and_changes() {
        let defaults = gnome_lock(
            &fixture("gsettings-lock-enabled-default.txt"),
            &fixture("gsettings-idle-delay-default.txt"),
            &fixture("gsettings-lock-delay-default.txt"),
            Some(&fixture("gsettings-disable-lock-screen-default.txt")),
        );
        assert_eq!(defaults, Ok(lock(true, Some(300))));
        let changed = gnome_lock(
            &fixture("gsettings-lock-enabled-changed.txt"),
            &fixture("gsettings-idle-delay-changed.txt"),
            &fixture("gsettings-lock-delay-changed.txt"),
            None,
        );
        assert_eq!(changed, Ok(lock(false, None)));
        assert_eq!(
            gnome_lock("true\n", "uint32 900\n", "uint32 30\n", None),
            Ok(lock(true, Some(930)))
        );
        // Never blank, never lock; the lockdown switch wins.
        assert_eq!(
            gnome_lock("true", "uint32 0", "uint32 0", None),
            Ok(lock(false, None))
        );
        assert_eq!(
            gnome_lock("true", "uint32 300", "uint32 0", Some("true\n")),
            Ok(lock(false, None))
        );
        assert!(gnome_lock("maybe", "uint32 300", "uint32 0", None).is_err());
        assert!(gnome_lock("true", "int32 -5", "uint32 0", None).is_err());
    }

    #[test]
    fn kde_defaults_and_overrides() {
        assert_eq!(kde_lock(&[]), Ok(lock(true, Some(305))));
        assert_eq!(
            kde_lock(&[&fixture("kscreenlockerrc-greeter-only.ini")]),
            Ok(lock(true, Some(305)))
        );
        assert_eq!(
            kde_lock(&[&fixture("kscreenlockerrc-timeout10.ini")]),
            Ok(lock(true, Some(605)))
        );
        assert_eq!(
            kde_lock(&[&fixture("kscreenlockerrc-autolock-off.ini")]),
            Ok(lock(false, None))
        );
        // The administrator's immutable setting beats the user's.
        assert_eq!(
            kde_lock(&[
                &fixture("kscreenlockerrc-system-immutable.ini"),
                &fixture("kscreenlockerrc-autolock-off.ini"),
            ]),
            Ok(lock(true, Some(180)))
        );
        assert_eq!(
            kde_lock(&["[Daemon]\nTimeout=2.5\nLockGrace=0\nRequirePassword=false\n"]),
            Ok(lock(false, None))
        );
        assert_eq!(
            kde_lock(&["[Daemon]\nTimeout=2.5\nLockGrace=0\n"]),
            Ok(lock(true, Some(150)))
        );
        assert!(kde_lock(&["[Daemon]\nTimeout=soon\n"]).is_err());
        assert!(kde_lock(&["[Daemon]\nAutolock=perhaps\n"]).is_err());
    }

    fn session(desktop: &str) -> FakeHost {
        let mut host = FakeHost::default();
        host.env
            .insert("XDG_CURRENT_DESKTOP".into(), desktop.into());
        host.env
            .insert("WAYLAND_DISPLAY".into(), "wayland-0".into());
        host.env.insert("HOME".into(), "/home/anne".into());
        host
    }

    #[test]
    fn the_desktop_decides_what_is_read() {
        let mut gnome = session("ubuntu:GNOME");
        gnome
            .command(
                "gsettings get org.gnome.desktop.screensaver lock-enabled",
                0,
                "true\n",
            )
            .command(
                "gsettings get org.gnome.desktop.session idle-delay",
                0,
                "uint32 300\n",
            )
            .command(
                "gsettings get org.gnome.desktop.screensaver lock-delay",
                0,
                "uint32 0\n",
            );
        assert_eq!(probe(&gnome), Fact::known(lock(true, Some(300))));
        gnome.commands.insert(
            "gsettings get org.gnome.desktop.session idle-delay".into(),
            Ok(crate::posture::probe::CommandOutput {
                status: Some(1),
                stdout: String::new(),
                stderr: fixture("gsettings-no-key.stderr"),
            }),
        );
        assert!(
            matches!(probe(&gnome), Fact::Unknown { reason } if reason.contains("No such key"))
        );

        let mut kde = session("KDE");
        assert_eq!(probe(&kde), Fact::known(lock(true, Some(305))));
        kde.file(
            "/home/anne/.config/kscreenlockerrc",
            fixture("kscreenlockerrc-timeout10.ini"),
        );
        assert_eq!(probe(&kde), Fact::known(lock(true, Some(605))));
        kde.env.insert("XDG_CONFIG_HOME".into(), "/srv/conf".into());
        assert_eq!(probe(&kde), Fact::known(lock(true, Some(305))));

        let xfce = session("XFCE");
        assert_eq!(
            probe(&xfce),
            Fact::unknown("the screen lock of the XFCE desktop is not read here (only GNOME's and KDE Plasma's are)")
        );
        let mut unnamed = session("");
        unnamed.env.remove("XDG_CURRENT_DESKTOP");
        assert!(
            matches!(probe(&unnamed), Fact::Unknown { reason } if reason.contains("XDG_CURRENT_DESKTOP is not set"))
        );
        let Fact::Unknown { reason } = probe(&FakeHost::default()) else {
            panic!("a screen lock without a session");
        };
        assert!(reason.starts_with("no desktop session: "), "{reason}");
    }
}
