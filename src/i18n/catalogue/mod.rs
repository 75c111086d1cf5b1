//! The client's messages, in bokmål and English, by area. Each constant is one message; each
//! area's `ALL` lists its messages, and [`AREAS`] lists the areas, for the test that every
//! message is there in both languages with the same placeholders.
//!
//! The connection's messages and every failure's frame keep their first paths
//! (`catalogue::READING_CARD`, `catalogue::ERROR`); the other areas are named
//! (`catalogue::card::NO_READER`).

use super::Msg;

/// Declares messages: `NAME = "id" { nb: "…", en: "…" }`, and `ALL`.
macro_rules! catalogue {
    ($($name:ident = $id:literal { nb: $nb:literal, en: $en:literal })*) => {
        $(
            #[doc = $en]
            pub const $name: Msg = Msg { id: $id, nb: $nb, en: $en };
        )*
        /// Every message of this area.
        pub const ALL: &[Msg] = &[$($name),*];
    };
}

pub mod card;
pub mod cert;
pub mod common;
pub mod connect;
pub mod doctor;
pub mod gateway;
pub mod gui;
pub mod launch;
pub mod posture;
pub mod profile;
pub mod readers;

pub use common::{DO_THIS, ERROR};
pub use connect::*;

/// Every area of the catalogue.
pub const AREAS: &[&[Msg]] = &[
    common::ALL,
    connect::ALL,
    card::ALL,
    cert::ALL,
    posture::ALL,
    gateway::ALL,
    doctor::ALL,
    readers::ALL,
    launch::ALL,
    gui::ALL,
    profile::ALL,
];

#[cfg(test)]
mod tests {
    use super::super::placeholders;
    use super::*;

    #[test]
    fn every_message_is_in_both_languages_with_the_same_placeholders() {
        let mut ids = std::collections::BTreeSet::new();
        for m in AREAS.iter().flat_map(|area| area.iter()) {
            assert!(ids.insert(m.id), "{} twice", m.id);
            assert!(
                !m.nb.trim().is_empty() && !m.en.trim().is_empty(),
                "{}",
                m.id
            );
            let (mut nb, mut en) = (placeholders(m.nb), placeholders(m.en));
            nb.sort_unstable();
            en.sort_unstable();
            assert_eq!(nb, en, "{}: placeholders differ", m.id);
            // The same in both only where there is nothing to translate ("PIN: ").
            let words = m.nb.chars().any(|c| c.is_lowercase());
            assert!(!words || m.nb != m.en, "{}: not translated", m.id);
        }
        assert!(AREAS.iter().all(|area| !area.is_empty()));
    }
}
