//! Reading secrets from a person or a script, never from argv or the environment.
//!
//! Interactive: a prompt without echo (rpassword). Scripted: standard input or an inherited
//! file descriptor (`--pin-fd 3`), one line each.

use std::io::{BufRead, BufReader, IsTerminal};

use crate::i18n::catalogue::common as m;
use crate::secret::{Password, Pin, PinFormatError};

use super::failure::{exit, Failure};

/// Where a secret comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    /// Ask on the terminal without echo.
    Prompt,
    /// Read one line from standard input.
    Stdin,
    /// Read one line from an inherited file descriptor (Unix only; refused on Windows).
    Fd(u32),
}

impl SecretSource {
    /// From the usual pair of flags: `--pin-fd N` wins, then `--pin-stdin`, else prompt.
    pub fn from_flags(fd: Option<u32>, stdin: bool) -> Self {
        match (fd, stdin) {
            (Some(n), _) => SecretSource::Fd(n),
            (None, true) => SecretSource::Stdin,
            (None, false) => SecretSource::Prompt,
        }
    }
}

/// Reads one line of a secret; `what` names it in messages ("PIN-koden", "the PIN").
fn read_line(source: SecretSource, prompt: &str, what: &str) -> Result<String, Failure> {
    let io_failure = |e: std::io::Error| {
        Failure::new(
            "secret-input",
            exit::USAGE,
            m::SECRET_UNREADABLE.with(&[("what", &what), ("error", &e)]),
        )
    };
    match source {
        SecretSource::Prompt => {
            if !std::io::stdin().is_terminal() {
                return Err(Failure::new(
                    "no-terminal",
                    exit::USAGE,
                    m::NO_TERMINAL.with(&[("what", &what)]),
                )
                .fix(if cfg!(unix) {
                    m::NO_TERMINAL_FIX.text()
                } else {
                    m::STDIN_FIX.text()
                }));
            }
            rpassword::prompt_password(prompt).map_err(io_failure)
        }
        SecretSource::Stdin => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(io_failure)?;
            Ok(line)
        }
        // Windows hands programs handles, not numbered descriptors: there is no N to open.
        SecretSource::Fd(n) if !cfg!(unix) => Err(Failure::new(
            "secret-input",
            exit::USAGE,
            m::FD_NOT_HERE.with(&[("what", &what), ("n", &n)]),
        )
        .fix(m::STDIN_FIX.text())),
        SecretSource::Fd(n) => {
            // Opening /dev/fd/N reads an inherited descriptor without unsafe code.
            let file = std::fs::File::open(format!("/dev/fd/{n}")).map_err(io_failure)?;
            let mut line = String::new();
            BufReader::new(file)
                .read_line(&mut line)
                .map_err(io_failure)?;
            Ok(line)
        }
    }
}

/// Reads a PIN. Its form is checked here so a typo never reaches the card.
pub fn read_pin(source: SecretSource, prompt: &str) -> Result<Pin, Failure> {
    let line = read_line(source, prompt, m::THE_PIN.as_str())?;
    Pin::from_input(line).map_err(|e| pin_format_failure(&e))
}

/// Reads a password.
pub fn read_password(source: SecretSource, prompt: &str) -> Result<Password, Failure> {
    Ok(Password::from_input(read_line(
        source,
        prompt,
        m::THE_PASSWORD.as_str(),
    )?))
}

/// A PIN that cannot be right, refused before the card sees it.
pub fn pin_format_failure(e: &PinFormatError) -> Failure {
    let problem = match e {
        PinFormatError::NotDigits => m::PIN_NOT_DIGITS.text(),
        PinFormatError::Length { len, min, max } => {
            m::PIN_LENGTH.with(&[("min", min), ("max", max), ("len", len)])
        }
    };
    Failure::new(
        "pin-format",
        exit::USAGE,
        m::PIN_NOT_SENT.with(&[("problem", &problem)]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_of_the_wrong_form_is_refused_in_either_language() {
        use crate::i18n::{with_lang, Lang};
        let e = PinFormatError::Length {
            len: 3,
            min: 4,
            max: 8,
        };
        assert_eq!(
            with_lang(Lang::Nb, || pin_format_failure(&e)).message,
            "PIN-koden må ha 4 til 8 sifre, men har 3. Den ble ikke sendt til kortet, så ingen forsøk er brukt."
        );
        assert_eq!(
            with_lang(Lang::En, || pin_format_failure(&e)).message,
            "The PIN must have 4 to 8 digits, but has 3. It was not sent to the card, so no try was used."
        );
    }

    #[cfg(unix)]
    #[test]
    fn one_line_is_read_from_an_inherited_descriptor() {
        use std::io::{Seek as _, Write as _};
        use std::os::unix::io::AsRawFd as _;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"123456\nnot this\n").unwrap();
        file.rewind().unwrap();
        let n = u32::try_from(file.as_raw_fd()).unwrap();
        assert_eq!(
            read_line(SecretSource::Fd(n), "PIN: ", "PIN-koden").unwrap(),
            "123456\n"
        );
    }

    #[cfg(not(unix))]
    #[test]
    fn a_descriptor_is_refused_with_a_fix_on_windows() {
        let failure = read_line(SecretSource::Fd(3), "PIN: ", "PIN-koden").unwrap_err();
        assert_eq!(
            (failure.kind, failure.exit_code),
            ("secret-input", exit::USAGE)
        );
        assert!(failure.message.contains(" 3:"), "{}", failure.message);
        assert_eq!(failure.fix, Some(m::STDIN_FIX.text()));
    }
}
