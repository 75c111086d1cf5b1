//! Many TCP connections share one TLS session as multiplexed streams (yamux).
//!
//! The rest of the code sees a small API: the client calls [`MuxClient::open_stream`] (from
//! any number of tasks at once), the gateway calls [`MuxServer::next_stream`], and both get
//! [`Stream`]s that are tokio `AsyncRead + AsyncWrite`. A yamux connection must be polled by
//! one owner, so [`MuxClient::new`] and [`MuxServer::new`] also return a [`MuxDriver`]: a
//! future the caller spawns, which owns the connection, serves open requests and delivers
//! inbound streams. When it ends, the session is over and every stream reads end-of-stream.
//!
//! Each stream has its own flow-control window and its own receive buffer, so a stream whose
//! reader is slow (an office PC that does not read) stops only its own sender; the connection
//! keeps reading frames for every other stream.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, oneshot};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};
use tokio_util::sync::{CancellationToken, DropGuard, WaitForCancellationFutureOwned};

/// yamux's initial per-stream window (its specification's default), used to size the
/// connection-wide receive bound.
const STREAM_WINDOW: usize = 256 * 1024;

/// Settings for one multiplexed connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuxConfig {
    /// Most streams open at once on this connection (yamux's own limit). A peer that opens
    /// more has its connection ended, so the gateway sets this above the number of streams
    /// it grants, to be able to refuse the extra ones politely.
    pub max_streams: usize,
    /// Receive memory per stream, in bytes (at least yamux's 256 KiB). The connection's
    /// total receive buffer is bounded by this times `max_streams`: every stream is always
    /// granted 256 KiB, and a fast stream may grow its window into the unused rest. This is
    /// what bounds the memory a peer can make us hold for readers that are slow.
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
    fn yamux(&self) -> yamux::Config {
        let streams = self.max_streams.max(1);
        let window = self.receive_window_per_stream.max(STREAM_WINDOW);
        let mut cfg = yamux::Config::default();
        // Order matters: yamux checks `window >= 256 KiB * streams` in both setters, so
        // lower the stream count first (the default window is large), then set the window.
        cfg.set_max_num_streams(streams.min(512));
        cfg.set_max_connection_receive_window(Some(streams.saturating_mul(window)));
        cfg.set_max_num_streams(streams);
        cfg
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
    /// The connection broke or the peer broke the yamux protocol.
    #[error("tunnel connection failed: {0}")]
    Connection(String),
}

impl From<yamux::ConnectionError> for MuxError {
    fn from(e: yamux::ConnectionError) -> Self {
        match e {
            yamux::ConnectionError::Closed => MuxError::Closed,
            yamux::ConnectionError::TooManyStreams => MuxError::TooManyStreams,
            other => MuxError::Connection(other.to_string()),
        }
    }
}

/// One multiplexed stream: tokio `AsyncRead + AsyncWrite`.
///
/// `shutdown()` is a half-close (the peer reads end-of-stream and may still send);
/// dropping the stream without it resets the stream.
#[derive(Debug)]
pub struct Stream {
    inner: Compat<yamux::Stream>,
    id: u32,
}

impl Stream {
    fn new(s: yamux::Stream) -> Self {
        let id = s.id().val();
        Stream {
            inner: s.compat(),
            id,
        }
    }

    /// The stream's number within its connection, for logs.
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

type OpenRequest = oneshot::Sender<Result<Stream, MuxError>>;

/// Closes a connection from anywhere (card pulled, session revoked). Cheap to clone; holding
/// one does not keep the connection open.
#[derive(Debug, Clone)]
pub struct MuxCloser {
    close: CancellationToken,
    ended: CancellationToken,
}

impl MuxCloser {
    fn new() -> Self {
        MuxCloser {
            close: CancellationToken::new(),
            ended: CancellationToken::new(),
        }
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
    commands: mpsc::Sender<OpenRequest>,
    closer: MuxCloser,
}

impl MuxClient {
    /// Starts the client side over `io` (the TLS stream, after the login exchange).
    ///
    /// Spawn the returned driver (`tokio::spawn(driver)`); nothing moves until it runs.
    pub fn new<T>(io: T, config: MuxConfig) -> (MuxClient, MuxDriver)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (commands, rx) = mpsc::channel(config.max_streams.max(1));
        let closer = MuxCloser::new();
        let driver = MuxDriver::start(io, config, yamux::Mode::Client, Some(rx), None, &closer);
        (MuxClient { commands, closer }, driver)
    }

