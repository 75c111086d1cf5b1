//! Output helpers shared by the commands.

use serde::Serialize;

/// Prints a value as pretty JSON on stdout (one document, newline-terminated).
pub fn print_json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        // Our own types always serialise; this guards against a future map with non-string keys.
        Err(e) => eprintln!(
            "{}",
            crate::i18n::catalogue::common::JSON_UNWRITABLE.with(&[("error", &e)])
        ),
    }
}

/// Formats a date as Norwegians write it: `25.05.2025`.
pub fn norwegian_date(t: time::OffsetDateTime) -> String {
    format!("{:02}.{:02}.{}", t.day(), u8::from(t.month()), t.year())
}

/// Formats a date for the run's language: `25.05.2025` in bokmål, `2025-05-25` in English
/// (ISO 8601, which no English reader takes for month-first).
pub fn date(t: time::OffsetDateTime) -> String {
    match crate::i18n::current() {
        crate::i18n::Lang::Nb => norwegian_date(t),
        crate::i18n::Lang::En => {
            format!("{}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_day_month_year() {
        let t = time::macros::datetime!(2025-05-25 12:00 UTC);
        assert_eq!(super::norwegian_date(t), "25.05.2025");
        use crate::i18n::{with_lang, Lang};
        assert_eq!(with_lang(Lang::Nb, || super::date(t)), "25.05.2025");
        assert_eq!(with_lang(Lang::En, || super::date(t)), "2025-05-25");
    }
}
