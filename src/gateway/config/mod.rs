//! The gateway's configuration file (TOML): what it says, and every mistake in it with its
//! line and column.
//!
//! Parsing is a pure function of the text, the directory relative paths are resolved against,
//! and a probe that says whether a path is a file (injected, so tests need no files and the
//! real shell passes [`probe_disk`]). The probe is the only I/O.
//!
//! Validation does not stop at the first mistake: syntax errors are all reported (toml
//! recovers), and when the syntax is fine every section and every `[[user]]`, `[[group]]`,
//! `[[machine]]` and `[[grant]]` entry is read and checked on its own, so one broken entry
//! hides nothing else. A name defined by an entry that is broken still counts as defined, so a
//! grant naming it is not reported a second time.
//!
//! Messages are Norwegian, for the operator, and never repeat a value from the file that could
//! be a secret (a password typed where a hash belongs is reported without the text).
//!
//! See `docs/gateway-config.md` for every key, its default and why.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use crate::cert::{AuthPolicy, Level, PersonalId};
use crate::tunnel::protocol::Redirect;

use super::auth;

mod audit_store;
mod directory;
mod load_balancer;
mod posture;
mod redirect;

pub use audit_store::{AuditSettings, AuditStore, PostgresSettings};
pub use directory::{normalize_dn, DirectorySettings};
pub use load_balancer::{HealthSettings, LoadBalancers};
pub use posture::PostureSettings;

/// One mistake in the configuration, where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
    /// What is wrong and, where it helps, what to write instead (Norwegian).
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// What a path in the configuration points at. The answer of the injected file probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A regular file (or a link to one).
    File,
    /// A directory.
    Directory,
    /// Nothing, or nothing we may look at.
    Missing,
}

/// The real file probe, for the shells.
pub fn probe_disk(path: &Path) -> PathKind {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => PathKind::Directory,
        Ok(_) => PathKind::File,
        Err(_) => PathKind::Missing,
    }
}

/// The whole configuration, checked: every reference resolves, every value is in range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `[gateway]`: where to listen, the server's certificate, the required level.
    pub gateway: GatewaySettings,
    /// `[trust]`: trust anchors, intermediates, CRLs.
    pub trust: TrustSettings,
    /// `[audit]`: where the audit log lives.
    pub audit: AuditSettings,
    /// `[limits]`: bounds on sessions, streams, frames and time.
    pub limits: Limits,
    /// `[lockout]`: how many failed logins lock a user or an address, and for how long.
    pub lockout: LockoutPolicy,
    /// `[dangerous]`: options that weaken security, off by default.
    pub dangerous: DangerousSettings,
    /// `[[user]]` entries, in file order.
    pub users: Vec<User>,
    /// `[[group]]` entries: a municipality's sub-locations.
    pub groups: Vec<Group>,
    /// `[[machine]]` entries: the office PCs.
    pub machines: Vec<Machine>,
    /// `[[grant]]` entries: who may reach what.
    pub grants: Vec<Grant>,
    /// `[posture]`: what the home computer must show, and how often.
    pub posture: PostureSettings,
    /// Balancers in front whose connections carry the client's address (PROXY protocol v2).
    pub load_balancer: LoadBalancers,
    /// The readiness port, if any.
    pub health: Option<HealthSettings>,
    /// The directory the users come from, instead of `[[user]]` entries.
    pub directory: Option<DirectorySettings>,
    /// A hash no password matches, with the users' parameters, verified for unknown users so
    /// the answer takes as long as for a known one.
    pub(crate) dummy_hash: PhcHash,
}

/// `[gateway]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySettings {
    /// Address and port the gateway listens on.
    pub listen: SocketAddr,
    /// The server certificate chain (PEM), resolved against the configuration's directory.
    pub server_cert: PathBuf,
    /// The server's private key (PEM).
    pub server_key: PathBuf,
    /// The lowest certificate level accepted.
    pub required_level: Level,
    /// Test environment: TEST certificates are judged as production ones. Dangerous.
    pub test_environment: bool,
    /// How often trust anchors and CRLs are re-read (besides SIGHUP).
    pub reload_interval_secs: u64,
}

/// `[trust]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustSettings {
    /// Trust anchors (PEM files), at least one.
    pub anchors: Vec<PathBuf>,
    /// Intermediate CA certificates (PEM files).
    pub intermediates: Vec<PathBuf>,
    /// CRL files (PEM or DER).
    pub crls: Vec<PathBuf>,
    /// Issuer name fragments that mark a test CA, besides the word `TEST`.
    pub test_issuers: Vec<String>,
    /// Warn when a user's certificate expires within this many days.
    pub expiry_warning_days: u32,
}

/// `[limits]`: every resource a client can make the gateway spend is bounded here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Sessions at once, over all users.
    pub max_sessions: u32,
    /// TCP streams at once in one session.
    pub max_streams_per_session: u32,
    /// Largest tunnel frame accepted, in bytes.
    pub max_frame_bytes: u32,
    /// From accepted TCP connection to a finished login.
    pub login_timeout_secs: u64,
    /// A session with no traffic is closed after this.
    pub idle_timeout_secs: u64,
    /// Connecting to an office PC gives up after this.
    pub connect_timeout_secs: u64,
    /// A session is ended after this long however busy it is (a stolen session does not
    /// live for ever); the client logs in again.
    pub max_session_secs: u64,
    /// Sessions at once of one user, so one card and password cannot take every slot.
    pub max_sessions_per_user: u32,
    /// Connections that have not finished their login, over all sources. Bounds what
    /// unauthenticated clients can hold; a session slot is only taken after a login.
    pub max_pending_logins: u32,
    /// Connections that have not finished their login, from one source address.
    pub max_pending_logins_per_address: u32,
    /// Password checks run at once (argon2, about 19 MiB each); 0 means one per CPU core.
    pub password_check_threads: u32,
    /// Password checks waiting for a thread; beyond it a login is answered "busy".
    pub password_check_queue: u32,
}

/// `[lockout]`: failed logins within a window lock the username, and the source address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LockoutPolicy {
    /// Failures for one username within the window that lock it.
    pub max_failures: u32,
    /// Failures from one source address within the window that lock it (any usernames).
    pub max_failures_per_address: u32,
    /// The window failures are counted in.
    pub window_secs: u64,
    /// How long the first lock lasts.
    pub lock_secs: u64,
    /// Each further lock lasts twice as long as the one before, up to this.
    pub max_lock_secs: u64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: LOCKOUT_MAX_FAILURES.default as u32,
            max_failures_per_address: LOCKOUT_MAX_FAILURES_PER_ADDRESS.default as u32,
            window_secs: LOCKOUT_WINDOW.default as u64,
            lock_secs: LOCKOUT_LOCK.default as u64,
            max_lock_secs: LOCKOUT_MAX_LOCK.default as u64,
        }
    }
}

/// `[dangerous]`: each one weakens security, is off by default, and is audited when on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DangerousSettings {
    /// Run without any CRL: a revoked card still logs in.
    pub allow_no_crl: bool,
}

