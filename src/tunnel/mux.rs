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
//!
//! A peer that breaks the yamux protocol ends the connection: a frame that cannot be decoded,
//! and also a frame yamux answers with a GoAway carrying an error code (yamux itself would go
//! on reading from such a peer). The driver then ends with [`MuxError::Protocol`], and
//! [`MuxCloser::peer_broke_protocol`] says so to whoever holds a closer.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
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
    /// The connection broke (an I/O error, a peer gone in the middle of a frame).
    #[error("tunnel connection failed: {0}")]
    Connection(String),
    /// The peer broke the yamux protocol: a frame that is not yamux, too large, or one yamux
    /// refuses (a stream id it may not use, more streams than allowed, a window overflow).
    #[error("the peer broke the multiplexing protocol: {0}")]
    Protocol(String),
}

impl From<yamux::ConnectionError> for MuxError {
    fn from(e: yamux::ConnectionError) -> Self {
        use yamux::{ConnectionError as E, FrameDecodeError as D};
        match e {
            E::Closed => MuxError::Closed,
            E::TooManyStreams => MuxError::TooManyStreams,
            E::Decode(D::Header(_) | D::FrameTooLarge(_)) | E::InvalidWindowUpdate => {
                MuxError::Protocol(e.to_string())
            }
            other => MuxError::Connection(other.to_string()),
        }
    }
}

/// yamux frame types (the second header byte), as its specification numbers them.
const TYPE_DATA: u8 = 0;
const TYPE_GO_AWAY: u8 = 3;
/// Bytes of a yamux frame header: version, type, flags (2), stream id (4), length (4).
const HEADER_LEN: usize = 12;

/// Follows the yamux frames one side writes, to notice a GoAway with an error code: yamux sends
/// one when the peer breaks the protocol, but does not end the connection by itself. Pure:
/// bytes in, a yes or no out.
#[derive(Debug, Default)]
struct SentFrames {
    header: [u8; HEADER_LEN],
    filled: usize,
    /// Body bytes of the current data frame still to come.
    body_left: u64,
}

impl SentFrames {
    /// Takes the next bytes written; true if they finish a GoAway whose code is not 0
    /// ("normal termination").
    fn error_go_away_in(&mut self, mut bytes: &[u8]) -> bool {
        let mut seen = false;
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = bytes
                    .len()
                    .min(usize::try_from(self.body_left).unwrap_or(usize::MAX));
                bytes = &bytes[n..];
                self.body_left -= n as u64;
                continue;
            }
            let n = bytes.len().min(HEADER_LEN - self.filled);
            self.header[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
            self.filled += n;
            bytes = &bytes[n..];
            if self.filled == HEADER_LEN {
                self.filled = 0;
                let mut length = [0u8; 4];
                length.copy_from_slice(&self.header[8..]);
                let length = u32::from_be_bytes(length);
                match self.header[1] {
                    TYPE_DATA => self.body_left = u64::from(length),
                    TYPE_GO_AWAY if length != 0 => seen = true,
                    _ => {}
                }
            }
        }
        seen
    }
}