    /// Opens a new stream. Many may be opened concurrently. Waits while the gateway has
    /// not yet acknowledged many earlier streams; wrap the call in a timeout.
    pub async fn open_stream(&self) -> Result<Stream, MuxError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(tx).await.map_err(|_| MuxError::Closed)?;
        rx.await.map_err(|_| MuxError::Closed)?
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

/// Gateway side of a multiplexed connection: receives the streams the client opens.
/// Dropping it closes the connection.
#[derive(Debug)]
pub struct MuxServer {
    inbound: mpsc::Receiver<Stream>,
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
        let (inbound_tx, inbound) = mpsc::channel(config.accept_backlog.max(1));
        let closer = MuxCloser::new();
        let driver = MuxDriver::start(
            io,
            config,
            yamux::Mode::Server,
            None,
            Some(inbound_tx),
            &closer,
        );
        let guard = closer.close.clone().drop_guard();
        (
            MuxServer {
                inbound,
                closer,
                _close_on_drop: guard,
            },
            driver,
        )
    }

    /// The next stream the client opened, or `None` once the connection is closed.
    pub async fn next_stream(&mut self) -> Option<Stream> {
        self.inbound.recv().await
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
    future: Pin<Box<dyn std::future::Future<Output = Result<MuxEnd, MuxError>> + Send>>,
}

impl std::fmt::Debug for MuxDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MuxDriver")
    }
}

impl std::future::Future for MuxDriver {
    type Output = Result<MuxEnd, MuxError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}

/// Steps the driver takes in one poll before yielding, so one busy connection cannot hog
/// a runtime thread.
const DRIVER_BUDGET: usize = 64;

struct Driver<T> {
    conn: yamux::Connection<Compat<T>>,
    /// Open requests (client side only).
    commands: Option<mpsc::Receiver<OpenRequest>>,
    pending_open: Option<OpenRequest>,
    /// Where inbound streams go (gateway side only).
    inbound: Option<mpsc::Sender<Stream>>,
    close: Pin<Box<WaitForCancellationFutureOwned>>,
    _ended: DropGuard,
}

