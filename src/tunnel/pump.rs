//! Copies bytes both ways between two connections, the way a relay must: bounded buffers
//! (backpressure: nothing is read until the last read was written), half-close (when one side
//! stops sending, the other side's write half is shut and the other direction keeps going),
//! an idle timeout, and byte counters for each direction.
//!
//! Used by the gateway's relay (stream ↔ office PC) and the client's forwarder (local RDP
//! connection ↔ stream).

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep_until, Instant};

/// Default buffer per direction: large enough for bulk transfer, small enough that thousands
/// of streams fit in memory.
pub const DEFAULT_BUFFER_LEN: usize = 32 * 1024;

/// How a pump ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpEnd {
    /// Both sides finished sending and every byte was delivered.
    Finished,
    /// No byte moved either way for the idle timeout.
    IdleTimeout,
    /// A side failed (reset, broken pipe); the connections are dropped.
    Error(io::ErrorKind),
}

/// What a pump did: how it ended and the bytes delivered each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PumpReport {
    /// How it ended.
    pub end: PumpEnd,
    /// Bytes read from `a` and written to `b`.
    pub a_to_b: u64,
    /// Bytes read from `b` and written to `a`.
    pub b_to_a: u64,
}

/// Live counters a pump adds to as it writes, so totals stay right even if the task running
/// the pump is cancelled. Shared (e.g. by all streams of a session) through a reference.
#[derive(Debug, Default)]
pub struct ByteCounters {
    /// Bytes written to `b` (read from `a`).
    pub a_to_b: AtomicU64,
    /// Bytes written to `a` (read from `b`).
    pub b_to_a: AtomicU64,
}

/// Settings for one pump.
#[derive(Debug, Clone, Copy)]
pub struct PumpOptions {
    /// Buffer size per direction (at least 1 byte is used).
    pub buffer_len: usize,
    /// Close both sides when nothing moves for this long; `None` waits forever.
    pub idle_timeout: Option<Duration>,
}

impl Default for PumpOptions {
    fn default() -> Self {
        PumpOptions {
            buffer_len: DEFAULT_BUFFER_LEN,
            idle_timeout: None,
        }
    }
}

/// One direction: read into the buffer only when it is empty, write it all out, repeat;
/// at end of input, flush and shut down the writer.
struct Half {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    done: bool,
    written: u64,
}

impl Half {
    fn new(len: usize) -> Self {
        Half {
            buf: vec![0; len.max(1)].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            done: false,
            written: 0,
        }
    }

    fn poll_pump<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        reader: &mut R,
        writer: &mut W,
        counter: Option<&AtomicU64>,
        moved: &mut bool,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + Unpin + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        loop {
            if self.done {
                return Poll::Ready(Ok(()));
            }
            if self.start < self.end {
                let n =
                    ready!(Pin::new(&mut *writer).poll_write(cx, &self.buf[self.start..self.end]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.start += n;
                self.written += n as u64;
                if let Some(c) = counter {
                    c.fetch_add(n as u64, Ordering::Relaxed);
                }
                *moved = true;
                if self.start == self.end {
                    self.start = 0;
                    self.end = 0;
                }
                continue;
            }
            if !self.eof {
                let mut rb = ReadBuf::new(&mut self.buf);
                match Pin::new(&mut *reader).poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        if n == 0 {
                            self.eof = true;
                        } else {
                            self.end = n;
                            *moved = true;
                        }
                        continue;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        // Nothing to read now: push out what the writer holds before waiting.
                        ready!(Pin::new(&mut *writer).poll_flush(cx))?;
                        return Poll::Pending;
                    }
                }
            }
            ready!(Pin::new(&mut *writer).poll_shutdown(cx))?;
            self.done = true;
        }
    }
}

/// Copies `a` → `b` and `b` → `a` until both directions are finished, one side fails, or
/// nothing moves for the idle timeout.
///
/// Half-close: when `a` reaches end of input, `b`'s write half is shut down and `b` → `a`
/// keeps going (and the other way round). Memory is bounded by two buffers of
/// `buffer_len`; a side that does not read simply stops the copy toward it.
pub async fn pump<A, B>(
    a: &mut A,
    b: &mut B,
    options: PumpOptions,
    counters: Option<&ByteCounters>,
) -> PumpReport
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let mut ab = Half::new(options.buffer_len);
    let mut ba = Half::new(options.buffer_len);
    let mut idle = options
        .idle_timeout
        .map(|t| (t, Box::pin(sleep_until(Instant::now() + t))));

    let end = poll_fn(|cx| {
        let mut moved = false;
        let r1 = ab.poll_pump(cx, a, b, counters.map(|c| &c.a_to_b), &mut moved);
        if let Poll::Ready(Err(e)) = r1 {
            return Poll::Ready(PumpEnd::Error(e.kind()));
        }
        let r2 = ba.poll_pump(cx, b, a, counters.map(|c| &c.b_to_a), &mut moved);
        if let Poll::Ready(Err(e)) = r2 {
            return Poll::Ready(PumpEnd::Error(e.kind()));
        }
        if ab.done && ba.done {
            return Poll::Ready(PumpEnd::Finished);
        }
        if let Some((timeout, sleep)) = idle.as_mut() {
            if moved {
                sleep.as_mut().reset(Instant::now() + *timeout);
            }
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(PumpEnd::IdleTimeout);
            }
        }
        Poll::Pending
    })
    .await;

    PumpReport {
        end,
        a_to_b: ab.written,
        b_to_a: ba.written,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn copies_both_ways_and_half_closes() {
        let (mut a_outer, mut a) = tokio::io::duplex(64);
        let (mut b, mut b_outer) = tokio::io::duplex(64);
        let counters = ByteCounters::default();
        let task = async {
            let opts = PumpOptions {
                buffer_len: 7,
                idle_timeout: None,
            };
            pump(&mut a, &mut b, opts, Some(&counters)).await
        };
        let drive = async {
            let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
            let send = async {
                a_outer.write_all(&data).await.unwrap();
                a_outer.shutdown().await.unwrap();
            };
            let receive = async {
                let mut got = Vec::new();
                b_outer.read_to_end(&mut got).await.unwrap();
                got
            };
            let ((), got) = tokio::join!(send, receive);
            assert_eq!(got, data);
            // a's side has stopped sending; b can still answer.
            b_outer.write_all(b"answer").await.unwrap();
            b_outer.shutdown().await.unwrap();
            let mut back = Vec::new();
            a_outer.read_to_end(&mut back).await.unwrap();
            assert_eq!(back, b"answer");
        };
        let (report, ()) = tokio::join!(task, drive);
        assert_eq!(report.end, PumpEnd::Finished);
        assert_eq!(report.a_to_b, 5000);
        assert_eq!(report.b_to_a, 6);
        assert_eq!(counters.a_to_b.load(Ordering::Relaxed), 5000);
        assert_eq!(counters.b_to_a.load(Ordering::Relaxed), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_timeout_ends_a_silent_pump() {
        let (_a_outer, mut a) = tokio::io::duplex(64);
        let (mut b, _b_outer) = tokio::io::duplex(64);
        let opts = PumpOptions {
            buffer_len: 64,
            idle_timeout: Some(Duration::from_secs(30)),
        };
        let started = Instant::now();
        let report = pump(&mut a, &mut b, opts, None).await;
        assert_eq!(report.end, PumpEnd::IdleTimeout);
        assert!(started.elapsed() >= Duration::from_secs(30));
    }
}
