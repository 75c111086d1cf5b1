//! The client's remembered settings: gateway, username, local listener. Kept in the user's
//! configuration directory (`directories`), never holding a PIN or password.
//!
//! Two keys are only ever written by an administrator, never by the client: `expect_address`
//! and `required_ports`, what `hjemmekontor doctor` checks the network against.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the remote-desktop client connects by default: the port mstsc and xfreerdp users
/// know, moved up by 10 000 so it never collides with a local RDP server.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:13389";

/// What the client remembers between runs. Every field is optional; flags win.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientSettings {
    /// Gateway address, `host:port`.
    pub gateway: Option<String>,
    /// The gateway's CA certificate file (PEM), when it is not in the built-in trust.
    pub gateway_ca: Option<PathBuf>,
    /// The username, remembered after the first successful login.
    pub username: Option<String>,
    /// Local address the remote-desktop client connects to.
    pub listen: Option<SocketAddr>,
    /// How the card was reached at the last successful login.
    pub backend: Option<crate::card::credential::Backend>,
    /// The PKCS#11 module used at the last successful login.
    pub pkcs11_module: Option<PathBuf>,
    /// The address the gateway's name must resolve to (`doctor`): a name published both in
    /// Helsenett and on the internet must give its Helsenett address here.
    pub expect_address: Option<IpAddr>,
    /// The service's name as IT calls it ("Hjemmekontor Oslo kommune"), from the connection
    /// profile: the window's title.
    pub service_name: Option<String>,
    /// TCP ports on the gateway's host that must be reachable besides the gateway's own
    /// (`doctor`), e.g. `[443, 8041]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_ports: Vec<u16>,
}

impl ClientSettings {
    /// What a successful login teaches, for the next one: the username and how the card was
    /// reached (the PKCS#11 module only when one was used).
    pub fn learn_login(
        &mut self,
        username: &str,
        backend: crate::card::credential::Backend,
        module: Option<PathBuf>,
    ) {
        self.username = Some(username.to_string());
        self.backend = Some(backend);
        if module.is_some() {
            self.pkcs11_module = module;
        }
    }
}

/// Why the settings file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file exists but cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not valid settings TOML.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
}

/// The settings file in the user's configuration directory
/// (`~/.config/hjemmekontor/client.toml` on Linux, `%APPDATA%\hjemmekontor\…` on Windows).
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("no", "hjemmekontor", "hjemmekontor")
        .map(|d| d.config_dir().join("client.toml"))
}

/// Reads settings; a missing file is the empty default.
pub fn load(path: &Path) -> Result<ClientSettings, SettingsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ClientSettings::default()),
        Err(source) => {
            return Err(SettingsError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    toml::from_str(&text).map_err(|e| SettingsError::Invalid {
        path: path.to_owned(),
        // Only the position and the parser's words: the offending line is not echoed, in
        // case someone typed a secret into the file.
        message: match e.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("line {line}, column {column}: {}", e.message())
            }
            None => e.message().to_string(),
        },
    })
}

/// Writes settings (creating the directory), replacing the file atomically.
pub fn save(path: &Path, settings: &ClientSettings) -> Result<(), SettingsError> {
    let io = |source| SettingsError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let text = toml::to_string_pretty(settings).map_err(|e| SettingsError::Invalid {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_default_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/client.toml");
        assert_eq!(load(&path).unwrap(), ClientSettings::default());
        let s = ClientSettings {
            gateway: Some("gw.example:443".into()),
            username: Some("kari".into()),
            listen: Some(DEFAULT_LISTEN.parse().unwrap()),
            backend: Some(crate::card::credential::Backend::Pkcs11),
            pkcs11_module: Some("/usr/lib/libiidp11.so".into()),
            expect_address: Some("91.186.92.90".parse().unwrap()),
            required_ports: vec![443, 8041],
            ..Default::default()
        };
        save(&path, &s).unwrap();
        assert_eq!(load(&path).unwrap(), s);
    }

    #[test]
    fn files_without_the_doctor_keys_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.toml");
        std::fs::write(&path, "gateway = \"gw.example:443\"\n").unwrap();
        let s = load(&path).unwrap();
        assert_eq!(s.expect_address, None);
        assert!(s.required_ports.is_empty());
        std::fs::write(
            &path,
            "expect_address = \"91.186.92.90\"\nrequired_ports = [443, 8041]\n",
        )
        .unwrap();
        let s = load(&path).unwrap();
        assert_eq!(s.expect_address, Some("91.186.92.90".parse().unwrap()));
        assert_eq!(s.required_ports, [443, 8041]);
    }

    #[test]
    fn unknown_keys_are_refused_with_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.toml");
        std::fs::write(&path, "username = \"kari\"\npassword = \"x\"\n").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains("\"x\""), "{err}");
    }
}
