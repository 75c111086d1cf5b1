//! The wire protocol inside the TLS session: length-prefixed JSON frames and the messages
//! they carry (see `docs/protocol.md`).
//!
//! Encoding and decoding are plain functions on bytes ([`encode_frame`], [`decode_client`],
//! [`decode_gateway`]); the async helpers ([`read_frame`], [`write_message`], ...) only move
//! those bytes over any `AsyncRead`/`AsyncWrite`. None of them has a timeout of its own: the
//! caller wraps each wait in one, because only it knows how long the peer may take.

use crate::posture::policy::{Failed, Policy};
use crate::posture::report::Report;
use crate::secret::Password;
use crate::tunnel::read_ahead::ReadAhead;
use serde::{Deserialize, Serialize};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::{Zeroize, Zeroizing};

/// The protocol version this build speaks; a login carrying another is answered with
/// [`RejectCode::ProtocolVersion`].
pub const PROTOCOL_VERSION: u32 = 1;

/// The TLS ALPN name, so a gateway port never mistakes another protocol for ours (and vice
/// versa). The major version is part of the name.
pub const ALPN: &[u8] = b"hjemmekontor/1";

/// The TLS ALPN name of a connection that only fetches the gateway's posture policy: no card,
/// no login; the gateway answers one `policy` frame and closes.
pub const POLICY_ALPN: &[u8] = b"hjemmekontor-policy/1";

/// Default bound on a frame body: every message fits with room to spare, and a peer cannot
/// make us allocate more than this per frame.
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024;

/// Bytes of the big-endian length prefix before every frame body.
pub const LENGTH_PREFIX_LEN: usize = 4;

/// Longest username accepted in a login, in bytes.
pub const MAX_USERNAME_LEN: usize = 256;
/// Longest password accepted in a login, in bytes.
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Longest target id, in bytes (ids are short names chosen by the operator).
pub const MAX_TARGET_ID_LEN: usize = 128;

/// What the client sends: one `posture` and one `login` on the raw TLS stream, then one
/// `open` at the start of every multiplexed stream (or a `posture` re-check, or the `end`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ClientMessage {
    /// The login (after the `posture` report).
    Login(Login),
    /// The host posture report: the first frame of a session (before the login, so the
    /// login stays the last, small record the gateway wipes), and the only frame of a
    /// re-check stream during the session.
    Posture(Box<Report>),
    /// The first frame of a stream: connect me to this target.
    Open(Open),
    /// The first (and only) frame of a stream that says why the client is about to close the
    /// session, so the gateway's audit record can say it (a pulled card, a user who quit).
    End(End),
}

/// Why the client ends the session, sent just before it closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct End {
    /// The reason.
    pub reason: ClientEndReason,
}

/// The reasons a client gives for ending a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientEndReason {
    /// The person disconnected (Ctrl-C, closed the program).
    ClientClosed,
    /// The card was pulled from the reader.
    CardRemoved,
}

/// The login message. `Debug` never shows the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// Protocol version the client speaks ([`PROTOCOL_VERSION`]).
    pub version: u32,
    /// The client program's version, for the audit log and support.
    pub client_version: String,
    /// The username the person typed.
    pub username: String,
    /// The password, written to the frame only by the login encoder.
    #[serde(serialize_with = "serialize_password")]
    pub password: Password,
}

/// Asks for a stream to one granted target. The client names a target id, never an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Open {
    /// The target id, as listed in [`Accepted::targets`].
    pub target: String,
}

/// What the gateway sends: the answer to the login, the answer to each `open`, and the
/// `ending` notice on the one stream it opens itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum GatewayMessage {
    /// Login accepted; the stream phase begins.
    Accepted(Accepted),
    /// Login refused; the gateway closes the connection after this frame.
    Rejected(Rejected),
    /// The stream is connected to its target; raw bytes follow.
    Opened(Opened),
    /// The stream was refused; the gateway closes it after this frame.
    Refused(Refused),
    /// The gateway is ending the session, and says why, on a stream it opens just before it
    /// closes the connection.
    Ending(Ending),
    /// The answer to a posture re-check that passed (a failed one is answered `ending`).
    PostureChecked(PostureChecked),
    /// The gateway's posture policy, on a connection that asked for it (the policy ALPN).
    Policy(PublishedPolicy),
}

/// A failed posture rule as the person reads it: what is wrong and what to do, in Norwegian
/// (bokmål) and English; the client prints the one in the person's language as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostureNotice {
    /// The rule's name (`firewall`, `antivirus`, ...).
    pub rule: String,
    /// Whether the rule refuses (`deny`) or only warns (`warn`).
    pub action: crate::posture::policy::Action,
    /// In Norwegian (bokmål).
    pub nb: String,
    /// In English.
    pub en: String,
}

impl From<&Failed> for PostureNotice {
    fn from(failed: &Failed) -> Self {
        PostureNotice {
            rule: failed.rule.to_string(),
            action: failed.action,
            nb: failed.nb.clone(),
            en: failed.en.clone(),
        }
    }
}

/// A posture re-check passed; warnings, if any, are shown to the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostureChecked {
    /// Rules failed with `warn`.
    #[serde(default)]
    pub warnings: Vec<PostureNotice>,
}

