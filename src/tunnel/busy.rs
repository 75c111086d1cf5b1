//! The gateway's "busy" answer before TLS: when it cannot take another connection that has
//! not logged in, it writes one short line instead of a TLS record and closes. Its first byte
//! is not a TLS record type, so any TLS client stops at once; ours recognises the line and
//! tells the person to try again shortly, instead of blaming the card.
//!
//! Format: `HJEMMEKONTOR BUSY <seconds>\r\n`, the seconds being a suggested wait.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const PREFIX: &[u8] = b"HJEMMEKONTOR BUSY ";

/// Longest line a busy answer can be; also how much a [`FirstBytes`] keeps.
pub const MAX_GREETING_LEN: usize = 32;

/// The line the gateway writes, suggesting a wait of `retry_after_secs`.
pub fn greeting(retry_after_secs: u32) -> Vec<u8> {
    let mut line = PREFIX.to_vec();
    line.extend_from_slice(retry_after_secs.to_string().as_bytes());
    line.extend_from_slice(b"\r\n");
    line
}

/// The suggested wait, if `first_bytes` (what the gateway sent first) is a busy answer.
pub fn parse(first_bytes: &[u8]) -> Option<u32> {
    let rest = first_bytes.strip_prefix(PREFIX)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// A stream that remembers the first bytes read from it, so that after a failed TLS
/// handshake the client can see whether the gateway answered "busy".
#[derive(Debug)]
pub struct FirstBytes<S> {
    inner: S,
    seen: Vec<u8>,
}

impl<S> FirstBytes<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        FirstBytes {
            inner,
            seen: Vec::with_capacity(MAX_GREETING_LEN),
        }
    }

    /// The first bytes read (at most [`MAX_GREETING_LEN`]).
    pub fn seen(&self) -> &[u8] {
        &self.seen
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FirstBytes<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let room = MAX_GREETING_LEN - self.seen.len();
        if room > 0 {
            let new = &buf.filled()[before..];
            let take = new.len().min(room);
            let copy = new[..take].to_vec();
            self.seen.extend_from_slice(&copy);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FirstBytes<S> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_greeting_reads_back_and_is_not_tls() {
        let line = greeting(5);
        assert!(line.len() <= MAX_GREETING_LEN);
        assert_eq!(parse(&line), Some(5));
        assert_eq!(parse(&greeting(u32::MAX)), Some(u32::MAX));
        assert!(greeting(u32::MAX).len() <= MAX_GREETING_LEN);
        // TLS record types are 20..=24; a busy line can never be mistaken for one.
        assert!(!(20..=24).contains(&line[0]));
        assert_eq!(parse(b"\x16\x03\x03\x00\x10"), None);
        assert_eq!(parse(b"HJEMMEKONTOR BUSY 5"), None, "cut short");
        assert_eq!(parse(b"HJEMMEKONTOR BUSY x\r\n"), None);
    }

    #[tokio::test]
    async fn first_bytes_are_kept_and_passed_through() {
        let (mut gateway, client) = tokio::io::duplex(64);
        let mut client = FirstBytes::new(client);
        gateway.write_all(&greeting(3)).await.unwrap();
        gateway
            .write_all(b"and more that is not kept")
            .await
            .unwrap();
        drop(gateway);
        let mut all = Vec::new();
        client.read_to_end(&mut all).await.unwrap();
        assert!(all.starts_with(b"HJEMMEKONTOR BUSY 3\r\n"));
        assert_eq!(client.seen().len(), MAX_GREETING_LEN);
        assert_eq!(parse(client.seen()), Some(3));
    }
}
