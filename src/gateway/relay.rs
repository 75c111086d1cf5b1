//! The relay: each stream the client opens names a target id; once the session's grants
//! allow it, the gateway connects to that office PC and copies bytes both ways until either
//! side is done. Around the streams, the session itself: how long it may live and what ends it.
//!
//! Every stream runs in its own task with its own bounded buffers and its own flow-control window,
//! so a slow or dead office PC holds up only its own stream. Every wait has a bound: the
//! `open` frame, the connection to the target, the answer, and traffic (idle timeout).
//! Who may reach what is not decided here: an [`Authorizer`] (the access policy) maps a
//! target id to an address or a refusal, and the gateway connects nowhere else.
//!
//! A session ends for exactly one [`EndReason`], the first one that happens: the client's
//! `end` (card pulled, person quit), a protocol violation, the idle limit, the lifetime
//! limit, or a reason given from outside through its [`SessionHandle`] (a revoked card, the
//! gateway shutting down). A lost connection is the reason only when nothing else came first,
//! so a client's `end` always wins over the end of the connection that follows it.

use crate::gateway::audit::EndReason;
use crate::gateway::config::Limits;
use crate::gateway::recheck::{self, PostureAnswer, PostureJudge};
use crate::tunnel::mux::{MuxConfig, MuxServer, Stream};
use crate::tunnel::protocol::{
    self, ClientEndReason, ClientMessage, Ending, FrameError, GatewayEndReason, GatewayMessage,
    Opened, RefuseCode, Refused,
};
use crate::tunnel::pump::{pump, ByteCounters, PumpEnd, PumpOptions, DEFAULT_BUFFER_LEN};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout, Instant};
use tokio_util::sync::CancellationToken;

/// A stream refusal as sent to the client: a code and a sentence for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRefusal {
    /// Why, for programs.
    pub code: RefuseCode,
    /// Why, for the person.
    pub message: String,
}

impl StreamRefusal {
    /// The answer for a target the user may not reach, and for ids that do not exist (the
    /// same answer, so ids cannot be probed).
    pub fn not_granted() -> Self {
        StreamRefusal {
            code: RefuseCode::NotGranted,
            message: "Du har ikke tilgang til denne maskinen.".into(),
        }
    }

    fn unreachable() -> Self {
        StreamRefusal {
            code: RefuseCode::TargetUnreachable,
            message: "Kontor-PC-en svarer ikke. Sjekk at den er slått på og koblet til nettet, \
                      eller kontakt IT-ansvarlig."
                .into(),
        }
    }

    fn too_many() -> Self {
        StreamRefusal {
            code: RefuseCode::TooManyStreams,
            message: "For mange samtidige forbindelser i denne økten. Lukk en og prøv igjen."
                .into(),
        }
    }

    fn bad_request() -> Self {
        StreamRefusal {
            code: RefuseCode::BadRequest,
            message: "Klienten sendte en ugyldig forespørsel, og økten er avsluttet. \
                      Oppdater hjemmekontor."
                .into(),
        }
    }
}

/// A boxed future, so [`Authorizer`] can be used as `dyn` and still wait (for the audit log,
/// for a name lookup) without blocking the runtime.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The access decision for one `open`, and the record of what it led to. Implemented by the
/// gateway's session (access policy plus audit log); any `Fn(&str) -> Result<SocketAddr,
/// StreamRefusal>` also works (tests use closures), with nothing to record.
pub trait Authorizer: PostureJudge + Send + Sync {
    /// Maps a target id to the address to connect to, or a refusal. A refusal that must be
    /// recorded is recorded before this resolves.
    fn authorize<'a>(&'a self, target: &'a str)
        -> BoxFuture<'a, Result<SocketAddr, StreamRefusal>>;

