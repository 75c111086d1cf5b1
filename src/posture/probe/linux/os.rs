//! The operating system: the distribution from `os-release`, the kernel as its build.

use crate::posture::probe::Host;
use crate::posture::report::{Fact, OsFacts};

/// Where `os-release` is; `/usr/lib` is the vendor's copy `/etc` may lack.
const OS_RELEASE: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

pub(super) fn probe(host: &dyn Host) -> Fact<OsFacts> {
    let mut why = Vec::new();
    let text = OS_RELEASE
        .iter()
        .find_map(|path| match host.read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                why.push(e);
                None
            }
        });
    let Some(text) = text else {
        return Fact::unknown(format!(
            "the distribution cannot be told: {}",
            why.join("; ")
        ));
    };
    let kernel = host
        .read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    match parse_os_release(&text, kernel, std::env::consts::ARCH) {
        Ok(os) => Fact::known(os),
        Err(e) => Fact::unknown(e),
    }
}

/// The facts from `os-release` (`KEY=value` lines, values shell-quoted), the kernel release
/// and the architecture. The version is `VERSION_ID`; where a distribution has none (rolling
/// ones, Debian testing), the first dotted number in `VERSION`, else `BUILD_ID` (`rolling`),
/// else `VERSION_CODENAME`.
pub(super) fn parse_os_release(
    text: &str,
    kernel: Option<String>,
    arch: &str,
) -> Result<OsFacts, String> {
    let field = |key: &str| -> Option<String> {
        text.lines()
            .filter_map(|line| line.trim().split_once('='))
            .filter(|(k, _)| k.trim() == key)
            .map(|(_, v)| unquote(v.trim()))
            .rfind(|v| !v.is_empty())
    };
    let name = field("NAME")
        .or_else(|| field("PRETTY_NAME"))
        .or_else(|| field("ID"))
        .ok_or("os-release names no distribution (no NAME, PRETTY_NAME or ID)")?;
    let version = field("VERSION_ID")
        .or_else(|| field("VERSION").and_then(|v| dotted_number(&v)))
        .or_else(|| field("BUILD_ID"))
        .or_else(|| field("VERSION_CODENAME"))
        .unwrap_or_else(|| "unknown".into());
    Ok(OsFacts {
        family: "linux".into(),
        name,
        version,
        build: kernel,
        architecture: arch.into(),
    })
}

/// A shell-quoted value as os-release(5) allows: `"..."` with `\"`, `\\`, `\$`, `` \` ``
/// escapes, or `'...'`, or bare.
fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.to_string();
    }
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next @ ('"' | '\\' | '$' | '`'))) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// The first `12` or `15.5` or `22.04` in a text.
fn dotted_number(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|t| t.trim_matches('.'))
        .find(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::probe::fake::FakeHost;
    use crate::posture::probe::linux::fixture;

    fn parse(name: &str) -> OsFacts {
        parse_os_release(&fixture(name), Some("6.1.0-18-amd64".into()), "x86_64").unwrap()
    }

    #[test]
    fn reads_the_distributions() {
        let debian = parse("os-release-debian12.txt");
        assert_eq!(
            (
                debian.family.as_str(),
                debian.name.as_str(),
                debian.version.as_str()
            ),
            ("linux", "Debian GNU/Linux", "12")
        );
        assert_eq!(debian.build.as_deref(), Some("6.1.0-18-amd64"));
        assert_eq!(debian.architecture, "x86_64");
        let ubuntu = parse("os-release-ubuntu2404.txt");
        assert_eq!(
            (ubuntu.name.as_str(), ubuntu.version.as_str()),
            ("Ubuntu", "24.04")
        );
        let fedora = parse("os-release-fedora40.txt");
        assert_eq!(
            (fedora.name.as_str(), fedora.version.as_str()),
            ("Fedora Linux", "40")
        );
        let leap = parse("os-release-opensuse-leap155.txt");
        assert_eq!(
            (leap.name.as_str(), leap.version.as_str()),
            ("openSUSE Leap", "15.5")
        );
    }

    #[test]
    fn rolling_distributions_fall_back_to_what_they_have() {
        let arch = parse("os-release-arch.txt");
        assert_eq!(
            (arch.name.as_str(), arch.version.as_str()),
            ("Arch Linux", "rolling")
        );
        let sid = parse("os-release-debian-sid.txt");
        assert_eq!(
            (sid.name.as_str(), sid.version.as_str()),
            ("Debian GNU/Linux", "trixie")
        );
        let bare =
            parse_os_release("NAME=Gentoo\nVERSION=\"2.15 (stable)\"\n", None, "aarch64").unwrap();
        assert_eq!((bare.version.as_str(), bare.build), ("2.15", None));
    }

    #[test]
    fn quoting_and_garbage() {
        let quoted = parse_os_release(
            "# comment\nNAME='My \"Linux\"'\nVERSION_ID=\"1.2\"\nPRETTY_NAME=\"A \\\"B\\\" \\$C\"\n",
            None,
            "x86_64",
        )
        .unwrap();
        assert_eq!(
            (quoted.name.as_str(), quoted.version.as_str()),
            ("My \"Linux\"", "1.2")
        );
        assert_eq!(unquote(r#""A \"B\" \$C \x""#), r#"A "B" $C \x"#);
        let err = parse_os_release("\u{0}\u{1}garbage\n=\n", None, "x86_64").unwrap_err();
        assert!(err.contains("no NAME"), "{err}");
        let only_pretty =
            parse_os_release("PRETTY_NAME=\"Something 7\"\n", None, "x86_64").unwrap();
        assert_eq!(
            (only_pretty.name.as_str(), only_pretty.version.as_str()),
            ("Something 7", "unknown")
        );
    }

    #[test]
    fn the_vendor_copy_is_read_when_etc_has_none() {
        let mut host = FakeHost::default();
        host.file("/usr/lib/os-release", fixture("os-release-fedora40.txt"))
            .file("/proc/sys/kernel/osrelease", "6.8.9-300.fc40.x86_64\n");
        let os = probe(&host).value().cloned().unwrap();
        assert_eq!(os.name, "Fedora Linux");
        assert_eq!(os.build.as_deref(), Some("6.8.9-300.fc40.x86_64"));
        assert_eq!(os.architecture, std::env::consts::ARCH);
        let nothing = probe(&FakeHost::default());
        assert_eq!(
            nothing,
            Fact::unknown(
                "the distribution cannot be told: /etc/os-release does not exist; /usr/lib/os-release does not exist"
            )
        );
    }
}
