//! BitLocker on the system drive, without admin rights.
//!
//! WMI's `Win32_EncryptableVolume` and `manage-bde` need admin rights, so the probe reads what
//! Explorer shows for the drive's padlock: the shell property `System.Volume.BitLockerProtection`,
//! through PowerShell and the `Shell.Application` COM object ([`script`]). The system drive is
//! the `SystemDrive` environment variable (`C:`).
//!
//! The property's values are not documented; the table ([`decode`]) is the one Windows' own
//! Explorer verbs use in their `AppliesTo` conditions under `HKCR\Drive\shell` (`manage-bde`
//! applies to `#On`, `#Encrypting` and `#Suspended`, which the lock verb writes as 1, 3 and 5;
//! `unlock-bde` to 6; the "turn on" verb to 2) together with what scripts in wide use report:
//!
//! | value | meaning | encrypted? |
//! |---|---|---|
//! | 0 | the volume cannot be encrypted (not BitLocker-capable) | no |
//! | 1 | on: encrypted, its key protected | yes |
//! | 2 | off: not encrypted | no |
//! | 3 | encrypting: not yet fully encrypted | no |
//! | 4 | decrypting | no |
//! | 5 | suspended: encrypted, but its key is in the clear on the disk | no |
//! | 6 | on and locked (a data volume; the running system's never is) | yes |
//! | other, or none | not known | unknown, saying the value |
//!
//! "Encrypted" means what the policy needs: the data is unreadable without the key. A
//! volume still encrypting, or with protection suspended, is not yet (or not now) that.

use super::access::first_line;
use crate::posture::probe::Host;
use crate::posture::report::Fact;

/// The PowerShell that prints the drive's `System.Volume.BitLockerProtection` (or `none`).
/// `drive` must be a drive letter and colon ([`system_drive`] checks it), so nothing else
/// reaches the script.
pub fn script(drive: &str) -> String {
    format!(
        "$ErrorActionPreference = 'Stop'; \
         $v = (New-Object -ComObject Shell.Application).NameSpace('{drive}\\').Self.ExtendedProperty('System.Volume.BitLockerProtection'); \
         if ($null -eq $v) {{ 'none' }} else {{ [string]$v }}"
    )
}

/// The system drive from `SystemDrive`, if it is a drive letter and colon; `C:` when unset.
pub fn system_drive(variable: Option<&str>) -> Result<String, String> {
    let drive = variable.map(str::trim).unwrap_or("C:");
    let b = drive.as_bytes();
    if b.len() == 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        Ok(drive.to_ascii_uppercase())
    } else {
        Err(format!("SystemDrive is not a drive letter: «{drive}»"))
    }
}

/// Whether the drive is encrypted, from the property's value as PowerShell printed it.
pub fn decode(drive: &str, printed: &str) -> Fact<bool> {
    let value = first_line(printed);
    match value.parse::<u32>() {
        Ok(1 | 6) => Fact::known(true),
        Ok(0 | 2 | 3 | 4 | 5) => Fact::known(false),
        Ok(other) => Fact::unknown(format!(
            "BitLocker reports state {other} for {drive}, which this client does not know"
        )),
        Err(_) if value.is_empty() => {
            Fact::unknown(format!(
                "powershell printed nothing for BitLocker's state of {drive} (not a working PowerShell?)"
            ))
        }
        Err(_) if value == "none" => Fact::unknown(format!(
            "Windows gives no BitLocker state for {drive} (no BitLocker on this edition?)"
        )),
        Err(_) => Fact::unknown(format!(
            "the BitLocker state of {drive} came as «{}»",
            value.chars().take(120).collect::<String>()
        )),
    }
}

/// The probe.
pub fn probe(host: &dyn Host) -> Fact<bool> {
    let drive = match system_drive(host.env("SystemDrive").as_deref()) {
        Ok(drive) => drive,
        Err(reason) => return Fact::unknown(reason),
    };
    let script = script(&drive);
    let out = match host.run(
        "powershell",
        &["-NoProfile", "-NonInteractive", "-Command", &script],
    ) {
        Ok(out) => out,
        Err(reason) => return Fact::unknown(reason),
    };
    if !out.success() {
        let said = [first_line(&out.stderr), first_line(&out.stdout)]
            .into_iter()
            .find(|l| !l.is_empty())
            .unwrap_or("no message");
        return Fact::unknown(format!(
            "the shell could not tell BitLocker's state of {drive}: {said}"
        ));
    }
    decode(&drive, &out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::probe::fake::FakeHost;

    #[test]
    fn the_value_table() {
        for (printed, want) in [("1\r\n", Some(true)), ("6", Some(true))] {
            assert_eq!(decode("C:", printed).value().copied(), want, "{printed:?}");
        }
        for printed in ["0", "2\r\n", "3", "4", "5"] {
            assert_eq!(decode("C:", printed), Fact::known(false), "{printed:?}");
        }
        assert_eq!(
            decode("C:", "8"),
            Fact::unknown("BitLocker reports state 8 for C:, which this client does not know")
        );
        assert_eq!(
            decode("C:", ""),
            Fact::unknown(
                "powershell printed nothing for BitLocker's state of C: (not a working PowerShell?)"
            )
        );
        assert_eq!(
            decode("C:", "none\r\n"),
            Fact::unknown(
                "Windows gives no BitLocker state for C: (no BitLocker on this edition?)"
            )
        );
    }

    #[test]
    fn the_system_drive_and_the_script() {
        let mut host = FakeHost::default();
        host.env.insert("SystemDrive".into(), "D:".into());
        let line = format!(
            "powershell -NoProfile -NonInteractive -Command {}",
            script("D:")
        );
        host.command(&line, 0, "1\r\n");
        assert_eq!(probe(&host), Fact::known(true));
        assert!(script("D:").contains("NameSpace('D:\\')"));

        host.env
            .insert("SystemDrive".into(), "C:'; Remove-Item x; '".into());
        assert!(
            matches!(probe(&host), Fact::Unknown { reason } if reason.starts_with("SystemDrive is not a drive letter"))
        );
    }

    #[test]
    fn without_powershell() {
        assert_eq!(
            probe(&FakeHost::default()),
            Fact::unknown("powershell is not installed")
        );
    }
}
