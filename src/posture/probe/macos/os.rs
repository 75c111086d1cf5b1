//! The operating system: `sw_vers` for the version and build, a table for the marketing name,
//! and `sysctl hw.optional.arm64` for the machine's architecture.

use super::{failed, Host};
use crate::posture::report::{Fact, OsFacts};

const SW_VERS: &str = "/usr/bin/sw_vers";
const SYSCTL: &str = "/usr/sbin/sysctl";

/// What `sw_vers` says.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct SwVers {
    /// `ProductVersion`: dotted numbers.
    pub version: String,
    /// `BuildVersion`.
    pub build: Option<String>,
    /// `ProductVersionExtra`: the Rapid Security Response applied, such as `(a)`.
    pub extra: Option<String>,
}

/// Reads `sw_vers` output: `Key:<tabs>Value` lines; `ProductVersion` must be dotted numbers.
pub(super) fn parse_sw_vers(text: &str) -> Result<SwVers, String> {
    let field = |key: &str| {
        text.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == key)
                .then(|| v.trim().to_string())
                .filter(|v| !v.is_empty())
        })
    };
    let version = field("ProductVersion").ok_or("sw_vers gave no ProductVersion")?;
    let dotted = version
        .split('.')
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !dotted || version.len() > 20 {
        return Err(format!(
            "sw_vers gave the ProductVersion «{version}», which is not dotted numbers"
        ));
    }
    Ok(SwVers {
        version,
        build: field("BuildVersion"),
        extra: field("ProductVersionExtra"),
    })
}

/// Apple's marketing name for a version, where this table knows it.
pub(super) fn marketing_name(version: &str) -> Option<&'static str> {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next().flatten()?;
    let minor = parts.next().flatten().unwrap_or(0);
    Some(match (major, minor) {
        (10, 12) => "Sierra",
        (10, 13) => "High Sierra",
        (10, 14) => "Mojave",
        (10, 15) => "Catalina",
        (11, _) => "Big Sur",
        (12, _) => "Monterey",
        (13, _) => "Ventura",
        (14, _) => "Sonoma",
        (15, _) => "Sequoia",
        (26, _) => "Tahoe",
        _ => return None,
    })
}

/// The facts from `sw_vers`'s answer and the architecture.
pub(super) fn os_facts(sw: SwVers, architecture: String) -> Result<OsFacts, String> {
    // macOS 11 and later answer 10.16 to programs run with SYSTEM_VERSION_COMPAT=1; that
    // hides the real version, so it is no answer.
    if sw.version == "10.16" || sw.version.starts_with("10.16.") {
        return Err(
            "sw_vers gave 10.16, the stand-in version macOS 11 and later give when \
                    SYSTEM_VERSION_COMPAT is set; the real version is hidden"
                .into(),
        );
    }
    let name = match marketing_name(&sw.version) {
        Some(m) => format!("macOS {m}"),
        None => "macOS".to_string(),
    };
    // The Rapid Security Response rides on the build, so the version stays dotted numbers.
    let build = match (sw.build, sw.extra) {
        (Some(b), Some(x)) => Some(format!("{b} {x}")),
        (b, None) => b,
        (None, Some(x)) => Some(x),
    };
    Ok(OsFacts {
        family: "macos".into(),
        name,
        version: sw.version,
        build,
        architecture,
    })
}

/// The machine's architecture as Rust names it (`aarch64`, `x86_64`). An Intel build running
/// under Rosetta on Apple silicon sees `x86_64` from `uname -m` and in its own target, so the
/// hardware is asked: `hw.optional.arm64` is 1 on Apple silicon and missing on Intel.
pub(super) fn architecture(host: &dyn Host) -> String {
    match host.run(SYSCTL, &["-n", "hw.optional.arm64"]) {
        Ok(out) if out.success() && out.stdout.trim() == "1" => "aarch64".into(),
        _ => normalise_arch(std::env::consts::ARCH),
    }
}

fn normalise_arch(arch: &str) -> String {
    match arch {
        "arm64" => "aarch64".into(),
        "i386" | "i686" => "x86".into(),
        other => other.into(),
    }
}

