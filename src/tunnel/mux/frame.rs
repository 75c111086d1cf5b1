//! The multiplexer's frame header on the wire: yamux's, so clients and gateways from before
//! this implementation speak with it unchanged (`docs/protocol.md` §4). Pure: bytes in,
//! values out.
//!
//! ```text
//! version u8 (0) │ type u8 │ flags u16 │ stream id u32 │ length u32   (big-endian)
//! ```
//!
//! `length` is the body's size for a data frame, the credit added for a window update, an
//! opaque value for a ping and the error code for a go-away. Only data frames have a body.

/// Bytes of a frame header.
pub const HEADER_LEN: usize = 12;

/// The window every stream starts with in both directions, before any window update (the
/// yamux specification's value, which every peer assumes).
pub const INITIAL_WINDOW: u32 = 256 * 1024;

/// The largest data body accepted in one frame (the bound yamux peers keep too). A frame
/// must also fit the stream's window, which is what bounds memory.
pub const MAX_BODY: u32 = 1024 * 1024;

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bytes of one stream.
    Data,
    /// More credit for a stream's sender (and the stream flags without data).
    WindowUpdate,
    /// A keepalive question (SYN) or answer (ACK); stream 0.
    Ping,
    /// The connection ends; stream 0; the length is a [`GoAway`] code.
    GoAway,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::Data,
            1 => Kind::WindowUpdate,
            2 => Kind::Ping,
            3 => Kind::GoAway,
            _ => return None,
        })
    }

    fn byte(self) -> u8 {
        match self {
            Kind::Data => 0,
            Kind::WindowUpdate => 1,
            Kind::Ping => 2,
            Kind::GoAway => 3,
        }
    }
}

/// Opens a stream (the first frame of a stream).
pub const SYN: u16 = 1;
/// Acknowledges a stream the peer opened (or answers a ping).
pub const ACK: u16 = 2;
/// The sender has finished writing on this stream (half-close).
pub const FIN: u16 = 4;
/// The stream is abandoned at once, both ways.
pub const RST: u16 = 8;

/// Why a connection ends, in a go-away frame's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoAway {
    /// An orderly end.
    Normal = 0,
    /// The peer broke the protocol. (Code 2, an internal error, is never sent here.)
    ProtocolError = 1,
}

/// One frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// What the frame is.
    pub kind: Kind,
    /// [`SYN`], [`ACK`], [`FIN`], [`RST`], or'ed.
    pub flags: u16,
    /// The stream; 0 for the connection itself.
    pub stream: u32,
    /// Body size, credit, ping value or go-away code, by kind.
    pub length: u32,
}

/// A header that is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The first byte is not version 0.
    #[error("frame version {0} is not 0")]
    Version(u8),
    /// The second byte names no frame type.
    #[error("unknown frame type {0}")]
    Kind(u8),
    /// A data body above [`MAX_BODY`].
    #[error("a data frame of {0} bytes is larger than allowed")]
    TooLarge(u32),
}

impl Header {
    /// A data frame's header.
    pub fn data(stream: u32, flags: u16, length: u32) -> Header {
        Header {
            kind: Kind::Data,
            flags,
            stream,
            length,
        }
    }

    /// A window update's header (also how a stream is opened, acknowledged, finished or
    /// reset without data).
    pub fn window_update(stream: u32, flags: u16, credit: u32) -> Header {
        Header {
            kind: Kind::WindowUpdate,
            flags,
            stream,
            length: credit,
        }
    }

    /// A go-away frame's header.
    pub fn go_away(code: GoAway) -> Header {
        Header {
            kind: Kind::GoAway,
            flags: 0,
            stream: 0,
            length: code as u32,
        }
    }

    /// Reads a header, refusing what no peer may send.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Header, HeaderError> {
        if bytes[0] != 0 {
            return Err(HeaderError::Version(bytes[0]));
        }
        let kind = Kind::from_byte(bytes[1]).ok_or(HeaderError::Kind(bytes[1]))?;
        let header = Header {
            kind,
            flags: u16::from_be_bytes([bytes[2], bytes[3]]),
            stream: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            length: u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
        };
        if header.kind == Kind::Data && header.length > MAX_BODY {
            return Err(HeaderError::TooLarge(header.length));
        }
        Ok(header)
    }

    /// Appends the header's 12 bytes.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(0);
        out.push(self.kind.byte());
        out.extend_from_slice(&self.flags.to_be_bytes());
        out.extend_from_slice(&self.stream.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
    }

    /// The body that follows this header on the wire.
    pub fn body_len(&self) -> u32 {
        if self.kind == Kind::Data {
            self.length
        } else {
            0
        }
    }

    /// True if every flag of `flag` is set.
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag == flag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(h: Header) -> [u8; HEADER_LEN] {
        let mut out = Vec::new();
        h.encode_into(&mut out);
        out.try_into().unwrap()
    }

    #[test]
    fn headers_round_trip_in_the_yamux_layout() {
        let h = Header::data(3, SYN | FIN, 0x0102_0304);
        let b = bytes(Header { length: 5, ..h });
        assert_eq!(b, [0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 5]);
        for h in [
            Header::data(7, ACK, 1000),
            Header::window_update(2, RST, 0),
            Header::go_away(GoAway::ProtocolError),
            Header {
                kind: Kind::Ping,
                flags: SYN,
                stream: 0,
                length: u32::MAX,
            },
        ] {
            assert_eq!(Header::decode(&bytes(h)), Ok(h));
        }
    }

    #[test]
    fn what_no_peer_may_send_is_refused() {
        let mut b = bytes(Header::data(1, 0, 1));
        b[0] = 1;
        assert_eq!(Header::decode(&b), Err(HeaderError::Version(1)));
        let mut b = bytes(Header::data(1, 0, 1));
        b[1] = 4;
        assert_eq!(Header::decode(&b), Err(HeaderError::Kind(4)));
        let b = bytes(Header::data(1, 0, MAX_BODY + 1));
        assert_eq!(Header::decode(&b), Err(HeaderError::TooLarge(MAX_BODY + 1)));
        // Only data frames carry a body: a large window update is credit, not a body.
        let h = Header::window_update(1, 0, u32::MAX);
        assert_eq!(Header::decode(&bytes(h)).unwrap().body_len(), 0);
    }
}
