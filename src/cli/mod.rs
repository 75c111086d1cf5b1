//! Command-line shells: argument types, human and JSON output, and errors turned into
//! sentences with a fix. The binaries in `src/bin` only parse arguments and call in here.
//!
//! Human output is bokmål or English, from the message catalogue (`crate::i18n`); `--json`
//! keys and `kind` codes are English and stable, for scripts.

#[cfg(feature = "client")]
pub mod app;
#[cfg(feature = "client")]
pub mod card;
#[cfg(feature = "client")]
pub mod card_open;
pub mod card_words;
#[cfg(feature = "client")]
pub mod cert_inspect;
pub mod cert_words;
#[cfg(feature = "client")]
pub mod connect;
#[cfg(feature = "client")]
mod connect_words;
#[cfg(feature = "client")]
pub mod credential_words;
#[cfg(feature = "client")]
pub mod doctor;
pub mod failure;
pub mod logging;
#[cfg(feature = "manuals")]
pub mod manuals;
pub mod output;
#[cfg(feature = "client")]
pub mod posture;
pub mod posture_words;
#[cfg(feature = "client")]
pub mod profile;
#[cfg(any(feature = "client", feature = "gateway"))]
pub mod prompt;
#[cfg(feature = "client")]
pub mod readers;
#[cfg(feature = "client")]
pub mod readers_watch;

pub use failure::Failure;
