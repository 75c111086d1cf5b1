//! The operating system: WMI `Win32_OperatingSystem` (the product name as Windows shows it,
//! the version, the build, the architecture) and the registry key
//! `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion` (the release, `DisplayVersion`, and the
//! update build revision, `UBR`, which WMI does not give). The registry's `ProductName` says
//! "Windows 10" even on Windows 11, so it is only a fallback, corrected by the build.
//!
//! The build number is placed against the release it belongs to ([`RELEASES`]), so the name
//! reads e.g. "Windows 11 Pro 23H2"; a build the table does not know takes the registry's
//! `DisplayVersion`.

use super::access::{Hive, System};
use crate::posture::probe::Host;
use crate::posture::report::{Fact, OsFacts};
use serde::Deserialize;

/// The WMI namespace of `Win32_OperatingSystem`.
const CIMV2: &str = r"root\cimv2";
/// The registry key of the release and the update build revision.
pub const CURRENT_VERSION: &str = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion";

/// A row of `Win32_OperatingSystem` (the properties used).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OperatingSystem {
    /// "Microsoft Windows 11 Pro" (the edition, in the system's language where it has one).
    #[serde(rename = "Caption")]
    pub caption: Option<String>,
    /// "10.0.22631".
    #[serde(rename = "Version")]
    pub version: Option<String>,
    /// "22631".
    #[serde(rename = "BuildNumber")]
    pub build_number: Option<String>,
    /// "64-bit", "ARM 64-bit Processor" (localised: "64-Bit", "64-biters").
    #[serde(rename = "OSArchitecture")]
    pub os_architecture: Option<String>,
    /// 1 workstation, 2 domain controller, 3 server.
    #[serde(rename = "ProductType")]
    pub product_type: Option<u32>,
}

/// The values of `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion` used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentVersion {
    /// `ProductName`: "Windows 10 Pro" (also on Windows 11).
    pub product_name: Option<String>,
    /// `DisplayVersion`: "23H2" (Windows 10 20H2 and later).
    pub display_version: Option<String>,
    /// `CurrentBuildNumber`: "22631".
    pub current_build_number: Option<String>,
    /// `UBR`: the update build revision, 4602 in 22631.4602.
    pub ubr: Option<u64>,
    /// `CurrentMajorVersionNumber`: 10.
    pub major: Option<u64>,
    /// `CurrentMinorVersionNumber`: 0.
    pub minor: Option<u64>,
}

/// Client releases by build number: (build, product, version). From Microsoft's release
/// information pages for Windows 10 and Windows 11 (learn.microsoft.com/windows/release-health);
/// a newer build is named by the registry's `DisplayVersion` until it is added here.
pub const RELEASES: &[(u32, &str, &str)] = &[
    (10240, "Windows 10", "1507"),
    (10586, "Windows 10", "1511"),
    (14393, "Windows 10", "1607"),
    (15063, "Windows 10", "1703"),
    (16299, "Windows 10", "1709"),
    (17134, "Windows 10", "1803"),
    (17763, "Windows 10", "1809"),
    (18362, "Windows 10", "1903"),
    (18363, "Windows 10", "1909"),
    (19041, "Windows 10", "2004"),
    (19042, "Windows 10", "20H2"),
    (19043, "Windows 10", "21H1"),
    (19044, "Windows 10", "21H2"),
    (19045, "Windows 10", "22H2"),
    (22000, "Windows 11", "21H2"),
    (22621, "Windows 11", "22H2"),
    (22631, "Windows 11", "23H2"),
    (26100, "Windows 11", "24H2"),
    (26200, "Windows 11", "25H2"),
];

/// Server releases (long-term servicing) by build number, from the Windows Server release
/// information page; they share builds with client releases, so the product type decides.
pub const SERVER_RELEASES: &[(u32, &str)] = &[
    (14393, "Windows Server 2016"),
    (17763, "Windows Server 2019"),
    (20348, "Windows Server 2022"),
    (26100, "Windows Server 2025"),
];

