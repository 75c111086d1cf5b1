//! What one audit record says, and how it is hashed. Pure: no files, no clock.
//!
//! # The line format
//!
//! The log is JSON Lines: one record per line, each line ending in `\n`, UTF-8, at most
//! [`MAX_LINE_LEN`] bytes. A record is one JSON object:
//!
//! ```text
//! {"seq":1,"time":"2025-05-25T12:00:00.000Z","event":"login-refused","reason":"wrong-password",
//!  "user":"ola","personal_id":"9578-4050-127091783","source":"192.0.2.7:50412","detail":null,
//!  "prev":"0000…0000","hash":"5f1c…"}
//! ```
//!
//! - `seq` counts from 1 and goes up by one per record;
//! - `time` is UTC, RFC 3339 with exactly three fraction digits and `Z`;
//! - `event` names the kind of event ([`EventKind`]); the event's own fields follow it. Every
//!   field of the kind is present (absent values are `null`), and no other field is;
//! - `prev` is the `hash` of the record before, or [`GENESIS`] for the first record;
//! - `hash` is the lowercase hex SHA-256 of the record's **canonical form** without `hash`.
//!
//! # The canonical form (what the hash covers)
//!
//! Take the record as a JSON object, remove the `hash` member, and write it compactly:
//!
//! - objects: `{`, members sorted by key (byte order of the UTF-8 key), each `"key":value`,
//!   separated by `,`, then `}`;
//! - arrays: `[`, elements in order separated by `,`, `]`;
//! - strings: `"`, the characters as UTF-8, with `"` written `\"`, `\` written `\\` and
//!   U+0000–U+001F written `\u00xx` (lowercase hex), then `"`; nothing else is escaped;
//! - integers in decimal without sign or leading zeros; `null`; `true`; `false`. The format has
//!   no fractions, so a number with one is not canonical and is refused.
//!
//! The hash therefore covers `seq`, `time`, `event` with all its fields, and `prev` — so a
//! record is chained to the one before — and does not depend on the order keys are written
//! in the file nor on the JSON library's choices. [`AuditRecord::from_line`] also insists that
//! the parsed line has exactly the fields of its kind, so a renamed or added key is caught
//! even where it would not change the hashed values.
//!
//! # Secrets
//!
//! No event has a field for a password, a password hash or a PIN, and the types of this
//! module cannot take one: [`crate::secret`] types do not serialise. Free text (`detail`) is
//! written by the gateway, never copied from what the client sent.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// `prev` of the first record: 64 zeros, as no record came before.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest line we write or read, newline included; longer input is refused, never buffered
/// without bound.
pub const MAX_LINE_LEN: usize = 64 * 1024;

/// Longest text field, in characters; longer ones are cut so any record fits in a line.
pub const MAX_FIELD_CHARS: usize = 256;

/// Most entries of a list field (targets, dangerous options) kept in one record.
pub const MAX_LIST_ENTRIES: usize = 32;

/// Why a login was refused. One value per cause the admin must be able to tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalReason {
    /// TLS: the client sent no certificate.
    NoCertificate,
    /// TLS: the certificate does not chain to a trusted issuer.
    Untrusted,
    /// TLS: the certificate has expired.
    Expired,
    /// TLS: the certificate is not valid yet.
    NotYetValid,
    /// TLS: the certificate is revoked.
    Revoked,
    /// TLS: the revocation list is out of date, so revocation cannot be checked.
    CrlExpired,
    /// TLS: the certificate's assurance level is below "høyt".
    LevelTooLow,
    /// TLS: the certificate is not for client authentication.
    WrongUsage,
    /// The user name is not known.
    UnknownUser,
    /// The certificate's personal identifier is not bound to this user.
    IdentifierNotBound,
    /// The password is wrong.
    WrongPassword,
    /// The account is locked after too many failures.
    LockedOut,
    /// The home computer does not meet the posture policy.
    PostureRefused,
    /// The user has no target they may reach.
    NoGrants,
    /// The login message could not be understood.
    BadRequest,
    /// The client speaks a protocol version we do not.
    ProtocolVersion,
    /// The gateway was too busy to take the login (waiting connections, password checks or
    /// sessions at their bound) and answered "busy".
    ServerBusy,
    /// A part the decision needs (the shared lockout counts, the directory) could not be
    /// reached: nothing was decided, and the client was told it cannot log in now.
    Unavailable,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// The client closed the session.
    ClientClosed,
    /// The card was pulled from the reader.
    CardRemoved,
    /// No stream was open and nothing moved for the idle limit.
    IdleTimeout,
    /// The gateway shut down.
    GatewayShutdown,
    /// The connection to the client was lost.
    NetworkLost,
    /// An error ended the session.
    Error,
    /// The client broke the protocol (a frame that is not ours or not a valid multiplexing frame, an invalid
    /// `open`); the gateway closed the connection.
    ProtocolError,
    /// The session reached its longest allowed lifetime (`max_session_secs`).
    MaxLifetime,
    /// The user's certificate was found revoked while the session ran.
    Revoked,
    /// The client asked for more targets it may not reach than any client of ours does: it
    /// was probing for machine ids.
    TooManyRefusals,
    /// A posture re-check found the home computer no longer meets a `deny` rule.
    PostureRefused,
    /// The client sent no fresh posture report within the re-check interval and its grace.
    PostureOverdue,
}