    /// The target at `address` accepted the connection for `target`; `opened` is sent once
    /// this resolves, and not at all if it is a refusal (nothing is answered that could not
    /// be recorded).
    fn connected<'a>(
        &'a self,
        target: &'a str,
        address: SocketAddr,
    ) -> BoxFuture<'a, Result<(), StreamRefusal>> {
        let _ = (target, address);
        Box::pin(std::future::ready(Ok(())))
    }
}

impl<F> PostureJudge for F where F: Fn(&str) -> Result<SocketAddr, StreamRefusal> + Send + Sync {}

impl<F> Authorizer for F
where
    F: Fn(&str) -> Result<SocketAddr, StreamRefusal> + Send + Sync,
{
    fn authorize<'a>(
        &'a self,
        target: &'a str,
    ) -> BoxFuture<'a, Result<SocketAddr, StreamRefusal>> {
        Box::pin(std::future::ready(self(target)))
    }
}

/// The bounds one session's relay works within. The defaults are the configuration's
/// (`[limits]` in `src/gateway/config.rs`); [`RelayLimits::from_config`] takes the ones an
/// operator can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayLimits {
    /// Streams relayed at once; more are refused with `too-many-streams`.
    pub max_streams_per_session: usize,
    /// Time for the client to send `open` on a new stream, and for each answer (and the
    /// `ending` notice) to be written.
    pub open_timeout: Duration,
    /// Time for the office PC to accept the TCP connection.
    pub connect_timeout: Duration,
    /// A stream with no bytes either way for this long is closed; a session with no stream
    /// open for this long (so nothing relayed either) is ended.
    pub idle_timeout: Duration,
    /// A session is ended this long after it started, busy or not.
    pub max_lifetime: Duration,
    /// Buffer per direction per stream.
    pub buffer_len: usize,
    /// Bound on the `open` frame.
    pub max_frame_len: usize,
    /// After the connection ends, how long streams get to finish before they are cut.
    pub drain_timeout: Duration,
    /// How often the client must send a fresh posture report; `None`: never.
    pub posture_recheck: Option<Duration>,
}

impl Default for RelayLimits {
    fn default() -> Self {
        RelayLimits {
            max_streams_per_session: 32,
            open_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(3_600),
            max_lifetime: Duration::from_secs(43_200),
            buffer_len: DEFAULT_BUFFER_LEN,
            max_frame_len: 64 * 1024,
            drain_timeout: Duration::from_secs(5),
            posture_recheck: None,
        }
    }
}

impl RelayLimits {
    /// The limits an operator configured; the rest are the defaults.
    pub fn from_config(limits: &Limits) -> Self {
        RelayLimits {
            max_streams_per_session: limits.max_streams_per_session as usize,
            connect_timeout: Duration::from_secs(limits.connect_timeout_secs),
            idle_timeout: Duration::from_secs(limits.idle_timeout_secs),
            max_lifetime: Duration::from_secs(limits.max_session_secs),
            max_frame_len: limits.max_frame_bytes as usize,
            ..RelayLimits::default()
        }
    }

    /// The multiplexer settings that go with these limits: room above `max_streams_per_session`
    /// so extra streams can be refused with a message instead of ending the connection.
    pub fn mux_config(&self) -> MuxConfig {
        MuxConfig {
            max_streams: self
                .max_streams_per_session
                .saturating_mul(2)
                .saturating_add(8),
            ..MuxConfig::default()
        }
    }
}

/// Ends one session from outside (a revoked card, the gateway shutting down) and holds the
/// reason it ended for. Cheap to clone; give one to [`serve_session`] and keep others.
///
/// The first reason wins, whoever gives it: the session itself gives its own (the client's
/// `end`, a protocol violation, the idle or lifetime limit) through the same handle.
#[derive(Debug, Clone, Default)]
pub struct SessionHandle {
    inner: Arc<HandleState>,
}

#[derive(Debug, Default)]
struct HandleState {
    reason: OnceLock<EndReason>,
    ended: CancellationToken,
}

impl SessionHandle {
    /// A handle for a session that has not ended.
    pub fn new() -> Self {
        SessionHandle::default()
    }

