//! Reads a connection in large pieces for TLS. rustls asks its transport for at most 4 KiB
//! at a time, so a 16 KiB record costs four system calls; under this adapter one read takes
//! whatever the socket holds (up to [`READ_AHEAD`]) and TLS is served from memory. The buffer
//! exists only while there is something in it or the connection is busy: a quiet connection
//! (an idle session at the gateway) holds none. It is read into without being zeroed first:
//! zeroing 128 KiB on every wake-up cost more than the small message it was for. Writes pass
//! straight through.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::io::poll_read_buf;

/// Bytes asked of the socket per read.
pub const READ_AHEAD: usize = 128 * 1024;

/// A connection read in large pieces; see the module.
#[derive(Debug)]
pub struct ReadAhead<S> {
    inner: S,
    /// Read and not yet taken.
    buf: BytesMut,
}

impl<S> ReadAhead<S> {
    /// Wraps `inner`; nothing is read until asked.
    pub fn new(inner: S) -> Self {
        ReadAhead {
            inner,
            buf: BytesMut::new(),
        }
    }

    /// The connection underneath.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The connection underneath; bytes read ahead and not yet taken are dropped (only for
    /// turning a connection away).
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl ReadAhead<tokio::net::TcpStream> {
    /// Reads without waiting: what was read ahead first, then what the socket holds
    /// (`WouldBlock` if nothing). For the gateway's wipe of the TLS buffer after the login.
    pub fn try_read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.buf.is_empty() {
            let n = self.buf.len().min(out.len());
            out[..n].copy_from_slice(&self.buf[..n]);
            self.buf.advance(n);
            return Ok(n);
        }
        self.inner.try_read(out)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.buf.is_empty() {
            if out.remaining() >= READ_AHEAD {
                return Pin::new(&mut this.inner).poll_read(cx, out);
            }
            // Empty, so this reuses the allocation when there is one.
            this.buf.reserve(READ_AHEAD);
            match poll_read_buf(Pin::new(&mut this.inner), cx, &mut this.buf) {
                Poll::Pending => {
                    // Nothing to read: a quiet connection gives its buffer back.
                    this.buf = BytesMut::new();
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(_)) => {}
            }
        }
        let n = this.buf.len().min(out.remaining());
        out.put_slice(&this.buf[..n]);
        this.buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadAhead<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Counts the reads that reach the connection.
    struct Counted<S> {
        inner: S,
        reads: usize,
    }

    impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.reads += 1;
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    #[tokio::test]
    async fn small_reads_are_served_from_few_large_reads_in_order() {
        let (mut far, near) = tokio::io::duplex(1 << 20);
        let sent: Vec<u8> = (0..300_000u32).map(|n| (n % 251) as u8).collect();
        far.write_all(&sent).await.unwrap();
        drop(far);
        let mut ahead = ReadAhead::new(Counted {
            inner: near,
            reads: 0,
        });
        let mut got = Vec::new();
        let mut piece = [0u8; 4096];
        loop {
            let n = ahead.read(&mut piece).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&piece[..n]);
        }
        assert!(got == sent);
        // 74 reads of 4 KiB asked; three large ones and the end reached the connection.
        assert_eq!(ahead.inner.reads, sent.len().div_ceil(READ_AHEAD) + 1);
    }

    #[tokio::test]
    async fn a_quiet_connection_holds_no_buffer_and_writes_pass_through() {
        let (mut far, near) = tokio::io::duplex(1024);
        let mut ahead = ReadAhead::new(near);
        far.write_all(b"hei").await.unwrap();
        let mut piece = [0u8; 16];
        assert_eq!(ahead.read(&mut piece).await.unwrap(), 3);
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(20), ahead.read(&mut piece))
                .await;
        assert!(waiting.is_err(), "nothing was sent");
        assert_eq!(ahead.buf.capacity(), 0);
        ahead.write_all(b"svar").await.unwrap();
        let mut back = [0u8; 4];
        far.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"svar");
    }
}
