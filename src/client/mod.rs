//! The client's own state and steps that are neither card nor tunnel: remembered settings.

pub mod card_status;
pub mod card_watch;
pub mod flow;
pub mod gateway_words;
pub mod launch;
pub mod posture;
pub mod profile;
pub mod session;
pub mod settings;
