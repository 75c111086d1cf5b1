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
                .fix("Gi hemmeligheten på standard inn (--pin-stdin / --password-stdin) eller fra en fildeskriptor (--pin-fd N)."));
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
        .fix("Gi hemmeligheten på standard inn (--pin-stdin / --password-stdin).")),
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