/// When and with what result posture rules failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PostureOutcome {
    /// At login, a `deny` rule failed: the login is refused.
    LoginRefused,
    /// At login, only `warn` rules failed: the person is let in and warned.
    LoginWarned,
    /// At a re-check, a `deny` rule failed: the session is ended.
    SessionEnded,
    /// At a re-check, only `warn` rules failed: the session goes on, and the person is warned.
    SessionWarned,
}

/// Why a logged-in user was refused a target. The client gets the same answer for both, so
/// it cannot learn which ids exist; only the audit log tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetRefusal {
    /// The machine exists, but no grant of the user names it or its group.
    NotGranted,
    /// No machine has this id.
    UnknownTarget,
}

/// Something the gateway must be able to prove happened. Field names are the JSON keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum AuditEvent {
    /// A login passed every check; the session may reach `targets`.
    LoginAccepted {
        /// User name.
        user: String,
        /// Personal identifier from the certificate's subject serialNumber.
        personal_id: String,
        /// Client address.
        source: SocketAddr,
        /// The new session's id.
        session_id: String,
        /// Target ids granted to this session.
        targets: Vec<String>,
    },
    /// A login was refused, at TLS level or after it.
    LoginRefused {
        /// Why.
        reason: RefusalReason,
        /// User name, once the client sent one.
        user: Option<String>,
        /// Personal identifier, once a certificate was read.
        personal_id: Option<String>,
        /// Client address.
        source: SocketAddr,
        /// More on the cause, written by the gateway (e.g. the certificate's expiry).
        detail: Option<String>,
    },
    /// A logged-in user asked for a target they are not granted, or one that does not exist.
    TargetRefused {
        /// User name.
        user: String,
        /// Session id.
        session_id: String,
        /// The target id asked for.
        target: String,
        /// Client address.
        source: SocketAddr,
        /// Which of the two it was.
        reason: TargetRefusal,
    },
    /// A stream within a session was connected to a granted target (written before the
    /// client is told).
    StreamOpened {
        /// Session id.
        session_id: String,
        /// User name.
        user: String,
        /// Client address.
        source: SocketAddr,
        /// Target id.
        target: String,
        /// The address the gateway connected to for it.
        address: SocketAddr,
    },
    /// A session ended.
    SessionEnded {
        /// Session id.
        session_id: String,
        /// User name.
        user: String,
        /// Streams opened to targets in the session.
        target_streams: u32,
        /// Bytes sent from the client to targets.
        bytes_to_target: u64,
        /// Bytes sent from targets to the client.
        bytes_from_target: u64,
        /// How long the session lasted, in milliseconds.
        duration_ms: u64,
        /// Why it ended.
        reason: EndReason,
    },
    /// The gateway started; dangerous options in force are named.
    GatewayStarted {
        /// Gateway version.
        version: String,
        /// Names of dangerous options in force (empty in a proper setup).
        dangerous: Vec<String>,
    },
    /// The gateway reloaded its trust anchors and revocation lists.
    ConfigReloaded {
        /// Trust anchors now in force.
        trust_anchors: usize,
        /// Revocation lists now in force.
        crls: usize,
    },
    /// The home computer failed posture rules, at login or at a re-check during a session
    /// (written before the person is answered). Only the facts the failed rules looked at.
    PostureFailed {
        /// User name.
        user: String,
        /// Client address.
        source: SocketAddr,
        /// The session (a re-check, or a login let in with warnings); `null` for a refused
        /// login, which has none.
        session_id: Option<String>,
        /// What came of it.
        outcome: PostureOutcome,
        /// Each failed rule: `rule (deny|warn): what it saw`.
        failed: Vec<String>,
    },
    /// Refusals of one kind from one address that were counted, not recorded one by one
    /// (see [`super::coalesce`]), so a flood cannot fill the disk or drown the log.
    LoginRefusedRepeated {
        /// Client address without port; `null` for the overflow count of addresses beyond
        /// the coalescer's table.
        source: Option<IpAddr>,
        /// Why they were refused.
        reason: RefusalReason,
        /// Refusals counted; the first of the window, recorded on its own, is not among them.
        count: u64,
        /// Time of the first refusal counted.
        #[serde(with = "utc_millis")]
        first: OffsetDateTime,
        /// Time of the last refusal counted.
        #[serde(with = "utc_millis")]
        last: OffsetDateTime,
    },
}

