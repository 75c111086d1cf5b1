//! The relay: each stream the client opens names a target id; once the session's grants
//! allow it, the gateway connects to that office PC and copies bytes both ways until either
//! side is done.
//!
//! Every stream runs in its own task with its own bounded buffers and its own yamux window,
//! so a slow or dead office PC holds up only its own stream. Every wait has a bound: the
//! `open` frame, the connection to the target, the answer, and traffic (idle timeout).
//! Who may reach what is not decided here: an [`Authorizer`] (the access policy) maps a
//! target id to an address or a refusal, and the gateway connects nowhere else.

use crate::tunnel::mux::{MuxConfig, MuxServer, Stream};
use crate::tunnel::protocol::{
    self, ClientEndReason, ClientMessage, FrameError, GatewayMessage, Opened, RefuseCode, Refused,
};
use crate::tunnel::pump::{pump, ByteCounters, PumpEnd, PumpOptions, DEFAULT_BUFFER_LEN};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::timeout;

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
            message: "Klienten sendte en ugyldig forespørsel. Oppdater hjemmekontor.".into(),
        }
    }
}

/// The access decision for one `open`: where the target id leads for this session's user,
/// or why not. Implemented by the access policy; any `Fn(&str) -> Result<SocketAddr,
/// StreamRefusal>` also works (tests use closures).
pub trait Authorizer: Send + Sync {
    /// Maps a target id to the address to connect to, or a refusal.
    fn authorize(&self, target: &str) -> Result<SocketAddr, StreamRefusal>;
}

impl<F> Authorizer for F
where
    F: Fn(&str) -> Result<SocketAddr, StreamRefusal> + Send + Sync,
{
    fn authorize(&self, target: &str) -> Result<SocketAddr, StreamRefusal> {
        self(target)
    }
}

/// The bounds one session's relay works within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayLimits {
    /// Streams relayed at once; more are refused with `too-many-streams`.
    pub max_streams_per_session: usize,
    /// Time for the client to send `open` on a new stream, and for each answer to be written.
    pub open_timeout: Duration,
    /// Time for the office PC to accept the TCP connection.
    pub connect_timeout: Duration,
    /// A stream with no bytes either way for this long is closed.
    pub idle_timeout: Duration,
    /// Buffer per direction per stream.
    pub buffer_len: usize,
    /// Bound on the `open` frame.
    pub max_frame_len: usize,
    /// After the connection ends, how long streams get to finish before they are cut.
    pub drain_timeout: Duration,
}

impl Default for RelayLimits {
    fn default() -> Self {
        RelayLimits {
            max_streams_per_session: 16,
            open_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30 * 60),
            buffer_len: DEFAULT_BUFFER_LEN,
            max_frame_len: protocol::DEFAULT_MAX_FRAME_LEN,
            drain_timeout: Duration::from_secs(5),
        }
    }
}

impl RelayLimits {
    /// The yamux settings that go with these limits: room above `max_streams_per_session`
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

/// How one stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOutcome {
    /// Connected and relayed; how the relay ended.
    Relayed(PumpEnd),
    /// Refused with this code.
    Refused(RefuseCode),
    /// The client sent no `open` in time, or went away before it.
    NoOpen,
    /// The stream carried the client's `end`: the session is about to close, for this reason.
    ClientEnded(ClientEndReason),
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

/// Totals for one session, for its audit record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// Why the client said it ended the session, if it said so.
    pub client_end: Option<ClientEndReason>,
}

impl SessionStats {
    fn add(&mut self, record: &StreamRecord) {
        match record.outcome {
            StreamOutcome::Relayed(_) => self.streams_relayed += 1,
            StreamOutcome::Refused(code) => *self.streams_refused.entry(code).or_default() += 1,
            StreamOutcome::NoOpen => self.streams_without_open += 1,
            StreamOutcome::ClientEnded(reason) => self.client_end = Some(reason),
        }
    }
}

