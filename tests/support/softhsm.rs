//! SoftHSM2 as a real PKCS#11 token for the tests: a token of its own in a temporary
//! directory (`SOFTHSM2_CONF`), holding TEST PKI keys and certificates imported with
//! `softhsm2-util` and OpenSC's `pkcs11-tool`, as an administrator would.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::world::PIN;

/// Where distributions put SoftHSM2's module.
const MODULE_CANDIDATES: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// The token's label.
pub const LABEL: &str = "hjemmekontor-test";

/// SoftHSM2's module, if installed.
pub fn module() -> Option<PathBuf> {
    MODULE_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// True when SoftHSM2 and `pkcs11-tool` are there. Without them: with `CI` set the test
/// fails with the reason; otherwise it prints a notice and the caller skips.
pub fn require_softhsm(test: &str) -> bool {
    let tool = Command::new("pkcs11-tool").arg("--help").output().is_ok();
    let problem = match (module(), tool) {
        (Some(_), true) => return true,
        (None, _) => "SoftHSM2 (package softhsm2) is not installed",
        (_, false) => "OpenSC's pkcs11-tool is not installed",
    };
    if std::env::var_os("CI").is_some() {
        panic!("{test}: a PKCS#11 token is required when CI is set, but {problem}");
    }
    eprintln!("{test}: skipped: {problem}");
    false
}

/// A SoftHSM2 token of its own.
pub struct Token {
    dir: tempfile::TempDir,
    /// `SOFTHSM2_CONF` for processes that use the token.
    pub conf: PathBuf,
    /// The module to load.
    pub module: PathBuf,
}

impl Token {
    /// A new token (user PIN [`PIN`]) holding the key and certificate of each TEST PKI
    /// variant, with ids `01`, `02`, … in order.
    pub fn with(variants: &[&str]) -> Token {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let module = module().expect("SoftHSM2 is installed");
        let token = Token { dir, conf, module };
        token.run(
            "softhsm2-util",
            &[
                "--init-token",
                "--free",
                "--label",
                LABEL,
                "--pin",
                PIN,
                "--so-pin",
                "87654321",
            ],
        );
        for (i, variant) in variants.iter().enumerate() {
            token.import(variant, &format!("{:02x}", i + 1));
        }
        token
    }

    /// Initialises one more, empty token in the same SoftHSM (user PIN [`PIN`]).
    pub fn add_empty_token(&self, label: &str) {
        self.run(
            "softhsm2-util",
            &[
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                PIN,
                "--so-pin",
                "87654321",
            ],
        );
    }

    /// The environment a process needs to see this token.
    pub fn env(&self) -> [(&'static str, &OsStr); 1] {
        [("SOFTHSM2_CONF", self.conf.as_os_str())]
    }

    /// The temporary directory (for traces and other files of the test).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn import(&self, variant: &str, id: &str) {
        let (_, key) = super::pki::files(variant);
        let key = key.to_str().unwrap().to_string();
        self.run(
            "softhsm2-util",
            &[
                "--import", &key, "--token", LABEL, "--label", variant, "--id", id, "--pin", PIN,
            ],
        );
        self.import_certificate_only(variant, id);
    }

    /// Puts a variant's certificate on the token under `id`, without its key.
    pub fn import_certificate_only(&self, variant: &str, id: &str) {
        let cert = self.dir.path().join(format!("{variant}-{id}.der"));
        std::fs::write(&cert, &super::pki::variant(variant).cert_der).unwrap();
        let module = self.module.to_str().unwrap().to_string();
        let cert = cert.to_str().unwrap().to_string();
        self.run(
            "pkcs11-tool",
            &[
                "--module",
                &module,
                "--token-label",
                LABEL,
                "--login",
                "--pin",
                PIN,
                "--write-object",
                &cert,
                "--type",
                "cert",
                "--id",
                id,
                "--label",
                variant,
            ],
        );
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = Command::new(tool)
            .args(args)
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
