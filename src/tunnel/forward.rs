//! The client's local port forwarder: the remote-desktop program connects to
//! `127.0.0.1:13389`, and each of its TCP connections becomes a new stream in the tunnel,
//! opened to one target id. The client never names a host or port, only that id.

use crate::tunnel::mux::{MuxClient, MuxError};
use crate::tunnel::protocol::{
    self, ClientMessage, FrameError, GatewayMessage, Open, RefuseCode, DEFAULT_MAX_FRAME_LEN,
};
use crate::tunnel::pump::{pump, PumpEnd, PumpOptions, DEFAULT_BUFFER_LEN};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// Settings for the forwarder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardOptions {
    /// Time to open a stream and get the gateway's `opened` or `refused`.
    pub open_timeout: Duration,
    /// Close a forwarded connection after this long with no traffic; `None` leaves that to
    /// the gateway (which always has one).
    pub idle_timeout: Option<Duration>,
    /// Buffer per direction per connection.
    pub buffer_len: usize,
    /// Bound on the gateway's answer frame.
    pub max_frame_len: usize,
}

impl Default for ForwardOptions {
    fn default() -> Self {
        ForwardOptions {
            open_timeout: Duration::from_secs(20),
            idle_timeout: None,
            buffer_len: DEFAULT_BUFFER_LEN,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
        }
    }
}

/// What happened to one local connection, for the user interface and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardEvent {
    /// The gateway connected the stream to the target.
    Opened {
        /// Address of the local program that connected.
        peer: SocketAddr,
    },
    /// The gateway refused the stream.
    Refused {
        /// Address of the local program that connected.
        peer: SocketAddr,
        /// Why; the client words it (`client/gateway_words.rs`).
        code: RefuseCode,
        /// The gateway's own words, for a code the client does not know.
        message: String,
    },
    /// The stream could not be opened or answered (tunnel closed, timeout, protocol error).
    Failed {
        /// Address of the local program that connected.
        peer: SocketAddr,
        /// What went wrong, in words (no secrets ever travel on a stream).
        reason: String,
    },
    /// A forwarded connection ended.
    Closed {
        /// Address of the local program that connected.
        peer: SocketAddr,
        /// How the copy ended.
        end: PumpEnd,
        /// Bytes sent from the local program to the target.
        bytes_sent: u64,
        /// Bytes received from the target.
        bytes_received: u64,
    },
}

/// Totals for one run of the forwarder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardStats {
    /// Local connections accepted.
    pub connections: u64,
    /// Of those, refused by the gateway.
    pub refused: u64,
    /// Of those, that failed before being opened.
    pub failed: u64,
}

/// Accepts local connections on `listener` and forwards each over a new stream to
/// `target`, until `shutdown` is cancelled or the tunnel closes. Every event is logged and
/// passed to `on_event`.
///
/// On return, forwarded connections still running are cut (the tunnel is going away).
pub async fn forward_listener<F>(
    listener: TcpListener,
    mux: MuxClient,
    target: String,
    options: ForwardOptions,
    shutdown: CancellationToken,
    on_event: F,
) -> ForwardStats
where
    F: Fn(ForwardEvent) + Send + Sync + 'static,
{
    let on_event: Arc<dyn Fn(ForwardEvent) + Send + Sync> = Arc::new(on_event);
    let target: Arc<str> = target.into();
    let mut tasks: JoinSet<Outcome> = JoinSet::new();
    let mut stats = ForwardStats::default();
    let closer = mux.closer();

    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = closer.closed() => {
                tracing::info!("tunnel closed; the local listener stops");
                break;
            }
            accepted = listener.accept() => match accepted {
                Ok((local, peer)) => {
                    stats.connections += 1;
                    let _ = local.set_nodelay(true);
                    tasks.spawn(forward_one(
                        local,
                        peer,
                        mux.clone(),
                        Arc::clone(&target),
                        options,
                        Arc::clone(&on_event),
                    ));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly, keep serving.
                    tracing::warn!(error = %e, "accepting a local connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok(outcome) = done {
                    stats.count(outcome);
                }
            }
        }
    }
    // Count what already finished, cut the rest.
    tasks.abort_all();
    while let Some(done) = tasks.join_next().await {
        if let Ok(outcome) = done {
            stats.count(outcome);
        }
    }
    stats
}

enum Outcome {
    Relayed,
    Refused,
    Failed,
}

impl ForwardStats {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Relayed => {}
            Outcome::Refused => self.refused += 1,
            Outcome::Failed => self.failed += 1,
        }
    }
}

#[derive(Debug)]
enum OpenError {
    Mux(MuxError),
    Frame(FrameError),
    Timeout,
    Unexpected,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Mux(e) => write!(f, "{e}"),
            OpenError::Frame(e) => write!(f, "{e}"),
            OpenError::Timeout => f.write_str("the gateway did not answer in time"),
            OpenError::Unexpected => f.write_str("the gateway sent an unexpected message"),
        }
    }
}

async fn forward_one(
    mut local: TcpStream,
    peer: SocketAddr,
    mux: MuxClient,
    target: Arc<str>,
    options: ForwardOptions,
    on_event: Arc<dyn Fn(ForwardEvent) + Send + Sync>,
) -> Outcome {
    let opened = timeout(options.open_timeout, async {
        let mut stream = mux.open_stream().await.map_err(OpenError::Mux)?;
        let open = ClientMessage::Open(Open {
            target: target.to_string(),
        });
        protocol::write_message(&mut stream, &open, options.max_frame_len)
            .await
            .map_err(OpenError::Frame)?;
        let answer = protocol::read_gateway_message(&mut stream, options.max_frame_len)
            .await
            .map_err(OpenError::Frame)?;
        Ok((stream, answer))
    })
    .await
    .unwrap_or(Err(OpenError::Timeout));
    drop(mux);

    let mut stream = match opened {
        Ok((stream, GatewayMessage::Opened(o))) if *o.target == *target => stream,
        Ok((_, GatewayMessage::Refused(r))) => {
            tracing::warn!(%peer, target = &*target, code = %r.code, message = r.message, "the gateway refused the connection");
            on_event(ForwardEvent::Refused {
                peer,
                code: r.code,
                message: r.message,
            });
            let _ = local.shutdown().await;
            return Outcome::Refused;
        }
        Ok(_) => {
            return fail(&mut local, peer, &target, OpenError::Unexpected, &*on_event).await;
        }
        Err(e) => return fail(&mut local, peer, &target, e, &*on_event).await,
    };

    tracing::info!(%peer, target = &*target, "connection forwarded");
    on_event(ForwardEvent::Opened { peer });
    let pump_options = PumpOptions {
        buffer_len: options.buffer_len,
        idle_timeout: options.idle_timeout,
    };
    let report = pump(&mut local, &mut stream, pump_options, None).await;
    tracing::info!(%peer, target = &*target, end = ?report.end, sent = report.a_to_b, received = report.b_to_a, "forwarded connection ended");
    on_event(ForwardEvent::Closed {
        peer,
        end: report.end,
        bytes_sent: report.a_to_b,
        bytes_received: report.b_to_a,
    });
    Outcome::Relayed
}

async fn fail(
    local: &mut TcpStream,
    peer: SocketAddr,
    target: &str,
    error: OpenError,
    on_event: &(dyn Fn(ForwardEvent) + Send + Sync),
) -> Outcome {
    tracing::warn!(%peer, target, error = %error, "could not open a stream through the tunnel");
    on_event(ForwardEvent::Failed {
        peer,
        reason: error.to_string(),
    });
    let _ = local.shutdown().await;
    Outcome::Failed
}