/// The gateway's posture policy, published so a computer can be judged before anyone types a
/// PIN, by the same evaluation the login uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedPolicy {
    /// The rules.
    pub policy: Policy,
    /// How often a session sends a fresh report (0: never).
    pub recheck_secs: u64,
    /// The gateway's clock when it sent this, as Unix seconds, so a client can see how far
    /// its own clock is off (certificates and CRLs are judged by time). Absent from gateways
    /// older than the field, hence optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_time: Option<i64>,
}

/// Why the gateway ends a session. The client words the reason itself, with the facts here;
/// `message` is for a client that does not know the reason. Unlike the other messages, this
/// one ignores fields this build does not know, so a newer gateway may add facts to a reason
/// without costing an older client the message (`docs/protocol.md`, §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ending {
    /// Why, for programs.
    pub reason: GatewayEndReason,
    /// Why, for the person (bokmål), with what to do: the fallback for a reason the client
    /// does not know.
    pub message: String,
    /// The posture rules that failed, when that is why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_rules: Vec<PostureNotice>,
    /// With `idle-timeout` and `max-lifetime`: the limit the session reached, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_secs: Option<u64>,
}

/// The reasons the gateway gives when it ends a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GatewayEndReason {
    /// Nothing moved for the idle limit.
    IdleTimeout,
    /// The session reached its longest allowed lifetime; the person logs in again.
    MaxLifetime,
    /// The person's certificate was revoked.
    Revoked,
    /// The gateway is shutting down (or restarting).
    GatewayShutdown,
    /// A posture re-check found the computer no longer meets the policy.
    PostureRefused,
    /// The client sent no fresh posture report in time.
    PostureOverdue,
    /// A reason this build does not know (from a newer gateway); the message still explains.
    #[serde(other)]
    Unknown,
}

/// A successful login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    /// Identifies the session in the audit log (the user may quote it to support).
    pub session_id: String,
    /// The person's name as the gateway knows it, for the client to greet them.
    pub display_name: String,
    /// The targets this user may open streams to.
    pub targets: Vec<TargetInfo>,
    /// A stream with no traffic either way for this long is closed by the gateway.
    pub idle_timeout_secs: u64,
    /// Posture rules failed with `warn`: the person is let in and shown these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub posture_warnings: Vec<PostureNotice>,
    /// Send a fresh posture report this often (0: never); a session that does not is ended.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub posture_recheck_secs: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One granted target: the id to send in `open`, and a name to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetInfo {
    /// The id the client sends in `open`.
    pub id: String,
    /// A name a person recognises ("Kontor-PC, legekontoret").
    pub name: String,
    /// What the remote-desktop session may share with the home computer. Left out when it is
    /// the service's default, so only a gateway that loosens or tightens it says anything.
    #[serde(default, skip_serializing_if = "Redirect::is_default")]
    pub redirect: Redirect,
}

/// What the remote-desktop program at home may share with the office PC, set per group by the
/// gateway (`[[group]] redirect_*`). The default is the service's rule: printing on your own
/// printer is fine, storing data at home is not, so no drives and no clipboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    /// The home computer's printers are offered to the session.
    pub printers: bool,
    /// The clipboard is shared both ways (text copied out of the session lands at home).
    pub clipboard: bool,
    /// The home computer's drives are offered to the session (files could be saved at home).
    pub drives: bool,
}

impl Default for Redirect {
    fn default() -> Self {
        Redirect {
            printers: true,
            clipboard: false,
            drives: false,
        }
    }
}

impl Redirect {
    /// Whether this is the service's default (what an absent `redirect` means).
    pub fn is_default(&self) -> bool {
        *self == Redirect::default()
    }
}

/// A refused login. The client words the code itself, with the facts here; `message` and
/// `remediation` are for a client that does not know the code. Fields this build does not
/// know are ignored, as in [`Ending`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Why, for programs.
    pub code: RejectCode,
    /// Why, for the person (bokmål): the fallback for a code the client does not know.
    pub message: String,
    /// What the person can do about it, where something helps (bokmål, the same fallback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// The posture rules that failed, when the posture policy refused the login.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_rules: Vec<PostureNotice>,
    /// With `locked-out`: seconds until the lock ends, rounded up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// With `server-busy`: the person already has this many sessions open, as many as one
    /// person may (absent when the gateway as a whole is busy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_sessions: Option<u32>,
}

/// The stream is connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opened {
    /// The target id from the `open`.
    pub target: String,
}

/// The stream was refused. The client words the code; `message` is for a client that does
/// not know it. Fields this build does not know are ignored, as in [`Ending`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// Why, for programs.
    pub code: RefuseCode,
    /// Why, for the person (bokmål): the fallback for a code the client does not know.
    pub message: String,
}

/// Why a login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectCode {
    /// Unknown user, certificate not bound to the user, or wrong password: one code for all,
    /// so the answer never tells an attacker which part was right.
    BadCredentials,
    /// Too many failed attempts; the account waits before it may try again.
    LockedOut,
    /// The posture report does not meet the operator's policy.
    PostureRefused,
    /// The login is fine but the user may reach no machine.
    NoGrants,
    /// The client speaks a protocol version the gateway does not.
    ProtocolVersion,
    /// The login frame was not a valid login message.
    BadRequest,
    /// The gateway cannot take another session now.
    ServerBusy,
    /// The gateway cannot record the login (its audit log is stopped), so it takes none.
    Unavailable,
    /// A code this build does not know (from a newer gateway); the message still explains.
    #[serde(other)]
    Unknown,
}

