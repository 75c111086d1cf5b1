//! `hjemmekontor-gateway check-config` and `hash-password`: the shells around [`super::config`]
//! and [`super::auth`].

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use crate::cli::failure::{exit, Failure};
use crate::cli::output::print_json;
use crate::cli::prompt::{read_password, SecretSource};

use super::access::targets;
use super::auth;
use super::config::{self, dangerous_options, Config, ConfigError, LoadError};

/// Arguments of `check-config`.
#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    /// The configuration file (TOML). Relative paths in it are read from its directory.
    pub file: PathBuf,
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `hash-password`.
#[derive(Debug, clap::Args)]
pub struct HashPasswordArgs {
    /// Read the password from one line of standard input instead of asking twice at the
    /// terminal. The password is never taken from the command line.
    #[arg(long)]
    pub stdin: bool,
}

/// Shortest password `hash-password` takes without a warning.
const SHORT_PASSWORD: usize = 12;

#[derive(Serialize)]
struct Invalid<'a> {
    file: String,
    valid: bool,
    errors: &'a [ConfigError],
}

#[derive(Serialize)]
struct Summary {
    file: String,
    valid: bool,
    listen: String,
    required_level: String,
    users: usize,
    /// The directory the users come from instead (`[directory] url`), if any.
    directory: Option<String>,
    groups: usize,
    machines: usize,
    grants: usize,
    dangerous_options: Vec<String>,
    users_without_grants: Vec<String>,
    /// The posture policy as the gateway publishes it.
    posture: crate::posture::policy::Policy,
    posture_recheck_minutes: u64,
}

fn summary(file: &str, config: &Config) -> Summary {
    Summary {
        file: file.to_string(),
        valid: true,
        listen: config.gateway.listen.to_string(),
        required_level: config.gateway.required_level.to_string(),
        users: config.users.len(),
        directory: config.directory.as_ref().map(|d| d.url.clone()),
        groups: config.groups.len(),
        machines: config.machines.len(),
        grants: config.grants.len(),
        dangerous_options: dangerous_options(config),
        users_without_grants: config
            .users
            .iter()
            .filter(|u| targets(config, &u.username).is_empty())
            .map(|u| u.username.clone())
            .collect(),
        posture: config.posture.policy.clone(),
        posture_recheck_minutes: config.posture.recheck_secs / 60,
    }
}

/// One posture rule in words: `firewall (deny)`, `antivirus (deny, definitions ≤ 7 days)`.
fn rule_words(rule: &crate::posture::policy::RuleAction) -> String {
    use crate::posture::policy::{Action, Rule};
    let action = match rule.action {
        Action::Deny => "avvis",
        Action::Warn => "advar",
    };
    let detail = match &rule.rule {
        Rule::Firewall | Rule::DiskEncryption => String::new(),
        Rule::Antivirus {
            max_definitions_age_days: Some(days),
        } => format!(", definisjoner høyst {days} dager"),
        Rule::Antivirus { .. } => String::new(),
        Rule::Updates { max_pending_days } => format!(", høyst {max_pending_days} dager på vent"),
        Rule::ScreenLock { max_timeout_secs } => format!(", høyst {} min", max_timeout_secs / 60),
        Rule::SupportedOs { os } => {
            let list: Vec<String> = os
                .iter()
                .map(|o| match &o.min_version {
                    Some(min) => format!("{} ≥ {min}", o.family),
                    None => o.family.clone(),
                })
                .collect();
            format!(", {}", list.join(" / "))
        }
    };
    format!("{} ({action}{detail})", rule.rule.id())
}

/// Checks a configuration file: every error as `FILE:LINE:COL: message` on stderr and exit
/// code 2, or a summary (counts, dangerous options) and exit code 0.
pub fn check_config(args: &CheckConfigArgs) -> ExitCode {
    let file = args.file.display().to_string();
    match config::load(&args.file) {
        Err(LoadError::Read(e)) => Failure::new(
            "config-read",
            exit::IO,
            format!("Kunne ikke lese konfigurasjonsfilen {file}: {e}."),
        )
        .fix("Sjekk stien, og at brukeren som kjører gatewayen kan lese filen.")
        .report(args.json),
        Err(LoadError::Invalid(errors)) => {
            if args.json {
                print_json(&Invalid {
                    file,
                    valid: false,
                    errors: &errors,
                });
            } else {
                for e in &errors {
                    eprintln!("{file}:{}:{}: {}", e.line, e.column, e.message);
                }
                let n = errors.len();
                eprintln!(
                    "{n} feil i {file}. Rett {} og kjør check-config igjen.",
                    if n == 1 { "den" } else { "dem" }
                );
            }
            ExitCode::from(exit::USAGE)
        }
        Ok(config) => {
            let problems = super::preflight::preflight(&config);
            if !problems.is_empty() {
                return report_problems(&file, &problems, args.json);
            }
            let s = summary(&file, &config);
            if args.json {
                print_json(&s);
            } else {
                print_summary(&s);
            }
            ExitCode::SUCCESS
        }
    }
}

