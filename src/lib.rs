//! hjemmekontor: home-office access to Helsenettet with a personal PKI smartcard.
//!
//! Layout follows the architecture (see `docs/architecture.md`):
//! - [`card`]: APDUs, transports (PC/SC, in-process, replay) and card drivers;
//! - [`gateway`]: the gateway (for now its audit log);
//! - [`secret`]: PIN and password types that never print;
//! - `vcard`: the virtual PIV card and the TEST PKI, for tests and the demo.

pub mod card;
pub mod cli;
pub mod gateway;
pub mod secret;