/// `[[user]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name, compared without regard to ASCII case.
    pub username: String,
    /// The personal identifier the user's certificate must carry, normalised
    /// (`UN:NO-9578-4050-…`).
    pub personal_id: String,
    /// The argon2id PHC string of the password.
    pub password_hash: PhcHash,
    /// Name shown in the audit log and to the user.
    pub display_name: Option<String>,
    /// Directory groups (normalised DNs) for `[[grant]] ldap_group`; none for `[[user]]`.
    pub groups: Vec<String>,
}

/// An argon2id PHC string. Not the password, but a way to guess it offline, so it does not
/// print either.
#[derive(Clone, PartialEq, Eq)]
pub struct PhcHash(pub(crate) String);

impl PhcHash {
    /// The PHC string, for the verifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PhcHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhcHash(REDACTED)")
    }
}

/// `[[group]]`: a sub-location of a municipality (a clinic, an emergency room, a nursing home).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Identifier used in `[[machine]] group` and `[[grant]] groups`.
    pub id: String,
    /// Name for people.
    pub name: String,
    /// What kind of place it is: `legesenter`, `legevakt`, `sykehjem`, or free text.
    pub kind: String,
    /// What the remote-desktop program at home may share with this group's office PCs
    /// (`redirect_printers`, `redirect_clipboard`, `redirect_drives`).
    pub redirect: Redirect,
}

/// `[[machine]]`: an office PC the gateway may connect to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// Identifier the client asks for.
    pub id: String,
    /// Name for people.
    pub name: String,
    /// `host:port` (IPv6 as `[addr]:port`), only ever dialled by the gateway.
    pub address: String,
    /// The group it belongs to, if any.
    pub group: Option<String>,
}

/// `[[grant]]`: one user, or the members of one directory group, may reach these machines,
/// and every machine in these groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// Who may.
    pub to: GrantTo,
    /// Machine ids.
    pub machines: Vec<String>,
    /// Group ids.
    pub groups: Vec<String>,
}

/// Whom a grant is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantTo {
    /// One user, by username (ASCII case ignored).
    User(String),
    /// Every member of a directory group, by its DN as [`normalize_dn`] spells it.
    LdapGroup(String),
}

impl Config {
    /// The user with this name (ASCII case ignored), if any.
    pub fn user(&self, username: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
    }

    /// The machine with this id, if any.
    pub fn machine(&self, id: &str) -> Option<&Machine> {
        self.machines.iter().find(|m| m.id == id)
    }

    /// The group with this id, if any.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// The certificate rules in the form the certificate core takes them.
    pub fn auth_policy(&self) -> AuthPolicy {
        AuthPolicy {
            required_level: self.gateway.required_level,
            test_environment: self.gateway.test_environment,
            expiry_warning_days: self.trust.expiry_warning_days,
            test_issuers: self.trust.test_issuers.clone(),
            ..AuthPolicy::default()
        }
    }
}

/// Every option that weakens security and is on, as a sentence naming the key, so the gateway
/// can write them to the audit log at start and `check-config` can show them.
pub fn dangerous_options(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if config.gateway.test_environment {
        out.push(
            "gateway.test_environment = true: testsertifikater godtas som om de var ekte. \
             Aldri i produksjon."
                .to_string(),
        );
    }
    if config.gateway.required_level != Level::PersonHigh {
        out.push(format!(
            "gateway.required_level = \"{}\": nøkkelen trenger ikke ligge på et smartkort.",
            config.gateway.required_level
        ));
    }
    let weak: Vec<&str> = config
        .users
        .iter()
        .filter(|u| {
            auth::hash_params(u.password_hash.as_str())
                .is_some_and(|p| p.memory_kib < auth::HashParams::WEAK_BELOW_KIB)
        })
        .map(|u| u.username.as_str())
        .collect();
    if !weak.is_empty() {
        out.push(format!(
            "svake passordhasher (under {} KiB minne) for: {}. Lag nye med              `hjemmekontor-gateway hash-password`.",
            auth::HashParams::WEAK_BELOW_KIB,
            weak.join(", ")
        ));
    }
    if config.dangerous.allow_no_crl && config.trust.crls.is_empty() {
        out.push(
            "dangerous.allow_no_crl = true uten CRL-filer: tilbaketrukne kort slipper inn."
                .to_string(),
        );
    }
    out.extend(redirect::dangerous(config));
    out
}

/// A numeric key's allowed range and default; the same table drives validation and the docs.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// `section.key`.
    pub key: &'static str,
    /// Smallest allowed value.
    pub min: i64,
    /// Largest allowed value.
    pub max: i64,
    /// Value when the key is left out.
    pub default: i64,
}

const fn bound(key: &'static str, min: i64, max: i64, default: i64) -> Bound {
    Bound {
        key,
        min,
        max,
        default,
    }
}

const RELOAD_INTERVAL: Bound = bound("gateway.reload_interval_secs", 60, 86_400, 3_600);
const EXPIRY_WARNING: Bound = bound("trust.expiry_warning_days", 0, 365, 60);
const MAX_SESSIONS: Bound = bound("limits.max_sessions", 1, 100_000, 1_000);
const MAX_STREAMS: Bound = bound("limits.max_streams_per_session", 1, 1_024, 32);
const MAX_FRAME: Bound = bound("limits.max_frame_bytes", 1_024, 16 * 1024 * 1024, 65_536);
const LOGIN_TIMEOUT: Bound = bound("limits.login_timeout_secs", 5, 600, 60);
const IDLE_TIMEOUT: Bound = bound("limits.idle_timeout_secs", 60, 86_400, 3_600);
const CONNECT_TIMEOUT: Bound = bound("limits.connect_timeout_secs", 1, 120, 10);
const MAX_SESSION: Bound = bound("limits.max_session_secs", 300, 7 * 86_400, 43_200);
const MAX_SESSIONS_PER_USER: Bound = bound("limits.max_sessions_per_user", 1, 100, 3);
const MAX_PENDING: Bound = bound("limits.max_pending_logins", 1, 100_000, 512);
const MAX_PENDING_PER_ADDRESS: Bound =
    bound("limits.max_pending_logins_per_address", 1, 10_000, 16);
const PASSWORD_THREADS: Bound = bound("limits.password_check_threads", 0, 256, 0);
const PASSWORD_QUEUE: Bound = bound("limits.password_check_queue", 1, 10_000, 64);
const LOCKOUT_MAX_FAILURES: Bound = bound("lockout.max_failures", 1, 100, 5);
const LOCKOUT_MAX_FAILURES_PER_ADDRESS: Bound =
    bound("lockout.max_failures_per_address", 1, 10_000, 20);
const LOCKOUT_WINDOW: Bound = bound("lockout.window_secs", 10, 86_400, 900);
const LOCKOUT_LOCK: Bound = bound("lockout.lock_secs", 10, 86_400, 300);
const LOCKOUT_MAX_LOCK: Bound = bound("lockout.max_lock_secs", 10, 7 * 86_400, 3_600);

