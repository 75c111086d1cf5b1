//! The task that owns the connection's byte stream (the TLS session): it reads in large
//! pieces and applies them to the shared state, and writes every frame waiting in one go,
//! flushing only when nothing more waits. Everything else happens in the streams' own
//! tasks.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::io::poll_read_buf;
use tokio_util::sync::{CancellationToken, DropGuard, WaitForCancellationFutureOwned};

use super::frame::GoAway;
use super::receive::{Decoder, Heard};
use super::state::{Ended, Shared};
use super::{MuxEnd, MuxError};

/// Bytes asked of the connection per read: many TLS records' worth.
const READ_LEN: usize = 64 * 1024;

/// Outgoing buffer capacity kept while the connection is quiet; more is given back.
const KEEP_WHEN_QUIET: usize = 64 * 1024;

/// Reads and writes the driver does in one poll before yielding, so one busy connection
/// cannot hog a runtime thread.
const DRIVER_BUDGET: usize = 64;

/// Why the driver's loop stopped without an error.
enum Step {
    PeerClosed,
    LocalClose,
}

pub(super) struct Driver<T> {
    io: T,
    shared: Arc<Shared>,
    decoder: Decoder,
    /// The read buffer; given back whenever the connection has nothing to read, so a quiet
    /// session holds none. Read into without zeroing: a wake-up for a small message must
    /// not cost a 64 KiB memset.
    read_buf: BytesMut,
    /// Frames being written, taken from the shared state in one piece.
    sending: Vec<u8>,
    sent: usize,
    unflushed: bool,
    close: Pin<Box<WaitForCancellationFutureOwned>>,
    /// The closer's flag for a peer that broke the protocol.
    violated: CancellationToken,
    /// Cancels the closer's `ended` when the driver is gone, however it goes.
    _ended: DropGuard,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Driver<T> {
    pub(super) fn new(
        io: T,
        shared: Arc<Shared>,
        close: CancellationToken,
        violated: CancellationToken,
        ended: CancellationToken,
    ) -> Self {
        Driver {
            io,
            shared,
            decoder: Decoder::default(),
            read_buf: BytesMut::new(),
            sending: Vec::new(),
            sent: 0,
            unflushed: false,
            close: Box::pin(close.cancelled_owned()),
            violated,
            _ended: ended.drop_guard(),
        }
    }

    /// Reads once: `Some(step)` when the connection is over, `None` after applying bytes.
    fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Step>, MuxError>> {
        // Empty between reads, so this reuses the allocation when there is one.
        self.read_buf.reserve(READ_LEN);
        match poll_read_buf(Pin::new(&mut self.io), cx, &mut self.read_buf) {
            Poll::Pending => {
                self.read_buf = BytesMut::new();
                Poll::Pending
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(MuxError::Connection(e.to_string()))),
            Poll::Ready(Ok(n)) => {
                if n == 0 {
                    return Poll::Ready(Ok(Some(Step::PeerClosed)));
                }
                let heard = self
                    .shared
                    .lock()
                    .receive(&mut self.decoder, &self.read_buf);
                self.read_buf.clear();
                Poll::Ready(match heard {
                    Ok(Heard::More) => Ok(None),
                    Ok(Heard::GoAway) => Ok(Some(Step::PeerClosed)),
                    Err(v) => Err(MuxError::Protocol(v.0)),
                })
            }
        }
    }

    /// Writes what waits: `true` if anything was written, `false` once nothing waits and
    /// all is flushed; pending while the connection takes no more.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let mut wrote = false;
        loop {
            if self.sent == self.sending.len() {
                self.sent = 0;
                self.shared.lock().take_out(cx.waker(), &mut self.sending);
                if self.sending.is_empty() {
                    if self.unflushed {
                        match Pin::new(&mut self.io).poll_flush(cx) {
                            Poll::Ready(Ok(())) => self.unflushed = false,
                            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                            Poll::Pending if wrote => return Poll::Ready(Ok(true)),
                            Poll::Pending => return Poll::Pending,
                        }
                    }
                    if self.sending.capacity() > KEEP_WHEN_QUIET {
                        self.sending = Vec::new();
                    }
                    return Poll::Ready(Ok(wrote));
                }
            }
            match Pin::new(&mut self.io).poll_write(cx, &self.sending[self.sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.sent += n;
                    self.unflushed = true;
                    wrote = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending if wrote => return Poll::Ready(Ok(true)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<Result<Step, MuxError>> {
        if self.close.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ok(Step::LocalClose));
        }
        for _ in 0..DRIVER_BUDGET {
            let mut progressed = false;
            match self.poll_receive(cx) {
                Poll::Ready(Ok(Some(step))) => return Poll::Ready(Ok(step)),
                Poll::Ready(Ok(None)) => progressed = true,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
            match self.poll_send(cx) {
                Poll::Ready(Ok(wrote)) => progressed |= wrote,
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Err(MuxError::Connection(e.to_string())))
                }
                Poll::Pending => {}
            }
            if !progressed {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Sends what is queued (the go-away last) and closes the connection, within `limit`.
    async fn say_goodbye(&mut self, limit: Duration) {
        let goodbye = poll_fn(|cx| {
            while std::task::ready!(self.poll_send(cx))? {}
            Pin::new(&mut self.io).poll_shutdown(cx)
        });
        let _ = tokio::time::timeout(limit, goodbye).await;
    }

    pub(super) async fn run(mut self, close_timeout: Duration) -> Result<MuxEnd, MuxError> {
        let step = poll_fn(|cx| self.poll_run(cx)).await;
        match step {
            Ok(Step::LocalClose) => {
                self.shared.lock().end(Ended::Here, Some(GoAway::Normal));
                self.say_goodbye(close_timeout).await;
                Ok(MuxEnd::ClosedLocally)
            }
            // The peer is gone or going: nothing is waited for.
            Ok(Step::PeerClosed) => {
                self.shared.lock().end(Ended::ByPeer, None);
                Ok(MuxEnd::ClosedByPeer)
            }
            Err(MuxError::Protocol(why)) => {
                tracing::info!("peer broke the multiplexing protocol ({why}); connection closed");
                // Set before the inbound queue ends, so whoever sees its end can read it.
                self.violated.cancel();
                self.shared
                    .lock()
                    .end(Ended::Here, Some(GoAway::ProtocolError));
                self.say_goodbye(close_timeout).await;
                Err(MuxError::Protocol(why))
            }
            Err(e) => {
                self.shared.lock().end(Ended::Here, None);
                Err(e)
            }
        }
    }
}

impl<T> Drop for Driver<T> {
    /// A driver dropped before its end (its task aborted) still ends the streams, so none
    /// waits for ever.
    fn drop(&mut self) {
        self.shared.lock().end(Ended::Here, None);
    }
}
