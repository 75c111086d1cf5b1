//! The state of one multiplexed connection, shared by its streams and its driver under one
//! lock: the streams with their windows and received bytes, and the frames waiting to be
//! sent.
//!
//! This is where the data path is kept lean. A stream's write appends its frame straight to
//! the connection's outgoing buffer and returns; nothing is handed to another task per
//! frame and nothing is flushed per frame. The driver takes the whole buffer at once and
//! gives it to TLS in one write, so many frames (of many streams) fill full TLS records and
//! go out in one system call. The driver is woken only when the buffer goes from empty to
//! non-empty. Received bytes are copied once, from the driver's read buffer into the
//! stream's, and once more into the reader's buffer.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BytesMut};
use tokio::io::ReadBuf;

use super::frame::{GoAway, Header, FIN, INITIAL_WINDOW, RST, SYN};
use super::MuxError;

/// Frames waiting to be sent, beyond which writers wait for the driver: enough to fill many
/// TLS records per write, small enough to bound a connection's memory.
const OUT_HIGH: usize = 256 * 1024;

/// The largest data frame this side sends, so one stream's large write cannot hold the
/// other streams' frames back for long.
const MAX_DATA_FRAME: usize = 64 * 1024;

/// Which end of the connection this is; it decides which stream ids each side uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Opens odd stream ids.
    Client,
    /// Opens even stream ids.
    Server,
}

/// How the connection ended, as its streams see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The peer said goodbye or closed the connection: streams read end-of-stream.
    ByPeer,
    /// This side closed it, or it failed: a read that would wait fails.
    Here,
}

/// The bounds one connection keeps.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Receive window per stream, at least [`INITIAL_WINDOW`].
    pub window: u32,
    /// Streams open at once, both directions together.
    pub max_streams: usize,
    /// Inbound streams waiting to be taken.
    pub accept_backlog: usize,
}

/// One stream's state.
#[derive(Debug)]
pub(super) struct Slot {
    /// Received and not yet read.
    pub(super) recv: BytesMut,
    /// What the peer may still send before our next window update.
    pub(super) recv_credit: u32,
    /// Read here since our last window update.
    consumed: u32,
    /// What this side may still send.
    pub(super) send_credit: u32,
    pub(super) fin_received: bool,
    fin_sent: bool,
    pub(super) reset: bool,
    pub(super) reader: Option<Waker>,
    pub(super) writer: Option<Waker>,
    /// The writer waits for room in the outgoing buffer, not for credit.
    waiting_for_room: bool,
}

impl Slot {
    pub(super) fn new(send_credit: u32, recv_credit: u32) -> Slot {
        Slot {
            recv: BytesMut::new(),
            recv_credit,
            consumed: 0,
            send_credit,
            fin_received: false,
            fin_sent: false,
            reset: false,
            reader: None,
            writer: None,
            waiting_for_room: false,
        }
    }

    pub(super) fn wake_all(&mut self) {
        if let Some(w) = self.reader.take() {
            w.wake();
        }
        if let Some(w) = self.writer.take() {
            w.wake();
        }
    }
}

/// Everything one connection shares between its streams and its driver.
#[derive(Debug)]
pub(super) struct State {
    pub(super) role: Role,
    pub(super) limits: Limits,
    pub(super) streams: HashMap<u32, Slot>,
    next_outbound: u32,
    /// Encoded frames for the driver to send.
    pub(super) out: Vec<u8>,
    driver: Option<Waker>,
    /// Streams the peer opened, waiting to be taken.
    pub(super) inbound: VecDeque<u32>,
    inbound_waker: Option<Waker>,
    pub(super) ended: Option<Ended>,
}

/// The lock around [`State`].
#[derive(Debug)]
pub(super) struct Shared(Mutex<State>);

impl Shared {
    pub(super) fn new(role: Role, limits: Limits) -> Shared {
        Shared(Mutex::new(State {
            role,
            limits,
            streams: HashMap::new(),
            next_outbound: if role == Role::Client { 1 } else { 2 },
            out: Vec::new(),
            driver: None,
            inbound: VecDeque::new(),
            inbound_waker: None,
            ended: None,
        }))
    }

    /// The state; a panic elsewhere while it was held leaves it usable (every change to
    /// it is completed before anything that could panic).
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    /// Queues a frame without a body, waking the driver if it had nothing to send.
    pub(super) fn queue(&mut self, header: Header) {
        self.wake_driver_if_idle();
        header.encode_into(&mut self.out);
    }

    fn wake_driver_if_idle(&mut self) {
        if self.out.is_empty() {
            if let Some(w) = self.driver.take() {
                w.wake();
            }
        }
    }

    /// The driver's turn: registers it to be woken for new frames, and swaps the frames
    /// waiting with `spare` (emptied). Writers that waited for room may go on.
    pub(super) fn take_out(&mut self, waker: &Waker, spare: &mut Vec<u8>) {
        match &self.driver {
            Some(w) if w.will_wake(waker) => {}
            _ => self.driver = Some(waker.clone()),
        }
        spare.clear();
        std::mem::swap(&mut self.out, spare);
        if !spare.is_empty() {
            for slot in self.streams.values_mut() {
                if slot.waiting_for_room {
                    slot.waiting_for_room = false;
                    if let Some(w) = slot.writer.take() {
                        w.wake();
                    }
                }
            }
        }
    }

