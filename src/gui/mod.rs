//! The window (`hjemmekontor-gui`): the connection for people who are not terminal users,
//! drawn with egui over the same library as `hjemmekontor connect` (`client::flow`), so the
//! window and the command line take the same steps and say the same sentences.
//!
//! - [`model`]: the window's state as data, changed only by reports from the workers;
//! - [`view`]: drawing it, and turning presses into actions;
//! - [`app`]: the shell that ties the model, the card watch and the connection together;
//! - [`card_watch`]: the card arriving and leaving, read without any PIN;
//! - [`connection`]: the flow on its own thread, with the window as its front end;
//! - [`secret_field`]: the PIN and password fields, which keep no copies;
//! - [`report`]: "Send til IT"; the first-run import is `cli::profile`'s, as on the command line.
//!
//! Why egui, and what the window shows: `docs/gui.md`.

pub mod app;
pub mod card_watch;
pub mod connection;
pub mod model;
pub mod report;
pub mod secret_field;
pub mod view;
pub mod window;

pub use app::{App, Setup};
