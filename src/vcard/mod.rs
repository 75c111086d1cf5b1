//! The virtual PIV card and its TEST PKI: a faithful card emulator for tests and the demo,
//! reachable in-process or through the real PC/SC stack (pcscd + vsmartcard's vpcd).
//!
//! - [`piv`]: the card application itself, pure (bytes in, bytes out);
//! - [`beid`]: a TEST Buypass card (`run --profile buypass`), pure as well;
//! - [`keys`]: certificates and private keys per slot, and the card's key operations;
//! - [`vpcd`]: the socket loop that puts the card in vpcd's virtual reader;
//! - [`control`]: pulling the card out and putting it back while it runs;
//! - [`pki`]: the TEST PKI the card's certificates come from;
//! - [`office_pc`]: a stand-in office PC (greets, then echoes) for the demo and tests.
//!
//! These are development and test tools: the card's PIN may come from a command line, and its
//! keys are files. They are never installed on users' machines.

pub mod beid;
pub mod control;
pub mod keys;
pub mod office_pc;
pub mod piv;
pub mod pki;
pub mod vpcd;

pub use beid::VirtualBeid;
pub use keys::{KeyAlgorithm, KeyError, SlotKey};
pub use piv::{PivConfig, Slot, VirtualPiv};
