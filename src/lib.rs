//! hjemmekontor: home-office access to Helsenettet with a personal PKI smartcard.
//!
//! Layout follows the architecture (see `docs/architecture.md`):
//! - [`card`]: APDUs, transports (PC/SC, in-process, replay) and card drivers;
//! - [`cert`]: certificate facts, levels and the verdict for authentication (pure);
//! - [`doctor`]: the checks of `hjemmekontor doctor`, each a function of what was seen, and the
//!   support bundle;
//! - [`gateway`]: the gateway's configuration, access policy and login decisions;
//! - [`i18n`]: the client's messages in bokmål and English, from one catalogue;
//! - [`posture`]: the host posture report and the policy that judges it (pure);
//! - [`secret`]: PIN and password types that never print;
//! - [`tunnel`]: the tunnel between client and gateway: TLS with the key on the card, the wire
//!   protocol, stream multiplexing and the client's port forwarder;
//! - [`vcard`]: the virtual PIV card and the TEST PKI, for tests and the demo.
//!
//! Cargo features choose what is built (all by default): `client` (the PC/SC shell,
//! [`client`], the client's commands), `gateway` ([`gateway`]), `vcard` ([`vcard`]) and
//! `manuals` (manual pages and completions from both command lines, for the installers). The
//! pure cores are always there.

pub mod card;
pub mod cert;
pub mod cli;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "client")]
pub mod doctor;
#[cfg(feature = "gateway")]
pub mod gateway;
#[cfg(feature = "gui")]
pub mod gui;
pub mod i18n;
pub mod posture;
pub mod secret;
pub mod tunnel;
#[cfg(feature = "vcard")]
pub mod vcard;