enum Step {
    PeerClosed,
    LocalClose,
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Driver<T> {
    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<Result<Step, MuxError>> {
        if self.close.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ok(Step::LocalClose));
        }
        for _ in 0..DRIVER_BUDGET {
            let mut progressed = false;

            if let (None, Some(commands)) = (&self.pending_open, &mut self.commands) {
                match commands.poll_recv(cx) {
                    Poll::Ready(Some(tx)) => {
                        self.pending_open = Some(tx);
                        progressed = true;
                    }
                    // Every client handle is gone.
                    Poll::Ready(None) => return Poll::Ready(Ok(Step::LocalClose)),
                    Poll::Pending => {}
                }
            }

            if let Some(tx) = self.pending_open.take() {
                if tx.is_closed() {
                    // The caller gave up waiting.
                    progressed = true;
                } else {
                    match self.conn.poll_new_outbound(cx) {
                        Poll::Ready(Ok(s)) => {
                            // If the caller is gone, the stream is dropped and reset.
                            let _ = tx.send(Ok(Stream::new(s)));
                            progressed = true;
                        }
                        Poll::Ready(Err(e)) => {
                            let _ = tx.send(Err(e.into()));
                            progressed = true;
                        }
                        Poll::Pending => self.pending_open = Some(tx),
                    }
                }
            }

            match self.conn.poll_next_inbound(cx) {
                Poll::Ready(Some(Ok(s))) => {
                    progressed = true;
                    match &self.inbound {
                        Some(inbound) => {
                            if inbound.try_send(Stream::new(s)).is_err() {
                                tracing::warn!("inbound stream backlog full; stream reset");
                            }
                        }
                        None => tracing::debug!("peer opened a stream to the client; reset"),
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e.into())),
                Poll::Ready(None) => return Poll::Ready(Ok(Step::PeerClosed)),
                Poll::Pending => {}
            }

            if !progressed {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    async fn run(mut self, close_timeout: Duration) -> Result<MuxEnd, MuxError> {
        let step = poll_fn(|cx| self.poll_run(cx)).await;
        // From here on no new stream is handed out.
        self.inbound = None;
        if let Some(commands) = self.commands.as_mut() {
            commands.close();
        }
        if let Some(tx) = self.pending_open.take() {
            let _ = tx.send(Err(MuxError::Closed));
        }
        match step {
            Ok(Step::PeerClosed) => Ok(MuxEnd::ClosedByPeer),
            Ok(Step::LocalClose) => {
                let conn = &mut self.conn;
                match tokio::time::timeout(close_timeout, poll_fn(|cx| conn.poll_close(cx))).await {
                    Ok(Ok(())) | Err(_) => Ok(MuxEnd::ClosedLocally),
                    Ok(Err(e)) => Err(e.into()),
                }
            }
            Err(e) => Err(e),
        }
    }
}

impl MuxDriver {
    fn start<T>(
        io: T,
        config: MuxConfig,
        mode: yamux::Mode,
        commands: Option<mpsc::Receiver<OpenRequest>>,
        inbound: Option<mpsc::Sender<Stream>>,
        closer: &MuxCloser,
    ) -> MuxDriver
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let driver = Driver {
            conn: yamux::Connection::new(io.compat(), config.yamux(), mode),
            commands,
            pending_open: None,
            inbound,
            close: Box::pin(closer.close.clone().cancelled_owned()),
            _ended: closer.ended.clone().drop_guard(),
        };
        MuxDriver {
            future: Box::pin(driver.run(config.close_timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn yamux_config_never_trips_its_own_assertions() {
        for streams in [0, 1, 2, 64, 511, 512, 513, 4096] {
            for window in [0, 1, 256 * 1024, 1024 * 1024, 16 * 1024 * 1024] {
                let _ = MuxConfig {
                    max_streams: streams,
                    receive_window_per_stream: window,
                    ..MuxConfig::default()
                }
                .yamux();
            }
        }
    }

    #[tokio::test]
    async fn a_stream_carries_bytes_both_ways_and_closes() {
        let (c, s) = tokio::io::duplex(64 * 1024);
        let (client, cdrv) = MuxClient::new(c, MuxConfig::default());
        let (mut server, sdrv) = MuxServer::new(s, MuxConfig::default());
        let cdrv = tokio::spawn(cdrv);
        let sdrv = tokio::spawn(sdrv);

        let echo = tokio::spawn(async move {
            let mut st = server.next_stream().await.unwrap();
            let mut buf = Vec::new();
            st.read_to_end(&mut buf).await.unwrap();
            st.write_all(&buf).await.unwrap();
            st.shutdown().await.unwrap();
            // The client's close ends the connection.
            assert!(server.next_stream().await.is_none());
        });

        let mut st = client.open_stream().await.unwrap();
        st.write_all(b"hei").await.unwrap();
        st.shutdown().await.unwrap();
        let mut back = Vec::new();
        st.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"hei");
        drop(st);
        client.closer().close();
        assert_eq!(cdrv.await.unwrap().unwrap(), MuxEnd::ClosedLocally);
        echo.await.unwrap();
        assert_eq!(sdrv.await.unwrap().unwrap(), MuxEnd::ClosedByPeer);
        assert!(matches!(client.open_stream().await, Err(MuxError::Closed)));
    }

    #[tokio::test]
    async fn garbage_instead_of_yamux_ends_the_driver_with_an_error() {
        let (mut c, s) = tokio::io::duplex(1024);
        let (mut server, sdrv) = MuxServer::new(s, MuxConfig::default());
        let sdrv = tokio::spawn(sdrv);
        c.write_all(&[0xff; 64]).await.unwrap();
        assert!(server.next_stream().await.is_none());
        assert!(sdrv.await.unwrap().is_err());
    }
}