/// Every numeric key with its range and default.
pub const BOUNDS: &[Bound] = &[
    RELOAD_INTERVAL,
    EXPIRY_WARNING,
    MAX_SESSIONS,
    MAX_STREAMS,
    MAX_FRAME,
    LOGIN_TIMEOUT,
    IDLE_TIMEOUT,
    CONNECT_TIMEOUT,
    MAX_SESSION,
    MAX_SESSIONS_PER_USER,
    MAX_PENDING,
    MAX_PENDING_PER_ADDRESS,
    PASSWORD_THREADS,
    PASSWORD_QUEUE,
    LOCKOUT_MAX_FAILURES,
    LOCKOUT_MAX_FAILURES_PER_ADDRESS,
    LOCKOUT_WINDOW,
    LOCKOUT_LOCK,
    LOCKOUT_MAX_LOCK,
    posture::BOUNDS[0],
    posture::BOUNDS[1],
    posture::BOUNDS[2],
    posture::BOUNDS[3],
];

/// The kinds of group the docs name; others are allowed.
pub const KNOWN_GROUP_KINDS: &[&str] = &["legesenter", "legevakt", "sykehjem"];

// ---------------------------------------------------------------------------------------------
// The file as written: every value that may need pointing at keeps its span.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    listen: Spanned<String>,
    server_cert: Spanned<String>,
    server_key: Spanned<String>,
    #[serde(default)]
    required_level: Option<Spanned<String>>,
    #[serde(default)]
    test_environment: bool,
    #[serde(default)]
    reload_interval_secs: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrust {
    anchors: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    intermediates: Vec<Spanned<String>>,
    #[serde(default)]
    crls: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    test_issuers: Vec<String>,
    #[serde(default)]
    expiry_warning_days: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default)]
    max_sessions: Option<Spanned<i64>>,
    #[serde(default)]
    max_streams_per_session: Option<Spanned<i64>>,
    #[serde(default)]
    max_frame_bytes: Option<Spanned<i64>>,
    #[serde(default)]
    login_timeout_secs: Option<Spanned<i64>>,
    #[serde(default)]
    idle_timeout_secs: Option<Spanned<i64>>,
    #[serde(default)]
    connect_timeout_secs: Option<Spanned<i64>>,
    #[serde(default)]
    max_session_secs: Option<Spanned<i64>>,
    #[serde(default)]
    max_sessions_per_user: Option<Spanned<i64>>,
    #[serde(default)]
    max_pending_logins: Option<Spanned<i64>>,
    #[serde(default)]
    max_pending_logins_per_address: Option<Spanned<i64>>,
    #[serde(default)]
    password_check_threads: Option<Spanned<i64>>,
    #[serde(default)]
    password_check_queue: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLockout {
    #[serde(default)]
    max_failures: Option<Spanned<i64>>,
    #[serde(default)]
    max_failures_per_address: Option<Spanned<i64>>,
    #[serde(default)]
    window_secs: Option<Spanned<i64>>,
    #[serde(default)]
    lock_secs: Option<Spanned<i64>>,
    #[serde(default)]
    max_lock_secs: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDangerous {
    #[serde(default)]
    allow_no_crl: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    username: Spanned<String>,
    personal_id: Spanned<String>,
    password_hash: Spanned<String>,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    id: Spanned<String>,
    name: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    redirect_printers: Option<bool>,
    #[serde(default)]
    redirect_clipboard: Option<bool>,
    #[serde(default)]
    redirect_drives: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMachine {
    id: Spanned<String>,
    name: Spanned<String>,
    address: Spanned<String>,
    #[serde(default)]
    group: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    #[serde(default)]
    user: Option<Spanned<String>>,
    #[serde(default)]
    ldap_group: Option<Spanned<String>>,
    #[serde(default)]
    machines: Vec<Spanned<String>>,
    #[serde(default)]
    groups: Vec<Spanned<String>>,
}

const SECTIONS: &[&str] = &[
    "gateway",
    "trust",
    "audit",
    "limits",
    "lockout",
    "dangerous",
    "user",
    "group",
    "machine",
    "grant",
    "posture",
    "load_balancer",
    "health",
    "directory",
];

// ---------------------------------------------------------------------------------------------

/// Collects errors with their positions in the text.
struct Errors<'t> {
    text: &'t str,
    list: Vec<ConfigError>,
}

impl<'t> Errors<'t> {
    fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = line_column(self.text, span.start);
        self.list.push(ConfigError {
            line,
            column,
            message: message.into(),
        });
    }

    fn toml(&mut self, error: &toml::de::Error) {
        let span = error.span().unwrap_or(0..0);
        self.at(span, translate(error.message()));
    }

    fn line_of(&self, span: &Range<usize>) -> usize {
        line_column(self.text, span.start).0
    }

    fn finish(mut self) -> Vec<ConfigError> {
        self.list.sort_by_key(|e| (e.line, e.column));
        self.list.dedup();
        self.list
    }
}

/// 1-based line and character column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// toml's and serde's English messages in Norwegian, without ever repeating a value (it might
/// be a secret typed in the wrong place).
fn translate(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("mangler {rest}");
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        return match rest.split_once(", expected ") {
            Some((field, expected)) => {
                let expected = expected.trim_start_matches("one of ");
                format!("ukjent nøkkel {field}; gyldige nøkler her: {expected}")
            }
            None => match rest.split_once(", there are no fields") {
                Some((field, _)) => format!("ukjent nøkkel {field}; her skal det ikke stå noe"),
                None => format!("ukjent nøkkel {rest}"),
            },
        };
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let found = rest.split([' ', ',']).next().unwrap_or("");
            let expected = rest.rsplit_once(", expected ").map_or("", |(_, e)| e);
            return format!(
                "feil type: fant {}, ventet {}",
                type_word(found),
                type_word(expected)
            );
        }
    }
    if message.starts_with("duplicate key") {
        return "nøkkelen står to ganger".to_string();
    }
    format!("ugyldig TOML: {message}")
}

fn type_word(serde_word: &str) -> String {
    let w = serde_word.trim();
    let known = [
        ("string", "tekst"),
        ("a string", "tekst (i anførselstegn)"),
        ("integer", "et heltall"),
        ("i64", "et heltall"),
        ("boolean", "true/false"),
        ("a boolean", "true eller false"),
        ("floating", "et desimaltall"),
        ("sequence", "en liste"),
        ("a sequence", "en liste [ ... ]"),
        ("map", "en tabell"),
        ("datetime", "en dato"),
    ];
    for (en, no) in known {
        if w == en {
            return no.to_string();
        }
    }
    if w.starts_with("struct ") {
        return "en tabell".to_string();
    }
    if w.starts_with("a sequence") || w.starts_with("sequence") {
        return "en liste".to_string();
    }
    if w.starts_with("option") {
        return "en verdi".to_string();
    }
    format!("`{w}`")
}

/// The field names of a derived `Deserialize` struct, read from the call serde makes to
/// `deserialize_struct`, so the list of allowed keys cannot drift from the struct.
fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};

    #[derive(Debug)]
    struct Found(&'static [&'static str]);
    impl fmt::Display for Found {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("fields found")
        }
    }
    impl std::error::Error for Found {}
    impl de::Error for Found {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Found(&[])
        }
    }

    struct Probe;
    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Found;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    match T::deserialize(Probe) {
        Err(Found(fields)) => fields,
        Ok(_) => &[],
    }
}

