//! Many TCP connections share one TLS session as multiplexed streams.
//!
//! The rest of the code sees a small API: the client calls [`MuxClient::open_stream`] (from
//! any number of tasks at once), the gateway calls [`MuxServer::next_stream`], and both get
//! [`Stream`]s that are tokio `AsyncRead + AsyncWrite`. [`MuxClient::new`] and
//! [`MuxServer::new`] also return a [`MuxDriver`]: a future the caller spawns, which owns
//! the connection. When it ends, the session is over and every stream ends.
//!
//! The wire format is yamux's (`docs/protocol.md` §4), so peers built on the yamux crate
//! speak with this one; the implementation is the project's own, shaped for a lean data
//! path (`state.rs` says how). Each stream has its own flow-control window and receive
//! buffer, so a stream whose reader is slow (an office PC that does not read) stops only
//! its own sender; the connection keeps reading frames for every other stream.
//!
//! A peer that breaks the protocol (a frame that cannot be decoded, a stream id it may not
//! use, more streams than allowed, data beyond a stream's window) loses the connection: a
//! go-away with the protocol-error code is sent, the driver ends with
//! [`MuxError::Protocol`], and [`MuxCloser::peer_broke_protocol`] says so.

mod driver;
mod frame;
mod receive;
mod state;
mod stream;
#[cfg(test)]
mod tests;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::{CancellationToken, DropGuard};

use driver::Driver;
use state::{Limits, Role, Shared};
pub use stream::Stream;

/// Settings for one multiplexed connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuxConfig {
    /// Most streams open at once on this connection, both directions together. A peer that
    /// opens more has its connection ended, so the gateway sets this above the number of streams
    /// it grants, to be able to refuse the extra ones politely.
    pub max_streams: usize,
    /// Receive window per stream, in bytes (at least the protocol's initial 256 KiB): what
    /// the peer may send on a stream before its reader has read it. The connection's
    /// receive memory is bounded by this times `max_streams`; this is what bounds the
    /// memory a peer can make us hold for readers that are slow.
    pub receive_window_per_stream: usize,
    /// How long a graceful close may take before the connection is dropped.
    pub close_timeout: Duration,
    /// Inbound streams waiting for [`MuxServer::next_stream`]; beyond this they are reset.
    pub accept_backlog: usize,
}

impl Default for MuxConfig {
    fn default() -> Self {
        MuxConfig {
            max_streams: 128,
            receive_window_per_stream: 1024 * 1024,
            close_timeout: Duration::from_secs(5),
            accept_backlog: 64,
        }
    }
}

impl MuxConfig {
    fn limits(&self) -> Limits {
        let window = self
            .receive_window_per_stream
            .clamp(frame::INITIAL_WINDOW as usize, u32::MAX as usize);
        Limits {
            // Within bounds by the clamp.
            window: window as u32,
            max_streams: self.max_streams.max(1),
            accept_backlog: self.accept_backlog.max(1),
        }
    }
}

/// Why a multiplexing operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MuxError {
    /// The connection is closed (by either side, or because it broke).
    #[error("the tunnel connection is closed")]
    Closed,
    /// This side already has the most streams it may open.
    #[error("too many streams are open on this connection")]
    TooManyStreams,
    /// The connection broke (an I/O error, a peer gone in the middle of a frame).
    #[error("tunnel connection failed: {0}")]
    Connection(String),
    /// The peer broke the multiplexing protocol: a frame that cannot be decoded, a stream
    /// id it may not use, more streams than allowed, data beyond a window, a window
    /// overflow.
    #[error("the peer broke the multiplexing protocol: {0}")]
    Protocol(String),
}

/// The streams the peer opens, in the order it opened them.
#[derive(Debug)]
pub struct Inbound {
    shared: Arc<Shared>,
}

impl Inbound {
    /// The next stream the peer opened, or `None` once the connection is closed (streams
    /// already delivered come first).
    pub async fn next_stream(&mut self) -> Option<Stream> {
        let id = poll_fn(|cx| self.shared.lock().poll_inbound(cx)).await?;
        Some(Stream::new(id, self.shared.clone()))
    }
}

/// Opens a stream on `shared`, unless the connection is closing or closed.
fn open_on(shared: &Arc<Shared>, closer: &MuxCloser) -> Result<Stream, MuxError> {
    if closer.close.is_cancelled() {
        return Err(MuxError::Closed);
    }
    let id = shared.lock().open()?;
    Ok(Stream::new(id, shared.clone()))
}

/// Closes a connection from anywhere (card pulled, session revoked). Cheap to clone; holding
/// one does not keep the connection open.
#[derive(Debug, Clone)]
pub struct MuxCloser {
    close: CancellationToken,
    ended: CancellationToken,
    violated: CancellationToken,
}

impl MuxCloser {
    fn new() -> Self {
        MuxCloser {
            close: CancellationToken::new(),
            ended: CancellationToken::new(),
            violated: CancellationToken::new(),
        }
    }

    /// True once the driver has ended because the peer broke the multiplexing protocol. Set before
    /// the last inbound stream is handed out, so whoever sees the end of
    /// [`MuxServer::next_stream`] can already read it.
    pub fn peer_broke_protocol(&self) -> bool {
        self.violated.is_cancelled()
    }