    /// Ends the session for `reason`, unless it already ends for another. Returns at once
    /// (the session tells the client, closes the connection and finishes by itself); true
    /// if `reason` is the one the session will report.
    pub fn end(&self, reason: EndReason) -> bool {
        let first = self.inner.reason.set(reason).is_ok();
        self.inner.ended.cancel();
        first
    }

    /// The reason the session ends for, once one was given.
    pub fn reason(&self) -> Option<EndReason> {
        self.inner.reason.get().copied()
    }

    /// Resolves once a reason was given.
    async fn ended(&self) {
        self.inner.ended.cancelled().await
    }
}

/// How one stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOutcome {
    /// Connected and relayed; how the relay ended.
    Relayed(PumpEnd),
    /// Refused with this code. `bad-request` is a protocol violation: it ends the session.
    Refused(RefuseCode),
    /// The client sent no `open` in time, or went away before it.
    NoOpen,
    /// The stream carried the client's `end`: the session is about to close, for this reason.
    ClientEnded(ClientEndReason),
    /// The stream carried a posture re-check that passed.
    PostureChecked,
    /// The stream carried a posture re-check that failed: the session ends.
    PostureRefused,
}

/// What happened on one stream, for the log and the session's totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    /// The stream's number within the session.
    pub stream_id: u32,
    /// The target id the client asked for, once known (and valid).
    pub target: Option<String>,
    /// How it ended.
    pub outcome: StreamOutcome,
    /// Bytes from the client delivered to the target.
    pub bytes_to_target: u64,
    /// Bytes from the target delivered to the client.
    pub bytes_from_target: u64,
}

impl StreamRecord {
    fn new(stream_id: u32) -> Self {
        StreamRecord {
            stream_id,
            target: None,
            outcome: StreamOutcome::NoOpen,
            bytes_to_target: 0,
            bytes_from_target: 0,
        }
    }

    /// The reason this stream gives the session to end, if any.
    fn ends_session(&self) -> Option<EndReason> {
        match self.outcome {
            StreamOutcome::ClientEnded(ClientEndReason::CardRemoved) => {
                Some(EndReason::CardRemoved)
            }
            StreamOutcome::ClientEnded(ClientEndReason::ClientClosed) => {
                Some(EndReason::ClientClosed)
            }
            StreamOutcome::Refused(RefuseCode::BadRequest) => Some(EndReason::ProtocolError),
            StreamOutcome::PostureRefused => Some(EndReason::PostureRefused),
            _ => None,
        }
    }
}

/// Totals for one session, for its audit record, and why it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStats {
    /// Streams that connected to a target.
    pub streams_relayed: u64,
    /// Streams refused, by code.
    pub streams_refused: BTreeMap<RefuseCode, u64>,
    /// Streams that never sent a valid `open` in time.
    pub streams_without_open: u64,
    /// Bytes from the client delivered to targets.
    pub bytes_to_targets: u64,
    /// Bytes from targets delivered to the client.
    pub bytes_from_targets: u64,
    /// Why the session ended.
    pub end: EndReason,
}

impl SessionStats {
    fn new() -> Self {
        SessionStats {
            streams_relayed: 0,
            streams_refused: BTreeMap::new(),
            streams_without_open: 0,
            bytes_to_targets: 0,
            bytes_from_targets: 0,
            // Until something else is known, a session that stops has lost its network.
            end: EndReason::NetworkLost,
        }
    }

    fn add(&mut self, record: &StreamRecord) {
        log_record(record);
        match record.outcome {
            StreamOutcome::Relayed(_) => self.streams_relayed += 1,
            StreamOutcome::Refused(code) => *self.streams_refused.entry(code).or_default() += 1,
            StreamOutcome::NoOpen => self.streams_without_open += 1,
            StreamOutcome::ClientEnded(_)
            | StreamOutcome::PostureChecked
            | StreamOutcome::PostureRefused => {}
        }
    }
}

