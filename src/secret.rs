//! Secrets as types: PIN and password live in zeroizing buffers and never print.
//!
//! Nothing in this module can turn a secret into a `String`; the only way to the bytes is
//! [`Pin::expose`] / [`Password::expose`], which keeps every use greppable.

use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// Why a PIN was refused before it was ever sent to a card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinFormatError {
    /// The PIN has fewer or more digits than the card accepts.
    #[error("the PIN must have {min} to {max} digits; this one has {len}")]
    Length {
        /// Digits entered.
        len: usize,
        /// Fewest digits the card takes.
        min: usize,
        /// Most digits the card takes.
        max: usize,
    },
    /// The PIN contains something other than the digits 0-9.
    #[error("the PIN may contain only the digits 0-9")]
    NotDigits,
}

/// A card PIN: ASCII digits, wiped from memory when dropped, `REDACTED` when printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(Zeroizing<Vec<u8>>);

impl Pin {
    /// Takes the PIN as typed, trimming one trailing line ending (from a pipe or a file).
    ///
    /// The input buffer is wiped.
    pub fn from_input(mut typed: String) -> Result<Self, PinFormatError> {
        let trimmed = typed.trim_end_matches(['\r', '\n']).as_bytes().to_vec();
        typed.zeroize();
        let pin = Pin(Zeroizing::new(trimmed));
        if !pin.0.iter().all(u8::is_ascii_digit) {
            return Err(PinFormatError::NotDigits);
        }
        Ok(pin)
    }

    /// Checks the length against what a card application accepts.
    pub fn check_length(&self, min: usize, max: usize) -> Result<(), PinFormatError> {
        let len = self.0.len();
        if len < min || len > max {
            return Err(PinFormatError::Length { len, min, max });
        }
        Ok(())
    }

    /// The ASCII digits. Only card drivers should call this.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Number of digits.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing was typed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(REDACTED)")
    }
}

/// A password, wiped from memory when dropped, `REDACTED` when printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Takes the password as typed, trimming one trailing line ending.
    pub fn from_input(mut typed: String) -> Self {
        let trimmed = typed.trim_end_matches(['\r', '\n']).to_owned();
        typed.zeroize();
        Password(Zeroizing::new(trimmed))
    }

    /// The password text. Only the login encoder and the password hasher should call this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(REDACTED)")
    }
}

/// The gateway reads the password from the login frame.
///
/// Only `Deserialize` is implemented: a `Password` cannot be serialized by accident (into a
/// log line or `--json` output). The login encoder writes it explicitly with
/// [`Password::expose`]. The text is copied once, straight into a zeroizing buffer. (A password
/// with JSON escapes passes through the JSON parser's scratch buffer, which is not wiped.)
impl<'de> serde::Deserialize<'de> for Password {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Password;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a password string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Password, E> {
                let mut text = Zeroizing::new(String::with_capacity(v.len()));
                text.push_str(v);
                Ok(Password(text))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Password, E> {
                Ok(Password(Zeroizing::new(v)))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_digits() {
        let pin = Pin::from_input("123456\n".into()).unwrap();
        assert_eq!(format!("{pin:?}"), "Pin(REDACTED)");
        assert_eq!(pin.expose(), b"123456");
        let pw = Password::from_input("hemmelig\r\n".into());
        assert_eq!(format!("{pw:?}"), "Password(REDACTED)");
        assert_eq!(pw.expose(), "hemmelig");
    }

    #[test]
    fn password_deserializes_without_trimming_and_never_prints() {
        let pw: Password = serde_json::from_str(r#""pass\nord ""#).unwrap();
        assert_eq!(pw.expose(), "pass\nord ");
        assert_eq!(format!("{pw:?}"), "Password(REDACTED)");
        let err = serde_json::from_str::<Password>("42").unwrap_err();
        assert!(err.to_string().contains("expected a password string"));
    }

    #[test]
    fn pin_format_is_checked() {
        assert_eq!(
            Pin::from_input("12a4".into()).unwrap_err(),
            PinFormatError::NotDigits
        );
        let pin = Pin::from_input("123".into()).unwrap();
        assert_eq!(
            pin.check_length(4, 8).unwrap_err(),
            PinFormatError::Length {
                len: 3,
                min: 4,
                max: 8
            }
        );
        assert!(Pin::from_input("1234".into())
            .unwrap()
            .check_length(4, 8)
            .is_ok());
    }
}