/// Why a stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefuseCode {
    /// The user may not reach this target. Also the answer for ids that do not exist, so ids
    /// cannot be probed.
    NotGranted,
    /// The target did not accept a connection in time.
    TargetUnreachable,
    /// The session already has as many streams open as it may.
    TooManyStreams,
    /// The first frame on the stream was not a valid `open`.
    BadRequest,
    /// A code this build does not know (from a newer gateway); the message still explains.
    #[serde(other)]
    Unknown,
}

impl RejectCode {
    /// The kebab-case name used on the wire and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::BadCredentials => "bad-credentials",
            RejectCode::LockedOut => "locked-out",
            RejectCode::PostureRefused => "posture-refused",
            RejectCode::NoGrants => "no-grants",
            RejectCode::ProtocolVersion => "protocol-version",
            RejectCode::BadRequest => "bad-request",
            RejectCode::ServerBusy => "server-busy",
            RejectCode::Unavailable => "unavailable",
            RejectCode::Unknown => "unknown",
        }
    }
}

impl RefuseCode {
    /// The kebab-case name used on the wire and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RefuseCode::NotGranted => "not-granted",
            RefuseCode::TargetUnreachable => "target-unreachable",
            RefuseCode::TooManyStreams => "too-many-streams",
            RefuseCode::BadRequest => "bad-request",
            RefuseCode::Unknown => "unknown",
        }
    }
}

impl GatewayEndReason {
    /// The kebab-case name used on the wire and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayEndReason::IdleTimeout => "idle-timeout",
            GatewayEndReason::MaxLifetime => "max-lifetime",
            GatewayEndReason::Revoked => "revoked",
            GatewayEndReason::GatewayShutdown => "gateway-shutdown",
            GatewayEndReason::PostureRefused => "posture-refused",
            GatewayEndReason::PostureOverdue => "posture-overdue",
            GatewayEndReason::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for RejectCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for RefuseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn serialize_password<S: serde::Serializer>(pw: &Password, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(pw.expose())
}

/// Which part of a frame body did not make sense. Carries no text from the body, so a
/// password can never leak into an error through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedKind {
    /// Not JSON at all, or cut short.
    Syntax,
    /// JSON, but not one of our messages: unknown `type`, unknown or missing field, wrong type.
    Schema,
    /// A message of the right shape with a value out of bounds (empty or over-long strings).
    Value,
    /// A valid message that does not belong here (a `login` on a stream, an `open` first).
    Unexpected,
}

/// Why a frame could not be read, written or understood.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix announces more than the caller allows; nothing was allocated.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Announced (or, when encoding, needed) body length.
        len: u64,
        /// The caller's bound.
        max: usize,
    },
    /// The peer closed the connection cleanly between frames.
    #[error("the connection closed")]
    Closed,
    /// The peer closed the connection in the middle of a frame.
    #[error("the connection closed in the middle of a frame")]
    Truncated,
    /// The body is not a valid message. Position only; never the body's text.
    #[error("malformed message ({kind:?}) at line {line}, column {column}")]
    Malformed {
        /// Which kind of problem.
        kind: MalformedKind,
        /// Line in the JSON body (1-based; 0 when not about a position).
        line: usize,
        /// Column in the JSON body (1-based; 0 when not about a position).
        column: usize,
    },
    /// A login for a protocol version this build does not speak.
    #[error("protocol version {version} is not supported (this side speaks {PROTOCOL_VERSION})")]
    UnsupportedVersion {
        /// The version the peer asked for.
        version: u64,
    },
    /// Reading or writing failed.
    #[error("connection error: {0}")]
    Io(#[source] io::Error),
}

impl FrameError {
    /// The login rejection a gateway sends for this error, if the peer deserves an answer
    /// (a closed or broken connection gets none).
    pub fn reject_code(&self) -> Option<RejectCode> {
        match self {
            FrameError::TooLarge { .. } | FrameError::Malformed { .. } => {
                Some(RejectCode::BadRequest)
            }
            FrameError::UnsupportedVersion { .. } => Some(RejectCode::ProtocolVersion),
            FrameError::Closed | FrameError::Truncated | FrameError::Io(_) => None,
        }
    }

    fn malformed(kind: MalformedKind) -> Self {
        FrameError::Malformed {
            kind,
            line: 0,
            column: 0,
        }
    }

    fn from_json(e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let kind = match e.classify() {
            Category::Data => MalformedKind::Schema,
            Category::Syntax | Category::Eof | Category::Io => MalformedKind::Syntax,
        };
        FrameError::Malformed {
            kind,
            line: e.line(),
            column: e.column(),
        }
    }
}

/// A `Write` into a buffer allocated once at full size: it never grows (so no copy of a
/// password is left behind in a freed allocation) and refuses to pass the bound.
struct BoundedWriter<'a> {
    buf: &'a mut Vec<u8>,
    limit: usize,
}

