//! The smart-card layer: APDUs, transports, and card-application drivers.
//!
//! Cores (`apdu`, `tlv`, driver logic) are pure; `pcsc` is the thin shell to the real stack.

pub mod apdu;
pub mod beid;
pub mod choose;
pub mod credential;
pub mod emulated;
pub mod identify;
#[cfg(feature = "client")]
pub mod monitor;
pub mod padding;
#[cfg(feature = "client")]
pub mod pcsc;
pub mod piv;
pub mod piv_credential;
#[cfg(feature = "client")]
pub mod pkcs11;
pub mod replay;
pub mod tlv;
pub mod trace;
pub mod transport;
pub mod windows_store;

pub use apdu::{Command, Response, Status, StatusWord};
pub use transport::{exchange, CardTransport, ExchangeError, Transmit, TransportError};