/// What a stream's first frame asked for.
enum Opening {
    /// Connect to this target.
    Target(String),
    /// The client is ending the session, for this reason.
    End(ClientEndReason),
    /// A posture re-check.
    Posture(Box<crate::posture::report::Report>),
}

/// Reads the stream's `open` (or `end`); `Err` holds the outcome when there is none to act on.
async fn read_open<S>(
    stream: &mut S,
    limits: &RelayLimits,
) -> Result<Opening, Option<StreamRefusal>>
where
    S: AsyncRead + Unpin + ?Sized,
{
    match timeout(
        limits.open_timeout,
        protocol::read_client_message(stream, limits.max_frame_len),
    )
    .await
    {
        Err(_) => Err(None),
        Ok(Ok(ClientMessage::Open(open))) => Ok(Opening::Target(open.target)),
        Ok(Ok(ClientMessage::End(end))) => Ok(Opening::End(end.reason)),
        Ok(Ok(ClientMessage::Posture(report))) => Ok(Opening::Posture(report)),
        Ok(Ok(ClientMessage::Login(_))) => Err(Some(StreamRefusal::bad_request())),
        Ok(Err(FrameError::Closed | FrameError::Truncated | FrameError::Io(_))) => Err(None),
        Ok(Err(_)) => Err(Some(StreamRefusal::bad_request())),
    }
}

/// Judges a re-check and answers it on its stream.
async fn answer_recheck<S>(
    stream: &mut S,
    report: crate::posture::report::Report,
    judge: &dyn Authorizer,
    limits: &RelayLimits,
) -> StreamOutcome
where
    S: AsyncWrite + Unpin + ?Sized,
{
    let answer = judge.judge(report).await;
    send_last(stream, &answer.message(), limits).await;
    match answer {
        PostureAnswer::Passed { .. } => StreamOutcome::PostureChecked,
        PostureAnswer::Refused { .. } => StreamOutcome::PostureRefused,
    }
}

/// Sends `refused` and half-closes, within the open timeout.
async fn send_refusal<S>(stream: &mut S, refusal: &StreamRefusal, limits: &RelayLimits)
where
    S: AsyncWrite + Unpin + ?Sized,
{
    let message = GatewayMessage::Refused(Refused {
        code: refusal.code,
        message: refusal.message.clone(),
    });
    send_last(stream, &message, limits).await;
}

/// Sends one message and half-closes, within the open timeout; a failure only ends early.
async fn send_last<S>(stream: &mut S, message: &GatewayMessage, limits: &RelayLimits)
where
    S: AsyncWrite + Unpin + ?Sized,
{
    let _ = timeout(limits.open_timeout, async {
        protocol::write_message(stream, message, limits.max_frame_len).await?;
        stream.shutdown().await.map_err(FrameError::Io)
    })
    .await;
}

