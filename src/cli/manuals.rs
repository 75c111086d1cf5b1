//! Manual pages and shell completions for the installers, generated from the programs' own
//! command-line definitions ([`super::app::Cli`], [`crate::gateway::app::Cli`]), so a page can
//! never describe an option `--help` does not have.
//!
//! Every command gets a page (`hjemmekontor.1`, `hjemmekontor-connect.1`, …); the top page of
//! each program adds what `--help` cannot say: exit status, files, environment, and the pages to
//! read next.

use std::io;
use std::path::{Path, PathBuf};

use clap::{Command, CommandFactory};
use clap_complete::Shell;
use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;

/// One program to document: its command line and what its top page adds.
pub struct Program {
    command: Command,
    exit_status: &'static [(&'static str, &'static str)],
    files: &'static [(&'static str, &'static str)],
    environment: &'static [(&'static str, &'static str)],
}

/// The client, `hjemmekontor`.
pub fn client() -> Program {
    Program {
        command: super::app::Cli::command(),
        exit_status: &[
            (
                "0",
                "Success (for doctor: no check failed; warnings allowed).",
            ),
            ("1", "Something else went wrong, or a doctor check failed."),
            ("2", "Wrong arguments or settings."),
            (
                "3",
                "The smart card service, the reader or the card is not there.",
            ),
            (
                "4",
                "The card or its certificate cannot be used (blocked, wrong level, expired).",
            ),
            ("5", "A file could not be read or written."),
            (
                "6",
                "This computer does not meet the gateway's posture rules.",
            ),
        ],
        files: &[
            (
                "~/.config/hjemmekontor/client.toml",
                "Remembered settings: gateway, its CA, username, target (never the PIN or the \
                 password). On Windows under %APPDATA%\\hjemmekontor, on macOS under \
                 ~/Library/Application Support/no.hjemmekontor.hjemmekontor.",
            ),
            (
                "~/.local/state/hjemmekontor/",
                "When pending updates were first seen (the posture report's \"since when\").",
            ),
        ],
        environment: &[
            (
                "LC_ALL, LC_MESSAGES, LANG",
                "Language of the messages (nb or en) when --lang is not given.",
            ),
            (
                "RUST_LOG",
                "Overrides -v with a tracing filter. PINs and passwords are never logged.",
            ),
        ],
    }
}

/// The window, `hjemmekontor-gui`.
pub fn gui() -> Program {
    Program {
        command: crate::gui::window::GuiCli::command(),
        exit_status: &[
            ("0", "The window was closed."),
            (
                "1",
                "The window could not open (no display, or no OpenGL 2); the reason is on \
                 standard error.",
            ),
            ("2", "Wrong arguments."),
        ],
        files: &[
            (
                "~/.config/hjemmekontor/client.toml",
                "The settings shared with hjemmekontor: the gateway and its CA from the \
                 connection profile, the username (never the PIN or the password).",
            ),
            (
                "~/.config/hjemmekontor/gateway-ca.pem",
                "The gateway's CA certificate, written when a connection profile is imported.",
            ),
            (
                "~/Documents/hjemmekontor-rapport-*.json",
                "Support bundles written by \"Send til IT\" (no PIN or password in them).",
            ),
        ],
        environment: &[
            (
                "LC_ALL, LC_MESSAGES, LANG",
                "Language of the window (nb or en) when --lang is not given.",
            ),
            (
                "RUST_LOG",
                "Overrides -v with a tracing filter. PINs and passwords are never logged.",
            ),
        ],
    }
}

/// The gateway, `hjemmekontor-gateway`.
pub fn gateway() -> Program {
    Program {
        command: crate::gateway::app::Cli::command(),
        exit_status: &[
            (
                "0",
                "Success; for check-config: the configuration is valid.",
            ),
            (
                "1",
                "Something else went wrong; for audit verify: the chain is broken; for \
                 check-crl: a CRL may not be used.",
            ),
            (
                "2",
                "Wrong arguments, or an invalid configuration (every error with its line).",
            ),
            ("5", "A file could not be read or written."),
        ],
        files: &[
            (
                "/etc/hjemmekontor/gateway.toml",
                "The configuration (from the package; mode 0640, group of the service user).",
            ),
            (
                "/var/lib/hjemmekontor-gateway/audit.jsonl",
                "The audit log: every login attempt and connection, hash-chained. Never \
                 rotated or truncated; check it with \"audit verify\".",
            ),
            (
                "/var/lib/hjemmekontor-gateway/crl/",
                "Certificate revocation lists, refreshed by hjemmekontor-gateway-crl.timer.",
            ),
        ],
        environment: &[(
            "RUST_LOG",
            "Overrides -v with a tracing filter. Passwords are never logged.",
        )],
    }
}

/// A generated file: where it goes under the output directory, and its bytes.
pub struct Generated {
    /// Relative path, e.g. `man/man1/hjemmekontor-connect.1`.
    pub path: PathBuf,
    /// The file's content.
    pub bytes: Vec<u8>,
}