/// The probe.
pub(super) fn probe(host: &dyn Host) -> Fact<OsFacts> {
    let out = match host.run(SW_VERS, &[]) {
        Ok(out) => out,
        Err(e) => return Fact::unknown(e),
    };
    if !out.success() {
        return Fact::unknown(failed("sw_vers", &out));
    }
    match parse_sw_vers(&out.stdout).and_then(|sw| os_facts(sw, architecture(host))) {
        Ok(facts) => Fact::known(facts),
        Err(e) => Fact::unknown(e),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;
    use crate::posture::probe::fake::FakeHost;

    fn facts(name: &str) -> Result<OsFacts, String> {
        parse_sw_vers(&fixture(name)).and_then(|sw| os_facts(sw, "aarch64".into()))
    }

    #[test]
    fn versions_builds_and_names() {
        let sonoma = facts("sw_vers-sonoma.txt").unwrap();
        assert_eq!(
            sonoma,
            OsFacts {
                family: "macos".into(),
                name: "macOS Sonoma".into(),
                version: "14.6.1".into(),
                build: Some("23G93".into()),
                architecture: "aarch64".into(),
            }
        );
        let catalina = facts("sw_vers-catalina.txt").unwrap();
        assert_eq!(
            (catalina.name.as_str(), catalina.version.as_str()),
            ("macOS Catalina", "10.15.7")
        );
        let tahoe = facts("sw_vers-tahoe.txt").unwrap();
        assert_eq!(
            (
                tahoe.name.as_str(),
                tahoe.version.as_str(),
                tahoe.build.as_deref()
            ),
            ("macOS Tahoe", "26.0.1", Some("25A362"))
        );
    }

    #[test]
    fn a_rapid_security_response_rides_on_the_build() {
        let ventura = facts("sw_vers-ventura-rsr.txt").unwrap();
        assert_eq!(ventura.name, "macOS Ventura");
        assert_eq!(ventura.version, "13.4.1");
        assert_eq!(ventura.build.as_deref(), Some("22F770820d (c)"));
    }

    #[test]
    fn a_version_the_table_does_not_know_is_still_reported() {
        let sw = parse_sw_vers("ProductName:\tmacOS\nProductVersion:\t27.0\nBuildVersion:\t26A1\n")
            .unwrap();
        let f = os_facts(sw, "aarch64".into()).unwrap();
        assert_eq!((f.name.as_str(), f.version.as_str()), ("macOS", "27.0"));
    }

    #[test]
    fn the_compatibility_version_and_garbage_are_not_answers() {
        let compat = facts("sw_vers-compat-10.16.txt").unwrap_err();
        assert!(compat.contains("SYSTEM_VERSION_COMPAT"), "{compat}");
        assert_eq!(
            facts("sw_vers-garbage.txt").unwrap_err(),
            "sw_vers gave no ProductVersion"
        );
        assert!(parse_sw_vers("ProductVersion: fourteen\n")
            .unwrap_err()
            .contains("not dotted numbers"));
        assert!(parse_sw_vers("ProductVersion: 14..1\n").is_err());
    }

    #[test]
    fn the_table_names_each_release_since_sierra() {
        for (v, name) in [
            ("10.12.6", Some("Sierra")),
            ("10.13", Some("High Sierra")),
            ("10.14.6", Some("Mojave")),
            ("11.7.10", Some("Big Sur")),
            ("12.7.6", Some("Monterey")),
            ("13.7", Some("Ventura")),
            ("14.0", Some("Sonoma")),
            ("15.3.2", Some("Sequoia")),
            ("26", Some("Tahoe")),
            ("10.11.6", None),
            ("16.0", None),
            ("x", None),
        ] {
            assert_eq!(marketing_name(v), name, "{v}");
        }
    }

    #[test]
    fn the_probe_asks_the_hardware_for_its_architecture() {
        let mut host = FakeHost::default();
        host.command("/usr/bin/sw_vers", 0, &fixture("sw_vers-sonoma.txt"));
        let native = normalise_arch(std::env::consts::ARCH);
        assert_eq!(host_arch(&host), native, "no sysctl: the build's own");
        host.command("/usr/sbin/sysctl -n hw.optional.arm64", 0, "1\n");
        assert_eq!(
            host_arch(&host),
            "aarch64",
            "Apple silicon, even under Rosetta"
        );
        host.command("/usr/sbin/sysctl -n hw.optional.arm64", 0, "0\n");
        assert_eq!(host_arch(&host), native);
        assert_eq!(normalise_arch("arm64"), "aarch64");
    }

    fn host_arch(host: &FakeHost) -> String {
        match probe(host) {
            Fact::Known { value } => value.architecture,
            Fact::Unknown { reason } => panic!("{reason}"),
        }
    }

    #[test]
    fn a_missing_or_failing_sw_vers_is_unknown_with_why() {
        let mut host = FakeHost::default();
        assert_eq!(
            probe(&host),
            Fact::unknown("/usr/bin/sw_vers is not installed")
        );
        host.command("/usr/bin/sw_vers", 1, "");
        assert_eq!(probe(&host), Fact::unknown("sw_vers exited with 1"));
    }
}
