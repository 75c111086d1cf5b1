//! The macOS probes, one file per fact; all without admin rights.
//!
//! Each probe asks the computer through the [`Host`] only (programs by absolute path, so a
//! `PATH` of the user's cannot put another `fdesetup` in front of Apple's; files; their
//! modification times), and hands the text to pure parsers tested on fixtures in
//! `tests/fixtures/posture/macos/`. The code builds on every platform and is tested on
//! Linux; the runner chooses it only on macOS. What each source proves and why it was chosen
//! is in `docs/posture-probes.md`, section "macOS".

mod antivirus;
mod disk_encryption;
mod firewall;
mod os;
mod plist;
mod screen_lock;
mod updates;

use super::{CommandOutput, Host, Probes};

/// The macOS probes, one per fact.
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

/// `plutil(1)`: turns binary property lists into XML.
const PLUTIL: &str = "/usr/bin/plutil";

/// Reads a property list: XML as it is, binary through `plutil -convert xml1` (the tool is on
/// every Mac; the file is read first so the common XML case needs no program at all).
fn read_plist(host: &dyn Host, path: &str) -> Result<plist::Value, String> {
    let bytes = host.read(path)?;
    if bytes.starts_with(b"bplist") {
        let out = host
            .run(PLUTIL, &["-convert", "xml1", "-o", "-", path])
            .map_err(|e| format!("{path} is a binary property list, and {e}"))?;
        if !out.success() {
            return Err(format!(
                "{path} is a binary property list, and {}",
                failed("plutil", &out)
            ));
        }
        plist::parse(&out.stdout)
            .map_err(|e| format!("plutil's XML for {path} could not be read: {e}"))
    } else {
        plist::parse(&String::from_utf8_lossy(&bytes))
            .map_err(|e| format!("{path} could not be read as a property list: {e}"))
    }
}

/// Everything a program printed, standard output then standard error: several macOS tools
/// (`sysadminctl`, `defaults` on a missing key) say what matters on standard error.
fn all_output(out: &CommandOutput) -> String {
    if out.stderr.is_empty() {
        out.stdout.clone()
    } else {
        format!("{}\n{}", out.stdout, out.stderr)
    }
}

/// "`tool` exited with 1: «first line»", for the reason of an unknown fact.
fn failed(tool: &str, out: &CommandOutput) -> String {
    let status = out.status.map_or("was ended by a signal".to_string(), |c| {
        format!("exited with {c}")
    });
    let said = snippet(&all_output(out));
    if said.is_empty() {
        format!("{tool} {status}")
    } else {
        format!("{tool} {status}: «{said}»")
    }
}

/// "`tool` said «…», which is not understood", for output a parser did not recognise.
fn not_understood(tool: &str, out: &CommandOutput) -> String {
    let said = snippet(&all_output(out));
    if said.is_empty() {
        format!("{tool} printed nothing")
    } else {
        format!("{tool} said «{said}», which is not understood")
    }
}

/// The first non-empty line of `text`, at most 120 characters, for reasons.
fn snippet(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut s: String = line.chars().take(120).collect();
    if line.chars().count() > 120 {
        s.push('…');
    }
    s
}

#[cfg(test)]
fn fixture(name: &str) -> String {
    super::fake::fixture("macos", name)
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeHost;
    use super::*;

    #[test]
    fn binary_property_lists_go_through_plutil_and_xml_ones_do_not() {
        let mut host = FakeHost::default();
        host.file("/x.plist", "<plist><integer>1</integer></plist>")
            .file("/b.plist", b"bplist00\x01\x02".to_vec())
            .command(
                "/usr/bin/plutil -convert xml1 -o - /b.plist",
                0,
                "<plist><integer>2</integer></plist>",
            )
            .file("/c.plist", b"bplist00\x03".to_vec());
        assert_eq!(read_plist(&host, "/x.plist"), Ok(plist::Value::Integer(1)));
        assert_eq!(read_plist(&host, "/b.plist"), Ok(plist::Value::Integer(2)));
        assert_eq!(
            read_plist(&host, "/c.plist").unwrap_err(),
            "/c.plist is a binary property list, and /usr/bin/plutil is not installed"
        );
        assert_eq!(
            read_plist(&host, "/none.plist").unwrap_err(),
            "/none.plist does not exist"
        );
        host.file("/g.plist", "{ oops");
        assert!(read_plist(&host, "/g.plist")
            .unwrap_err()
            .starts_with("/g.plist could not be read as a property list"));
    }

    #[test]
    fn reasons_quote_the_first_line_briefly() {
        let out = CommandOutput {
            status: Some(1),
            stdout: "\n  first line  \nsecond\n".into(),
            stderr: String::new(),
        };
        assert_eq!(
            failed("fdesetup", &out),
            "fdesetup exited with 1: «first line»"
        );
        let silent = CommandOutput {
            status: None,
            ..CommandOutput::default()
        };
        assert_eq!(failed("pmset", &silent), "pmset was ended by a signal");
        assert_eq!(not_understood("pmset", &silent), "pmset printed nothing");
        assert_eq!(snippet(&"x".repeat(200)).chars().count(), 121);
    }
}