/// What `run` would refuse though the file itself is right: one line each, exit code 2.
fn report_problems(file: &str, problems: &[super::preflight::Problem], json: bool) -> ExitCode {
    if json {
        #[derive(Serialize)]
        struct Refused<'a> {
            file: &'a str,
            valid: bool,
            problems: &'a [super::preflight::Problem],
        }
        print_json(&Refused {
            file,
            valid: false,
            problems,
        });
    } else {
        for p in problems {
            eprintln!("{file}: {}", p.message);
        }
        eprintln!("Gatewayen vil ikke starte med {file} før dette er rettet.");
    }
    ExitCode::from(exit::USAGE)
}

fn print_summary(s: &Summary) {
    println!("{} er i orden.", s.file);
    println!("  Lytter på:      {}", s.listen);
    println!("  Påkrevd nivå:   {}", s.required_level);
    match &s.directory {
        Some(url) => println!("  Brukere:        fra katalogen {url}"),
        None => println!("  Brukere:        {}", s.users),
    }
    println!("  Grupper:        {}", s.groups);
    println!("  Maskiner:       {}", s.machines);
    println!("  Tilganger:      {}", s.grants);
    if !s.users_without_grants.is_empty() {
        println!(
            "  Uten tilgang:   {} (kan ikke logge inn før de får en tilgang)",
            s.users_without_grants.join(", ")
        );
    }
    if s.posture.rules.is_empty() {
        println!("  Maskinkrav:     ingen (alle maskiner slippes inn; se [posture] i docs/gateway-config.md)");
    } else {
        let rules: Vec<String> = s.posture.rules.iter().map(rule_words).collect();
        println!("  Maskinkrav:     {}", rules.join("; "));
        match s.posture_recheck_minutes {
            0 => println!("  Ny sjekk:       aldri under økten"),
            m => println!("  Ny sjekk:       hvert {m}. minutt under økten"),
        }
    }
    if s.dangerous_options.is_empty() {
        println!("  Farlige valg:   ingen");
    } else {
        println!("  Farlige valg:   {}", s.dangerous_options.len());
        for d in &s.dangerous_options {
            println!("    - {d}");
        }
    }
}

/// Reads a password (twice at a terminal, or one line of stdin) and prints its argon2id PHC
/// string on stdout, ready for `password_hash` in a `[[user]]` entry.
pub fn hash_password(args: &HashPasswordArgs) -> ExitCode {
    match read_and_hash(args) {
        Ok(phc) => {
            println!("{phc}");
            ExitCode::SUCCESS
        }
        Err(f) => f.report(false),
    }
}

fn read_and_hash(args: &HashPasswordArgs) -> Result<String, Failure> {
    let password = if args.stdin {
        read_password(SecretSource::Stdin, "")?
    } else {
        let first = read_password(SecretSource::Prompt, "Nytt passord: ")?;
        let again = read_password(SecretSource::Prompt, "Gjenta passordet: ")?;
        if first != again {
            return Err(Failure::new(
                "password-mismatch",
                exit::USAGE,
                "De to passordene er ikke like, så ingenting ble laget.",
            )
            .fix("Kjør kommandoen igjen og skriv det samme passordet to ganger."));
        }
        first
    };
    if password.expose().is_empty() {
        return Err(
            Failure::new("password-empty", exit::USAGE, "Passordet er tomt.")
                .fix("Skriv et passord (på standard inn med --stdin, én linje)."),
        );
    }
    if password.expose().chars().count() < SHORT_PASSWORD {
        eprintln!("Advarsel: passordet har færre enn {SHORT_PASSWORD} tegn og er lett å gjette.");
    }
    auth::hash_password(&password).map_err(|e| {
        Failure::new(
            "hash-failed",
            exit::OTHER,
            format!("Kunne ikke lage passordhash: {e}."),
        )
    })
}
