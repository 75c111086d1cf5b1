//! Connection profiles: the small file IT gives each user, so that nobody types a gateway
//! address. It names the service, the gateway, the gateway's CA certificate, and what
//! `doctor` checks the network against (docs/profiles.md).
//!
//! The file is TOML whose last line is `# sha256: <hex>` over every byte before it: a
//! profile damaged on the way (a mail client re-wrapping lines, a truncated download, an
//! edit by hand) is refused as a whole instead of half-used. The checksum is not a
//! signature: the CA fingerprint shown on import is what a user reads back to IT.
//!
//! [`parse`] and [`render`] are pure; [`import`] is the shell that writes the user's settings.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::settings::{self, ClientSettings, SettingsError};

/// The only format this client reads and writes.
pub const FORMAT: u32 = 1;

/// A profile is a few lines and one or two certificates; anything larger is not one.
pub const MAX_BYTES: usize = 64 * 1024;

/// The longest service name shown in the window's title.
pub const MAX_NAME_CHARS: usize = 80;

/// The file name the gateway's CA gets beside the settings file.
pub const CA_FILE_NAME: &str = "gateway-ca.pem";

const CHECKSUM_PREFIX: &str = "# sha256: ";

/// A connection profile, as IT writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The profile format, [`FORMAT`].
    pub format: u32,
    /// The service's name as IT calls it ("Hjemmekontor Oslo kommune").
    pub name: String,
    /// The gateway, `host:port`.
    pub gateway: String,
    /// The address the gateway's name must resolve to (the split-DNS check of `doctor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_address: Option<IpAddr>,
    /// Ports on the gateway's host that must be reachable besides the gateway's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_ports: Vec<u16>,
    /// The gateway's CA certificate(s), PEM.
    pub gateway_ca: String,
}

/// Why a profile cannot be used. No variant echoes the file's lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// Larger than [`MAX_BYTES`].
    #[error("the file is larger than {limit} bytes, which no profile is")]
    TooLarge {
        /// [`MAX_BYTES`].
        limit: usize,
    },
    /// Not UTF-8 text.
    #[error("the file is not text")]
    NotText,
    /// The last line is not `# sha256: <64 hex digits>`.
    #[error("the file has no checksum line at its end")]
    NoChecksum,
    /// The checksum does not match: the file was changed or damaged after IT made it.
    #[error("the checksum does not match the contents")]
    Altered,
    /// The TOML is malformed, or a key is missing or unknown.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// What the parser said.
        message: String,
    },
    /// A profile format this client does not know.
    #[error("format {found} (this client reads format {FORMAT})")]
    Format {
        /// The file's `format`.
        found: u32,
    },
    /// The name is empty, too long, or has control characters.
    #[error("the service name is empty, longer than {MAX_NAME_CHARS} characters or not one line")]
    Name,
    /// The gateway is not `host:port`.
    #[error("the gateway «{value}» is not host:port")]
    Gateway {
        /// The value.
        value: String,
    },
    /// A required port of 0.
    #[error("port 0 is not a port")]
    Port,
    /// The CA text is not PEM certificates of certificate authorities.
    #[error("the gateway CA: {detail}")]
    Ca {
        /// What is wrong with it.
        detail: String,
    },
}

/// Reads a profile from its bytes: size, text, checksum, syntax, then every value.
pub fn parse(bytes: &[u8]) -> Result<Profile, ProfileError> {
    if bytes.len() > MAX_BYTES {
        return Err(ProfileError::TooLarge { limit: MAX_BYTES });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ProfileError::NotText)?;
    let body = verified_body(text)?;
    let profile: Profile = toml::from_str(body).map_err(|e| ProfileError::Syntax {
        line: e.span().map_or(1, |s| {
            body[..s.start.min(body.len())].matches('\n').count() + 1
        }),
        message: e.message().to_string(),
    })?;
    validate(&profile)?;
    Ok(profile)
}

/// The text before the checksum line, when the checksum matches it. Line ends count as
/// `\n`, so a profile saved again by a Windows editor (CRLF) still matches.
fn verified_body(text: &str) -> Result<&str, ProfileError> {
    let trimmed = text.strip_suffix('\n').unwrap_or(text);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    let start = trimmed.rfind('\n').map_or(0, |i| i + 1);
    let (body, last) = trimmed.split_at(start);
    let claimed = last
        .strip_prefix(CHECKSUM_PREFIX)
        .map(str::trim)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or(ProfileError::NoChecksum)?;
    if !claimed.eq_ignore_ascii_case(&sha256_hex(body.replace("\r\n", "\n").as_bytes())) {
        return Err(ProfileError::Altered);
    }
    Ok(body)
}

fn validate(p: &Profile) -> Result<(), ProfileError> {
    if p.format != FORMAT {
        return Err(ProfileError::Format { found: p.format });
    }
    let name = p.name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ProfileError::Name);
    }
    if !is_host_port(&p.gateway) {
        return Err(ProfileError::Gateway {
            value: p.gateway.chars().take(100).collect(),
        });
    }
    if p.required_ports.contains(&0) {
        return Err(ProfileError::Port);
    }
    ca_certificates(&p.gateway_ca)?;
    Ok(())
}