impl io::Write for BoundedWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > self.limit {
            return Err(io::Error::other("frame bound reached"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Encodes a message as one frame: 4-byte big-endian body length, then the JSON body.
///
/// The buffer is zeroized when dropped, because a login frame holds the password.
pub fn encode_frame<T: Serialize>(
    message: &T,
    max: usize,
) -> Result<Zeroizing<Vec<u8>>, FrameError> {
    let limit = LENGTH_PREFIX_LEN + max;
    let mut buf = Zeroizing::new(Vec::with_capacity(limit));
    buf.extend_from_slice(&[0; LENGTH_PREFIX_LEN]);
    let mut writer = BoundedWriter {
        buf: &mut buf,
        limit,
    };
    if let Err(e) = serde_json::to_writer(&mut writer, message) {
        return Err(if e.is_io() {
            FrameError::TooLarge {
                len: (max as u64) + 1,
                max,
            }
        } else {
            FrameError::malformed(MalformedKind::Value)
        });
    }
    let body_len = buf.len() - LENGTH_PREFIX_LEN;
    // body_len <= max, and a bound above u32::MAX would be refused by the reader anyway.
    let len = u32::try_from(body_len).map_err(|_| FrameError::TooLarge {
        len: body_len as u64,
        max,
    })?;
    buf[..LENGTH_PREFIX_LEN].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}

/// Decodes a frame body from the client, checking bounds and the protocol version.
///
/// Version rule: a body whose `type` is `login` and whose `version` is not
/// [`PROTOCOL_VERSION`] is [`FrameError::UnsupportedVersion`], whatever else it contains, so
/// a future client with a different login shape still gets a clear `protocol-version` answer.
pub fn decode_client(body: &[u8]) -> Result<ClientMessage, FrameError> {
    match serde_json::from_slice::<ClientMessage>(body) {
        Ok(message) => {
            if let ClientMessage::Login(login) = &message {
                if login.version != PROTOCOL_VERSION {
                    return Err(FrameError::UnsupportedVersion {
                        version: login.version.into(),
                    });
                }
            }
            check_bounds(&message)?;
            Ok(message)
        }
        Err(e) => {
            if let Some(version) = foreign_login_version(body) {
                return Err(FrameError::UnsupportedVersion { version });
            }
            Err(FrameError::from_json(&e))
        }
    }
}

/// The version of a login that did not parse as ours, if it names one we do not speak.
fn foreign_login_version(body: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "type")]
        kind: String,
        version: Option<u64>,
    }
    let probe: Probe = serde_json::from_slice(body).ok()?;
    match (probe.kind.as_str(), probe.version) {
        ("login", Some(v)) if v != u64::from(PROTOCOL_VERSION) => Some(v),
        _ => None,
    }
}

fn check_bounds(message: &ClientMessage) -> Result<(), FrameError> {
    let ok = match message {
        ClientMessage::Login(login) => {
            !login.username.is_empty()
                && login.username.len() <= MAX_USERNAME_LEN
                && !login.username.chars().any(char::is_control)
                && login.password.expose().len() <= MAX_PASSWORD_LEN
        }
        ClientMessage::Open(open) => valid_target_id(&open.target),
        ClientMessage::End(_) => true,
        ClientMessage::Posture(report) => report.within_bounds(),
    };
    if ok {
        Ok(())
    } else {
        Err(FrameError::malformed(MalformedKind::Value))
    }
}

/// A target id is 1 to [`MAX_TARGET_ID_LEN`] bytes with no control characters, so it is safe
/// to put in a log line.
pub fn valid_target_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_TARGET_ID_LEN && !id.chars().any(char::is_control)
}

/// Decodes a frame body from the gateway.
pub fn decode_gateway(body: &[u8]) -> Result<GatewayMessage, FrameError> {
    serde_json::from_slice(body).map_err(|e| FrameError::from_json(&e))
}

/// Reads one frame body, refusing (before allocating) any length over `max`.
///
/// The body comes back in a zeroizing buffer: it may hold a password.
pub async fn read_frame<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    max: usize,
) -> Result<Zeroizing<Vec<u8>>, FrameError> {
    let mut prefix = [0u8; LENGTH_PREFIX_LEN];
    let mut got = 0;
    while got < LENGTH_PREFIX_LEN {
        let n = reader
            .read(&mut prefix[got..])
            .await
            .map_err(FrameError::Io)?;
        if n == 0 {
            return Err(if got == 0 {
                FrameError::Closed
            } else {
                FrameError::Truncated
            });
        }
        got += n;
    }
    let len = u32::from_be_bytes(prefix);
    if u64::from(len) > max as u64 {
        return Err(FrameError::TooLarge {
            len: len.into(),
            max,
        });
    }
    let mut body = Zeroizing::new(vec![0u8; len as usize]);
    reader.read_exact(&mut body).await.map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            FrameError::Truncated
        } else {
            FrameError::Io(e)
        }
    })?;
    Ok(body)
}

/// Encodes and writes one message, then flushes.
pub async fn write_message<W: AsyncWrite + Unpin + ?Sized, T: Serialize>(
    writer: &mut W,
    message: &T,
    max: usize,
) -> Result<(), FrameError> {
    let frame = encode_frame(message, max)?;
    writer.write_all(&frame).await.map_err(FrameError::Io)?;
    writer.flush().await.map_err(FrameError::Io)
}

/// Reads and decodes one client message (gateway side).
pub async fn read_client_message<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    max: usize,
) -> Result<ClientMessage, FrameError> {
    let body = read_frame(reader, max).await?;
    decode_client(&body)
}

/// Reads and decodes one gateway message (client side).
pub async fn read_gateway_message<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    max: usize,
) -> Result<GatewayMessage, FrameError> {
    let body = read_frame(reader, max).await?;
    decode_gateway(&body)
}