/// Relays one stream whose first frame should be `open`: authorizes it, connects to the
/// target within the connect timeout, lets the authorizer record it, answers `opened` or
/// `refused`, then copies both ways.
///
/// `counters`, when given, is added to as bytes move (session totals that stay right even
/// if this task is cancelled). Never panics on bad input; every wait is bounded.
pub async fn relay_stream<S>(
    mut stream: S,
    stream_id: u32,
    authorizer: &dyn Authorizer,
    limits: &RelayLimits,
    counters: Option<&ByteCounters>,
) -> StreamRecord
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut record = StreamRecord::new(stream_id);
    let target = match read_open(&mut stream, limits).await {
        Ok(Opening::Target(target)) => target,
        Ok(Opening::End(reason)) => {
            record.outcome = StreamOutcome::ClientEnded(reason);
            return record;
        }
        Ok(Opening::Posture(report)) => {
            record.outcome = answer_recheck(&mut stream, *report, authorizer, limits).await;
            return record;
        }
        Err(None) => return record,
        Err(Some(refusal)) => {
            send_refusal(&mut stream, &refusal, limits).await;
            record.outcome = StreamOutcome::Refused(refusal.code);
            return record;
        }
    };
    record.target = Some(target.clone());

    let connected = match authorizer.authorize(&target).await {
        Ok(addr) => connect(addr, &target, stream_id, limits)
            .await
            .map(|tcp| (addr, tcp)),
        Err(refusal) => Err(refusal),
    };
    let connected = match connected {
        Ok((addr, tcp)) => authorizer.connected(&target, addr).await.map(|()| tcp),
        Err(refusal) => Err(refusal),
    };
    let mut office = match connected {
        Ok(tcp) => tcp,
        Err(refusal) => {
            send_refusal(&mut stream, &refusal, limits).await;
            record.outcome = StreamOutcome::Refused(refusal.code);
            return record;
        }
    };

    let opened = GatewayMessage::Opened(Opened {
        target: target.clone(),
    });
    match timeout(
        limits.open_timeout,
        protocol::write_message(&mut stream, &opened, limits.max_frame_len),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(_)) | Err(_) => return record,
    }

    let options = PumpOptions {
        buffer_len: limits.buffer_len,
        idle_timeout: Some(limits.idle_timeout),
    };
    let report = pump(&mut stream, &mut office, options, counters).await;
    record.outcome = StreamOutcome::Relayed(report.end);
    record.bytes_to_target = report.a_to_b;
    record.bytes_from_target = report.b_to_a;
    record
}

/// Connects to the office PC within the connect timeout; a refusal says it is unreachable.
async fn connect(
    addr: SocketAddr,
    target: &str,
    stream_id: u32,
    limits: &RelayLimits,
) -> Result<TcpStream, StreamRefusal> {
    match timeout(limits.connect_timeout, TcpStream::connect(addr)).await {
        Ok(Ok(tcp)) => {
            // Remote desktop is interactive: small packets must not wait for more.
            let _ = tcp.set_nodelay(true);
            Ok(tcp)
        }
        Ok(Err(e)) => {
            tracing::info!(stream_id, target, error = %e, "target refused the connection");
            Err(StreamRefusal::unreachable())
        }
        Err(_) => {
            tracing::info!(stream_id, target, "target did not answer in time");
            Err(StreamRefusal::unreachable())
        }
    }
}

/// Answers a stream beyond the session's limit with `too-many-streams` (after reading its
/// `open`, so the client gets an answer in order). An `end` and a posture re-check are
/// honoured even then: neither holds a stream for long, and a re-check refused for want of a
/// slot would end the session as overdue.
async fn refuse_extra_stream(
    mut stream: Stream,
    limits: RelayLimits,
    judge: Arc<dyn Authorizer>,
) -> StreamRecord {
    let mut record = StreamRecord::new(stream.id());
    let refusal = match read_open(&mut stream, &limits).await {
        Ok(Opening::Target(target)) => {
            record.target = Some(target);
            StreamRefusal::too_many()
        }
        Ok(Opening::End(reason)) => {
            // An `end` is honoured even when every stream slot is taken.
            record.outcome = StreamOutcome::ClientEnded(reason);
            return record;
        }
        Ok(Opening::Posture(report)) => {
            record.outcome = answer_recheck(&mut stream, *report, &*judge, &limits).await;
            return record;
        }
        Err(None) => return record,
        Err(Some(refusal)) => refusal,
    };
    send_refusal(&mut stream, &refusal, &limits).await;
    record.outcome = StreamOutcome::Refused(refusal.code);
    record
}

fn log_record(record: &StreamRecord) {
    tracing::info!(
        stream_id = record.stream_id,
        target = record.target.as_deref().unwrap_or("-"),
        outcome = ?record.outcome,
        bytes_to_target = record.bytes_to_target,
        bytes_from_target = record.bytes_from_target,
        "stream ended"
    );
}

