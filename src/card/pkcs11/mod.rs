//! The PKCS#11 backend: the card as a vendor's middleware shows it. This is how a Buypass
//! card is read today (Buypass Access / Net iD's `iidp11` module), and how OpenSC or SoftHSM
//! tokens are used.
//!
//! - [`modules`]: where modules live on each operating system, in the order tried;
//! - [`mechanism`]: the pure part — mechanisms for TLS, requests to mechanisms, ECDSA to DER,
//!   return values to errors;
//! - [`session`]: the shell over `cryptoki`: token, certificates, login, signing.
//!
//! The token decides how the PIN is entered (keyboard, or the reader's PIN pad when the token
//! has a protected authentication path). Tries left come from the token's flags (count low,
//! final try, locked): PKCS#11 has no exact count.

pub mod mechanism;
pub mod modules;
pub mod session;

pub use modules::{installed_here, known_modules, KnownModule, Vendor};
pub use session::{open, OpenError, Pkcs11Key, Pkcs11Options, Pkcs11Session};