/// What a stream's first frame asked for.
enum Opening {
    /// Connect to this target.
    Target(String),
    /// The client is ending the session, for this reason.
    End(ClientEndReason),
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
        Ok(Ok(ClientMessage::Login(_))) => Err(Some(StreamRefusal::bad_request())),
        Ok(Err(FrameError::Closed | FrameError::Truncated | FrameError::Io(_))) => Err(None),
        Ok(Err(_)) => Err(Some(StreamRefusal::bad_request())),
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
    let _ = timeout(limits.open_timeout, async {
        protocol::write_message(stream, &message, limits.max_frame_len).await?;
        stream.shutdown().await.map_err(FrameError::Io)
    })
    .await;
}

/// Relays one stream whose first frame should be `open`: authorizes it, connects to the
/// target within the connect timeout, answers `opened` or `refused`, then copies both ways.
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
    let mut record = StreamRecord {
        stream_id,
        target: None,
        outcome: StreamOutcome::NoOpen,
        bytes_to_target: 0,
        bytes_from_target: 0,
    };
    let target = match read_open(&mut stream, limits).await {
        Ok(Opening::Target(target)) => target,
        Ok(Opening::End(reason)) => {
            record.outcome = StreamOutcome::ClientEnded(reason);
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

    let addr = match authorizer.authorize(&target) {
        Ok(addr) => addr,
        Err(refusal) => {
            send_refusal(&mut stream, &refusal, limits).await;
            record.outcome = StreamOutcome::Refused(refusal.code);
            return record;
        }
    };

    let mut office = match timeout(limits.connect_timeout, TcpStream::connect(addr)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => {
            tracing::info!(stream_id, target, error = %e, "target refused the connection");
            let refusal = StreamRefusal::unreachable();
            send_refusal(&mut stream, &refusal, limits).await;
            record.outcome = StreamOutcome::Refused(refusal.code);
            return record;
        }
        Err(_) => {
            tracing::info!(stream_id, target, "target did not answer in time");
            let refusal = StreamRefusal::unreachable();
            send_refusal(&mut stream, &refusal, limits).await;
            record.outcome = StreamOutcome::Refused(refusal.code);
            return record;
        }
    };
    // Remote desktop is interactive: small packets must not wait for more.
    let _ = office.set_nodelay(true);

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

/// Answers a stream beyond the session's limit with `too-many-streams` (after reading its
/// `open`, so the client gets an answer in order).
async fn refuse_extra_stream(mut stream: Stream, limits: RelayLimits) -> StreamRecord {
    let stream_id = stream.id();
    let mut record = StreamRecord {
        stream_id,
        target: None,
        outcome: StreamOutcome::NoOpen,
        bytes_to_target: 0,
        bytes_from_target: 0,
    };
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

/// Serves every stream of one session until the connection ends: a task per stream, at most
/// `max_streams_per_session` relayed at once, and totals when it is over.
///
/// Spawn the server's driver before calling this. To end the session from outside (card
/// pulled, access revoked), keep a [`MuxServer::closer`] and call `close()`. When the
/// connection ends, streams get `drain_timeout` to finish, then are cut.
pub async fn serve_session(
    mut server: MuxServer,
    authorizer: Arc<dyn Authorizer>,
    limits: RelayLimits,
) -> SessionStats {
    let counters = Arc::new(ByteCounters::default());
    let slots = Arc::new(Semaphore::new(limits.max_streams_per_session));
    let mut tasks: JoinSet<StreamRecord> = JoinSet::new();
    let mut stats = SessionStats::default();

    loop {
        tokio::select! {
            next = server.next_stream() => {
                let Some(stream) = next else { break };
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
                            record
                        });
                    }
                    Err(_) => {
                        tasks.spawn(refuse_extra_stream(stream, limits));
                    }
                }
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok(record) = done {
                    log_record(&record);
                    stats.add(&record);
                }
            }
        }
    }
    drop(server);

    let drained = timeout(limits.drain_timeout, async {
        while let Some(done) = tasks.join_next().await {
            if let Ok(record) = done {
                log_record(&record);
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

    #[tokio::test(start_paused = true)]
    async fn a_silent_stream_times_out_without_an_answer() {
        let (_client, gw) = tokio::io::duplex(4096);
        let record = relay_stream(gw, 1, &deny_all, &RelayLimits::default(), None).await;
        assert_eq!(record.outcome, StreamOutcome::NoOpen);
    }
}
