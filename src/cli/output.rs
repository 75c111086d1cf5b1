//! Output helpers shared by the commands.

use serde::Serialize;

/// Prints a value as pretty JSON on stdout (one document, newline-terminated).
pub fn print_json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        // Our own types always serialise; this guards against a future map with non-string keys.
        Err(e) => eprintln!("Feil: kunne ikke skrive JSON: {e}"),
    }
}

/// Formats a date as Norwegians write it: `25.05.2025`.
pub fn norwegian_date(t: time::OffsetDateTime) -> String {
    format!("{:02}.{:02}.{}", t.day(), u8::from(t.month()), t.year())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_day_month_year() {
        let t = time::macros::datetime!(2025-05-25 12:00 UTC);
        assert_eq!(super::norwegian_date(t), "25.05.2025");
    }
}