/// The kinds of [`AuditEvent`], by the name used in the `event` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// `login-accepted`.
    LoginAccepted,
    /// `login-refused`.
    LoginRefused,
    /// `target-refused`.
    TargetRefused,
    /// `stream-opened`.
    StreamOpened,
    /// `session-ended`.
    SessionEnded,
    /// `gateway-started`.
    GatewayStarted,
    /// `config-reloaded`.
    ConfigReloaded,
    /// `login-refused-repeated`.
    LoginRefusedRepeated,
    /// `posture-failed`.
    PostureFailed,
}

impl EventKind {
    /// Every kind, in the order of [`AuditEvent`].
    pub const ALL: [EventKind; 9] = [
        EventKind::LoginAccepted,
        EventKind::LoginRefused,
        EventKind::TargetRefused,
        EventKind::StreamOpened,
        EventKind::SessionEnded,
        EventKind::GatewayStarted,
        EventKind::ConfigReloaded,
        EventKind::LoginRefusedRepeated,
        EventKind::PostureFailed,
    ];

    /// The name in the `event` key.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::LoginAccepted => "login-accepted",
            EventKind::LoginRefused => "login-refused",
            EventKind::TargetRefused => "target-refused",
            EventKind::StreamOpened => "stream-opened",
            EventKind::SessionEnded => "session-ended",
            EventKind::GatewayStarted => "gateway-started",
            EventKind::ConfigReloaded => "config-reloaded",
            EventKind::LoginRefusedRepeated => "login-refused-repeated",
            EventKind::PostureFailed => "posture-failed",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown event kind `{s}`"))
    }
}

impl RefusalReason {
    /// Every reason, in declaration order.
    pub const ALL: [RefusalReason; 18] = [
        RefusalReason::NoCertificate,
        RefusalReason::Untrusted,
        RefusalReason::Expired,
        RefusalReason::NotYetValid,
        RefusalReason::Revoked,
        RefusalReason::CrlExpired,
        RefusalReason::LevelTooLow,
        RefusalReason::WrongUsage,
        RefusalReason::UnknownUser,
        RefusalReason::IdentifierNotBound,
        RefusalReason::WrongPassword,
        RefusalReason::LockedOut,
        RefusalReason::PostureRefused,
        RefusalReason::NoGrants,
        RefusalReason::BadRequest,
        RefusalReason::ProtocolVersion,
        RefusalReason::ServerBusy,
        RefusalReason::Unavailable,
    ];

    /// The name written in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::NoCertificate => "no-certificate",
            RefusalReason::Untrusted => "untrusted",
            RefusalReason::Expired => "expired",
            RefusalReason::NotYetValid => "not-yet-valid",
            RefusalReason::Revoked => "revoked",
            RefusalReason::CrlExpired => "crl-expired",
            RefusalReason::LevelTooLow => "level-too-low",
            RefusalReason::WrongUsage => "wrong-usage",
            RefusalReason::UnknownUser => "unknown-user",
            RefusalReason::IdentifierNotBound => "identifier-not-bound",
            RefusalReason::WrongPassword => "wrong-password",
            RefusalReason::LockedOut => "locked-out",
            RefusalReason::PostureRefused => "posture-refused",
            RefusalReason::NoGrants => "no-grants",
            RefusalReason::BadRequest => "bad-request",
            RefusalReason::ProtocolVersion => "protocol-version",
            RefusalReason::ServerBusy => "server-busy",
            RefusalReason::Unavailable => "unavailable",
        }
    }
}

impl EndReason {
    /// The name written in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::ClientClosed => "client-closed",
            EndReason::CardRemoved => "card-removed",
            EndReason::IdleTimeout => "idle-timeout",
            EndReason::GatewayShutdown => "gateway-shutdown",
            EndReason::NetworkLost => "network-lost",
            EndReason::Error => "error",
            EndReason::ProtocolError => "protocol-error",
            EndReason::MaxLifetime => "max-lifetime",
            EndReason::Revoked => "revoked",
            EndReason::TooManyRefusals => "too-many-refusals",
            EndReason::PostureRefused => "posture-refused",
            EndReason::PostureOverdue => "posture-overdue",
        }
    }
}