/// The first build of Windows 11.
const FIRST_WINDOWS_11: u32 = 22000;

/// The client release a build belongs to: ("Windows 11", "23H2").
pub fn release(build: u32) -> Option<(&'static str, &'static str)> {
    RELEASES
        .iter()
        .find(|(b, _, _)| *b == build)
        .map(|(_, product, version)| (*product, *version))
}

/// The server release a build belongs to.
pub fn server_release(build: u32) -> Option<&'static str> {
    SERVER_RELEASES
        .iter()
        .find(|(b, _)| *b == build)
        .map(|(_, name)| *name)
}

/// The architecture: from WMI's (localised) `OSArchitecture`, else from the environment's
/// `PROCESSOR_ARCHITEW6432` / `PROCESSOR_ARCHITECTURE` (`AMD64`, `ARM64`, `x86`), else what
/// this program was built for.
pub fn architecture(os_architecture: Option<&str>, environment: Option<&str>) -> String {
    if let Some(arch) = os_architecture {
        let arch = arch.to_ascii_lowercase();
        if arch.contains("arm") && arch.contains("64") {
            return "aarch64".into();
        }
        if arch.contains("64") {
            return "x86_64".into();
        }
        if arch.contains("32") {
            return "x86".into();
        }
    }
    match environment.map(str::to_ascii_uppercase).as_deref() {
        Some("AMD64") => "x86_64".into(),
        Some("ARM64") => "aarch64".into(),
        Some("X86") => "x86".into(),
        _ => std::env::consts::ARCH.into(),
    }
}

/// The facts from what WMI (`wmi`: its row, or why there is none) and the registry said.
pub fn decide(
    wmi: Result<OperatingSystem, String>,
    registry: &CurrentVersion,
    environment_arch: Option<&str>,
) -> Fact<OsFacts> {
    let (os, wmi_reason) = match wmi {
        Ok(os) => (os, None),
        Err(reason) => (OperatingSystem::default(), Some(reason)),
    };
    let build_text = os
        .build_number
        .clone()
        .or_else(|| registry.current_build_number.clone());
    let build: Option<u32> = build_text.as_deref().and_then(|b| b.trim().parse().ok());
    let caption = os
        .caption
        .as_deref()
        .map(|c| c.trim().trim_start_matches("Microsoft ").trim().to_string())
        .filter(|c| !c.is_empty());
    let product_name = registry
        .product_name
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    if caption.is_none() && product_name.is_none() && build.is_none() {
        let wmi = wmi_reason.unwrap_or_else(|| "Win32_OperatingSystem has no caption".into());
        return Fact::unknown(format!(
            r"{wmi}; HKLM\{CURRENT_VERSION} has no ProductName or CurrentBuildNumber"
        ));
    }
    let mut base = caption
        .or(product_name.map(str::to_string))
        .unwrap_or_default();
    let server =
        os.product_type.is_some_and(|t| t != 1) || base.to_ascii_lowercase().contains("server");
    if base.is_empty() {
        base = match build {
            Some(b) if server => server_release(b).unwrap_or("Windows Server").into(),
            Some(b) => release(b).map_or("Windows", |(product, _)| product).into(),
            None => "Windows".into(),
        };
    }
    // The registry's ProductName keeps "Windows 10" on Windows 11.
    if !server && build.is_some_and(|b| b >= FIRST_WINDOWS_11) && base.starts_with("Windows 10") {
        base = base.replacen("Windows 10", "Windows 11", 1);
    }
    let display_version = registry
        .display_version
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let release_version = match build.and_then(release) {
        Some((_, version)) if !server => Some(version),
        _ if !server => display_version,
        _ => None,
    };
    let name = match release_version {
        Some(v) if !base.split_whitespace().any(|w| w == v) => format!("{base} {v}"),
        _ => base,
    };
    let version = os
        .version
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .or_else(|| match (registry.major, registry.minor, build) {
            (Some(major), Some(minor), Some(b)) => Some(format!("{major}.{minor}.{b}")),
            (_, _, Some(b)) if b >= 10240 => Some(format!("10.0.{b}")),
            _ => None,
        })
        .or_else(|| build.map(|b| b.to_string()))
        .unwrap_or_default();
    let build = build.map(|b| match registry.ubr {
        Some(ubr) => format!("{b}.{ubr}"),
        None => b.to_string(),
    });
    Fact::known(OsFacts {
        family: "windows".into(),
        name,
        version,
        build,
        architecture: architecture(os.os_architecture.as_deref(), environment_arch),
    })
}