    /// Asks the driver to close the connection gracefully; returns at once. Streams then
    /// read end-of-stream (or fail), and the driver future completes.
    pub fn close(&self) {
        self.close.cancel();
    }

    /// Resolves once the driver has ended (the connection is gone).
    pub async fn closed(&self) {
        self.ended.cancelled().await
    }

    /// True once the driver has ended.
    pub fn is_closed(&self) -> bool {
        self.ended.is_cancelled()
    }
}

/// Client side of a multiplexed connection: opens streams. Cheap to clone; the connection
/// closes when every clone is dropped, or on [`MuxCloser::close`].
#[derive(Debug, Clone)]
pub struct MuxClient {
    shared: Arc<Shared>,
    closer: MuxCloser,
    inbound: Arc<Mutex<Option<Inbound>>>,
    /// Closes the connection when the last clone is dropped.
    _close_with_last: Arc<DropGuard>,
}

impl MuxClient {
    /// Starts the client side over `io` (the TLS stream, after the login exchange).
    ///
    /// Spawn the returned driver (`tokio::spawn(driver)`); nothing moves until it runs.
    pub fn new<T>(io: T, config: MuxConfig) -> (MuxClient, MuxDriver)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (shared, driver, closer) = MuxDriver::start(io, config, Role::Client);
        let inbound = Inbound {
            shared: shared.clone(),
        };
        let guard = Arc::new(closer.close.clone().drop_guard());
        (
            MuxClient {
                shared,
                closer,
                inbound: Arc::new(Mutex::new(Some(inbound))),
                _close_with_last: guard,
            },
            driver,
        )
    }

    /// Opens a new stream at once (its first frame tells the gateway). Many may be opened
    /// concurrently, up to [`MuxConfig::max_streams`].
    pub async fn open_stream(&self) -> Result<Stream, MuxError> {
        open_on(&self.shared, &self.closer)
    }

    /// The streams the gateway opens (its `ending` notice), for the one caller that takes
    /// them; later calls get `None`. Untaken, they wait in a bounded backlog and are reset
    /// beyond it.
    pub fn take_inbound(&self) -> Option<Inbound> {
        self.inbound
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// A handle that can close the connection, or wait for its end, without holding a client.
    pub fn closer(&self) -> MuxCloser {
        self.closer.clone()
    }

    /// Resolves once the driver has ended (the connection is gone).
    pub async fn closed(&self) {
        self.closer.closed().await
    }
}

/// Gateway side of a multiplexed connection: receives the streams the client opens, and
/// may open one of its own to tell the client why the session ends. Dropping it closes the
/// connection.
#[derive(Debug)]
pub struct MuxServer {
    inbound: Inbound,
    closer: MuxCloser,
    _close_on_drop: DropGuard,
}

impl MuxServer {
    /// Starts the gateway side over `io` (the TLS stream, after `accepted` was sent).
    ///
    /// Spawn the returned driver (`tokio::spawn(driver)`); nothing moves until it runs.
    pub fn new<T>(io: T, config: MuxConfig) -> (MuxServer, MuxDriver)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (shared, driver, closer) = MuxDriver::start(io, config, Role::Server);
        let guard = closer.close.clone().drop_guard();
        (
            MuxServer {
                inbound: Inbound { shared },
                closer,
                _close_on_drop: guard,
            },
            driver,
        )
    }

    /// The next stream the client opened, or `None` once the connection is closed.
    pub async fn next_stream(&mut self) -> Option<Stream> {
        self.inbound.next_stream().await
    }

    /// Opens a stream toward the client (only for the `ending` notice).
    pub async fn open_stream(&self) -> Result<Stream, MuxError> {
        open_on(&self.inbound.shared, &self.closer)
    }

    /// A handle that can close the connection from another task.
    pub fn closer(&self) -> MuxCloser {
        self.closer.clone()
    }
}

/// How a connection ended, from the driver's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuxEnd {
    /// The peer closed the connection.
    ClosedByPeer,
    /// This side closed it (`close()`, or every handle dropped).
    ClosedLocally,
}

/// The future that runs a multiplexed connection. Spawn it; it completes when the
/// connection ends, and every wait inside it is bounded by the peer's activity or by
/// [`MuxConfig::close_timeout`].
pub struct MuxDriver {
    future: Pin<Box<dyn Future<Output = Result<MuxEnd, MuxError>> + Send>>,
}

impl std::fmt::Debug for MuxDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MuxDriver")
    }
}

impl Future for MuxDriver {
    type Output = Result<MuxEnd, MuxError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}

impl MuxDriver {
    /// The shared state, the driver over `io`, and the closer both sides hand out.
    fn start<T>(io: T, config: MuxConfig, role: Role) -> (Arc<Shared>, MuxDriver, MuxCloser)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let shared = Arc::new(Shared::new(role, config.limits()));
        let closer = MuxCloser::new();
        let driver = Driver::new(
            io,
            shared.clone(),
            closer.close.clone(),
            closer.violated.clone(),
            closer.ended.clone(),
        );
        let driver = MuxDriver {
            future: Box::pin(driver.run(config.close_timeout)),
        };
        (shared, driver, closer)
    }
}