/// Tells the gateway why the session ends: one short stream carrying `end`. Best effort and
/// bounded by the caller's timeout; the client closes the connection right after.
pub async fn send_end(
    mux: &super::mux::MuxClient,
    reason: ClientEndReason,
) -> Result<(), FrameError> {
    use tokio::io::AsyncWriteExt;
    let mut stream = mux
        .open_stream()
        .await
        .map_err(|e| FrameError::Io(std::io::Error::other(e.to_string())))?;
    write_message(
        &mut stream,
        &ClientMessage::End(End { reason }),
        DEFAULT_MAX_FRAME_LEN,
    )
    .await?;
    stream.shutdown().await.map_err(FrameError::Io)
}

/// The answer to a login, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginAnswer {
    /// In: the stream phase may begin.
    Accepted(Accepted),
    /// Out: show the message and remediation to the person.
    Rejected(Rejected),
}

/// Client side of the login exchange on the raw TLS stream: sends the posture report and the
/// `login`, reads the answer.
///
/// An answer that is neither `accepted` nor `rejected` is a protocol error
/// ([`MalformedKind::Unexpected`]). Wrap the call in a timeout.
pub async fn client_login<S: AsyncRead + AsyncWrite + Unpin + ?Sized>(
    io: &mut S,
    posture: &Report,
    login: &Login,
    max: usize,
) -> Result<LoginAnswer, FrameError> {
    let sent = async {
        write_message(io, &ClientMessage::Posture(Box::new(posture.clone())), max).await?;
        write_message(io, &ClientMessage::Login(login.clone()), max).await
    }
    .await;
    if let Err(written) = sent {
        // A gateway that refused the handshake (TLS 1.3 finishes it on the client's side
        // first) has sent its alert and closed: the alert says why, the broken pipe does not.
        return Err(match read_gateway_message(io, max).await {
            Err(FrameError::Io(alert)) => FrameError::Io(alert),
            _ => written,
        });
    }
    match read_gateway_message(io, max).await? {
        GatewayMessage::Accepted(a) => Ok(LoginAnswer::Accepted(a)),
        GatewayMessage::Rejected(r) => Ok(LoginAnswer::Rejected(r)),
        _ => Err(FrameError::malformed(MalformedKind::Unexpected)),
    }
}

/// Gateway side: reads the first frames of a session, the posture report and the `login`.
/// A client that sends its login first has sent no report (`None`).
///
/// On error, [`FrameError::reject_code`] says what to answer (`bad-request`,
/// `protocol-version`) before closing. Wrap the call in a timeout. Over TLS, follow it with
/// [`wipe_tls_receive_buffer`].
///
/// The frame is read into a zeroizing buffer and its password straight into a [`Password`].
/// Below us, rustls hands each record's plaintext over in an allocation of its own and frees
/// it, unwiped, once it has all been read: for the login, during the read just finished. The
/// client writes the login frame at once, so it travels in one record and that allocation is
/// the frame's size; it is taken back and wiped here ([`wipe_freed_allocation`]).
pub async fn read_login<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    max: usize,
) -> Result<(Option<Report>, Login), FrameError> {
    let mut posture = None;
    loop {
        let body = read_frame(reader, max).await?;
        wipe_freed_allocation(LENGTH_PREFIX_LEN + body.len());
        match decode_client(&body)? {
            ClientMessage::Login(login) => return Ok((posture, login)),
            ClientMessage::Posture(report) if posture.is_none() => posture = Some(*report),
            _ => return Err(FrameError::malformed(MalformedKind::Unexpected)),
        }
    }
}

/// Takes an allocation of `len` bytes and wipes all of it before giving it back. The allocator
/// hands a thread's most recently freed block of a size to that thread's next request of the
/// same size (glibc's per-thread cache, up to 1 KiB), so right after the TLS layer freed the
/// login's plaintext this overwrites that very block. Elsewhere it costs one allocation and
/// wipes nothing that matters; `tests/gateway_memory.rs` measures what is left.
fn wipe_freed_allocation(len: usize) {
    let mut block: Vec<u8> = Vec::with_capacity(len);
    // Zeroizes the spare capacity too, with writes the compiler keeps.
    block.zeroize();
}