/// Reads `CurrentVersion`; values that cannot be read are missing.
pub fn read_current_version(sys: &impl System) -> CurrentVersion {
    let value = |name: &str| {
        sys.value(Hive::LocalMachine, CURRENT_VERSION, name)
            .ok()
            .flatten()
    };
    CurrentVersion {
        product_name: value("ProductName").and_then(|v| v.text()),
        display_version: value("DisplayVersion").and_then(|v| v.text()),
        current_build_number: value("CurrentBuildNumber").and_then(|v| v.text()),
        ubr: value("UBR").and_then(|v| v.number()),
        major: value("CurrentMajorVersionNumber").and_then(|v| v.number()),
        minor: value("CurrentMinorVersionNumber").and_then(|v| v.number()),
    }
}

/// The probe.
pub fn probe(host: &dyn Host, sys: &impl System) -> Fact<OsFacts> {
    let wmi = sys
        .query::<OperatingSystem>(CIMV2, "Win32_OperatingSystem")
        .and_then(|rows| {
            rows.into_iter()
                .next()
                .ok_or_else(|| r"WMI class Win32_OperatingSystem in root\cimv2 has no row".into())
        });
    let arch = host
        .env("PROCESSOR_ARCHITEW6432")
        .or_else(|| host.env("PROCESSOR_ARCHITECTURE"));
    decide(wmi, &read_current_version(sys), arch.as_deref())
}

#[cfg(test)]
mod tests {
    use super::super::access::RegData;
    use super::super::fake::{fixture, FakeSystem};
    use super::*;
    use crate::posture::probe::fake::FakeHost;

    fn current_version(sys: &mut FakeSystem, build: &str, display: &str, ubr: u64) {
        let text = |s: &str| RegData::Text(s.into());
        sys.set(
            Hive::LocalMachine,
            CURRENT_VERSION,
            "ProductName",
            text("Windows 10 Pro"),
        )
        .set(
            Hive::LocalMachine,
            CURRENT_VERSION,
            "DisplayVersion",
            text(display),
        )
        .set(
            Hive::LocalMachine,
            CURRENT_VERSION,
            "CurrentBuildNumber",
            text(build),
        )
        .set(
            Hive::LocalMachine,
            CURRENT_VERSION,
            "UBR",
            RegData::Number(ubr),
        )
        .set(
            Hive::LocalMachine,
            CURRENT_VERSION,
            "CurrentMajorVersionNumber",
            RegData::Number(10),
        )
        .set(
            Hive::LocalMachine,
            CURRENT_VERSION,
            "CurrentMinorVersionNumber",
            RegData::Number(0),
        );
    }

    #[test]
    fn windows_11_is_named_by_its_release_and_build() {
        let mut sys = FakeSystem::default();
        sys.rows(
            CIMV2,
            "Win32_OperatingSystem",
            fixture!("win32_operatingsystem-11-23h2.json"),
        );
        current_version(&mut sys, "22631", "23H2", 4602);
        let os = probe(&FakeHost::default(), &sys);
        assert_eq!(
            os,
            Fact::known(OsFacts {
                family: "windows".into(),
                name: "Windows 11 Pro 23H2".into(),
                version: "10.0.22631".into(),
                build: Some("22631.4602".into()),
                architecture: "x86_64".into(),
            })
        );
    }

