//! The gateway: configuration, access policy and login decisions (pure cores), the audit log,
//! and the command shells of `hjemmekontor-gateway`.
//!
//! - [`audit`]: the append-only, hash-chained record of every login attempt and session,
//!   durable before the client gets its answer; and `audit verify|query`;
//! - [`config`]: the TOML file, checked, with every error's line and column;
//! - [`admission`]: the bounded budget of connections that have not logged in yet;
//! - [`access`]: which office PCs a user may reach (grants, groups);
//! - [`auth`]: argon2id password hashes, lockout, and the login decision in its fixed order;
//! - [`password_pool`]: the password checks on a fixed pool of threads, lockout first;
//! - [`relay`]: streams of a logged-in session relayed to the office PCs its user may reach;
//! - [`config_cli`]: `check-config` and `hash-password`;
//! - [`crl_check`], [`crl_check_cli`]: `check-crl`, whether a downloaded CRL may replace the
//!   one in use;
//! - [`app`]: the command line as a whole.

pub mod access;
pub mod admission;
pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod config_cli;
pub mod crl_check;
pub mod crl_check_cli;
pub mod directory;
pub mod live;
pub mod lockout;
pub mod lockout_file;
pub mod lockout_postgres;
pub mod password_pool;
pub mod preflight;
pub mod proxy_header;
pub mod readiness;
pub mod recheck;
pub mod refusals;
pub mod relay;
pub mod run_cli;
pub mod server;

#[cfg(test)]
pub(crate) mod testutil {
    //! A small configuration for the unit tests: two users with grants, one without.

    use std::path::{Path, PathBuf};

    use super::auth::{hash_password_with, HashParams};
    use super::config::{parse, Config, PathKind};
    use crate::secret::Password;

    /// Kari's password.
    pub const KARI_PASSWORD: &str = "kari-sitt-passord";
    /// Kari's personal identifier, as her certificate writes it.
    pub const KARI_ID: &str = "UN:NO-9578-4050-100000001";
    /// Ola's personal identifier, as his certificate writes it.
    pub const OLA_ID: &str = "UN:NO-9578-4050-100000002";

    /// Everything with an extension is a file; everything else a directory.
    pub fn probe(path: &Path) -> PathKind {
        if path.extension().is_some() {
            PathKind::File
        } else {
            PathKind::Directory
        }
    }

    /// A password from a literal.
    pub fn pw(s: &str) -> Password {
        Password::from_input(s.to_string())
    }

    /// The test configuration's text, with fast hashes.
    pub fn text() -> String {
        let kari = hash_password_with(&pw(KARI_PASSWORD), HashParams::TEST_ONLY).unwrap();
        let ola = hash_password_with(&pw("ola-sitt-passord"), HashParams::TEST_ONLY).unwrap();
        let nils = hash_password_with(&pw("nils-sitt-passord"), HashParams::TEST_ONLY).unwrap();
        format!(
            r#"[gateway]
listen = "127.0.0.1:8443"
server_cert = "pki/gateway.pem"
server_key = "pki/gateway.key"

[trust]
anchors = ["pki/root-ca.pem"]
crls = ["pki/crl.pem"]

[audit]
path = "audit.log"

[lockout]
max_failures = 3
max_failures_per_address = 5
window_secs = 60
lock_secs = 60
max_lock_secs = 240

[[user]]
username = "kari"
display_name = "Kari Nordmann"
personal_id = "{KARI_ID}"
password_hash = "{kari}"

[[user]]
username = "ola"
personal_id = "9578-4050-100000002"
password_hash = "{ola}"

[[user]]
username = "nils"
personal_id = "UN:NO-9578-4050-100000003"
password_hash = "{nils}"

[[group]]
id = "legevakt"
name = "Legevakta"
kind = "legevakt"

[[machine]]
id = "kontor-1"
name = "Kontor 1"
address = "10.0.0.1:3389"

[[machine]]
id = "lv-1"
name = "Legevakt 1"
address = "10.0.1.1:3389"
group = "legevakt"

[[machine]]
id = "lv-2"
name = "Legevakt 2"
address = "lv-2.kommune.example:3389"
group = "legevakt"

[[grant]]
user = "kari"
machines = ["kontor-1"]

[[grant]]
user = "Ola"
groups = ["legevakt"]
"#
        )
    }

    /// The directory relative paths resolve against.
    pub fn base() -> PathBuf {
        PathBuf::from("/etc/hjemmekontor")
    }

    /// The test configuration, parsed.
    pub fn config() -> Config {
        parse(&text(), &base(), &probe).unwrap()
    }
}