/// Wipes the TLS layer's receive buffer after the login was read, on the gateway.
///
/// rustls decrypts each record in place in a buffer it keeps for the connection and never
/// wipes it, so after the login it still holds the login's plaintext until later records
/// happen to overwrite it, or goes back to the allocator with it when the connection closes.
/// This makes rustls read once more, through a reader that first zeroes all the room rustls
/// offers it (the whole buffer, now that the login is consumed) and then takes only what the
/// socket already holds (after what was read ahead of TLS), never waiting. Bytes that did arrive are processed as a read would,
/// so the connection goes on unchanged.
pub fn wipe_tls_receive_buffer(
    tls: &mut tokio_rustls::server::TlsStream<ReadAhead<tokio::net::TcpStream>>,
) {
    struct ZeroThenTryRead<'a>(&'a mut ReadAhead<tokio::net::TcpStream>);
    impl io::Read for ZeroThenTryRead<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.zeroize();
            self.0.try_read(buf)
        }
    }
    let (tcp, conn) = tls.get_mut();
    if let Ok(1..) = conn.read_tls(&mut ZeroThenTryRead(tcp)) {
        // An error is kept by the connection and reported by its next read.
        let _ = conn.process_new_packets();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> Login {
        Login {
            version: PROTOCOL_VERSION,
            client_version: "0.1.0".into(),
            username: "kari".into(),
            password: Password::from_input("hemmelig-passord".into()),
        }
    }

    #[test]
    fn login_round_trips_and_debug_hides_the_password() {
        let msg = ClientMessage::Login(login());
        let frame = encode_frame(&msg, DEFAULT_MAX_FRAME_LEN).unwrap();
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        let body = std::str::from_utf8(&frame[4..]).unwrap();
        assert!(
            body.starts_with(r#"{"type":"login","version":1,"#),
            "{body}"
        );
        assert!(body.contains(r#""password":"hemmelig-passord""#));
        assert_eq!(decode_client(&frame[4..]).unwrap(), msg);
        let debug = format!("{msg:?}");
        assert!(debug.contains("REDACTED"));
        assert!(!debug.contains("hemmelig"));
    }

    #[test]
    fn gateway_messages_round_trip_with_kebab_case_names() {
        let messages = [
            GatewayMessage::Accepted(Accepted {
                session_id: "s-1".into(),
                display_name: "Kari Nordmann".into(),
                targets: vec![
                    TargetInfo {
                        id: "pc-17".into(),
                        name: "Kontor-PC".into(),
                        redirect: Redirect::default(),
                    },
                    TargetInfo {
                        id: "pc-18".into(),
                        name: "Legevakt-PC".into(),
                        redirect: Redirect {
                            printers: false,
                            clipboard: true,
                            drives: false,
                        },
                    },
                ],
                idle_timeout_secs: 900,
                posture_warnings: vec![PostureNotice {
                    rule: "disk-encryption".into(),
                    action: crate::posture::policy::Action::Warn,
                    nb: "Systemdisken er ikke kryptert.".into(),
                    en: "The system disk is not encrypted.".into(),
                }],
                posture_recheck_secs: 3_600,
            }),
            GatewayMessage::Rejected(Rejected {
                code: RejectCode::BadCredentials,
                message: "Feil brukernavn eller passord.".into(),
                remediation: None,
                failed_rules: Vec::new(),
                retry_after_secs: None,
                open_sessions: None,
            }),
            GatewayMessage::Rejected(Rejected {
                code: RejectCode::LockedOut,
                message: "Sperret.".into(),
                remediation: None,
                failed_rules: Vec::new(),
                retry_after_secs: Some(300),
                open_sessions: None,
            }),
            GatewayMessage::Opened(Opened {
                target: "pc-17".into(),
            }),
            GatewayMessage::Refused(Refused {
                code: RefuseCode::TargetUnreachable,
                message: "Kontor-PC-en svarer ikke.".into(),
            }),
            GatewayMessage::Ending(Ending {
                reason: GatewayEndReason::MaxLifetime,
                message: "Økten er avsluttet etter 12 timer; logg inn igjen.".into(),
                failed_rules: Vec::new(),
                limit_secs: Some(43_200),
            }),
            GatewayMessage::PostureChecked(PostureChecked {
                warnings: Vec::new(),
            }),
            GatewayMessage::Policy(PublishedPolicy {
                policy: Policy::of([(
                    crate::posture::policy::Rule::Firewall,
                    crate::posture::policy::Action::Deny,
                )]),
                recheck_secs: 3_600,
                gateway_time: Some(1_764_662_400),
            }),
        ];
        for m in messages {
            let frame = encode_frame(&m, DEFAULT_MAX_FRAME_LEN).unwrap();
            assert_eq!(decode_gateway(&frame[4..]).unwrap(), m);
        }
        let body = serde_json::to_string(&GatewayMessage::Rejected(Rejected {
            code: RejectCode::PostureRefused,
            message: "m".into(),
            remediation: Some("r".into()),
            failed_rules: Vec::new(),
            retry_after_secs: None,
            open_sessions: None,
        }))
        .unwrap();
        assert_eq!(
            body,
            r#"{"type":"rejected","code":"posture-refused","message":"m","remediation":"r"}"#
        );
    }

    #[test]
    fn a_target_says_redirect_only_when_it_is_not_the_default() {
        let plain = TargetInfo {
            id: "pc".into(),
            name: "PC".into(),
            redirect: Redirect::default(),
        };
        let json = serde_json::to_string(&plain).unwrap();
        assert_eq!(json, r#"{"id":"pc","name":"PC"}"#);
        // Absent means the service's default: printers yes, clipboard and drives no.
        let read: TargetInfo = serde_json::from_str(&json).unwrap();
        assert_eq!(read.redirect, Redirect::default());
        assert!(read.redirect.printers && !read.redirect.clipboard && !read.redirect.drives);
        let strict = TargetInfo {
            redirect: Redirect {
                printers: false,
                ..Redirect::default()
            },
            ..plain
        };
        assert_eq!(
            serde_json::to_string(&strict).unwrap(),
            r#"{"id":"pc","name":"PC","redirect":{"printers":false,"clipboard":false,"drives":false}}"#
        );
        // Strict like every message: all three fields, nothing else.
        assert!(serde_json::from_str::<TargetInfo>(
            r#"{"id":"pc","name":"PC","redirect":{"printers":false}}"#
        )
        .is_err());
        assert!(serde_json::from_str::<TargetInfo>(
            r#"{"id":"pc","name":"PC","redirect":{"printers":true,"clipboard":false,"drives":false,"usb":true}}"#
        )
        .is_err());
    }

    #[test]
    fn every_code_has_its_kebab_case_name() {
        let reject = [
            RejectCode::BadCredentials,
            RejectCode::LockedOut,
            RejectCode::PostureRefused,
            RejectCode::NoGrants,
            RejectCode::ProtocolVersion,
            RejectCode::BadRequest,
            RejectCode::ServerBusy,
            RejectCode::Unavailable,
        ]
        .map(|c| (serde_json::to_string(&c).unwrap(), c.as_str()));
        let refuse = [
            RefuseCode::NotGranted,
            RefuseCode::TargetUnreachable,
            RefuseCode::TooManyStreams,
            RefuseCode::BadRequest,
        ]
        .map(|c| (serde_json::to_string(&c).unwrap(), c.as_str()));
        let ending = [
            GatewayEndReason::IdleTimeout,
            GatewayEndReason::MaxLifetime,
            GatewayEndReason::Revoked,
            GatewayEndReason::GatewayShutdown,
        ]
        .map(|r| (serde_json::to_string(&r).unwrap(), r.as_str()));
        for (json, name) in reject.into_iter().chain(refuse).chain(ending) {
            assert_eq!(json, format!("\"{name}\""));
        }
    }

    #[test]
    fn the_ending_notice_is_pinned_and_unknown_reasons_still_parse() {
        let body = serde_json::to_string(&GatewayMessage::Ending(Ending {
            reason: GatewayEndReason::IdleTimeout,
            message: "m".into(),
            failed_rules: Vec::new(),
            limit_secs: Some(3_600),
        }))
        .unwrap();
        assert_eq!(
            body,
            r#"{"type":"ending","reason":"idle-timeout","message":"m","limit_secs":3600}"#
        );
        let m = decode_gateway(br#"{"type":"ending","reason":"maintenance","message":"x"}"#);
        assert!(matches!(
            m,
            Ok(GatewayMessage::Ending(Ending {
                reason: GatewayEndReason::Unknown,
                ..
            }))
        ));
    }

    #[test]
    fn a_policy_without_the_gateway_clock_still_parses() {
        let old = br#"{"type":"policy","policy":{"rules":[]},"recheck_secs":0}"#;
        match decode_gateway(old).unwrap() {
            GatewayMessage::Policy(p) => assert_eq!(p.gateway_time, None),
            other => panic!("{other:?}"),
        }
        let new = br#"{"type":"policy","policy":{"rules":[]},"recheck_secs":0,"gateway_time":5}"#;
        match decode_gateway(new).unwrap() {
            GatewayMessage::Policy(p) => assert_eq!(p.gateway_time, Some(5)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn facts_from_a_newer_gateway_are_ignored_and_missing_ones_are_none() {
        let m = decode_gateway(
            br#"{"type":"rejected","code":"locked-out","message":"x","retry_after_secs":60,"until":"soon"}"#,
        );
        assert!(matches!(
            m,
            Ok(GatewayMessage::Rejected(Rejected {
                code: RejectCode::LockedOut,
                retry_after_secs: Some(60),
                ..
            }))
        ));
        let m = decode_gateway(br#"{"type":"ending","reason":"max-lifetime","message":"x"}"#);
        assert!(matches!(
            m,
            Ok(GatewayMessage::Ending(Ending {
                limit_secs: None,
                ..
            }))
        ));
        let m = decode_gateway(
            br#"{"type":"refused","code":"maintenance","message":"x","until":1800000000}"#,
        );
        assert!(matches!(m, Ok(GatewayMessage::Refused(_))), "{m:?}");
        // The answers the client words are lenient; the gateway's own messages are not.
        let m = decode_gateway(br#"{"type":"opened","target":"pc","extra":1}"#);
        assert!(m.is_err());
    }

    #[test]
    fn unknown_codes_from_a_newer_gateway_still_parse() {
        let m = decode_gateway(br#"{"type":"refused","code":"maintenance","message":"x"}"#);
        assert!(matches!(
            m,
            Ok(GatewayMessage::Refused(Refused {
                code: RefuseCode::Unknown,
                ..
            }))
        ));
    }

    #[test]
    fn malformed_bodies_are_errors_that_map_to_bad_request() {
        let bad: &[&[u8]] = &[
            b"",
            b"not json",
            b"{",
            b"[]",
            b"null",
            br#"{"type":"open"}"#,
            br#"{"type":"open","target":7}"#,
            br#"{"type":"open","target":"pc","extra":1}"#,
            br#"{"type":"opne","target":"pc"}"#,
            br#"{"target":"pc"}"#,
            br#"{"type":"open","target":""}"#,
            br#"{"type":"open","target":"a\nb"}"#,
            br#"{"type":"login","version":1,"client_version":"x","username":"u","password":5}"#,
            br#"{"type":"login","version":1,"client_version":"x","username":"","password":"p"}"#,
            br#"{"type":"login","version":1,"client_version":"x","username":"u","password":"p","posture":{},"admin":true}"#,
            b"\xff\xfe",
        ];
        for body in bad {
            let err = decode_client(body).unwrap_err();
            assert_eq!(
                err.reject_code(),
                Some(RejectCode::BadRequest),
                "{:?} gave {err}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn errors_never_quote_the_body() {
        let body = br#"{"type":"login","version":"hunter2-secret","client_version":"x","username":"u","password":"hunter2-secret"}"#;
        let err = decode_client(body).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        assert!(!format!("{err:?}").contains("hunter2"));
    }

    #[test]
    fn a_posture_report_is_read_within_its_bounds_and_newer_facts_are_ignored() {
        let mut report = Report::unknown(1_800_000_000, "not probed");
        report.disk_encryption = crate::posture::report::Fact::known(true);
        let mut json =
            serde_json::to_value(ClientMessage::Posture(Box::new(report.clone()))).unwrap();
        json["type"] = "posture".into();
        json["battery_health"] = serde_json::json!({"state": "known", "value": 97});
        let body = serde_json::to_vec(&json).unwrap();
        assert_eq!(
            decode_client(&body).unwrap(),
            ClientMessage::Posture(Box::new(report.clone()))
        );
        // A report of another version is refused, not guessed at.
        json["version"] = 99.into();
        let body = serde_json::to_vec(&json).unwrap();
        assert!(matches!(
            decode_client(&body),
            Err(FrameError::Malformed {
                kind: MalformedKind::Value,
                ..
            })
        ));
    }

    #[test]
    fn another_version_is_protocol_version_whatever_the_shape() {
        let mut l = login();
        l.version = 2;
        let frame = encode_frame(&ClientMessage::Login(l), DEFAULT_MAX_FRAME_LEN).unwrap();
        let err = decode_client(&frame[4..]).unwrap_err();
        assert!(matches!(err, FrameError::UnsupportedVersion { version: 2 }));
        assert_eq!(err.reject_code(), Some(RejectCode::ProtocolVersion));
        // A future login with fields we do not know still gets the version answer.
        let err = decode_client(br#"{"type":"login","version":3,"token":"abc"}"#).unwrap_err();
        assert!(matches!(err, FrameError::UnsupportedVersion { version: 3 }));
        // Our own version with unknown fields is a bad request, not a version problem.
        let err = decode_client(br#"{"type":"login","version":1,"token":"abc"}"#).unwrap_err();
        assert_eq!(err.reject_code(), Some(RejectCode::BadRequest));
    }

    #[test]
    fn encoding_refuses_to_pass_the_bound() {
        let msg = ClientMessage::Open(Open {
            target: "x".repeat(100),
        });
        assert!(matches!(
            encode_frame(&msg, 50),
            Err(FrameError::TooLarge { max: 50, .. })
        ));
        assert!(encode_frame(&msg, 200).is_ok());
    }

    #[tokio::test]
    async fn oversize_length_is_refused_before_reading_the_body() {
        // Announces 4 GiB - 1 and sends nothing more: the error comes from the prefix alone.
        let mut input: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        let err = read_frame(&mut input, DEFAULT_MAX_FRAME_LEN)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLarge {
                len: 0xffff_ffff,
                ..
            }
        ));
        assert_eq!(err.reject_code(), Some(RejectCode::BadRequest));
    }

    #[tokio::test]
    async fn eof_between_and_inside_frames() {
        let mut empty: &[u8] = &[];
        assert!(matches!(
            read_frame(&mut empty, 100).await,
            Err(FrameError::Closed)
        ));
        let mut half_prefix: &[u8] = &[0, 0];
        assert!(matches!(
            read_frame(&mut half_prefix, 100).await,
            Err(FrameError::Truncated)
        ));
        let mut short_body: &[u8] = &[0, 0, 0, 10, b'{'];
        assert!(matches!(
            read_frame(&mut short_body, 100).await,
            Err(FrameError::Truncated)
        ));
    }

    #[tokio::test]
    async fn login_exchange_over_a_duplex() {
        let (mut client, mut gateway) = tokio::io::duplex(1024);
        let gw = tokio::spawn(async move {
            let (report, got) = read_login(&mut gateway, DEFAULT_MAX_FRAME_LEN)
                .await
                .unwrap();
            assert_eq!(got.password.expose(), "hemmelig-passord");
            assert_eq!(report.unwrap().taken_at, 1_800_000_000);
            let answer = GatewayMessage::Accepted(Accepted {
                session_id: "s".into(),
                display_name: "Kari".into(),
                targets: vec![],
                idle_timeout_secs: 60,
                posture_warnings: vec![],
                posture_recheck_secs: 0,
            });
            write_message(&mut gateway, &answer, DEFAULT_MAX_FRAME_LEN)
                .await
                .unwrap();
        });
        let report = Report::unknown(1_800_000_000, "not probed");
        let answer = client_login(&mut client, &report, &login(), DEFAULT_MAX_FRAME_LEN)
            .await
            .unwrap();
        assert!(matches!(answer, LoginAnswer::Accepted(a) if a.display_name == "Kari"));
        gw.await.unwrap();
    }

    #[tokio::test]
    async fn an_open_instead_of_a_login_is_a_bad_request() {
        let frame = encode_frame(
            &ClientMessage::Open(Open {
                target: "pc".into(),
            }),
            100,
        )
        .unwrap();
        let mut input: &[u8] = &frame;
        let err = read_login(&mut input, 100).await.unwrap_err();
        assert_eq!(err.reject_code(), Some(RejectCode::BadRequest));
    }
}
