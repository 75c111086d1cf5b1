//! Everything `run` loads before it listens, checked without listening or writing anything,
//! so that `check-config` fails on exactly what `run` would refuse: the server certificate and
//! key (and that they belong together), the trust anchors, intermediates and CRLs, a server
//! key that others than its owner can read, and the directory's CA and service password.

use std::path::Path;

use super::config::Config;
use crate::tunnel::tls::{ReloadableServerConfig, ServerIdentity, TrustMaterial};

/// One thing `run` would refuse, as a sentence for the operator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Stable name for scripts (`server-identity`, `trust`, `server-key-exposed`).
    pub kind: &'static str,
    /// What is wrong and what to do, in Norwegian.
    pub message: String,
}

/// Loads what `run` loads; every problem found, in the order `run` meets them.
pub fn preflight(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(p) = exposed_key(&config.gateway.server_key) {
        problems.push(p);
    }
    let identity =
        ServerIdentity::read_files(&config.gateway.server_cert, &config.gateway.server_key)
            .map_err(|e| Problem {
                kind: "server-identity",
                message: format!("Serversertifikatet eller -nøkkelen kan ikke brukes: {e}."),
            });
    let trust = TrustMaterial::read_files(
        &config.trust.anchors,
        &config.trust.intermediates,
        &config.trust.crls,
    )
    .map_err(|e| Problem {
        kind: "trust",
        message: format!("Tillitsankere, mellomliggende CA-er eller CRL-er kan ikke brukes: {e}."),
    });
    match (identity, trust) {
        (Ok(identity), Ok(trust)) => {
            if let Err(e) = ReloadableServerConfig::new(identity, &trust, config.auth_policy()) {
                problems.push(Problem {
                    kind: "server-identity",
                    message: format!("TLS-oppsettet kan ikke lages: {e}."),
                });
            }
        }
        (identity, trust) => {
            problems.extend(identity.err());
            problems.extend(trust.err());
        }
    }
    // The directory's CA and service password are read at start; the directory itself is
    // asked only by logins and the readiness port.
    if let Some(directory) = &config.directory {
        if let Err(e) = super::directory::Directory::new(directory) {
            problems.push(Problem {
                kind: "directory",
                message: format!(
                    "Katalogen ([directory]) kan ikke brukes: {e}; {}.",
                    e.advice()
                ),
            });
        }
    }
    problems
}

/// A private key that the group or others may read is refused: it is the gateway's identity.
#[cfg(unix)]
fn exposed_key(path: &Path) -> Option<Problem> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| Problem {
        kind: "server-key-exposed",
        message: format!(
            "Servernøkkelen {} kan leses av andre enn eieren (modus {:04o}). Kjør «chmod 600 {}».",
            path.display(),
            mode & 0o7777,
            path.display()
        ),
    })
}

#[cfg(not(unix))]
fn exposed_key(_path: &Path) -> Option<Problem> {
    None
}