/// Reports every key of a table that `T` does not have, at the key, and removes it, so the
/// rest of the table is still read and checked (serde alone stops at the first).
fn strip_unknown_keys<T: DeserializeOwned>(
    errors: &mut Errors<'_>,
    value: &mut Spanned<DeValue<'_>>,
) {
    let fields = fields_of::<T>();
    if fields.is_empty() {
        return;
    }
    let DeValue::Table(table) = value.get_mut() else {
        return;
    };
    let mut unknown = Vec::new();
    for (key, _) in table.iter() {
        if !fields.contains(&key.get_ref().as_ref()) {
            unknown.push(key.clone());
        }
    }
    for key in unknown {
        errors.at(
            key.span(),
            format!(
                "ukjent nøkkel `{}`; gyldige nøkler her: {}",
                key.get_ref(),
                fields
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        table.remove(&key);
    }
}

/// Reads a table into `T`, reporting every unknown key and every value of the wrong type:
/// serde stops at the first bad value, so that key is reported, taken out, and the table read
/// again, until it reads or the only complaint left is a required key we took out ourselves.
fn deserialize<T: DeserializeOwned>(
    errors: &mut Errors<'_>,
    value: Spanned<DeValue<'_>>,
) -> Option<T> {
    let mut value = value;
    strip_unknown_keys::<T>(errors, &mut value);
    let mut removed: Vec<String> = Vec::new();
    loop {
        let e = match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let missing = e
            .message()
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        if missing.is_some_and(|field| removed.iter().any(|r| r == field)) {
            return None;
        }
        errors.toml(&e);
        let start = e.span()?.start;
        let DeValue::Table(table) = value.get_mut() else {
            return None;
        };
        let key = table
            .iter()
            .find(|(k, v)| k.span().contains(&start) || v.span().contains(&start))
            .map(|(k, _)| k.clone())?;
        removed.push(key.get_ref().to_string());
        table.remove(&key);
    }
}

/// The `[[name]]` entries, each deserialized on its own, with its span; broken ones are
/// reported and give `None`, so their names can still be taken.
fn entries<'i, T: DeserializeOwned>(
    errors: &mut Errors<'_>,
    name: &str,
    value: Option<Spanned<DeValue<'i>>>,
) -> Vec<(Range<usize>, Option<T>, Spanned<DeValue<'i>>)> {
    let Some(value) = value else {
        return Vec::new();
    };
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => items
            .into_iter()
            .map(|item| {
                let item_span = item.span();
                let parsed = deserialize::<T>(errors, item.clone());
                (item_span, parsed, item)
            })
            .collect(),
        _ => {
            errors.at(
                span,
                format!("`{name}` må skrives som [[{name}]], én tabell for hver"),
            );
            Vec::new()
        }
    }
}

/// A string key of a broken entry, so the name still counts as defined.
fn peek_str(value: &Spanned<DeValue<'_>>, key: &str) -> Option<String> {
    value
        .get_ref()
        .as_table()?
        .get(key)?
        .get_ref()
        .as_str()
        .map(str::to_string)
}

fn ranged(errors: &mut Errors<'_>, value: &Option<Spanned<i64>>, b: Bound) -> i64 {
    match value {
        None => b.default,
        Some(v) => {
            let n = *v.get_ref();
            if n < b.min || n > b.max {
                errors.at(
                    v.span(),
                    format!(
                        "`{}` = {n} er utenfor det tillatte området {}–{} (standard {})",
                        b.key, b.min, b.max, b.default
                    ),
                );
                b.default
            } else {
                n
            }
        }
    }
}

/// An identifier for users, machines and groups: letters, digits, `.`, `_`, `-` (and `@` in
/// usernames), 1 to 64 characters.
fn valid_name(s: &str, allow_at: bool) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') || (allow_at && b == b'@')
        })
}

/// Checks a `host:port` where the host is an IP address or a DNS name.
fn check_address(address: &str) -> Result<(), &'static str> {
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (inside, port) = rest
            .split_once("]:")
            .ok_or("en IPv6-adresse skrives [adresse]:port")?;
        inside
            .parse::<Ipv6Addr>()
            .map_err(|_| "ugyldig IPv6-adresse i [ ]")?;
        (None, port)
    } else {
        let (host, port) = address
            .rsplit_once(':')
            .ok_or("mangler :port (skriv vert:port, f.eks. 10.1.2.3:3389)")?;
        if host.contains(':') {
            return Err("en IPv6-adresse skrives [adresse]:port");
        }
        (Some(host), port)
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err("porten må være et tall fra 1 til 65535"),
    }
    if let Some(host) = host {
        if host.parse::<Ipv4Addr>().is_err() && !valid_dns_name(host) {
            return Err("verten må være en IP-adresse eller et gyldig DNS-navn");
        }
    }
    Ok(())
}

fn valid_dns_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        // All-numeric names are mistyped IPv4 addresses, not hosts.
        && !host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Resolves a path against the configuration's directory and checks it is a file.
fn file(
    errors: &mut Errors<'_>,
    base: &Path,
    probe: &dyn Fn(&Path) -> PathKind,
    key: &str,
    value: &Spanned<String>,
) -> PathBuf {
    let path = resolve(base, value.get_ref());
    if value.get_ref().trim().is_empty() {
        errors.at(value.span(), format!("`{key}` er tom; skriv en filsti"));
        return path;
    }
    match probe(&path) {
        PathKind::File => {}
        PathKind::Directory => errors.at(
            value.span(),
            format!("`{key}`: {} er en mappe, ikke en fil", path.display()),
        ),
        PathKind::Missing => errors.at(
            value.span(),
            format!("`{key}`: filen {} finnes ikke", path.display()),
        ),
    }
    path
}

/// Whom a `[[grant]]` is for: `user` (a `[[user]]`, or with a directory any username) or
/// `ldap_group` (with a directory only), exactly one of them.
fn grant_to(
    errors: &mut Errors<'_>,
    g: &RawGrant,
    span: &Range<usize>,
    has_directory: bool,
    user_names: &HashMap<String, usize>,
) -> Option<GrantTo> {
    match (&g.user, &g.ldap_group) {
        (Some(user), None) => {
            let name = user.get_ref();
            if !has_directory && !user_names.contains_key(&name.to_ascii_lowercase()) {
                errors.at(
                    user.span(),
                    format!("ukjent bruker `{name}`; en tilgang må gjelde en [[user]]"),
                );
            }
            Some(GrantTo::User(name.clone()))
        }
        (None, Some(group)) => {
            if !has_directory {
                errors.at(
                    group.span(),
                    "`ldap_group` krever en katalog: legg til [directory], eller skriv `user`",
                );
            } else if !directory::looks_like_dn(group.get_ref()) {
                errors.at(
                    group.span(),
                    "`ldap_group` er gruppens DN, f.eks. \"cn=fastleger,ou=groups,dc=example,dc=no\"",
                );
            }
            Some(GrantTo::LdapGroup(normalize_dn(group.get_ref())))
        }
        (Some(user), Some(_)) => {
            errors.at(
                user.span(),
                "en tilgang gjelder enten én bruker (`user`) eller én katalog-gruppe \
                 (`ldap_group`), ikke begge; del den i to [[grant]]",
            );
            None
        }
        (None, None) => {
            errors.at(
                span.clone(),
                "tilgangen nevner ingen `user` eller `ldap_group`",
            );
            None
        }
    }
}

