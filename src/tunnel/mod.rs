//! The tunnel between client and gateway.
//!
//! - [`tls`]: the TLS layer on both ends (the card signs the client's handshake; the gateway
//!   checks the chain, the CRLs and the certificate rules).

pub mod tls;
