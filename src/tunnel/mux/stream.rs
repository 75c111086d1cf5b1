//! One multiplexed stream as tokio `AsyncRead + AsyncWrite`, over the connection's shared
//! state: a write queues a frame for the driver, a read takes what the driver delivered.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::state::Shared;

/// One multiplexed stream: tokio `AsyncRead + AsyncWrite`.
///
/// `shutdown()` is a half-close (the peer reads end-of-stream and may still send); dropping
/// the stream before both sides have finished resets it. Writes never wait for the peer,
/// only for the stream's credit and for room in the connection's outgoing buffer; `flush`
/// returns at once, since the connection sends whatever is queued without being asked.
/// Once the connection is gone, a read returns what had arrived, then end-of-stream if the
/// peer ended the connection, or an error if this side did or it failed.
pub struct Stream {
    id: u32,
    shared: Arc<Shared>,
}

impl Stream {
    pub(super) fn new(id: u32, shared: Arc<Shared>) -> Stream {
        Stream { id, shared }
    }

    /// The stream's number within its connection, for logs.
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").field("id", &self.id).finish()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.shared.lock().poll_read(self.id, cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.shared.lock().poll_write(self.id, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shared.lock().shutdown(self.id))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.shared.lock().release(self.id);
    }
}