impl PostureOutcome {
    /// The name written in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            PostureOutcome::LoginRefused => "login-refused",
            PostureOutcome::LoginWarned => "login-warned",
            PostureOutcome::SessionEnded => "session-ended",
            PostureOutcome::SessionWarned => "session-warned",
        }
    }
}

impl TargetRefusal {
    /// The name written in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetRefusal::NotGranted => "not-granted",
            TargetRefusal::UnknownTarget => "unknown-target",
        }
    }
}

impl AuditEvent {
    /// Which kind of event this is.
    pub fn kind(&self) -> EventKind {
        match self {
            AuditEvent::LoginAccepted { .. } => EventKind::LoginAccepted,
            AuditEvent::LoginRefused { .. } => EventKind::LoginRefused,
            AuditEvent::TargetRefused { .. } => EventKind::TargetRefused,
            AuditEvent::StreamOpened { .. } => EventKind::StreamOpened,
            AuditEvent::SessionEnded { .. } => EventKind::SessionEnded,
            AuditEvent::GatewayStarted { .. } => EventKind::GatewayStarted,
            AuditEvent::ConfigReloaded { .. } => EventKind::ConfigReloaded,
            AuditEvent::LoginRefusedRepeated { .. } => EventKind::LoginRefusedRepeated,
            AuditEvent::PostureFailed { .. } => EventKind::PostureFailed,
        }
    }

    /// The user the event is about, where it names one (for `audit query --user`).
    pub fn user(&self) -> Option<&str> {
        match self {
            AuditEvent::LoginAccepted { user, .. }
            | AuditEvent::TargetRefused { user, .. }
            | AuditEvent::StreamOpened { user, .. }
            | AuditEvent::SessionEnded { user, .. }
            | AuditEvent::PostureFailed { user, .. } => Some(user),
            AuditEvent::LoginRefused { user, .. } => user.as_deref(),
            AuditEvent::GatewayStarted { .. }
            | AuditEvent::ConfigReloaded { .. }
            | AuditEvent::LoginRefusedRepeated { .. } => None,
        }
    }

    /// The same event with every text field cut to [`MAX_FIELD_CHARS`] characters and every
    /// list to [`MAX_LIST_ENTRIES`] entries, so any event fits in [`MAX_LINE_LEN`]. A cut text
    /// ends in `…`; a cut list ends in an entry `… (N more)`.
    pub fn bounded(self) -> AuditEvent {
        fn s(v: String) -> String {
            clip(v)
        }
        fn o(v: Option<String>) -> Option<String> {
            v.map(clip)
        }
        fn l(v: Vec<String>) -> Vec<String> {
            clip_list(v)
        }
        match self {
            AuditEvent::LoginAccepted {
                user,
                personal_id,
                source,
                session_id,
                targets,
            } => AuditEvent::LoginAccepted {
                user: s(user),
                personal_id: s(personal_id),
                source,
                session_id: s(session_id),
                targets: l(targets),
            },
            AuditEvent::LoginRefused {
                reason,
                user,
                personal_id,
                source,
                detail,
            } => AuditEvent::LoginRefused {
                reason,
                user: o(user),
                personal_id: o(personal_id),
                source,
                detail: o(detail),
            },
            AuditEvent::TargetRefused {
                user,
                session_id,
                target,
                source,
                reason,
            } => AuditEvent::TargetRefused {
                user: s(user),
                session_id: s(session_id),
                target: s(target),
                source,
                reason,
            },
            AuditEvent::StreamOpened {
                session_id,
                user,
                source,
                target,
                address,
            } => AuditEvent::StreamOpened {
                session_id: s(session_id),
                user: s(user),
                source,
                target: s(target),
                address,
            },
            AuditEvent::SessionEnded {
                session_id,
                user,
                target_streams,
                bytes_to_target,
                bytes_from_target,
                duration_ms,
                reason,
            } => AuditEvent::SessionEnded {
                session_id: s(session_id),
                user: s(user),
                target_streams,
                bytes_to_target,
                bytes_from_target,
                duration_ms,
                reason,
            },
            AuditEvent::GatewayStarted { version, dangerous } => AuditEvent::GatewayStarted {
                version: s(version),
                dangerous: l(dangerous),
            },
            AuditEvent::PostureFailed {
                user,
                source,
                session_id,
                outcome,
                failed,
            } => AuditEvent::PostureFailed {
                user: s(user),
                source,
                session_id: o(session_id),
                outcome,
                failed: l(failed),
            },
            e @ (AuditEvent::ConfigReloaded { .. } | AuditEvent::LoginRefusedRepeated { .. }) => e,
        }
    }
}