fn resolve(base: &Path, written: &str) -> PathBuf {
    let p = Path::new(written);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Reads and checks a configuration text. `base_dir` is the directory relative paths are
/// resolved against (the configuration file's own); `probe` says what is at a path.
///
/// On failure, every error found, in file order.
pub fn parse(
    text: &str,
    base_dir: &Path,
    probe: &dyn Fn(&Path) -> PathKind,
) -> Result<Config, Vec<ConfigError>> {
    let mut errors = Errors {
        text,
        list: Vec::new(),
    };
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        // What recovery made of a broken file would only give confusing follow-up errors.
        for e in &syntax {
            errors.toml(e);
        }
        return Err(errors.finish());
    }

    let mut sections: HashMap<String, Spanned<DeValue<'_>>> = HashMap::new();
    for (key, value) in doc.into_inner() {
        let name = key.get_ref().to_string();
        if SECTIONS.contains(&name.as_str()) {
            sections.insert(name, value);
        } else {
            errors.at(
                key.span(),
                format!(
                    "ukjent seksjon `{name}`; gyldige seksjoner: {}",
                    SECTIONS.join(", ")
                ),
            );
        }
    }

    let mut required = |errors: &mut Errors<'_>, name: &str| match sections.remove(name) {
        Some(v) => Some(v),
        None => {
            errors.at(0..0, format!("mangler seksjonen [{name}]"));
            None
        }
    };
    let raw_gateway =
        required(&mut errors, "gateway").and_then(|v| deserialize::<RawGateway>(&mut errors, v));
    let raw_trust_value = required(&mut errors, "trust");
    let trust_span = raw_trust_value.as_ref().map_or(0..0, Spanned::span);
    let raw_trust = raw_trust_value.and_then(|v| deserialize::<RawTrust>(&mut errors, v));
    let audit = required(&mut errors, "audit")
        .and_then(|v| audit_store::parse(&mut errors, v, base_dir, probe));
    let raw_limits = match sections.remove("limits") {
        Some(v) => deserialize::<RawLimits>(&mut errors, v),
        None => Some(RawLimits::default()),
    };
    let raw_lockout = match sections.remove("lockout") {
        Some(v) => deserialize::<RawLockout>(&mut errors, v),
        None => Some(RawLockout::default()),
    };
    let raw_dangerous = match sections.remove("dangerous") {
        Some(v) => deserialize::<RawDangerous>(&mut errors, v),
        None => Some(RawDangerous::default()),
    };
    let raw_users = entries::<RawUser>(&mut errors, "user", sections.remove("user"));
    let raw_groups = entries::<RawGroup>(&mut errors, "group", sections.remove("group"));
    let raw_machines = entries::<RawMachine>(&mut errors, "machine", sections.remove("machine"));
    let raw_grants = entries::<RawGrant>(&mut errors, "grant", sections.remove("grant"));
    let posture = match sections.remove("posture") {
        Some(v) => posture::parse(&mut errors, v),
        None => Some(PostureSettings::default()),
    };
    let load_balancer = match sections.remove("load_balancer") {
        Some(v) => load_balancer::parse_load_balancer(&mut errors, v),
        None => Some(LoadBalancers::default()),
    };
    let health = sections
        .remove("health")
        .map(|v| load_balancer::parse_health(&mut errors, v));
    let directory_value = sections.remove("directory");
    let has_directory = directory_value.is_some();
    let directory = directory_value.and_then(|v| directory::parse(&mut errors, v, base_dir, probe));

    let probe_file = probe;

    // [gateway]
    let gateway = raw_gateway.map(|g| {
        let listen = match g.listen.get_ref().parse::<SocketAddr>() {
            Ok(a) if a.port() != 0 => a,
            _ => {
                errors.at(
                    g.listen.span(),
                    "`listen` må være IP-adresse:port, f.eks. \"0.0.0.0:8443\" eller \"[::]:8443\"",
                );
                SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8443)
            }
        };
        let server_cert = file(
            &mut errors,
            base_dir,
            probe_file,
            "server_cert",
            &g.server_cert,
        );
        let server_key = file(
            &mut errors,
            base_dir,
            probe_file,
            "server_key",
            &g.server_key,
        );
        let required_level = match &g.required_level {
            None => Level::PersonHigh,
            Some(s) => match s.get_ref().parse::<Level>() {
                Ok(l @ (Level::PersonHigh | Level::PersonHighHsm)) => l,
                _ => {
                    errors.at(
                        s.span(),
                        "`required_level` må være \"person-high\" (nøkkel på smartkort) \
                         eller \"person-high-hsm\"",
                    );
                    Level::PersonHigh
                }
            },
        };
        GatewaySettings {
            listen,
            server_cert,
            server_key,
            required_level,
            test_environment: g.test_environment,
            reload_interval_secs: ranged(&mut errors, &g.reload_interval_secs, RELOAD_INTERVAL)
                as u64,
        }
    });

    // [dangerous]
    let dangerous = raw_dangerous.map(|d| DangerousSettings {
        allow_no_crl: d.allow_no_crl,
    });

    // [trust]
    let trust = raw_trust.map(|t| {
        if t.anchors.get_ref().is_empty() {
            errors.at(
                t.anchors.span(),
                "`anchors` er tom: uten tillitsankre kan ingen logge inn",
            );
        }
        let anchors = t
            .anchors
            .get_ref()
            .iter()
            .map(|p| file(&mut errors, base_dir, probe_file, "anchors", p))
            .collect();
        let intermediates = t
            .intermediates
            .iter()
            .map(|p| file(&mut errors, base_dir, probe_file, "intermediates", p))
            .collect();
        let crls: Vec<PathBuf> = t
            .crls
            .as_ref()
            .map(|c| {
                c.get_ref()
                    .iter()
                    .map(|p| file(&mut errors, base_dir, probe_file, "crls", p))
                    .collect()
            })
            .unwrap_or_default();
        let allow_no_crl = dangerous.is_some_and(|d| d.allow_no_crl);
        if crls.is_empty() && !allow_no_crl {
            let span = t.crls.as_ref().map_or(trust_span.clone(), Spanned::span);
            errors.at(
                span,
                "ingen CRL-filer i `crls`: et tilbaketrukket kort ville sluppet inn. Legg inn \
                 CA-enes CRL-er, eller (bare i test) sett `allow_no_crl = true` under [dangerous]",
            );
        }
        TrustSettings {
            anchors,
            intermediates,
            crls,
            test_issuers: t.test_issuers,
            expiry_warning_days: ranged(&mut errors, &t.expiry_warning_days, EXPIRY_WARNING) as u32,
        }
    });

    // [limits]
    let limits = raw_limits.map(|l| Limits {
        max_sessions: ranged(&mut errors, &l.max_sessions, MAX_SESSIONS) as u32,
        max_streams_per_session: ranged(&mut errors, &l.max_streams_per_session, MAX_STREAMS)
            as u32,
        max_frame_bytes: ranged(&mut errors, &l.max_frame_bytes, MAX_FRAME) as u32,
        login_timeout_secs: ranged(&mut errors, &l.login_timeout_secs, LOGIN_TIMEOUT) as u64,
        idle_timeout_secs: ranged(&mut errors, &l.idle_timeout_secs, IDLE_TIMEOUT) as u64,
        connect_timeout_secs: ranged(&mut errors, &l.connect_timeout_secs, CONNECT_TIMEOUT) as u64,
        max_session_secs: ranged(&mut errors, &l.max_session_secs, MAX_SESSION) as u64,
        max_sessions_per_user: ranged(&mut errors, &l.max_sessions_per_user, MAX_SESSIONS_PER_USER)
            as u32,
        max_pending_logins: ranged(&mut errors, &l.max_pending_logins, MAX_PENDING) as u32,
        max_pending_logins_per_address: ranged(
            &mut errors,
            &l.max_pending_logins_per_address,
            MAX_PENDING_PER_ADDRESS,
        ) as u32,
        password_check_threads: ranged(&mut errors, &l.password_check_threads, PASSWORD_THREADS)
            as u32,
        password_check_queue: ranged(&mut errors, &l.password_check_queue, PASSWORD_QUEUE) as u32,
    });

    // [lockout]
    let lockout = raw_lockout.map(|l| {
        let policy = LockoutPolicy {
            max_failures: ranged(&mut errors, &l.max_failures, LOCKOUT_MAX_FAILURES) as u32,
            max_failures_per_address: ranged(
                &mut errors,
                &l.max_failures_per_address,
                LOCKOUT_MAX_FAILURES_PER_ADDRESS,
            ) as u32,
            window_secs: ranged(&mut errors, &l.window_secs, LOCKOUT_WINDOW) as u64,
            lock_secs: ranged(&mut errors, &l.lock_secs, LOCKOUT_LOCK) as u64,
            max_lock_secs: ranged(&mut errors, &l.max_lock_secs, LOCKOUT_MAX_LOCK) as u64,
        };
        if policy.max_lock_secs < policy.lock_secs {
            let span = l
                .max_lock_secs
                .as_ref()
                .or(l.lock_secs.as_ref())
                .map_or(0..0, Spanned::span);
            errors.at(
                span,
                format!(
                    "`max_lock_secs` ({}) kan ikke være mindre enn `lock_secs` ({})",
                    policy.max_lock_secs, policy.lock_secs
                ),
            );
        }
        policy
    });

    // [[user]]
    let mut users = Vec::new();
    let mut user_names: HashMap<String, usize> = HashMap::new();
    let mut personal_ids: HashMap<String, (String, usize)> = HashMap::new();
    for (span, raw, value) in &raw_users {
        let Some(u) = raw else {
            if let Some(name) = peek_str(value, "username") {
                user_names
                    .entry(name.to_ascii_lowercase())
                    .or_insert(errors.line_of(span));
            }
            continue;
        };
        let name = u.username.get_ref();
        if !valid_name(name, true) {
            errors.at(
                u.username.span(),
                "`username` kan bare ha bokstavene a–z, sifre, . _ - og @, og høyst 64 tegn",
            );
        }
        let key = name.to_ascii_lowercase();
        if let Some(line) = user_names.get(&key) {
            errors.at(
                u.username.span(),
                format!("brukeren `{name}` er allerede definert på linje {line}"),
            );
        } else {
            user_names.insert(key, errors.line_of(&u.username.span()));
        }
        let personal_id = match PersonalId::parse(u.personal_id.get_ref()) {
            Some(id) => {
                if let Some((other, line)) = personal_ids.get(&id.normalized) {
                    errors.at(
                        u.personal_id.span(),
                        format!(
                            "personidentifikatoren er allerede knyttet til brukeren `{other}` \
                             (linje {line}); ett kort hører til én bruker"
                        ),
                    );
                } else {
                    personal_ids.insert(
                        id.normalized.clone(),
                        (name.clone(), errors.line_of(&u.personal_id.span())),
                    );
                }
                id.normalized
            }
            None => {
                errors.at(
                    u.personal_id.span(),
                    "`personal_id` må ha formen UN:NO-9578-<utstederkode>-<id>, f.eks. \
                     \"UN:NO-9578-4050-127091783\" (som i kortets sertifikat)",
                );
                String::new()
            }
        };
        if let Err(why) = auth::check_hash_format(u.password_hash.get_ref()) {
            errors.at(
                u.password_hash.span(),
                format!(
                    "`password_hash` er ikke en brukbar argon2id PHC-streng: {why}. Lag den med \
                     `hjemmekontor-gateway hash-password`"
                ),
            );
        }
        users.push(User {
            username: name.clone(),
            personal_id,
            password_hash: PhcHash(u.password_hash.get_ref().clone()),
            display_name: u.display_name.clone(),
            groups: Vec::new(),
        });
    }

    // [[group]]
    let mut groups = Vec::new();
    let mut group_ids: HashMap<String, usize> = HashMap::new();
    for (span, raw, value) in &raw_groups {
        let Some(g) = raw else {
            if let Some(id) = peek_str(value, "id") {
                group_ids.entry(id).or_insert(errors.line_of(span));
            }
            continue;
        };
        let id = g.id.get_ref();
        if !valid_name(id, false) {
            errors.at(
                g.id.span(),
                "`id` kan bare ha bokstaver a–z, sifre, . _ og -, og høyst 64 tegn",
            );
        }
        if let Some(line) = group_ids.get(id) {
            errors.at(
                g.id.span(),
                format!("gruppen `{id}` er allerede definert på linje {line}"),
            );
        } else {
            group_ids.insert(id.clone(), errors.line_of(&g.id.span()));
        }
        if g.name.get_ref().trim().is_empty() {
            errors.at(g.name.span(), "`name` er tom");
        }
        if g.kind.get_ref().trim().is_empty() {
            errors.at(
                g.kind.span(),
                format!("`kind` er tom; f.eks. {}", KNOWN_GROUP_KINDS.join(", ")),
            );
        }
        groups.push(Group {
            id: id.clone(),
            name: g.name.get_ref().clone(),
            kind: g.kind.get_ref().clone(),
            redirect: redirect::of_group(g),
        });
    }

    // [[machine]]
    let mut machines = Vec::new();
    let mut machine_ids: HashMap<String, usize> = HashMap::new();
    for (span, raw, value) in &raw_machines {
        let Some(m) = raw else {
            if let Some(id) = peek_str(value, "id") {
                machine_ids.entry(id).or_insert(errors.line_of(span));
            }
            continue;
        };
        let id = m.id.get_ref();
        if !valid_name(id, false) {
            errors.at(
                m.id.span(),
                "`id` kan bare ha bokstaver a–z, sifre, . _ og -, og høyst 64 tegn",
            );
        }
        if let Some(line) = machine_ids.get(id) {
            errors.at(
                m.id.span(),
                format!("maskinen `{id}` er allerede definert på linje {line}"),
            );
        } else {
            machine_ids.insert(id.clone(), errors.line_of(&m.id.span()));
        }
        if m.name.get_ref().trim().is_empty() {
            errors.at(m.name.span(), "`name` er tom");
        }
        if let Err(why) = check_address(m.address.get_ref()) {
            errors.at(m.address.span(), format!("`address`: {why}"));
        }
        if let Some(group) = &m.group {
            if !group_ids.contains_key(group.get_ref()) {
                errors.at(
                    group.span(),
                    format!(
                        "ukjent gruppe `{}`; definer den med [[group]] id = \"{}\"",
                        group.get_ref(),
                        group.get_ref()
                    ),
                );
            }
        }
        machines.push(Machine {
            id: id.clone(),
            name: m.name.get_ref().clone(),
            address: m.address.get_ref().clone(),
            group: m.group.as_ref().map(|g| g.get_ref().clone()),
        });
    }

    // [[grant]]
    if has_directory {
        if let Some((span, _, _)) = raw_users.first() {
            errors.at(
                span.clone(),
                "med [directory] kommer brukerne fra katalogen; fjern [[user]]-oppføringene \
                 (eller [directory])",
            );
        }
    }
    let mut grants = Vec::new();
    for (span, raw, _) in &raw_grants {
        let Some(g) = raw else { continue };
        let Some(to) = grant_to(&mut errors, g, span, has_directory, &user_names) else {
            continue;
        };
        for m in &g.machines {
            if !machine_ids.contains_key(m.get_ref()) {
                errors.at(m.span(), format!("ukjent maskin `{}`", m.get_ref()));
            }
        }
        for grp in &g.groups {
            if !group_ids.contains_key(grp.get_ref()) {
                errors.at(grp.span(), format!("ukjent gruppe `{}`", grp.get_ref()));
            }
        }
        if g.machines.is_empty() && g.groups.is_empty() {
            errors.at(
                span.clone(),
                "tilgangen nevner ingen maskiner og ingen grupper; skriv `machines = [...]` \
                 eller `groups = [...]`",
            );
        }
        grants.push(Grant {
            to,
            machines: g.machines.iter().map(|m| m.get_ref().clone()).collect(),
            groups: g.groups.iter().map(|m| m.get_ref().clone()).collect(),
        });
    }

    let errors = errors.finish();
    match (
        gateway,
        trust,
        audit,
        limits,
        lockout,
        dangerous,
        posture,
        load_balancer,
    ) {
        (
            Some(gateway),
            Some(trust),
            Some(audit),
            Some(limits),
            Some(lockout),
            Some(dangerous),
            Some(posture),
            Some(load_balancer),
        ) if errors.is_empty() => {
            let dummy_hash = auth::dummy_hash_like(users.first().map(|u| u.password_hash.as_str()));
            Ok(Config {
                gateway,
                trust,
                audit,
                limits,
                lockout,
                dangerous,
                users,
                groups,
                machines,
                grants,
                posture,
                load_balancer,
                health: health.flatten(),
                directory,
                dummy_hash: PhcHash(dummy_hash),
            })
        }
        _ => Err(errors),
    }
}

