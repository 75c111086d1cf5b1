//! Messages in bokmål and English from one catalogue ([`catalogue`]), chosen once per run:
//! `--lang`, else the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`; on Windows and macOS the
//! system's language), else bokmål, the language of the people the client is for.
//!
//! A message is a [`Msg`]: an id, the bokmål text and the English text, with `{name}`
//! placeholders filled by [`Msg::with`]. The catalogue's test checks that every message has
//! both languages with the same placeholders.

pub mod catalogue;

use std::cell::Cell;
use std::fmt::Display;
use std::sync::atomic::{AtomicU8, Ordering};

/// A language the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Norwegian bokmål.
    Nb,
    /// English.
    En,
}

/// The run's language: 0 not chosen yet (bokmål), 1 bokmål, 2 English.
static CHOSEN: AtomicU8 = AtomicU8::new(0);

/// Chooses the language for the rest of the run.
pub fn set(lang: Lang) {
    CHOSEN.store(
        match lang {
            Lang::Nb => 1,
            Lang::En => 2,
        },
        Ordering::Relaxed,
    );
}

thread_local! {
    /// A language for this thread only, set by [`with_lang`].
    static THREAD_LANG: Cell<Option<Lang>> = const { Cell::new(None) };
}

/// The run's language (or the one [`with_lang`] set on this thread).
pub fn current() -> Lang {
    if let Some(lang) = THREAD_LANG.with(Cell::get) {
        return lang;
    }
    match CHOSEN.load(Ordering::Relaxed) {
        2 => Lang::En,
        _ => Lang::Nb,
    }
}

/// Runs `f` with messages in `lang` on this thread only, whatever the run chose: tests word
/// the same thing in both languages side by side without touching other threads.
pub fn with_lang<T>(lang: Lang, f: impl FnOnce() -> T) -> T {
    /// Puts the thread's previous language back, also when `f` panics.
    struct Restore(Option<Lang>);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREAD_LANG.with(|l| l.set(self.0));
        }
    }
    let _restore = Restore(THREAD_LANG.with(|l| l.replace(Some(lang))));
    f()
}

/// The language a locale name asks for (`nb_NO.UTF-8`, `en-US`, `no`); `None` for the
/// locales that name no language (`C`, `POSIX`, empty).
pub fn from_locale(name: &str) -> Option<Lang> {
    let language = name
        .split(['_', '-', '.', '@'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match language.as_str() {
        "" | "c" | "posix" => None,
        // Nynorsk readers read bokmål far better than English.
        "nb" | "no" | "nn" => Some(Lang::Nb),
        _ => Some(Lang::En),
    }
}

/// The language the environment asks for: the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is
/// set (POSIX's order for messages), else the system's language, else bokmål. Any language
/// other than Norwegian gets English.
pub fn detect(env: &dyn Fn(&str) -> Option<String>, system: Option<String>) -> Lang {
    let set_var = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .into_iter()
        .find_map(|name| env(name).filter(|v| !v.is_empty()));
    set_var
        .as_deref()
        .and_then(from_locale)
        .or_else(|| system.as_deref().and_then(from_locale))
        .unwrap_or(Lang::Nb)
}

/// Chooses the run's language: `flag` if given, else from the environment and the system.
pub fn init(flag: Option<Lang>) {
    let lang = flag.unwrap_or_else(|| {
        let system = if cfg!(unix) && !cfg!(target_os = "macos") {
            None
        } else {
            sys_locale::get_locale()
        };
        detect(&|name| std::env::var(name).ok(), system)
    });
    set(lang);
}

/// One message in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg {
    /// Stable id (`connect.reading-card`), for tests and translators.
    pub id: &'static str,
    /// Bokmål.
    pub nb: &'static str,
    /// English.
    pub en: &'static str,
}

impl Msg {
    /// The text in `lang`.
    pub fn in_lang(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Nb => self.nb,
            Lang::En => self.en,
        }
    }

    /// The text in the run's language, as it is.
    pub fn text(&self) -> String {
        self.in_lang(current()).to_string()
    }

    /// The text in the run's language, for a field that holds a `&'static str`.
    pub fn as_str(&self) -> &'static str {
        self.in_lang(current())
    }

    /// The text in the run's language with each `{name}` replaced by its value.
    pub fn with(&self, args: &[(&str, &dyn Display)]) -> String {
        fill(self.in_lang(current()), args)
    }
}

/// Replaces each `{name}` of `template` with its value; unknown names are left as written.
fn fill(template: &str, args: &[(&str, &dyn Display)]) -> String {
    let mut out = template.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), &value.to_string());
    }
    out
}

/// The `{name}` placeholders of a text, in order.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end)
                if after[..end]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                found.push(&after[..end]);
                rest = &after[end + 1..];
            }
            _ => rest = after,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locale_picks_the_language_and_norwegian_is_the_default() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(detect(&env(&[("LANG", "en_US.UTF-8")]), None), Lang::En);
        assert_eq!(detect(&env(&[("LANG", "nb_NO.UTF-8")]), None), Lang::Nb);
        assert_eq!(detect(&env(&[("LANG", "nn_NO.UTF-8")]), None), Lang::Nb);
        assert_eq!(detect(&env(&[("LANG", "de_DE.UTF-8")]), None), Lang::En);
        // LC_ALL wins over LANG; an empty variable does not count.
        assert_eq!(
            detect(
                &env(&[("LC_ALL", "en_GB.UTF-8"), ("LANG", "nb_NO.UTF-8")]),
                None
            ),
            Lang::En
        );
        assert_eq!(
            detect(&env(&[("LC_ALL", ""), ("LANG", "nb_NO.UTF-8")]), None),
            Lang::Nb
        );
        // C names no language: the system's (Windows, macOS), else bokmål.
        assert_eq!(
            detect(&env(&[("LANG", "C.UTF-8")]), Some("en-US".into())),
            Lang::En
        );
        assert_eq!(detect(&env(&[("LANG", "C")]), None), Lang::Nb);
        assert_eq!(detect(&env(&[]), Some("nb-NO".into())), Lang::Nb);
        assert_eq!(detect(&env(&[]), None), Lang::Nb);
    }

    #[test]
    fn placeholders_are_filled_by_name() {
        let m = Msg {
            id: "t",
            nb: "Kobler til {gateway} ({n})",
            en: "Connecting to {gateway} ({n})",
        };
        assert_eq!(placeholders(m.en), ["gateway", "n"]);
        assert_eq!(
            fill(m.en, &[("gateway", &"gw:443"), ("n", &2)]),
            "Connecting to gw:443 (2)"
        );
        assert_eq!(placeholders("{ not one } {x}"), ["x"]);
    }

    #[test]
    fn a_thread_can_speak_another_language_for_a_while() {
        let m = Msg {
            id: "t",
            nb: "hei",
            en: "hello",
        };
        assert_eq!(with_lang(Lang::En, || m.text()), "hello");
        assert_eq!(with_lang(Lang::Nb, || m.as_str()), "hei");
        let nested = with_lang(Lang::En, || (with_lang(Lang::Nb, || m.text()), m.text()));
        assert_eq!(nested, ("hei".to_string(), "hello".to_string()));
    }
}