/// `host:port` with a non-zero port and a host without spaces (`[v6]:port` too).
fn is_host_port(value: &str) -> bool {
    let Some((host, port)) = value.rsplit_once(':') else {
        return false;
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && !host.contains(|c: char| c.is_whitespace() || c.is_control() || c == '/')
        && port.parse::<u16>().is_ok_and(|p| p != 0)
}

/// The DER certificates of the CA text, each of them a certificate authority.
fn ca_certificates(pem: &str) -> Result<Vec<Vec<u8>>, ProfileError> {
    let bad = |detail: String| ProfileError::Ca { detail };
    if !pem.trim_start().starts_with("-----BEGIN CERTIFICATE-----") {
        return Err(bad("not PEM (-----BEGIN CERTIFICATE-----)".into()));
    }
    let ders =
        crate::cert::certificates_from_bytes(pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    for der in &ders {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| bad(e.to_string()))?;
        if !cert.is_ca() {
            return Err(bad(format!(
                "«{}» is not a certificate authority",
                cert.subject()
            )));
        }
    }
    Ok(ders)
}

/// Writes a profile as text, its checksum line last. The CA text is normalised to its PEM
/// blocks, so the file holds nothing a reader would have to skip.
pub fn render(p: &Profile) -> Result<String, ProfileError> {
    validate(p)?;
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut body = String::new();
    body.push_str("# Hjemmekontor connection profile (docs/profiles.md).\n");
    body.push_str("# Import it with: hjemmekontor profile import FILE\n");
    let _ = writeln!(body, "format = {}", p.format);
    let _ = writeln!(body, "name = {}", quote(p.name.trim()));
    let _ = writeln!(body, "gateway = {}", quote(&p.gateway));
    if let Some(address) = p.expect_address {
        let _ = writeln!(body, "expect_address = {}", quote(&address.to_string()));
    }
    if !p.required_ports.is_empty() {
        let ports: Vec<String> = p.required_ports.iter().map(u16::to_string).collect();
        let _ = writeln!(body, "required_ports = [{}]", ports.join(", "));
    }
    let _ = writeln!(
        body,
        "gateway_ca = \"\"\"\n{}\"\"\"",
        pem_blocks(&p.gateway_ca)
    );
    let sum = sha256_hex(body.as_bytes());
    Ok(format!("{body}{CHECKSUM_PREFIX}{sum}\n"))
}

/// Only the certificate blocks, one line ending each, without any text around them.
fn pem_blocks(pem: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in pem.lines().map(str::trim) {
        inside |= line == "-----BEGIN CERTIFICATE-----";
        if inside {
            out.push_str(line);
            out.push('\n');
        }
        inside &= line != "-----END CERTIFICATE-----";
    }
    out
}

/// The first CA certificate's SHA-256 fingerprint, `AB:CD:…`, as `openssl x509
/// -fingerprint -sha256` prints it: what a user reads back to IT.
pub fn ca_fingerprint(p: &Profile) -> Result<String, ProfileError> {
    let ders = ca_certificates(&p.gateway_ca)?;
    let digest = Sha256::digest(&ders[0]);
    Ok(digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Why a profile could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The profile file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The profile file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The profile is not usable.
    #[error("{path}: {source}")]
    Profile {
        /// The profile file.
        path: PathBuf,
        /// What is wrong with it.
        source: ProfileError,
    },
    /// The settings (or the CA file beside them) cannot be read or written.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

/// What an import changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The profile as read.
    pub profile: Profile,
    /// The settings now in the file.
    pub settings: ClientSettings,
    /// Where the gateway's CA was written.
    pub ca_path: PathBuf,
    /// The CA's fingerprint ([`ca_fingerprint`]).
    pub ca_fingerprint: String,
    /// The gateway the settings named before, when the profile changed it.
    pub replaced_gateway: Option<String>,
}

/// Reads a profile file (bounded), writes the gateway's CA beside the settings file, and
/// sets the gateway, CA, service name and `doctor`'s keys in the settings; the username
/// and the card's backend stay as they were.
pub fn import(profile_path: &Path, settings_path: &Path) -> Result<Imported, ImportError> {
    let bytes = read_bounded(profile_path).map_err(|source| ImportError::Read {
        path: profile_path.to_owned(),
        source,
    })?;
    let profile = parse(&bytes).map_err(|source| ImportError::Profile {
        path: profile_path.to_owned(),
        source,
    })?;
    let ca_fingerprint = ca_fingerprint(&profile).map_err(|source| ImportError::Profile {
        path: profile_path.to_owned(),
        source,
    })?;
    let mut settings = settings::load(settings_path)?;
    let ca_path = settings_path.with_file_name(CA_FILE_NAME);
    write_atomically(&ca_path, pem_blocks(&profile.gateway_ca).as_bytes())?;
    let replaced_gateway = settings
        .gateway
        .take()
        .filter(|old| *old != profile.gateway);
    settings.gateway = Some(profile.gateway.clone());
    settings.gateway_ca = Some(ca_path.clone());
    settings.service_name = Some(profile.name.trim().to_owned());
    settings.expect_address = profile.expect_address;
    settings.required_ports = profile.required_ports.clone();
    settings::save(settings_path, &settings)?;
    Ok(Imported {
        profile,
        settings,
        ca_path,
        ca_fingerprint,
        replaced_gateway,
    })
}

/// Reads at most one byte more than [`MAX_BYTES`], so a huge file is refused by size
/// without being read whole.
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SettingsError> {
    let io = |source| SettingsError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("pem.tmp");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests;
