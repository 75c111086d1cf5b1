//! What the peer sends, applied to the connection's state: a decoder that takes the bytes
//! as they come (a frame may arrive in pieces, and a data body is handed to its stream
//! piece by piece, so no frame is ever held whole) and the rules a peer must keep. Pure:
//! bytes in, state changed and answers queued.

use super::frame::{Header, HeaderError, Kind, ACK, FIN, HEADER_LEN, INITIAL_WINDOW, RST, SYN};
use super::state::{Role, Slot, State};

/// Where the decoder is between two reads.
#[derive(Debug)]
pub(super) enum Decoder {
    /// Collecting a header.
    Header {
        bytes: [u8; HEADER_LEN],
        have: usize,
    },
    /// Inside a data body of `stream`; `fin` applies once it is all there.
    Body {
        stream: u32,
        remaining: u32,
        fin: bool,
    },
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::Header {
            bytes: [0; HEADER_LEN],
            have: 0,
        }
    }
}

/// A peer that broke the protocol; the text says how, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Violation(pub(super) String);

impl From<HeaderError> for Violation {
    fn from(e: HeaderError) -> Self {
        Violation(e.to_string())
    }
}

/// What the bytes said about the connection as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Heard {
    /// Go on reading.
    More,
    /// The peer said goodbye (go-away); the connection is over.
    GoAway,
}

impl State {
    /// Applies `bytes` from the peer. A violation leaves the state as it was at the
    /// offending frame; the caller ends the connection.
    pub(super) fn receive(
        &mut self,
        decoder: &mut Decoder,
        mut bytes: &[u8],
    ) -> Result<Heard, Violation> {
        while !bytes.is_empty() {
            match decoder {
                Decoder::Header {
                    bytes: header,
                    have,
                } => {
                    let n = (HEADER_LEN - *have).min(bytes.len());
                    header[*have..*have + n].copy_from_slice(&bytes[..n]);
                    *have += n;
                    bytes = &bytes[n..];
                    if *have < HEADER_LEN {
                        continue;
                    }
                    let header = Header::decode(header)?;
                    match self.on_header(header)? {
                        Some(next) => *decoder = next,
                        None => *decoder = Decoder::default(),
                    }
                    if header.kind == Kind::GoAway {
                        return Ok(Heard::GoAway);
                    }
                }
                Decoder::Body {
                    stream,
                    remaining,
                    fin,
                } => {
                    let n = (*remaining as usize).min(bytes.len());
                    self.deliver(*stream, &bytes[..n]);
                    bytes = &bytes[n..];
                    // n is at most `remaining`, a u32.
                    *remaining -= n as u32;
                    if *remaining == 0 {
                        if *fin {
                            self.finish(*stream);
                        }
                        *decoder = Decoder::default();
                    }
                }
            }
        }
        Ok(Heard::More)
    }

    /// Applies one header; returns the body state when a data body follows.
    fn on_header(&mut self, h: Header) -> Result<Option<Decoder>, Violation> {
        match h.kind {
            Kind::Ping => {
                if h.has(SYN) {
                    self.queue(Header { flags: ACK, ..h });
                }
                return Ok(None);
            }
            Kind::GoAway => return Ok(None),
            Kind::Data | Kind::WindowUpdate => {}
        }
        if h.stream == 0 {
            return Err(Violation(format!("a {:?} frame for stream 0", h.kind)));
        }
        if h.has(RST) {
            if let Some(slot) = self.streams.get_mut(&h.stream) {
                slot.reset = true;
                slot.wake_all();
            }
            return Ok(self.skip_body(h));
        }
        if h.has(SYN) {
            self.open_inbound(h)?;
        }
        let Some(slot) = self.streams.get_mut(&h.stream) else {
            // A stream this side has already let go of: what was in flight is dropped.
            return Ok(self.skip_body(h));
        };
        if h.kind == Kind::WindowUpdate {
            slot.send_credit = slot
                .send_credit
                .checked_add(h.length)
                .ok_or_else(|| Violation(format!("credit overflow on stream {}", h.stream)))?;
            if let Some(w) = slot.writer.take() {
                w.wake();
            }
            if h.has(FIN) {
                self.finish(h.stream);
            }
            return Ok(None);
        }
        if h.length > slot.recv_credit {
            return Err(Violation(format!(
                "{} bytes on stream {} beyond its window of {}",
                h.length, h.stream, slot.recv_credit
            )));
        }
        slot.recv_credit -= h.length;
        if h.length == 0 {
            if h.has(FIN) {
                self.finish(h.stream);
            }
            return Ok(None);
        }
        Ok(Some(Decoder::Body {
            stream: h.stream,
            remaining: h.length,
            fin: h.has(FIN),
        }))
    }

    /// A body nobody will read: decoded past, its bytes dropped.
    fn skip_body(&self, h: Header) -> Option<Decoder> {
        (h.body_len() > 0).then_some(Decoder::Body {
            stream: 0,
            remaining: h.body_len(),
            fin: false,
        })
    }

    /// A stream the peer opens: its id must be the peer's kind and new, and there must be
    /// room. It is acknowledged at once with the whole receive window. A full accept
    /// backlog resets it.
    fn open_inbound(&mut self, h: Header) -> Result<(), Violation> {
        let peer_ids_odd = self.role == Role::Server;
        if (h.stream % 2 == 1) != peer_ids_odd {
            return Err(Violation(format!(
                "stream id {} is not the peer's to open",
                h.stream
            )));
        }
        if self.streams.contains_key(&h.stream) {
            return Err(Violation(format!("stream {} opened twice", h.stream)));
        }
        if self.streams.len() >= self.limits.max_streams {
            return Err(Violation(format!(
                "more than {} streams open",
                self.limits.max_streams
            )));
        }
        let window = self.limits.window;
        // A window update with SYN adds its credit below, like any window update.
        self.streams
            .insert(h.stream, Slot::new(INITIAL_WINDOW, window));
        self.queue(Header::window_update(
            h.stream,
            ACK,
            window - INITIAL_WINDOW,
        ));
        if self.inbound.len() >= self.limits.accept_backlog || self.ended.is_some() {
            tracing::warn!("inbound stream backlog full; stream reset");
            self.streams.remove(&h.stream);
            self.queue(Header::window_update(h.stream, RST, 0));
            return Ok(());
        }
        self.inbound.push_back(h.stream);
        self.wake_inbound();
        Ok(())
    }

    /// Bytes of a stream's data body.
    fn deliver(&mut self, stream: u32, bytes: &[u8]) {
        if let Some(slot) = self.streams.get_mut(&stream) {
            slot.recv.extend_from_slice(bytes);
            if let Some(w) = slot.reader.take() {
                w.wake();
            }
        }
    }

    /// The peer finished sending on `stream`.
    fn finish(&mut self, stream: u32) {
        if let Some(slot) = self.streams.get_mut(&stream) {
            slot.fin_received = true;
            if let Some(w) = slot.reader.take() {
                w.wake();
            }
        }
    }
}
