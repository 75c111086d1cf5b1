//! The tunnel inside the TLS session: what travels over it and how.
//!
//! - [`tls`]: the TLS layer on both ends (the card signs the client's handshake; the gateway
//!   checks the chain, the CRLs and the certificate rules);
//! - [`protocol`]: length-prefixed JSON frames, the login exchange and the per-stream `open`
//!   (pure encoding and decoding, plus thin async read/write helpers);
//! - [`mux`]: many TCP connections as multiplexed streams (yamux's wire format) over one TLS session;
//! - [`pump`]: copying both ways with backpressure, half-close, idle timeout and byte counts;
//! - [`busy`]: the gateway's one-line "busy" answer before TLS, and how the client sees it;
//! - [`forward`]: the client's local listener that turns each RDP connection into a stream.
//!
//! Apart from `tls`, nothing here knows about TLS or cards: everything runs over any
//! `AsyncRead + AsyncWrite`, so tests use in-memory pipes. The wire format is specified in `docs/protocol.md`.

pub mod busy;
pub mod forward;
pub mod keepalive;
pub mod mux;
pub mod protocol;
pub mod pump;
pub mod read_ahead;
pub mod tls;