    #[test]
    fn windows_10_22h2_and_a_server() {
        let mut sys = FakeSystem::default();
        sys.rows(
            CIMV2,
            "Win32_OperatingSystem",
            fixture!("win32_operatingsystem-10-22h2.json"),
        );
        current_version(&mut sys, "19045", "22H2", 5247);
        let os = probe(&FakeHost::default(), &sys);
        let os = os.value().unwrap();
        assert_eq!(
            (os.name.as_str(), os.version.as_str(), os.build.as_deref()),
            (
                "Windows 10 Enterprise 22H2",
                "10.0.19045",
                Some("19045.5247")
            )
        );

        let server = OperatingSystem {
            caption: Some("Microsoft Windows Server 2022 Standard".into()),
            version: Some("10.0.20348".into()),
            build_number: Some("20348".into()),
            os_architecture: Some("64-bit".into()),
            product_type: Some(3),
        };
        let fact = decide(Ok(server), &CurrentVersion::default(), None);
        assert_eq!(fact.value().unwrap().name, "Windows Server 2022 Standard");
    }

    #[test]
    fn without_wmi_the_registry_names_it_and_windows_11_is_not_called_10() {
        let mut sys = FakeSystem::default();
        sys.fails(CIMV2, "Win32_OperatingSystem", 0x8007_06BA);
        current_version(&mut sys, "26100", "24H2", 2605);
        let mut host = FakeHost::default();
        host.env
            .insert("PROCESSOR_ARCHITECTURE".into(), "ARM64".into());
        let os = probe(&host, &sys);
        assert_eq!(
            os,
            Fact::known(OsFacts {
                family: "windows".into(),
                name: "Windows 11 Pro 24H2".into(),
                version: "10.0.26100".into(),
                build: Some("26100.2605".into()),
                architecture: "aarch64".into(),
            })
        );
    }

    #[test]
    fn a_build_the_table_does_not_know_takes_the_display_version() {
        let registry = CurrentVersion {
            product_name: Some("Windows 10 Pro".into()),
            display_version: Some("26H2".into()),
            current_build_number: Some("26300".into()),
            ..CurrentVersion::default()
        };
        let fact = decide(Err("no WMI".into()), &registry, Some("AMD64"));
        let os = fact.value().unwrap();
        assert_eq!(
            (os.name.as_str(), os.version.as_str()),
            ("Windows 11 Pro 26H2", "10.0.26300")
        );
    }

    #[test]
    fn nothing_to_go_on_is_unknown_with_both_reasons() {
        let sys = FakeSystem::default();
        let os = probe(&FakeHost::default(), &sys);
        assert_eq!(
            os,
            Fact::unknown(
                r"WMI class Win32_OperatingSystem is not available in root\cimv2; HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion has no ProductName or CurrentBuildNumber"
            )
        );
    }

    #[test]
    fn architecture_from_localised_wmi_or_the_environment() {
        assert_eq!(architecture(Some("64-biters"), None), "x86_64");
        assert_eq!(
            architecture(Some("ARM 64-bit Processor"), Some("AMD64")),
            "aarch64"
        );
        assert_eq!(architecture(Some("32-bit"), None), "x86");
        assert_eq!(architecture(None, Some("amd64")), "x86_64");
    }

    #[test]
    fn release_table_has_no_duplicate_builds() {
        for (i, (build, _, _)) in RELEASES.iter().enumerate() {
            assert!(
                RELEASES[i + 1..].iter().all(|(b, _, _)| b > build),
                "{build}"
            );
        }
        assert_eq!(release(22631), Some(("Windows 11", "23H2")));
        assert_eq!(release(19045), Some(("Windows 10", "22H2")));
        assert_eq!(server_release(17763), Some("Windows Server 2019"));
    }
}