/// Why the configuration file could not be used.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Read(std::io::Error),
    /// It was read, and these are its mistakes.
    Invalid(Vec<ConfigError>),
}

/// Reads the configuration file and checks it, resolving relative paths against its directory.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let text = std::fs::read_to_string(path).map_err(LoadError::Read)?;
    let base = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    parse(&text, base, &probe_disk).map_err(LoadError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::testutil::{self, base, probe};

    fn errors_of(text: &str) -> Vec<ConfigError> {
        parse(text, &base(), &probe).unwrap_err()
    }

    /// The test configuration with `from` replaced by `to` (once, and it must be there).
    fn edited(from: &str, to: &str) -> String {
        let text = testutil::text();
        assert!(text.contains(from), "{from}");
        text.replacen(from, to, 1)
    }

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    #[test]
    fn the_test_configuration_reads_with_defaults_and_resolved_paths() {
        let c = testutil::config();
        assert_eq!(c.gateway.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(
            c.gateway.server_cert,
            PathBuf::from("/etc/hjemmekontor/pki/gateway.pem")
        );
        assert_eq!(c.gateway.required_level, Level::PersonHigh);
        assert!(!c.gateway.test_environment);
        assert_eq!(c.gateway.reload_interval_secs, 3600);
        assert_eq!(c.limits.max_frame_bytes, 65_536);
        assert_eq!(c.lockout.max_failures, 3);
        assert_eq!(c.users.len(), 3);
        // The prefix-less form is stored normalised, as the certificate core gives it.
        assert_eq!(c.user("OLA").unwrap().personal_id, testutil::OLA_ID);
        assert_eq!(c.machines[1].group.as_deref(), Some("legevakt"));
        assert!(dangerous_options(&c).iter().any(|d| d.contains("svake")));
        assert_eq!(c.auth_policy().required_level, Level::PersonHigh);
    }

    #[test]
    fn absolute_paths_stay_absolute() {
        let c = parse(
            &edited("\"pki/crl.pem\"", "\"/var/lib/crl/buypass.crl\""),
            &base(),
            &probe,
        )
        .unwrap();
        assert_eq!(
            c.trust.crls,
            vec![PathBuf::from("/var/lib/crl/buypass.crl")]
        );
    }

    #[test]
    fn missing_files_are_named_at_their_line() {
        let text = testutil::text();
        let errors = parse(&text, &base(), &|p: &Path| {
            if p.ends_with("root-ca.pem") {
                PathKind::Missing
            } else {
                probe(p)
            }
        })
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, line_of(&text, "anchors"));
        assert!(errors[0].message.contains("root-ca.pem finnes ikke"));
    }

    #[test]
    fn each_mistake_is_reported_at_its_line() {
        let text = edited("listen = \"127.0.0.1:8443\"", "listen = \"localhost:8443\"")
            .replacen("id = \"lv-2\"", "id = \"lv-1\"", 1)
            .replacen("address = \"10.0.0.1:3389\"", "address = \"10.0.0.1\"", 1)
            .replacen("machines = [\"kontor-1\"]", "machines = [\"kontor-9\"]", 1)
            .replacen("max_failures = 3", "max_failures = 0", 1)
            .replacen("group = \"legevakt\"", "group = \"legevakten\"", 1);
        let errors = errors_of(&text);
        let at = |needle: &str, what: &str| {
            let line = text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.contains(needle))
                .map(|(i, _)| i + 1)
                .last()
                .unwrap();
            assert!(
                errors
                    .iter()
                    .any(|e| e.line == line && e.message.contains(what)),
                "{what} on line {line}: {errors:#?}"
            );
        };
        at("localhost:8443", "IP-adresse:port");
        at("lv-1\"", "er allerede definert på linje");
        at("10.0.0.1\"", "mangler :port");
        at("kontor-9", "ukjent maskin `kontor-9`");
        at("max_failures = 0", "utenfor det tillatte området");
        at("legevakten", "ukjent gruppe `legevakten`");
        assert_eq!(errors.len(), 6, "{errors:#?}");
        // Sorted by position.
        assert!(errors.windows(2).all(|w| w[0].line <= w[1].line));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "# æøå\n[gateway]\nlisten = \"x\"\nserver_cert = \"a.pem\"\nserver_key = \"a.key\"\n\"kåre\" = 1\n";
        let errors = errors_of(text);
        let e = errors
            .iter()
            .find(|e| e.message.contains("ukjent nøkkel"))
            .unwrap();
        assert_eq!((e.line, e.column), (6, 1));
        assert_eq!(line_column("æøå x", "æøå ".len()), (1, 5));
    }

    #[test]
    fn every_unknown_key_and_every_bad_value_in_one_table() {
        let text = "[gateway]\nlisten = 5\nserver_cert = \"a.pem\"\nserver_key = true\nfoo = 1\nbar = 2\n\
                    [trust]\nanchors = [\"r.pem\"]\ncrls = [\"c.pem\"]\n[audit]\npath = \"a.log\"\n";
        let errors = errors_of(text);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 4, 5, 6], "{errors:#?}");
        // `listen` was required: taking it out is not reported again as missing.
        assert!(!errors.iter().any(|e| e.message.contains("mangler")));
    }

    #[test]
    fn missing_sections_and_keys_are_reported() {
        let errors = errors_of("[gateway]\nlisten = \"0.0.0.0:1\"\n");
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert!(messages.iter().any(|m| m.contains("mangler `server_cert`")));
        assert!(messages.iter().any(|m| m.contains("[trust]")));
        assert!(messages.iter().any(|m| m.contains("[audit]")));
    }

    #[test]
    fn syntax_errors_are_all_reported_and_nothing_else() {
        let errors = errors_of("[gateway\nlisten = \n[[user]]\nx = \"a\n");
        assert!(errors.len() >= 2, "{errors:#?}");
        assert!(errors.iter().all(|e| e.message.starts_with("ugyldig TOML")));
        assert_eq!(errors[0].line, 1);
    }

    #[test]
    fn a_single_user_table_is_explained() {
        let errors = errors_of(&edited("[[group]]", "[group]"));
        assert!(
            errors.iter().any(|e| e.message.contains("[[group]]")),
            "{errors:#?}"
        );
    }

    #[test]
    fn a_broken_user_still_counts_as_defined() {
        // The user entry has a bad type, but the grant naming it is not reported too.
        let text = edited("display_name = \"Kari Nordmann\"", "display_name = 5");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_eq!(errors[0].line, line_of(&text, "display_name"));
    }

    #[test]
    fn usernames_and_personal_ids_are_unique() {
        let text = edited("username = \"ola\"", "username = \"KARI\"");
        let errors = errors_of(&text);
        assert!(errors[0].message.contains("allerede definert på linje"));
        let text = edited("\"9578-4050-100000002\"", "\"UN:NO-9578-4050-100000001\"");
        let errors = errors_of(&text);
        assert!(
            errors[0].message.contains("ett kort hører til én bruker"),
            "{errors:#?}"
        );
    }

    #[test]
    fn personal_ids_have_the_norwegian_form() {
        for bad in [
            "12345678901",
            "UN:SE-9578-4050-1",
            "9578-4050-",
            "UN:NO-9578-4050-1 2",
        ] {
            let errors = errors_of(&edited(testutil::KARI_ID, bad));
            assert!(
                errors[0].message.contains("UN:NO-9578"),
                "{bad}: {errors:#?}"
            );
        }
    }

    #[test]
    fn a_password_in_the_hash_field_is_never_repeated() {
        for secret in [
            "Sommer2024!",
            "$argon2i$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
        ] {
            let text = testutil::text();
            let start = text.find("password_hash = \"$argon2id").unwrap();
            let end = start + text[start..].find('\n').unwrap();
            let text = format!(
                "{}password_hash = \"{secret}\"{}",
                &text[..start],
                &text[end..]
            );
            let errors = errors_of(&text);
            assert_eq!(errors.len(), 1, "{errors:#?}");
            assert!(errors[0].message.contains("argon2id"));
            assert!(!errors[0].message.contains(secret));
        }
        // A wrong type never repeats the value either.
        let errors = errors_of(&edited(
            "listen = ",
            "test_environment = \"Sommer2024!\"\nlisten = ",
        ));
        assert!(
            errors.iter().all(|e| !e.message.contains("Sommer2024")),
            "{errors:#?}"
        );
    }

    #[test]
    fn hashes_with_absurd_parameters_are_refused() {
        let text = testutil::text();
        let start = text.find("$argon2id$v=19$m=64,t=1,p=1$").unwrap();
        let text = format!(
            "{}$argon2id$v=19$m=4194304,t=1,p=1${}",
            &text[..start],
            &text[start + "$argon2id$v=19$m=64,t=1,p=1$".len()..]
        );
        let errors = errors_of(&text);
        assert!(errors[0].message.contains("urimelig høye"), "{errors:#?}");
    }

    #[test]
    fn without_crls_only_with_the_dangerous_switch() {
        let text = edited("crls = [\"pki/crl.pem\"]\n", "");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, line_of(&text, "[trust]"));
        let text = format!("{text}\n[dangerous]\nallow_no_crl = true\n");
        let c = parse(&text, &base(), &probe).unwrap();
        assert!(dangerous_options(&c)
            .iter()
            .any(|d| d.starts_with("dangerous.allow_no_crl")));
    }

    #[test]
    fn weakening_options_are_named() {
        let text = edited(
            "listen = \"127.0.0.1:8443\"",
            "listen = \"127.0.0.1:8443\"\ntest_environment = true\nrequired_level = \"person-high-hsm\"",
        );
        let c = parse(&text, &base(), &probe).unwrap();
        let d = dangerous_options(&c);
        assert!(d[0].starts_with("gateway.test_environment = true"));
        assert!(d[1].starts_with("gateway.required_level = \"person-high-hsm\""));
        let errors = errors_of(&text.replace("person-high-hsm", "enterprise"));
        assert!(errors[0].message.contains("required_level"));
    }

    #[test]
    fn a_grant_must_name_something() {
        let text = edited("machines = [\"kontor-1\"]", "");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 1);
        assert!(errors[0]
            .message
            .contains("ingen maskiner og ingen grupper"));
        let grant_line = text
            .lines()
            .position(|l| l.starts_with("[[grant]]"))
            .unwrap()
            + 1;
        assert_eq!(errors[0].line, grant_line);
    }

    #[test]
    fn addresses() {
        for good in [
            "10.1.2.3:3389",
            "pc-12.legesenter.kommune.no:3389",
            "[fe80::1]:3389",
            "pc1:1",
        ] {
            assert_eq!(check_address(good), Ok(()), "{good}");
        }
        for bad in [
            "10.1.2.3",
            "10.1.2.3:0",
            "10.1.2.3:65536",
            "fe80::1:3389",
            "[fe80::zz]:3389",
            ":3389",
            "-pc:3389",
            "pc_1:3389",
            "300.1.2.3:3389",
            "",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lockout_backoff_bounds_are_consistent() {
        let errors = errors_of(&edited("max_lock_secs = 240", "max_lock_secs = 30"));
        assert!(errors[0].message.contains("max_lock_secs"));
    }

    #[test]
    fn fields_are_read_from_the_structs() {
        assert_eq!(
            fields_of::<audit_store::RawAudit>(),
            &["path", "postgres", "postgres_password_file"],
            "the probe deserializer sees serde's field list"
        );
        assert!(fields_of::<RawGateway>().contains(&"reload_interval_secs"));
    }

    #[test]
    fn serde_messages_are_translated_without_values() {
        assert_eq!(translate("missing field `listen`"), "mangler `listen`");
        assert_eq!(
            translate("invalid type: string \"hemmelig\", expected a boolean"),
            "feil type: fant tekst, ventet true eller false"
        );
        assert!(translate("unknown field `x`, expected `path`").contains("ukjent nøkkel `x`"));
    }

    #[test]
    fn hash_does_not_print() {
        let c = testutil::config();
        let debug = format!("{c:?}");
        assert!(!debug.contains("$argon2id"));
        assert!(debug.contains("PhcHash(REDACTED)"));
    }
}