/// "12 timer", "90 minutter", "1 time": a limit in words for the person.
fn in_words(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, one, many) = if secs >= 3_600 && secs.is_multiple_of(3_600) {
        (secs / 3_600, "time", "timer")
    } else if secs >= 60 && secs.is_multiple_of(60) {
        (secs / 60, "minutt", "minutter")
    } else {
        (secs, "sekund", "sekunder")
    };
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The notice the client gets when the gateway ends the session, where the client can do
/// something with it (not for the client's own reasons, nor for a client that broke the
/// protocol).
fn ending_notice(reason: EndReason, limits: &RelayLimits) -> Option<Ending> {
    let limit_secs = match reason {
        EndReason::IdleTimeout => Some(limits.idle_timeout.as_secs()),
        EndReason::MaxLifetime => Some(limits.max_lifetime.as_secs()),
        _ => None,
    };
    let (reason, message) = match reason {
        EndReason::IdleTimeout => (
            GatewayEndReason::IdleTimeout,
            format!(
                "Økten er avsluttet fordi den ikke ble brukt på {}; logg inn igjen.",
                in_words(limits.idle_timeout)
            ),
        ),
        EndReason::MaxLifetime => (
            GatewayEndReason::MaxLifetime,
            format!(
                "Økten er avsluttet etter {}; logg inn igjen.",
                in_words(limits.max_lifetime)
            ),
        ),
        EndReason::Revoked => (
            GatewayEndReason::Revoked,
            "Økten er avsluttet fordi sertifikatet på kortet er trukket tilbake. \
             Kontakt IT-ansvarlig."
                .to_string(),
        ),
        EndReason::GatewayShutdown => (
            GatewayEndReason::GatewayShutdown,
            "Gatewayen stopper eller starter på nytt. Koble til igjen om litt.".to_string(),
        ),
        EndReason::PostureOverdue => (
            GatewayEndReason::PostureOverdue,
            "Økten er avsluttet fordi hjemmekontor ikke sendte en ny sjekk av maskinen i tide. \
             Logg inn igjen; meld fra til IT-ansvarlig om det skjer igjen."
                .to_string(),
        ),
        // The client was told on its re-check stream.
        EndReason::PostureRefused
        | EndReason::ClientClosed
        | EndReason::CardRemoved
        | EndReason::NetworkLost
        | EndReason::Error
        | EndReason::ProtocolError
        | EndReason::TooManyRefusals => return None,
    };
    Some(Ending {
        reason,
        message,
        failed_rules: Vec::new(),
        limit_secs,
    })
}

/// Tells the client why the gateway ends the session, on a stream of the gateway's own;
/// bounded by the open timeout, and best effort (a client gone gets nothing).
async fn send_ending(server: &MuxServer, notice: Ending, limits: &RelayLimits) {
    let message = GatewayMessage::Ending(notice);
    let _ = timeout(limits.open_timeout, async {
        if let Ok(mut stream) = server.open_stream().await {
            send_last(&mut stream, &message, limits).await;
        }
    })
    .await;
}