    /// Opens a stream of this side; its first frame (a window update with SYN) also grants
    /// the peer the whole receive window.
    pub(super) fn open(&mut self) -> Result<u32, MuxError> {
        if self.ended.is_some() {
            return Err(MuxError::Closed);
        }
        if self.streams.len() >= self.limits.max_streams {
            return Err(MuxError::TooManyStreams);
        }
        let id = self.next_outbound;
        self.next_outbound = id.checked_add(2).ok_or(MuxError::TooManyStreams)?;
        let window = self.limits.window;
        self.streams.insert(id, Slot::new(INITIAL_WINDOW, window));
        self.queue(Header::window_update(id, SYN, window - INITIAL_WINDOW));
        Ok(id)
    }

    /// A stream's write: one data frame of what the credit and the outgoing buffer allow.
    pub(super) fn poll_write(
        &mut self,
        id: u32,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.ended.is_some() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
        }
        let out_full = self.out.len() >= OUT_HIGH;
        let Some(slot) = self.streams.get_mut(&id) else {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        };
        if slot.reset {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        if slot.fin_sent {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if slot.send_credit == 0 || out_full {
            slot.waiting_for_room = out_full;
            slot.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(slot.send_credit as usize).min(MAX_DATA_FRAME);
        slot.send_credit -= n as u32;
        // n is at most MAX_DATA_FRAME, so it fits the header's u32.
        self.queue(Header::data(id, 0, n as u32));
        self.out.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    /// A stream's read: what has arrived, then end-of-stream or an error once nothing more
    /// can. Gives the peer credit back once a quarter of the window has been read.
    pub(super) fn poll_read(
        &mut self,
        id: u32,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let window = self.limits.window;
        let ended = self.ended;
        let Some(slot) = self.streams.get_mut(&id) else {
            return Poll::Ready(Ok(()));
        };
        if !slot.recv.is_empty() {
            let n = slot.recv.len().min(buf.remaining());
            buf.put_slice(&slot.recv[..n]);
            slot.recv.advance(n);
            if slot.recv.is_empty() && slot.recv.capacity() > MAX_DATA_FRAME {
                // A stream that goes quiet does not keep a large buffer.
                slot.recv = BytesMut::new();
            }
            slot.consumed += n as u32;
            let give_back = slot.consumed;
            if give_back >= window / 4 && !slot.fin_received && !slot.reset && ended.is_none() {
                slot.consumed = 0;
                slot.recv_credit += give_back;
                self.queue(Header::window_update(id, 0, give_back));
            }
            return Poll::Ready(Ok(()));
        }
        if slot.fin_received || slot.reset || ended == Some(Ended::ByPeer) {
            return Poll::Ready(Ok(()));
        }
        if ended.is_some() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
        }
        slot.reader = Some(cx.waker().clone());
        Poll::Pending
    }

    /// A stream's half-close: the peer reads end-of-stream and may still send.
    pub(super) fn shutdown(&mut self, id: u32) -> io::Result<()> {
        let ended = self.ended.is_some();
        let Some(slot) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        if slot.fin_sent || slot.reset {
            return Ok(());
        }
        if ended {
            return Err(io::ErrorKind::ConnectionAborted.into());
        }
        slot.fin_sent = true;
        self.queue(Header::window_update(id, FIN, 0));
        Ok(())
    }

    /// The stream's handle is gone: forget it, and reset it unless both sides finished.
    pub(super) fn release(&mut self, id: u32) {
        let Some(slot) = self.streams.remove(&id) else {
            return;
        };
        let finished = slot.fin_sent && slot.fin_received;
        if !finished && !slot.reset && self.ended.is_none() {
            self.queue(Header::window_update(id, RST, 0));
        }
    }

    /// The next stream the peer opened; `None` once the connection has ended.
    pub(super) fn poll_inbound(&mut self, cx: &mut Context<'_>) -> Poll<Option<u32>> {
        if let Some(id) = self.inbound.pop_front() {
            return Poll::Ready(Some(id));
        }
        if self.ended.is_some() {
            return Poll::Ready(None);
        }
        self.inbound_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    pub(super) fn wake_inbound(&mut self) {
        if let Some(w) = self.inbound_waker.take() {
            w.wake();
        }
    }

    /// The connection is over: no stream may write, readers get what arrived and then
    /// end-of-stream or an error, the inbound queue ends. `farewell` is the go-away to
    /// send, if the connection is still there to carry it.
    pub(super) fn end(&mut self, how: Ended, farewell: Option<GoAway>) {
        if self.ended.is_some() {
            return;
        }
        if let Some(code) = farewell {
            self.queue(Header::go_away(code));
        }
        self.ended = Some(how);
        for slot in self.streams.values_mut() {
            slot.wake_all();
        }
        self.wake_inbound();
    }
}