/// The connection's I/O as yamux sees it, with [`SentFrames`] on the write side: an error
/// GoAway going out cancels `violation`.
///
/// Its shutdown is a graceful close: after our end goes out, it reads (and drops) what the
/// peer still sends until the peer closes too. A socket closed with unread data is reset by
/// the kernel, which throws away what it had not sent yet: the last frames (a client's `end`,
/// the gateway's `ending` notice) would be lost. The driver bounds this by `close_timeout`.
struct Watched<T> {
    io: T,
    sent: SentFrames,
    violation: CancellationToken,
    shut: bool,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let n = std::task::ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
        if this.sent.error_go_away_in(&buf[..n.min(buf.len())]) {
            this.violation.cancel();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.shut {
            std::task::ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            this.shut = true;
        }
        let mut scratch = [0u8; 1024];
        loop {
            let mut rb = ReadBuf::new(&mut scratch);
            match std::task::ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb)) {
                Ok(()) if !rb.filled().is_empty() => continue,
                // The peer's end, or its reset: either way nothing is left to lose.
                Ok(()) | Err(_) => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// One multiplexed stream: tokio `AsyncRead + AsyncWrite`.
///
/// `shutdown()` is a half-close (the peer reads end-of-stream and may still send);
/// dropping the stream without it resets the stream. Once the connection is gone, a read
/// that would wait fails (yamux leaves the streams of a connection this side closed waiting
/// for ever).
#[derive(Debug)]
pub struct Stream {
    inner: Compat<yamux::Stream>,
    id: u32,
    connection_gone: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Stream {
    fn new(s: yamux::Stream, ended: &CancellationToken) -> Self {
        let id = s.id().val();
        Stream {
            inner: s.compat(),
            id,
            connection_gone: Box::pin(ended.clone().cancelled_owned()),
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
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Pending if self.connection_gone.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()))
            }
            other => other,
        }
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

/// Asks the driver for a new outbound stream.
async fn open_via(commands: &mpsc::Sender<OpenRequest>) -> Result<Stream, MuxError> {
    let (tx, rx) = oneshot::channel();
    commands.send(tx).await.map_err(|_| MuxError::Closed)?;
    rx.await.map_err(|_| MuxError::Closed)?
}

/// The streams the peer opens, in the order it opened them.
#[derive(Debug)]
pub struct Inbound {
    streams: mpsc::Receiver<Stream>,
}

impl Inbound {
    /// The next stream the peer opened, or `None` once the connection is closed (streams
    /// already delivered come first).
    pub async fn next_stream(&mut self) -> Option<Stream> {
        self.streams.recv().await
    }
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

    /// True once the driver has ended because the peer broke the yamux protocol. Set before
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
    commands: mpsc::Sender<OpenRequest>,
    closer: MuxCloser,
    inbound: Arc<Mutex<Option<Inbound>>>,
}

impl MuxClient {
    /// Starts the client side over `io` (the TLS stream, after the login exchange).
    ///
    /// Spawn the returned driver (`tokio::spawn(driver)`); nothing moves until it runs.
    pub fn new<T>(io: T, config: MuxConfig) -> (MuxClient, MuxDriver)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (commands, driver, closer, inbound) = MuxDriver::start(io, config, yamux::Mode::Client);
        let inbound = Arc::new(Mutex::new(Some(inbound)));
        (
            MuxClient {
                commands,
                closer,
                inbound,
            },
            driver,
        )
    }

    /// Opens a new stream. Many may be opened concurrently. Waits while the gateway has
    /// not yet acknowledged many earlier streams; wrap the call in a timeout.
    pub async fn open_stream(&self) -> Result<Stream, MuxError> {
        open_via(&self.commands).await
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
    commands: mpsc::Sender<OpenRequest>,
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
        let (commands, driver, closer, inbound) = MuxDriver::start(io, config, yamux::Mode::Server);
        let guard = closer.close.clone().drop_guard();
        (
            MuxServer {
                inbound,
                commands,
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

    /// Opens a stream toward the client (only for the `ending` notice). Wrap the call in a
    /// timeout.
    pub async fn open_stream(&self) -> Result<Stream, MuxError> {
        open_via(&self.commands).await
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
    conn: yamux::Connection<Compat<Watched<T>>>,
    /// Open requests.
    commands: Option<mpsc::Receiver<OpenRequest>>,
    pending_open: Option<OpenRequest>,
    /// Where inbound streams go; `None` once the driver has stopped handing them out.
    inbound: Option<mpsc::Sender<Stream>>,
    close: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Cancelled by [`Watched`] when this side sent an error GoAway.
    violation: Pin<Box<WaitForCancellationFutureOwned>>,
    /// The closer's flag for [`MuxCloser::peer_broke_protocol`].
    violated: CancellationToken,
    /// Cancelled when the driver is gone (by `_ended`); every stream watches it.
    ended: CancellationToken,
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
            if self.violation.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(MuxError::Protocol(
                    "yamux answered a frame with an error GoAway".into(),
                )));
            }
            let mut progressed = false;

            if let (None, Some(commands)) = (&self.pending_open, &mut self.commands) {
                match commands.poll_recv(cx) {
                    Poll::Ready(Some(tx)) => {
                        self.pending_open = Some(tx);
                        progressed = true;
                    }
                    // Every handle that could open a stream is gone.
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
                            let _ = tx.send(Ok(Stream::new(s, &self.ended)));
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
                    if let Some(inbound) = &self.inbound {
                        if inbound.try_send(Stream::new(s, &self.ended)).is_err() {
                            tracing::warn!("inbound stream backlog full; stream reset");
                        }
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

    /// Closes the connection gracefully (what is queued goes out, then a GoAway), within
    /// `close_timeout`.
    async fn close(&mut self, close_timeout: Duration) -> Result<(), MuxError> {
        let conn = &mut self.conn;
        match tokio::time::timeout(close_timeout, poll_fn(|cx| conn.poll_close(cx))).await {
            Ok(Ok(())) | Err(_) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
        }
    }

    async fn run(mut self, close_timeout: Duration) -> Result<MuxEnd, MuxError> {
        let step = poll_fn(|cx| self.poll_run(cx)).await;
        if let Err(MuxError::Protocol(why)) = &step {
            tracing::info!("peer broke the multiplexing protocol ({why}); connection closed");
            self.violated.cancel();
        }
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
            Ok(Step::LocalClose) => self
                .close(close_timeout)
                .await
                .map(|()| MuxEnd::ClosedLocally),
            Err(e @ MuxError::Protocol(_)) => {
                // The error GoAway may still sit in a buffer: send it, then close.
                let _ = self.close(close_timeout).await;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }
}

impl MuxDriver {
    /// Builds the driver over `io`, with the channels both sides use: open requests in,
    /// inbound streams out, and the closer.
    fn start<T>(
        io: T,
        config: MuxConfig,
        mode: yamux::Mode,
    ) -> (mpsc::Sender<OpenRequest>, MuxDriver, MuxCloser, Inbound)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (commands, commands_rx) = mpsc::channel(config.max_streams.max(1));
        let (inbound_tx, inbound) = mpsc::channel(config.accept_backlog.max(1));
        let closer = MuxCloser::new();
        let violation = CancellationToken::new();
        let watched = Watched {
            io,
            sent: SentFrames::default(),
            violation: violation.clone(),
            shut: false,
        };
        let driver = Driver {
            conn: yamux::Connection::new(watched.compat(), config.yamux(), mode),
            commands: Some(commands_rx),
            pending_open: None,
            inbound: Some(inbound_tx),
            close: Box::pin(closer.close.clone().cancelled_owned()),
            violation: Box::pin(violation.cancelled_owned()),
            violated: closer.violated.clone(),
            ended: closer.ended.clone(),
            _ended: closer.ended.clone().drop_guard(),
        };
        let driver = MuxDriver {
            future: Box::pin(driver.run(config.close_timeout)),
        };
        (commands, driver, closer, Inbound { streams: inbound })
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

    /// A yamux frame header: version 0, then type, flags, stream id and length, big-endian.
    fn header(kind: u8, flags: u16, stream: u32, length: u32) -> Vec<u8> {
        let mut h = vec![0, kind];
        h.extend_from_slice(&flags.to_be_bytes());
        h.extend_from_slice(&stream.to_be_bytes());
        h.extend_from_slice(&length.to_be_bytes());
        h
    }

    #[test]
    fn only_a_go_away_with_an_error_code_is_noticed_wherever_the_writes_split() {
        let mut bytes = header(TYPE_DATA, 1, 1, 5);
        // A data body that looks like an error GoAway must not count.
        bytes.extend_from_slice(&[0, 3, 0, 0, 0]);
        bytes.extend(header(1, 0, 1, 3));
        bytes.extend(header(2, 0, 0, 7));
        bytes.extend(header(TYPE_GO_AWAY, 0, 0, 0));
        let clean = bytes.len();
        bytes.extend(header(TYPE_GO_AWAY, 0, 0, 1));
        for split in 1..=bytes.len() {
            let mut watch = SentFrames::default();
            let seen: Vec<bool> = bytes[..clean]
                .chunks(split)
                .map(|c| watch.error_go_away_in(c))
                .collect();
            assert!(!seen.contains(&true), "split {split}");
            let seen = bytes[clean..]
                .chunks(split)
                .any(|c| watch.error_go_away_in(c));
            assert!(seen, "split {split}");
        }
    }

    #[tokio::test]
    async fn a_peer_that_breaks_yamux_loses_the_connection() {
        // Garbage is a decode error; an even stream id from a client (only the gateway may
        // use them) is a frame yamux answers with an error GoAway and would go on reading.
        let cases = [
            ("garbage", vec![0xff; 64], false),
            (
                "a stream id the client may not use",
                header(TYPE_DATA, 1, 2, 0),
                true,
            ),
        ];
        for (case, bytes, go_away_expected) in cases {
            let (mut c, s) = tokio::io::duplex(1024);
            let (mut server, sdrv) = MuxServer::new(s, MuxConfig::default());
            let closer = server.closer();
            let sdrv = tokio::spawn(sdrv);
            c.write_all(&bytes).await.unwrap();
            let next = tokio::time::timeout(Duration::from_secs(10), server.next_stream())
                .await
                .unwrap_or_else(|_| panic!("{case}: the connection must end"));
            assert!(next.is_none(), "{case}");
            assert!(closer.peer_broke_protocol(), "{case}");
            // What the gateway sent, up to its end of the connection.
            let (mut from_server, to_server) = tokio::io::split(c);
            let mut sent = Vec::new();
            from_server.read_to_end(&mut sent).await.unwrap();
            let go_away = header(TYPE_GO_AWAY, 0, 0, 1);
            let sent_go_away = sent.windows(HEADER_LEN).any(|f| f == go_away);
            assert_eq!(sent_go_away, go_away_expected, "{case}: {sent:?}");
            drop((from_server, to_server));
            let end = sdrv.await.unwrap();
            assert!(matches!(end, Err(MuxError::Protocol(_))), "{case}: {end:?}");
        }
    }

    #[tokio::test]
    async fn streams_of_a_connection_closed_here_stop_waiting_for_data() {
        let (c, s) = tokio::io::duplex(64 * 1024);
        let (client, cdrv) = MuxClient::new(c, MuxConfig::default());
        let (mut server, sdrv) = MuxServer::new(s, MuxConfig::default());
        tokio::spawn(cdrv);
        let sdrv = tokio::spawn(sdrv);
        let mut st = client.open_stream().await.unwrap();
        st.write_all(b"hei").await.unwrap();
        let mut at_gateway = server.next_stream().await.unwrap();
        let mut buf = [0u8; 3];
        at_gateway.read_exact(&mut buf).await.unwrap();
        // A read already waiting when the connection is closed here: yamux never wakes it.
        let reader = tokio::spawn(async move { at_gateway.read(&mut buf).await });
        tokio::task::yield_now().await;
        server.closer().close();
        assert_eq!(sdrv.await.unwrap().unwrap(), MuxEnd::ClosedLocally);
        let read = tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .expect("a read on a closed connection must not wait for ever");
        assert!(read.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_peer_gone_is_not_a_protocol_error() {
        let (c, s) = tokio::io::duplex(1024);
        let (mut server, sdrv) = MuxServer::new(s, MuxConfig::default());
        let closer = server.closer();
        let sdrv = tokio::spawn(sdrv);
        drop(c);
        assert!(server.next_stream().await.is_none());
        assert!(!closer.peer_broke_protocol());
        assert!(!matches!(sdrv.await.unwrap(), Err(MuxError::Protocol(_))));
    }

    #[tokio::test]
    async fn the_gateway_can_open_a_stream_the_client_takes() {
        let (c, s) = tokio::io::duplex(64 * 1024);
        let (client, cdrv) = MuxClient::new(c, MuxConfig::default());
        let (server, sdrv) = MuxServer::new(s, MuxConfig::default());
        tokio::spawn(cdrv);
        tokio::spawn(sdrv);
        let mut inbound = client.take_inbound().unwrap();
        assert!(client.take_inbound().is_none());
        let mut st = server.open_stream().await.unwrap();
        st.write_all(b"farvel").await.unwrap();
        st.shutdown().await.unwrap();
        server.closer().close();
        let mut got = inbound.next_stream().await.unwrap();
        let mut text = Vec::new();
        got.read_to_end(&mut text).await.unwrap();
        assert_eq!(text, b"farvel");
        assert!(inbound.next_stream().await.is_none());
    }
}