/// Serves every stream of one session until it ends: a task per stream, at most
/// `max_streams_per_session` relayed at once, and the totals and end reason when it is over.
///
/// Spawn the server's driver before calling this. The session ends at the first of: the
/// client's `end`; a protocol violation (an invalid `open`, or a multiplexing frame the driver
/// refuses); no stream open for `idle_timeout`; `max_lifetime` after the start; `handle.end`
/// from outside; the connection's end. When the gateway ends it for a reason the person can
/// act on, the client gets an `ending` notice first; then the connection is closed. Streams
/// get `drain_timeout` to finish, then are cut.
pub async fn serve_session(
    mut server: MuxServer,
    authorizer: Arc<dyn Authorizer>,
    limits: RelayLimits,
    handle: SessionHandle,
) -> SessionStats {
    let closer = server.closer();
    let counters = Arc::new(ByteCounters::default());
    let slots = Arc::new(Semaphore::new(limits.max_streams_per_session));
    let mut tasks: JoinSet<StreamRecord> = JoinSet::new();
    let mut stats = SessionStats::new();
    let lifetime = sleep(limits.max_lifetime);
    tokio::pin!(lifetime);
    // When the next posture report is due (far away when sessions are not re-checked).
    let far = Instant::now() + limits.max_lifetime + limits.max_lifetime;
    let mut posture_due = recheck::due(Instant::now(), limits.posture_recheck).unwrap_or(far);
    // Since when no stream has been open (the session's idle clock).
    let mut quiet_since = Instant::now();
    let mut closing = false;

    loop {
        let idle_left = limits.idle_timeout.saturating_sub(quiet_since.elapsed());
        tokio::select! {
            next = server.next_stream() => {
                let Some(stream) = next else { break };
                let handle = handle.clone();
                match Arc::clone(&slots).try_acquire_owned() {
                    Ok(permit) => {
                        let authorizer = Arc::clone(&authorizer);
                        let counters = Arc::clone(&counters);
                        tasks.spawn(async move {
                            let id = stream.id();
                            let record =
                                relay_stream(stream, id, &*authorizer, &limits, Some(&counters))
                                    .await;
                            drop(permit);
                            if let Some(reason) = record.ends_session() {
                                handle.end(reason);
                            }
                            record
                        });
                    }
                    Err(_) => {
                        let judge = Arc::clone(&authorizer);
                        tasks.spawn(async move {
                            let record = refuse_extra_stream(stream, limits, judge).await;
                            if let Some(reason) = record.ends_session() {
                                handle.end(reason);
                            }
                            record
                        });
                    }
                }
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                // A re-check is not use: it neither keeps an idle session open nor resets
                // its idle clock.
                let mut used = true;
                if let Ok(record) = done {
                    if record.outcome == StreamOutcome::PostureChecked {
                        posture_due =
                            recheck::due(Instant::now(), limits.posture_recheck).unwrap_or(far);
                    }
                    used = !matches!(
                        record.outcome,
                        StreamOutcome::PostureChecked | StreamOutcome::PostureRefused
                    );
                    stats.add(&record);
                }
                if tasks.is_empty() && used {
                    quiet_since = Instant::now();
                }
            }
            () = handle.ended(), if !closing => {
                closing = true;
                let reason = handle.reason().unwrap_or(EndReason::Error);
                tracing::info!(reason = reason.as_str(), "ending the session");
                if let Some(notice) = ending_notice(reason, &limits) {
                    send_ending(&server, notice, &limits).await;
                }
                closer.close();
            }
            () = &mut lifetime, if !closing => {
                handle.end(EndReason::MaxLifetime);
            }
            () = tokio::time::sleep_until(posture_due), if !closing => {
                handle.end(EndReason::PostureOverdue);
            }
            () = sleep(idle_left), if !closing && tasks.is_empty() => {
                handle.end(EndReason::IdleTimeout);
            }
        }
    }
    drop(server);

    let drained = timeout(limits.drain_timeout, async {
        while let Some(done) = tasks.join_next().await {
            if let Ok(record) = done {
                stats.add(&record);
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            streams = tasks.len(),
            "streams still running after the session ended; cutting them"
        );
        tasks.shutdown().await;
    }

    // Streams drained above may have carried the client's `end`: it was sent before the
    // connection ended, so it comes before what the end of the connection says.
    if closer.peer_broke_protocol() {
        handle.end(EndReason::ProtocolError);
    }
    handle.end(EndReason::NetworkLost);
    stats.end = handle.reason().unwrap_or(EndReason::NetworkLost);
    stats.bytes_to_targets = counters.a_to_b.load(Ordering::Relaxed);
    stats.bytes_from_targets = counters.b_to_a.load(Ordering::Relaxed);
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tunnel::protocol::{encode_frame, read_gateway_message, Open};
    use tokio::io::AsyncReadExt;

    fn deny_all(_: &str) -> Result<SocketAddr, StreamRefusal> {
        Err(StreamRefusal::not_granted())
    }

    #[tokio::test]
    async fn unknown_target_is_not_granted() {
        let (mut client, gw) = tokio::io::duplex(4096);
        let relay = tokio::spawn(async move {
            relay_stream(gw, 1, &deny_all, &RelayLimits::default(), None).await
        });
        let open = ClientMessage::Open(Open {
            target: "nope".into(),
        });
        client
            .write_all(&encode_frame(&open, 1024).unwrap())
            .await
            .unwrap();
        let answer = read_gateway_message(&mut client, 1024).await.unwrap();
        assert!(matches!(
            answer,
            GatewayMessage::Refused(Refused {
                code: RefuseCode::NotGranted,
                ..
            })
        ));
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        let record = relay.await.unwrap();
        assert_eq!(
            record.outcome,
            StreamOutcome::Refused(RefuseCode::NotGranted)
        );
        assert_eq!(record.target.as_deref(), Some("nope"));
    }

    #[tokio::test]
    async fn garbage_first_frame_is_a_bad_request() {
        let (mut client, gw) = tokio::io::duplex(4096);
        let relay = tokio::spawn(async move {
            relay_stream(gw, 1, &deny_all, &RelayLimits::default(), None).await
        });
        client
            .write_all(&[0, 0, 0, 3, b'{', b'{', b'{'])
            .await
            .unwrap();
        let answer = read_gateway_message(&mut client, 1024).await.unwrap();
        assert!(matches!(
            answer,
            GatewayMessage::Refused(Refused {
                code: RefuseCode::BadRequest,
                ..
            })
        ));
        assert_eq!(
            relay.await.unwrap().outcome,
            StreamOutcome::Refused(RefuseCode::BadRequest)
        );
    }

    #[test]
    fn the_default_limits_are_the_configurations() {
        let config = crate::gateway::testutil::config();
        assert_eq!(
            RelayLimits::from_config(&config.limits),
            RelayLimits::default()
        );
    }

    #[test]
    fn the_first_reason_wins() {
        let handle = SessionHandle::new();
        assert_eq!(handle.reason(), None);
        let outside = handle.clone();
        assert!(handle.end(EndReason::CardRemoved));
        assert!(!outside.end(EndReason::Revoked));
        assert!(!handle.end(EndReason::NetworkLost));
        assert_eq!(outside.reason(), Some(EndReason::CardRemoved));
    }

    #[test]
    fn the_client_is_told_the_limit_in_words() {
        let limits = RelayLimits {
            idle_timeout: Duration::from_secs(90 * 60),
            max_lifetime: Duration::from_secs(12 * 3_600),
            ..RelayLimits::default()
        };
        let notice = ending_notice(EndReason::MaxLifetime, &limits).unwrap();
        assert_eq!(notice.reason, GatewayEndReason::MaxLifetime);
        assert_eq!(notice.limit_secs, Some(12 * 3_600));
        assert_eq!(
            notice.message,
            "Økten er avsluttet etter 12 timer; logg inn igjen."
        );
        let idle = ending_notice(EndReason::IdleTimeout, &limits).unwrap();
        assert!(idle.message.contains("90 minutter"), "{}", idle.message);
        assert_eq!(idle.limit_secs, Some(90 * 60));
        let revoked = ending_notice(EndReason::Revoked, &limits).unwrap();
        assert_eq!(revoked.limit_secs, None);
        assert_eq!(in_words(Duration::from_secs(3_600)), "1 time");
        assert_eq!(in_words(Duration::from_secs(61)), "61 sekunder");
        assert!(ending_notice(EndReason::CardRemoved, &limits).is_none());
        assert!(ending_notice(EndReason::ProtocolError, &limits).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_stream_times_out_without_an_answer() {
        let (_client, gw) = tokio::io::duplex(4096);
        let record = relay_stream(gw, 1, &deny_all, &RelayLimits::default(), None).await;
        assert_eq!(record.outcome, StreamOutcome::NoOpen);
    }
}
