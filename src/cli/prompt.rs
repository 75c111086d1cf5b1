//! Reading secrets from a person or a script, never from argv or the environment.
//!
//! Interactive: a prompt without echo (rpassword). Scripted: standard input or an inherited
//! file descriptor (`--pin-fd 3`), one line each.

use std::io::{BufRead, BufReader, IsTerminal};

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

/// Where secrets can come from in a script on every platform.
const STDIN_FIX: &str = "Gi hemmeligheten på standard inn (--pin-stdin / --password-stdin).";

fn read_line(source: SecretSource, prompt: &str, what: &str) -> Result<String, Failure> {
    let io_failure = |e: std::io::Error| {
        Failure::new(
            "secret-input",
            exit::USAGE,
            format!("Kunne ikke lese {what}: {e}."),
        )
    };
    match source {
        SecretSource::Prompt => {
            if !std::io::stdin().is_terminal() {
                return Err(Failure::new(
                    "no-terminal",
                    exit::USAGE,
                    format!("Kan ikke spørre om {what}: det er ingen terminal å skrive i."),
                )
                .fix(if cfg!(unix) {
                    "Gi hemmeligheten på standard inn (--pin-stdin / --password-stdin) eller fra en fildeskriptor (--pin-fd N)."
                } else {
                    STDIN_FIX
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
            format!("Kan ikke lese {what} fra fildeskriptor {n}: det går bare på Linux og macOS."),
        )
        .fix(STDIN_FIX)),
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
    let line = read_line(source, prompt, "PIN-koden")?;
    Pin::from_input(line).map_err(|e| pin_format_failure(&e))
}

/// Reads a password.
pub fn read_password(source: SecretSource, prompt: &str) -> Result<Password, Failure> {
    Ok(Password::from_input(read_line(
        source,
        prompt,
        "passordet",
    )?))
}

/// A PIN that cannot be right, refused before the card sees it.
pub fn pin_format_failure(e: &PinFormatError) -> Failure {
    let message = match e {
        PinFormatError::NotDigits => "PIN-koden kan bare inneholde sifre.".to_string(),
        PinFormatError::Length { len, min, max } => {
            format!("PIN-koden må ha {min} til {max} sifre, men har {len}.")
        }
    };
    Failure::new(
        "pin-format",
        exit::USAGE,
        format!("{message} Den ble ikke sendt til kortet, så ingen forsøk er brukt."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(
            failure.message.contains("fildeskriptor 3"),
            "{}",
            failure.message
        );
        assert_eq!(failure.fix.as_deref(), Some(STDIN_FIX));
    }
}