fn clip(v: String) -> String {
    if v.chars().count() <= MAX_FIELD_CHARS {
        return v;
    }
    let mut out: String = v.chars().take(MAX_FIELD_CHARS - 1).collect();
    out.push('…');
    out
}

fn clip_list(v: Vec<String>) -> Vec<String> {
    let n = v.len();
    let mut out: Vec<String> = v.into_iter().take(MAX_LIST_ENTRIES).map(clip).collect();
    if n > MAX_LIST_ENTRIES {
        out.truncate(MAX_LIST_ENTRIES - 1);
        out.push(format!("… ({} more)", n - (MAX_LIST_ENTRIES - 1)));
    }
    out
}

/// One line of the log: an event with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log, from 1.
    pub seq: u64,
    /// When the gateway recorded it (UTC, millisecond precision).
    #[serde(with = "utc_millis")]
    pub time: OffsetDateTime,
    /// What happened.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// Hash of the record before ([`GENESIS`] for the first).
    pub prev: String,
    /// Hash of this record's canonical form without `hash`.
    pub hash: String,
}

/// The hashed part of a record: everything but `hash`.
#[derive(Serialize)]
struct Unhashed<'a> {
    seq: u64,
    #[serde(with = "utc_millis")]
    time: OffsetDateTime,
    #[serde(flatten)]
    event: &'a AuditEvent,
    prev: &'a str,
}

/// Why a line is not a sound record by itself (the chain is checked in `verify`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not JSON, or not a record of our format.
    #[error("not an audit record: {0}")]
    Unparsable(String),
    /// The hash does not match the content: the line was changed after it was written.
    #[error("the hash does not match the record's content")]
    HashMismatch,
    /// The record would not fit in a line.
    #[error("the record is {len} bytes, more than the {MAX_LINE_LEN} a line may have")]
    TooLarge {
        /// Bytes the line would have.
        len: usize,
    },
}

impl AuditRecord {
    /// Builds the record at `seq` after the record whose hash is `prev`, and computes its
    /// hash. The time is taken in UTC and cut to whole milliseconds, as it is written.
    pub fn seal(
        seq: u64,
        time: OffsetDateTime,
        event: AuditEvent,
        prev: &str,
    ) -> Result<AuditRecord, RecordError> {
        let time = to_millis(time);
        let event = event_times_to_millis(event);
        let unhashed = Unhashed {
            seq,
            time,
            event: &event,
            prev,
        };
        let value =
            serde_json::to_value(&unhashed).map_err(|e| RecordError::Unparsable(e.to_string()))?;
        let hash = hash_value(&value)?;
        Ok(AuditRecord {
            seq,
            time,
            event,
            prev: prev.to_string(),
            hash,
        })
    }

    /// The line as written to the log, with its `\n`. Refuses a record that does not fit.
    pub fn to_line(&self) -> Result<String, RecordError> {
        let mut line =
            serde_json::to_string(self).map_err(|e| RecordError::Unparsable(e.to_string()))?;
        line.push('\n');
        if line.len() > MAX_LINE_LEN {
            return Err(RecordError::TooLarge { len: line.len() });
        }
        Ok(line)
    }

    /// Reads one line (with or without its `\n`) and checks that it is a record of our
    /// format whose hash matches its content. Does not look at the chain.
    pub fn from_line(line: &str) -> Result<AuditRecord, RecordError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let value: Value =
            serde_json::from_str(line).map_err(|e| RecordError::Unparsable(e.to_string()))?;
        let record: AuditRecord = serde_json::from_value(value.clone())
            .map_err(|e| RecordError::Unparsable(e.to_string()))?;
        // Exactly our fields, in our forms: a renamed, added or reformatted member is an edit
        // even where the typed reading would have let it pass.
        let again =
            serde_json::to_value(&record).map_err(|e| RecordError::Unparsable(e.to_string()))?;
        if again != value {
            return Err(RecordError::Unparsable(
                "the members are not exactly those of the record format".into(),
            ));
        }
        let mut unhashed = value;
        if let Value::Object(map) = &mut unhashed {
            map.remove("hash");
        }
        if hash_value(&unhashed)? != record.hash {
            return Err(RecordError::HashMismatch);
        }
        Ok(record)
    }
}

/// Cuts the times inside an event as the line keeps them, so a sealed record equals the one
/// read back from its line.
fn event_times_to_millis(mut event: AuditEvent) -> AuditEvent {
    if let AuditEvent::LoginRefusedRepeated { first, last, .. } = &mut event {
        *first = to_millis(*first);
        *last = to_millis(*last);
    }
    event
}

