//! Where PKCS#11 modules live: one table, per operating system, in the order `auto` tries
//! them. The vendor's module comes first: a Buypass card is read only by Buypass Access
//! (SecMaker Net iD under licence, module `iidp11`); OpenSC reads PIV and other cards it has
//! drivers for. The table is also in `docs/cards.md`; keep the two the same.

use std::path::{Path, PathBuf};

/// Who makes a module, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Vendor {
    /// Buypass Access / Net iD (`iidp11`). The file name for the Buypass build is inferred
    /// from Net iD's, not confirmed on an installed copy.
    NetId,
    /// OpenSC (`opensc-pkcs11`).
    OpenSc,
}

impl Vendor {
    /// The product's name as people know it.
    pub fn product(self) -> &'static str {
        match self {
            Vendor::NetId => "Buypass Access (Net iD)",
            Vendor::OpenSc => "OpenSC",
        }
    }
}

/// One place a module may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownModule {
    /// Whose module.
    pub vendor: Vendor,
    /// The path; on Windows `%SystemRoot%` and `%ProgramFiles%` are filled in from the
    /// environment.
    pub path: &'static str,
}

const fn m(vendor: Vendor, path: &'static str) -> KnownModule {
    KnownModule { vendor, path }
}

/// Linux: the vendor's packages install into /usr/lib or /usr/local/lib; distributions put
/// OpenSC's module under their multiarch directory.
const LINUX: &[KnownModule] = &[
    m(Vendor::NetId, "/usr/lib/libiidp11.so"),
    m(Vendor::NetId, "/usr/local/lib/libiidp11.so"),
    m(Vendor::NetId, "/opt/iid/lib/libiidp11.so"),
    m(Vendor::OpenSc, "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"),
    m(
        Vendor::OpenSc,
        "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    ),
    m(Vendor::OpenSc, "/usr/lib64/opensc-pkcs11.so"),
    m(Vendor::OpenSc, "/usr/lib/opensc-pkcs11.so"),
    m(Vendor::OpenSc, "/usr/local/lib/opensc-pkcs11.so"),
];

/// Windows: Net iD installs its module into System32; OpenSC into its program folder and
/// System32.
const WINDOWS: &[KnownModule] = &[
    m(Vendor::NetId, "%SystemRoot%\\System32\\iidp11.dll"),
    m(Vendor::NetId, "%ProgramFiles%\\Net iD\\Client\\iidp11.dll"),
    m(
        Vendor::NetId,
        "%ProgramFiles%\\Buypass\\Buypass Access\\iidp11.dll",
    ),
    m(Vendor::OpenSc, "%SystemRoot%\\System32\\opensc-pkcs11.dll"),
    m(
        Vendor::OpenSc,
        "%ProgramFiles%\\OpenSC Project\\OpenSC\\pkcs11\\opensc-pkcs11.dll",
    ),
];

/// macOS: both vendors install under /Library or /usr/local.
const MACOS: &[KnownModule] = &[
    m(Vendor::NetId, "/usr/local/lib/libiidp11.dylib"),
    m(
        Vendor::NetId,
        "/Library/Application Support/iid/libiidp11.dylib",
    ),
    m(Vendor::OpenSc, "/Library/OpenSC/lib/opensc-pkcs11.so"),
    m(Vendor::OpenSc, "/usr/local/lib/opensc-pkcs11.so"),
];

/// The table for an operating system (`std::env::consts::OS`), in the order tried.
pub fn known_modules(os: &str) -> &'static [KnownModule] {
    match os {
        "windows" => WINDOWS,
        "macos" => MACOS,
        _ => LINUX,
    }
}

/// Fills `%NAME%` from `env`; `None` when a variable is not set.
pub fn expand(path: &str, env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('%') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('%') else { break };
        out.push_str(&rest[..start]);
        out.push_str(&env(&after[..end])?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(PathBuf::from(out))
}

/// The modules installed here, in the order tried: `(vendor, path)`.
pub fn installed(
    os: &str,
    env: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&Path) -> bool,
) -> Vec<(Vendor, PathBuf)> {
    known_modules(os)
        .iter()
        .filter_map(|k| expand(k.path, &env).map(|p| (k.vendor, p)))
        .filter(|(_, p)| exists(p))
        .collect()
}

/// The modules installed on this machine.
pub fn installed_here() -> Vec<(Vendor, PathBuf)> {
    installed(
        std::env::consts::OS,
        |name| std::env::var(name).ok(),
        |p| p.is_file(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendor_module_is_tried_before_opensc_everywhere() {
        for os in ["linux", "windows", "macos"] {
            let table = known_modules(os);
            let first_opensc = table.iter().position(|k| k.vendor == Vendor::OpenSc);
            let last_netid = table.iter().rposition(|k| k.vendor == Vendor::NetId);
            assert!(last_netid < first_opensc, "{os}");
        }
    }

    #[test]
    fn windows_paths_are_filled_from_the_environment() {
        let env = |name: &str| match name {
            "SystemRoot" => Some("C:\\Windows".to_string()),
            "ProgramFiles" => Some("C:\\Program Files".to_string()),
            _ => None,
        };
        assert_eq!(
            expand("%SystemRoot%\\System32\\iidp11.dll", env),
            Some(PathBuf::from("C:\\Windows\\System32\\iidp11.dll"))
        );
        assert_eq!(expand("%Nope%\\x.dll", env), None);
        assert_eq!(expand("50%", env), Some(PathBuf::from("50%")));
        let found = installed("windows", env, |p| p.to_string_lossy().contains("opensc"));
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|(v, _)| *v == Vendor::OpenSc));
    }

    #[test]
    fn only_existing_modules_are_listed_in_table_order() {
        let found = installed(
            "linux",
            |_| None,
            |p| p.ends_with("libiidp11.so") || p.starts_with("/usr/lib64"),
        );
        assert_eq!(found[0].0, Vendor::NetId);
        assert_eq!(
            found.last().unwrap().1,
            PathBuf::from("/usr/lib64/opensc-pkcs11.so")
        );
    }
}