/// The manual pages of a program: one per command and subcommand.
pub fn manual_pages(program: &Program) -> io::Result<Vec<Generated>> {
    let mut top = program.command.clone().disable_help_subcommand(true);
    top.build();
    let mut pages = Vec::new();
    for command in commands(&top) {
        let man = Man::new(command.clone()).manual("Hjemmekontor");
        let mut bytes = Vec::new();
        man.render(&mut bytes)?;
        let mut extra = Roff::new();
        if std::ptr::eq(command, &top) {
            top_sections(&mut extra, program, &top);
        } else {
            see_also(&mut extra, &[display_name(&top)]);
        }
        extra.to_writer(&mut bytes)?;
        pages.push(Generated {
            path: Path::new("man/man1").join(man.get_filename()),
            bytes,
        });
    }
    Ok(pages)
}

/// The program's completion scripts for bash, zsh, fish and PowerShell, in the folders the
/// packages install them from.
pub fn completions(program: &Program) -> Vec<Generated> {
    let name = program.command.get_name().to_owned();
    [
        (Shell::Bash, format!("bash/{name}")),
        (Shell::Zsh, format!("zsh/_{name}")),
        (Shell::Fish, format!("fish/{name}.fish")),
        (Shell::PowerShell, format!("powershell/{name}.ps1")),
    ]
    .into_iter()
    .map(|(shell, file)| {
        let mut bytes = Vec::new();
        let mut command = program.command.clone();
        clap_complete::generate(shell, &mut command, &name, &mut bytes);
        Generated {
            path: Path::new("completions").join(file),
            bytes,
        }
    })
    .collect()
}

/// Writes every page and completion of the programs under `out`.
pub fn write_all(programs: &[Program], out: &Path) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for program in programs {
        for file in manual_pages(program)?
            .into_iter()
            .chain(completions(program))
        {
            let path = out.join(&file.path);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, &file.bytes)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// The command and every visible subcommand below it, depth first.
fn commands(command: &Command) -> Vec<&Command> {
    let mut all = vec![command];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        all.extend(commands(sub));
    }
    all
}

fn display_name(command: &Command) -> String {
    command
        .get_display_name()
        .unwrap_or(command.get_name())
        .to_owned()
}

/// EXIT STATUS, FILES, ENVIRONMENT and SEE ALSO (every subcommand's page) of a top page.
fn top_sections(roff: &mut Roff, program: &Program, top: &Command) {
    for (heading, entries) in [
        ("EXIT STATUS", program.exit_status),
        ("FILES", program.files),
        ("ENVIRONMENT", program.environment),
    ] {
        roff.control("SH", [heading]);
        for (term, text) in entries {
            roff.control("TP", [] as [&str; 0]);
            roff.text([bold(*term)]);
            roff.text([roman(*text)]);
        }
    }
    let pages: Vec<String> = commands(top)
        .iter()
        .skip(1)
        .map(|c| display_name(c))
        .collect();
    see_also(roff, &pages);
}

fn see_also(roff: &mut Roff, pages: &[String]) {
    roff.control("SH", ["SEE ALSO"]);
    let mut line = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        if i > 0 {
            line.push(roman(", "));
        }
        line.push(bold(page.as_str()));
        line.push(roman("(1)"));
    }
    roff.text(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(g: &Generated) -> String {
        String::from_utf8(g.bytes.clone()).unwrap()
    }

    #[test]
    fn every_client_command_has_a_page_with_its_options() {
        let pages = manual_pages(&client()).unwrap();
        let paths: Vec<&Path> = pages.iter().map(|p| p.path.as_path()).collect();
        for expected in [
            "hjemmekontor.1",
            "hjemmekontor-connect.1",
            "hjemmekontor-doctor.1",
            "hjemmekontor-cert-inspect.1",
        ] {
            // Compared by components: on Windows the separator differs.
            let want = Path::new("man").join("man1").join(expected);
            assert!(paths.contains(&want.as_path()), "{expected} in {paths:?}");
        }
        let connect = pages
            .iter()
            .find(|p| p.path.ends_with("hjemmekontor-connect.1"))
            .unwrap();
        assert!(text(connect).contains("\\-\\-gateway"), "{}", text(connect));
        assert!(text(connect).contains("SEE ALSO"));
    }

    #[test]
    fn the_top_page_says_exit_status_files_and_where_to_read_on() {
        let pages = manual_pages(&gateway()).unwrap();
        let top = text(&pages[0]);
        assert!(pages[0].path.ends_with("hjemmekontor-gateway.1"));
        for needle in [
            ".SH \"EXIT STATUS\"",
            "audit.jsonl",
            "hjemmekontor\\-gateway\\-check\\-config",
        ] {
            assert!(top.contains(needle), "{needle} in {top}");
        }
    }

    #[test]
    fn completions_name_the_subcommands_for_every_shell() {
        let files = completions(&client());
        assert_eq!(files.len(), 4);
        for file in &files {
            assert!(text(file).contains("doctor"), "{}", file.path.display());
        }
    }
}