/// Cuts to whole milliseconds in UTC, the precision the log keeps.
fn to_millis(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    let ms = t.nanosecond() / 1_000_000 * 1_000_000;
    // A nanosecond value below the original one is always valid.
    t.replace_nanosecond(ms).unwrap_or(t)
}

/// Lowercase hex SHA-256 of the canonical form of `value`.
fn hash_value(value: &Value) -> Result<String, RecordError> {
    let mut canonical = Vec::with_capacity(512);
    write_canonical(value, &mut canonical)?;
    Ok(hex_lower(&Sha256::digest(&canonical)))
}

/// Lowercase hex, as `sha256sum` prints it.
pub fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xF)] as char);
    }
    s
}

/// Writes `value` in the canonical form described in the module documentation.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), RecordError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.extend_from_slice(u.to_string().as_bytes());
            } else if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else {
                return Err(RecordError::Unparsable(format!(
                    "the number {n} is not an integer"
                )));
            }
        }
        Value::String(s) => write_canonical_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical_str(k, out);
                out.push(b':');
                write_canonical(v, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_canonical_str(s: &str, out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x00..=0x1F => {
                out.extend_from_slice(b"\\u00");
                out.push(DIGITS[usize::from(b >> 4)]);
                out.push(DIGITS[usize::from(b & 0xF)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// `time` as `2025-05-25T12:00:00.000Z`: UTC, three fraction digits, sortable as text.
pub mod utc_millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    use time::OffsetDateTime;

    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

    /// Formats `t` (converted to UTC) as the log writes it.
    pub fn format(t: OffsetDateTime) -> Result<String, time::error::Format> {
        t.to_offset(time::UtcOffset::UTC).format(FORMAT)
    }

    /// Serialises as [`format`] does.
    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = format(*t).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    /// Reads RFC 3339 in UTC (`Z` or `+00:00`); other offsets are refused.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        let t = OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)?;
        if !t.offset().is_utc() {
            return Err(serde::de::Error::custom("time must be in UTC"));
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// Planted in every field a test can reach; it must never come out in a line.
    const PLANTED_PASSWORD: &str = "Hemmelig-Passord-9731!";

    fn addr() -> SocketAddr {
        "192.0.2.7:50412".parse().unwrap()
    }

    pub(crate) fn every_variant() -> Vec<AuditEvent> {
        vec![
            AuditEvent::LoginAccepted {
                user: "ola".into(),
                personal_id: "9578-4050-127091783".into(),
                source: addr(),
                session_id: "s-1".into(),
                targets: vec!["kontor-pc-17".into()],
            },
            AuditEvent::LoginRefused {
                reason: RefusalReason::WrongPassword,
                user: Some("ola".into()),
                personal_id: Some("9578-4050-127091783".into()),
                source: addr(),
                detail: None,
            },
            AuditEvent::TargetRefused {
                user: "ola".into(),
                session_id: "s-1".into(),
                target: "server-3".into(),
                source: addr(),
                reason: TargetRefusal::UnknownTarget,
            },
            AuditEvent::StreamOpened {
                session_id: "s-1".into(),
                user: "ola".into(),
                source: addr(),
                target: "kontor-pc-17".into(),
                address: "10.0.0.17:3389".parse().unwrap(),
            },
            AuditEvent::SessionEnded {
                session_id: "s-1".into(),
                user: "ola".into(),
                target_streams: 3,
                bytes_to_target: 1_000,
                bytes_from_target: u64::MAX,
                duration_ms: 60_000,
                reason: EndReason::CardRemoved,
            },
            AuditEvent::GatewayStarted {
                version: "0.1.0".into(),
                dangerous: vec!["no-revocation".into()],
            },
            AuditEvent::ConfigReloaded {
                trust_anchors: 2,
                crls: 1,
            },
            AuditEvent::LoginRefusedRepeated {
                source: Some(addr().ip()),
                reason: RefusalReason::NoCertificate,
                count: 340,
                first: datetime!(2025-05-25 12:00:00.004_999 UTC),
                last: datetime!(2025-05-25 12:00:09.998 UTC),
            },
            AuditEvent::PostureFailed {
                user: "ola".into(),
                source: addr(),
                session_id: None,
                outcome: PostureOutcome::LoginRefused,
                failed: vec!["firewall (deny): firewalls: nftables off".into()],
            },
        ]
    }

    #[test]
    fn every_kind_has_a_variant_here() {
        let kinds: Vec<EventKind> = every_variant().iter().map(AuditEvent::kind).collect();
        assert_eq!(kinds, EventKind::ALL);
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>().unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert!("login".parse::<EventKind>().is_err());
    }

    #[test]
    fn names_match_serde() {
        let all = RefusalReason::ALL;
        for (i, r) in all.into_iter().enumerate() {
            assert_eq!(r as usize, i, "{r:?} out of place in ALL");
        }
        let mut names: Vec<&str> = all.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for r in all {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        let ends = [
            EndReason::ClientClosed,
            EndReason::CardRemoved,
            EndReason::IdleTimeout,
            EndReason::GatewayShutdown,
            EndReason::NetworkLost,
            EndReason::Error,
            EndReason::ProtocolError,
            EndReason::MaxLifetime,
            EndReason::Revoked,
            EndReason::TooManyRefusals,
        ];
        for r in ends {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for r in [TargetRefusal::NotGranted, TargetRefusal::UnknownTarget] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }

    /// What a gateway holds while it judges a login; the password is in it.
    #[derive(Debug)]
    struct Attempt {
        user: String,
        password: crate::secret::Password,
        pin_hint: crate::secret::Pin,
    }

    /// Pins the schema: every variant, filled from a login attempt that carries a password
    /// and PIN (even its `Debug` form goes into `detail`), never shows them, and no key so
    /// much as mentions a password or PIN.
    #[test]
    fn no_password_or_pin_in_any_record() {
        let attempt = Attempt {
            user: "ola".into(),
            password: crate::secret::Password::from_input(PLANTED_PASSWORD.to_string()),
            pin_hint: crate::secret::Pin::from_input("97311379".to_string()).unwrap(),
        };
        let mut events = every_variant();
        events.push(AuditEvent::LoginRefused {
            reason: RefusalReason::WrongPassword,
            user: Some(attempt.user.clone()),
            personal_id: None,
            source: addr(),
            detail: Some(format!("{attempt:?}")),
        });
        let mut prev = GENESIS.to_string();
        for (i, event) in events.into_iter().enumerate() {
            let rec =
                AuditRecord::seal(i as u64 + 1, datetime!(2025-05-25 12:00 UTC), event, &prev)
                    .unwrap();
            let line = rec.to_line().unwrap();
            assert!(!line.contains(PLANTED_PASSWORD), "{line}");
            assert!(!line.contains("97311379"), "{line}");
            let value: Value = serde_json::from_str(&line).unwrap();
            for key in value.as_object().unwrap().keys() {
                let k = key.to_ascii_lowercase();
                assert!(
                    !k.contains("pass") && !k.contains("pin") && !k.contains("secret"),
                    "key {key} in {line}"
                );
            }
            prev = rec.hash;
        }
        assert_eq!(attempt.password.expose(), PLANTED_PASSWORD);
        assert_eq!(attempt.pin_hint.len(), 8);
    }

    #[test]
    fn line_round_trips_and_hash_checks() {
        let mut prev = GENESIS.to_string();
        for (i, event) in every_variant().into_iter().enumerate() {
            let rec = AuditRecord::seal(
                i as u64 + 1,
                datetime!(2025-05-25 12:00:00.123_456 UTC),
                event,
                &prev,
            )
            .unwrap();
            let line = rec.to_line().unwrap();
            assert!(line.ends_with('\n'));
            assert_eq!(line.matches('\n').count(), 1);
            let back = AuditRecord::from_line(&line).unwrap();
            assert_eq!(back, rec);
            assert_eq!(
                utc_millis::format(back.time).unwrap(),
                "2025-05-25T12:00:00.123Z"
            );
            assert_eq!(rec.hash.len(), 64);
            prev = rec.hash;
        }
    }

    #[test]
    fn exact_line_and_hash_are_pinned() {
        let rec = AuditRecord::seal(
            1,
            datetime!(2025-05-25 12:00 UTC),
            AuditEvent::ConfigReloaded {
                trust_anchors: 2,
                crls: 1,
            },
            GENESIS,
        )
        .unwrap();
        let line = rec.to_line().unwrap();
        let canonical = format!(
            "{{\"crls\":1,\"event\":\"config-reloaded\",\"prev\":\"{GENESIS}\",\"seq\":1,\
             \"time\":\"2025-05-25T12:00:00.000Z\",\"trust_anchors\":2}}"
        );
        assert_eq!(rec.hash, hex_lower(&Sha256::digest(canonical.as_bytes())));
        assert_eq!(
            line,
            format!(
                "{{\"seq\":1,\"time\":\"2025-05-25T12:00:00.000Z\",\"event\":\"config-reloaded\",\
                 \"trust_anchors\":2,\"crls\":1,\"prev\":\"{GENESIS}\",\"hash\":\"{}\"}}\n",
                rec.hash
            )
        );
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let rec = AuditRecord::seal(
            7,
            datetime!(2025-05-25 12:00 UTC),
            every_variant().remove(1),
            GENESIS,
        )
        .unwrap();
        let value = serde_json::to_value(&rec).unwrap();
        // Write members in reverse order by hand.
        let map = value.as_object().unwrap();
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        keys.reverse();
        let body: Vec<String> = keys
            .iter()
            .map(|k| format!("{}:{}", serde_json::to_string(k).unwrap(), map[*k]))
            .collect();
        let reordered = format!("{{{}}}", body.join(","));
        assert_eq!(AuditRecord::from_line(&reordered).unwrap(), rec);
    }

    #[test]
    fn any_changed_value_is_caught() {
        let rec = AuditRecord::seal(
            1,
            datetime!(2025-05-25 12:00 UTC),
            every_variant().remove(1),
            GENESIS,
        )
        .unwrap();
        let line = rec.to_line().unwrap();
        let edits = [
            line.replace("wrong-password", "locked-out"),
            line.replace("\"ola\"", "\"kari\""),
            line.replace("\"seq\":1", "\"seq\":2"),
            line.replace("12:00:00.000Z", "12:00:01.000Z"),
            line.replace("50412", "50413"),
        ];
        for e in edits {
            assert_ne!(e, line);
            assert_eq!(
                AuditRecord::from_line(&e),
                Err(RecordError::HashMismatch),
                "{e}"
            );
        }
        // A renamed optional key would read back as `null`: caught as not our format.
        let renamed = line.replace("\"detail\":null", "\"detaiX\":null");
        assert!(matches!(
            AuditRecord::from_line(&renamed),
            Err(RecordError::Unparsable(_))
        ));
        let added = line.replace("\"detail\":null", "\"detail\":null,\"x\":1");
        assert!(matches!(
            AuditRecord::from_line(&added),
            Err(RecordError::Unparsable(_))
        ));
        let local_time = line.replace("12:00:00.000Z", "14:00:00.000+02:00");
        assert!(matches!(
            AuditRecord::from_line(&local_time),
            Err(RecordError::Unparsable(_))
        ));
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            "",
            "{",
            "null",
            "[]",
            "{}",
            "{\"seq\":1}",
            "{\"seq\":1.5,\"time\":\"x\"}",
            "\u{0}\u{1}",
        ] {
            assert!(AuditRecord::from_line(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn canonical_strings_escape_only_what_json_requires() {
        let mut out = Vec::new();
        write_canonical(&Value::String("a\"b\\c\n\u{1}/æ…".into()), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\u000a\\u0001/æ…\""
        );
        let mut out = Vec::new();
        assert!(write_canonical(&serde_json::json!(1.5), &mut out).is_err());
    }

    #[test]
    fn long_fields_are_cut_so_every_record_fits() {
        let huge = "\u{1}".repeat(100_000);
        let event = AuditEvent::LoginAccepted {
            user: huge.clone(),
            personal_id: huge.clone(),
            source: addr(),
            session_id: huge.clone(),
            targets: vec![huge.clone(); 1000],
        }
        .bounded();
        let AuditEvent::LoginAccepted { user, targets, .. } = &event else {
            unreachable!()
        };
        assert_eq!(user.chars().count(), MAX_FIELD_CHARS);
        assert!(user.ends_with('…'));
        assert_eq!(targets.len(), MAX_LIST_ENTRIES);
        assert_eq!(
            targets.last().unwrap(),
            &format!("… ({} more)", 1000 - MAX_LIST_ENTRIES + 1)
        );
        let rec = AuditRecord::seal(1, datetime!(2025-05-25 12:00 UTC), event, GENESIS).unwrap();
        let line = rec.to_line().unwrap();
        assert!(line.len() <= MAX_LINE_LEN);
        assert_eq!(AuditRecord::from_line(&line).unwrap(), rec);

        let unbounded = AuditEvent::StreamOpened {
            session_id: huge.clone(),
            user: huge.clone(),
            source: addr(),
            target: huge,
            address: addr(),
        };
        let rec =
            AuditRecord::seal(1, datetime!(2025-05-25 12:00 UTC), unbounded, GENESIS).unwrap();
        assert!(matches!(rec.to_line(), Err(RecordError::TooLarge { .. })));
    }

    #[test]
    fn users_per_kind() {
        let users: Vec<Option<&str>> = every_variant()
            .iter()
            .map(|e| e.user().map(|_| "u"))
            .collect::<Vec<_>>();
        assert_eq!(
            users,
            [
                Some("u"),
                Some("u"),
                Some("u"),
                Some("u"),
                Some("u"),
                None,
                None,
                None,
                Some("u")
            ]
        );
    }
}
