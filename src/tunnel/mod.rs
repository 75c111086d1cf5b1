//! The tunnel inside the TLS session: what travels over it and how.
//!
//! - [`protocol`]: length-prefixed JSON frames, the login exchange and the per-stream `open`
//!   (pure encoding and decoding, plus thin async read/write helpers);
//! - [`mux`]: many TCP connections as yamux streams over one TLS session;
//! - [`pump`]: copying both ways with backpressure, half-close, idle timeout and byte counts;
//! - [`forward`]: the client's local listener that turns each RDP connection into a stream.
//!
//! Nothing here knows about TLS or cards: everything runs over any `AsyncRead + AsyncWrite`,
//! so tests use in-memory pipes. The wire format is specified in `docs/protocol.md`.

pub mod forward;
pub mod mux;
pub mod protocol;
pub mod pump;
