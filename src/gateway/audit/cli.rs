//! `hjemmekontor-gateway audit verify|query`: the admin's view of the audit log.
//!
//! Human output is Norwegian (bokmål); `--json` keys are English and stable. Exit codes:
//! `0` the log is intact (and, for `query`, was read to the end), `1` the log is not intact,
//! `2` wrong arguments, `5` the file could not be read.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use crate::cli::failure::{exit, Failure};
use crate::cli::output::print_json;

use super::log::{AuditError, DatabaseFailure, FileChange};
use super::record::{utc_millis, AuditEvent, AuditRecord, EventKind};
use super::verify::{query, verify, Filter, Problem, VerifyError};
use crate::gateway::config::AuditStore;

/// Exit code when the log is not intact.
pub const EXIT_BROKEN: u8 = 1;

/// Arguments of `hjemmekontor-gateway audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// What to do with the log.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// The `audit` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check that no line of the log was edited, removed, moved or cut short.
    Verify(VerifyArgs),
    /// Show records: for one user, in a time span, of some kinds.
    Query(QueryArgs),
}

/// Which log: a file, or the store a gateway's configuration names (its file, or the
/// PostgreSQL table several gateways share).
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct LogSource {
    /// The audit log file.
    pub file: Option<PathBuf>,
    /// Read the log the gateway configuration CONFIG names in `[audit]` instead (a file, or
    /// PostgreSQL with `postgres` and `postgres_password_file`).
    #[arg(long, value_name = "CONFIG")]
    pub config: Option<PathBuf>,
}

/// Arguments of `audit verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Which log.
    #[command(flatten)]
    pub source: LogSource,
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `audit query`.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// Which log.
    #[command(flatten)]
    pub source: LogSource,
    /// Only events about this user name.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Only records at or after this time: RFC 3339 (2025-05-25T14:00:00Z) or a date
    /// (2025-05-25, from midnight UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<OffsetDateTime>,
    /// Only records before this time (same forms as --since).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<OffsetDateTime>,
    /// Only these kinds of event (repeat, or separate with commas).
    #[arg(long = "event", value_name = "KIND", value_enum, value_delimiter = ',')]
    pub events: Vec<EventKind>,
    /// Print the matching records as JSON Lines, as they are in the log.
    #[arg(long)]
    pub json: bool,
}

impl clap::ValueEnum for EventKind {
    fn value_variants<'a>() -> &'a [Self] {
        &EventKind::ALL
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

/// Runs `audit verify` or `audit query`.
pub fn run(args: &AuditArgs) -> ExitCode {
    match &args.command {
        AuditCommand::Verify(a) => run_verify(a),
        AuditCommand::Query(a) => run_query(a),
    }
}

/// Reads `--since` / `--until`: RFC 3339 with any offset, or a date meaning midnight UTC.
pub fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    if let Ok(d) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        return Ok(d.midnight().assume_utc());
    }
    Err(format!(
        "ugyldig tid «{text}»: bruk RFC 3339 (2025-05-25T14:00:00Z) eller en dato \
         (2025-05-25, fra midnatt UTC)"
    ))
}

fn open(path: &Path) -> Result<BufReader<File>, Failure> {
    File::open(path).map(BufReader::new).map_err(|e| {
        let what = if e.kind() == io::ErrorKind::NotFound {
            format!("Fant ikke revisjonsloggen {}.", path.display())
        } else {
            format!("Kunne ikke lese revisjonsloggen {}: {e}.", path.display())
        };
        Failure::new("audit-unreadable", exit::IO, what)
            .fix("Sjekk stien til loggfilen, og at du har lesetilgang (filen er bare for eieren).")
    })
}

#[derive(Serialize)]
struct Intact<'a> {
    intact: bool,
    records: u64,
    last_seq: u64,
    last_hash: &'a str,
}

#[derive(Serialize)]
struct Broken<'a> {
    intact: bool,
    line: u64,
    offset: u64,
    sound_before: u64,
    problem: &'static str,
    message: &'a str,
    fix: &'a str,
}

/// The log `source` names, and its name for messages.
fn open_source(source: &LogSource) -> Result<(Box<dyn BufRead>, PathBuf), Failure> {
    if let Some(file) = &source.file {
        return Ok((Box::new(open(file)?), file.clone()));
    }
    let config_path = source
        .config
        .as_deref()
        .unwrap_or(Path::new("gateway.toml"));
    let config = match crate::gateway::config::load(config_path) {
        Ok(c) => c,
        Err(crate::gateway::config::LoadError::Read(e)) => {
            return Err(Failure::new(
                "config-read",
                exit::IO,
                format!(
                    "Kunne ikke lese konfigurasjonsfilen {}: {e}.",
                    config_path.display()
                ),
            ))
        }
        Err(crate::gateway::config::LoadError::Invalid(errors)) => {
            return Err(Failure::new(
                "config-invalid",
                exit::USAGE,
                format!(
                    "Konfigurasjonsfilen {} har {} feil.",
                    config_path.display(),
                    errors.len()
                ),
            )
            .fix(format!(
                "Kjør `hjemmekontor-gateway check-config {}`.",
                config_path.display()
            )))
        }
    };
    match &config.audit.store {
        AuditStore::File(file) => Ok((Box::new(open(file)?), file.clone())),
        AuditStore::Postgres(pg) => match super::postgres::read_lines(pg) {
            Ok(reader) => Ok((Box::new(reader), PathBuf::from(&pg.conninfo))),
            Err(e) => Err(explain(&e)),
        },
    }
}

fn run_verify(args: &VerifyArgs) -> ExitCode {
    let (reader, file) = match open_source(&args.source) {
        Ok(r) => r,
        Err(f) => return f.report(args.json),
    };
    match verify(reader) {
        Ok(report) => {
            if args.json {
                print_json(&Intact {
                    intact: true,
                    records: report.records,
                    last_seq: report.last_seq,
                    last_hash: &report.last_hash,
                });
            } else if report.records == 0 {
                println!("Revisjonsloggen er tom (0 poster).");
            } else {
                println!(
                    "Revisjonsloggen er hel: {} poster, siste er nr. {}.",
                    report.records, report.last_seq
                );
                println!("Siste hash: {}", report.last_hash);
                println!(
                    "Noter siste hash et annet sted; da ser du også om poster blir kuttet \
                     bort fra slutten."
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => report_broken(&e, &file, args.json.then_some(JsonTo::Stdout)),
    }
}

/// Where a JSON report of a broken log goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum JsonTo {
    /// Pretty, on stdout (`verify --json`).
    Stdout,
    /// One line on stderr, so stdout stays JSON Lines of records (`query --json`).
    StderrLine,
}

/// Reports a log that could not be read to the end in one piece.
fn report_broken(e: &VerifyError, file: &Path, json: Option<JsonTo>) -> ExitCode {
    match e {
        VerifyError::Io(err) => Failure::new(
            "audit-unreadable",
            exit::IO,
            format!("Kunne ikke lese revisjonsloggen {}: {err}.", file.display()),
        )
        .report(json == Some(JsonTo::Stdout)),
        VerifyError::Broken {
            line,
            problem,
            offset,
            sound_before,
        } => {
            let message = format!(
                "linje {line}: {}. De {sound_before} postene før den er hele.",
                describe(problem)
            );
            let fix = remedy(problem, *offset, file);
            let report = Broken {
                intact: false,
                line: *line,
                offset: *offset,
                sound_before: *sound_before,
                problem: problem.kind(),
                message: &message,
                fix: &fix,
            };
            match json {
                Some(JsonTo::Stdout) => print_json(&report),
                Some(JsonTo::StderrLine) => match serde_json::to_string(&report) {
                    Ok(line) => eprintln!("{line}"),
                    Err(_) => eprintln!("{message}"),
                },
                None => {
                    eprintln!(
                        "{}",
                        Failure::new("audit-broken", EXIT_BROKEN, message).fix(fix)
                    );
                }
            }
            ExitCode::from(EXIT_BROKEN)
        }
    }
}

/// One Norwegian clause saying what is wrong with a line.
pub fn describe(problem: &Problem) -> String {
    match problem {
        Problem::TooLong { max } => {
            format!("linjen er lengre enn {max} byte, så den er ikke en post fra gatewayen")
        }
        Problem::NotUtf8 => "linjen er ikke UTF-8-tekst".into(),
        Problem::Unparsable { detail } => {
            format!("linjen er ikke en gyldig revisjonspost ({detail})")
        }
        Problem::Edited => {
            "posten er endret etter at den ble skrevet (hashen stemmer ikke med innholdet)".into()
        }
        Problem::Missing { expected, found } if found.saturating_sub(1) == *expected => {
            format!("post nr. {expected} mangler (slettet eller flyttet)")
        }
        Problem::Missing { expected, found } => format!(
            "post nr. {expected} til {} mangler (slettet eller flyttet)",
            found.saturating_sub(1)
        ),
        Problem::OutOfOrder { expected, found } => format!(
            "post nr. {found} står der nr. {expected} skulle stått (flyttet eller gjentatt)"
        ),
        Problem::WrongPrev => {
            "posten henger ikke sammen med posten før (prev er ikke forrige posts hash)".into()
        }
        Problem::Torn => {
            "siste linje er avkuttet (den mangler linjeskift), trolig etter et krasj eller full \
             disk"
                .into()
        }
    }
}

fn remedy(problem: &Problem, offset: u64, file: &Path) -> String {
    match problem {
        Problem::Torn => format!(
            "En avkuttet linje ble aldri bekreftet til noen klient. Ta en kopi av filen, og \
             fjern linjen med `truncate -s {offset} {}` før gatewayen startes igjen.",
            file.display()
        ),
        _ => "Ta vare på filen uendret som bevis, meld fra om et mulig sikkerhetsbrudd, og \
              sammenlign med en sikkerhetskopi for å se hva som er endret."
            .into(),
    }
}

fn run_query(args: &QueryArgs) -> ExitCode {
    let (reader, file) = match open_source(&args.source) {
        Ok(r) => r,
        Err(f) => return f.report(args.json),
    };
    let filter = Filter {
        user: args.user.clone(),
        since: args.since,
        until: args.until,
        kinds: args.events.clone(),
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut matched = 0u64;
    for item in query(reader, filter) {
        let rec = match item {
            Ok(rec) => rec,
            Err(e) => {
                let _ = out.flush();
                return report_broken(&e, &file, args.json.then_some(JsonTo::StderrLine));
            }
        };
        matched += 1;
        let line = if args.json {
            rec.to_line().unwrap_or_default()
        } else {
            human_line(&rec)
        };
        if out.write_all(line.as_bytes()).is_err() {
            // stdout closed (e.g. `| head`): nothing more to say to anyone.
            return ExitCode::SUCCESS;
        }
    }
    let _ = out.flush();
    if !args.json {
        eprintln!("{matched} poster passet.");
    }
    ExitCode::SUCCESS
}

/// One record as one line of text: time, event, user, and what matters for the kind.
pub fn human_line(rec: &AuditRecord) -> String {
    let time = stamp(rec.time);
    let user = rec.event.user().map(clean).unwrap_or_else(|| "-".into());
    let what = match &rec.event {
        AuditEvent::LoginAccepted {
            source,
            session_id,
            targets,
            ..
        } => format!(
            "fra {source}, økt {}, mål {}",
            clean(session_id),
            clean(&targets.join(", "))
        ),
        AuditEvent::LoginRefused {
            reason,
            source,
            detail,
            ..
        } => {
            let mut s = format!("{} fra {source}", reason.as_str());
            if let Some(d) = detail {
                s.push_str(": ");
                s.push_str(&clean(d));
            }
            s
        }
        AuditEvent::TargetRefused {
            session_id,
            target,
            source,
            reason,
            ..
        } => format!(
            "mål {} nektet ({}), økt {}, fra {source}",
            clean(target),
            reason.as_str(),
            clean(session_id)
        ),
        AuditEvent::StreamOpened {
            session_id,
            source,
            target,
            address,
            ..
        } => format!(
            "økt {} til {} ({address}), fra {source}",
            clean(session_id),
            clean(target)
        ),
        AuditEvent::SessionEnded {
            session_id,
            target_streams,
            bytes_to_target,
            bytes_from_target,
            duration_ms,
            reason,
            ..
        } => format!(
            "{} etter {}, {target_streams} strømmer, {bytes_to_target} B til mål, \
             {bytes_from_target} B fra mål, økt {}",
            reason.as_str(),
            duration(*duration_ms),
            clean(session_id)
        ),
        AuditEvent::GatewayStarted { version, dangerous } => {
            let mut s = format!("versjon {}", clean(version));
            if !dangerous.is_empty() {
                s.push_str(", FARLIGE VALG: ");
                s.push_str(&clean(&dangerous.join(", ")));
            }
            s
        }
        AuditEvent::ConfigReloaded {
            trust_anchors,
            crls,
        } => format!("{trust_anchors} tillitsankre, {crls} sperrelister"),
        AuditEvent::PostureFailed {
            source,
            session_id,
            outcome,
            failed,
            ..
        } => {
            let session = session_id
                .as_ref()
                .map_or(String::new(), |s| format!(", økt {}", clean(s)));
            format!(
                "{} fra {source}{session}: {}",
                outcome.as_str(),
                clean(&failed.join("; "))
            )
        }
        AuditEvent::LoginRefusedRepeated {
            source,
            reason,
            count,
            first,
            last,
        } => {
            let from = match source {
                Some(ip) => format!("fra {ip}"),
                None => "fra adresser utenfor tabellen".into(),
            };
            format!(
                "{} {from}, {count} ganger til, {} til {}",
                reason.as_str(),
                stamp(*first),
                stamp(*last)
            )
        }
    };
    format!(
        "{time}  {:<15}  {user:<16}  {what}\n",
        rec.event.kind().as_str()
    )
}

/// A time as the log writes it.
fn stamp(t: OffsetDateTime) -> String {
    utc_millis::format(t).unwrap_or_else(|_| t.to_string())
}

/// `1 t 2 min 3 s`, short for people.
fn duration(ms: u64) -> String {
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} t {m} min {s} s"),
    }
}

/// Text from the log as it may be shown on a terminal: control characters (which a client
/// could have put in a user name) become `\u{..}`, so they cannot move the cursor or
/// recolour the screen.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Turns an error of the log file into a sentence and a fix, for `run` and `check-config`.
pub fn explain(e: &AuditError) -> Failure {
    match e {
        AuditError::Open { path, source } => Failure::new(
            "audit-open",
            exit::IO,
            format!(
                "Kunne ikke åpne revisjonsloggen {}: {source}.",
                path.display()
            ),
        )
        .fix("Sjekk at mappen finnes og at gatewayen har skrivetilgang til den."),
        AuditError::TornTail { path, offset } => Failure::new(
            "audit-torn",
            exit::IO,
            format!(
                "Revisjonsloggen {} slutter med en avkuttet linje (fra byte {offset}), trolig \
                 etter et krasj eller full disk. Gatewayen fortsetter ikke en skadet logg.",
                path.display()
            ),
        )
        .fix(format!(
            "Kjør `hjemmekontor-gateway audit verify {}`. En avkuttet linje ble aldri bekreftet \
             til noen klient: ta en kopi av filen og fjern linjen med `truncate -s {offset} {}`.",
            path.display(),
            path.display()
        )),
        AuditError::BadTail { path, problem } => Failure::new(
            "audit-bad-tail",
            exit::IO,
            format!(
                "Siste linje i revisjonsloggen {} er ikke en gyldig post: {}.",
                path.display(),
                describe(problem)
            ),
        )
        .fix(format!(
            "Kjør `hjemmekontor-gateway audit verify {}` og finn ut hva som har skjedd med \
             filen før gatewayen startes igjen.",
            path.display()
        )),
        AuditError::Locked { path, lock } => Failure::new(
            "audit-locked",
            exit::OTHER,
            format!(
                "En annen gateway kjører allerede på revisjonsloggen {} (den holder låsen {}).",
                path.display(),
                lock.display()
            ),
        )
        .fix(
            "Stopp den andre gatewayen, eller vent til den har stoppet, og start denne igjen. \
             To gatewayer som skriver i samme logg ødelegger kjeden.",
        ),
        AuditError::ChainLost {
            path,
            head,
            head_seq,
            head_hash,
            found,
        } => Failure::new(
            "audit-chain-lost",
            exit::IO,
            format!(
                "Revisjonsloggen {} slutter ved post nr. {found}, men post nr. {head_seq} er \
                 skrevet til den før ({} viser det): filen er slettet, byttet ut eller kuttet. \
                 Gatewayen starter ikke en ny kjede av seg selv.",
                path.display(),
                head.display()
            ),
        )
        .fix(format!(
            "Legg den riktige filen tilbake. Ble den flyttet bort med vilje, så ta vare på den, \
             sjekk den med `hjemmekontor-gateway audit verify FIL` (siste hash skal være \
             {head_hash}), og slett {} for å starte en ny kjede.",
            head.display()
        )),
        AuditError::FileChanged { path, change } => {
            let (what, fix) = match change {
                FileChange::Missing => (
                    "er borte fra stedet sitt (slettet eller omdøpt)".to_string(),
                    "Flytt filen tilbake dit, så logger gatewayen videre av seg selv. Er den \
                     slettet: sjekk det som er igjen med `hjemmekontor-gateway audit verify` og \
                     start gatewayen på nytt.",
                ),
                FileChange::Replaced => (
                    "er byttet ut med en annen fil".to_string(),
                    "Legg den riktige filen tilbake, så logger gatewayen videre av seg selv; \
                     ellers sjekk filene med `hjemmekontor-gateway audit verify` og start \
                     gatewayen på nytt.",
                ),
                FileChange::Resized { expected, found } => (
                    format!(
                        "er skrevet i eller kuttet av noen andre ({found} byte, der gatewayen \
                         skrev {expected})"
                    ),
                    "Finn ut hvem som skrev i filen, sjekk den med `hjemmekontor-gateway audit \
                     verify`, og start gatewayen på nytt.",
                ),
            };
            Failure::new(
                "audit-file-changed",
                exit::IO,
                format!(
                    "Revisjonsloggen {} {what}. Ingen innlogging slippes inn uten at den blir \
                     logget.",
                    path.display()
                ),
            )
            .fix(fix)
        }
        AuditError::Write { path, source } | AuditError::Stopped { path, source } => Failure::new(
            "audit-write",
            exit::IO,
            format!(
                "Kunne ikke skrive til revisjonsloggen {}: {source}. Ingen innlogging slippes \
                 inn uten at den blir logget.",
                path.display()
            ),
        )
        .fix(
            "Frigjør plass på disken eller rett diskfeilen. Loggen er kuttet tilbake til siste \
             hele post og prøver igjen av seg selv (høyst én gang i sekundet), så innlogging \
             virker igjen uten omstart.",
        ),
        AuditError::Record(err) => Failure::new(
            "audit-record",
            exit::OTHER,
            format!("Kunne ikke lage revisjonsposten: {err}."),
        ),
        AuditError::Closed => Failure::new(
            "audit-closed",
            exit::OTHER,
            "Revisjonsloggen er lukket, så ingen innlogging kan logges.",
        )
        .fix("Start gatewayen på nytt."),
        AuditError::Database {
            place,
            what,
            detail,
        } => Failure::new(
            "audit-database",
            exit::IO,
            format!(
                "Revisjonsdatabasen ({place}) {}: {detail}. Uten den kan ingen innlogging \
                 logges, så ingen slipper inn.",
                database_words(what)
            ),
        )
        .fix(
            "Sjekk at PostgreSQL kjører og kan nås fra gatewayen, at brukeren i `postgres` \
             finnes med passordet i `postgres_password_file`, og at tabellen er laget med \
             installer/gateway/postgres/schema.sql (docs/cluster.md).",
        ),
    }
}

/// The database failure's words in Norwegian.
fn database_words(what: &DatabaseFailure) -> &'static str {
    match what {
        DatabaseFailure::Unreachable => "kan ikke nås",
        DatabaseFailure::Login => "slipper ikke gatewayen inn",
        DatabaseFailure::Read => "kan ikke leses",
        DatabaseFailure::Append => "tok ikke imot postene",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::audit::record::{RefusalReason, GENESIS};
    use time::macros::datetime;

    #[test]
    fn times_in_both_forms() {
        assert_eq!(
            parse_time("2025-05-25").unwrap(),
            datetime!(2025-05-25 0:00 UTC)
        );
        assert_eq!(
            parse_time("2025-05-25T14:00:00+02:00").unwrap(),
            datetime!(2025-05-25 12:00 UTC)
        );
        let err = parse_time("i går").unwrap_err();
        assert!(err.contains("ugyldig tid"), "{err}");
        assert!(parse_time("2025-13-01").is_err());
    }

    #[test]
    fn human_lines_escape_control_characters() {
        let rec = AuditRecord::seal(
            1,
            datetime!(2025-05-25 12:00 UTC),
            AuditEvent::LoginRefused {
                reason: RefusalReason::UnknownUser,
                user: Some("ola\u{1b}[2J".into()),
                personal_id: None,
                source: "192.0.2.7:50412".parse().unwrap(),
                detail: None,
            },
            GENESIS,
        )
        .unwrap();
        let line = human_line(&rec);
        assert!(!line.contains('\u{1b}'));
        assert!(line.starts_with("2025-05-25T12:00:00.000Z  login-refused    ola\\u{1b}[2J"));
        assert!(
            line.ends_with("unknown-user fra 192.0.2.7:50412\n"),
            "{line}"
        );
    }

    #[test]
    fn repeated_refusals_read_as_one_line() {
        let event = |source| AuditEvent::LoginRefusedRepeated {
            source,
            reason: RefusalReason::NoCertificate,
            count: 340,
            first: datetime!(2025-05-25 12:00:00.002 UTC),
            last: datetime!(2025-05-25 12:00:00.680 UTC),
        };
        let line = |source| {
            human_line(
                &AuditRecord::seal(
                    1,
                    datetime!(2025-05-25 12:00:10 UTC),
                    event(source),
                    GENESIS,
                )
                .unwrap(),
            )
        };
        assert_eq!(
            line(Some("192.0.2.7".parse().unwrap())),
            "2025-05-25T12:00:10.000Z  login-refused-repeated  -                 no-certificate fra \
             192.0.2.7, 340 ganger til, 2025-05-25T12:00:00.002Z til 2025-05-25T12:00:00.680Z\n"
        );
        assert!(line(None).contains("no-certificate fra adresser utenfor tabellen, 340 ganger"));
    }

    #[test]
    fn every_log_error_says_what_to_do() {
        let path = PathBuf::from("audit.jsonl");
        let errors = [
            AuditError::Locked {
                path: path.clone(),
                lock: "audit.jsonl.lock".into(),
            },
            AuditError::ChainLost {
                path: path.clone(),
                head: "audit.jsonl.head".into(),
                head_seq: 7,
                head_hash: "ab".repeat(32),
                found: 0,
            },
            AuditError::FileChanged {
                path: path.clone(),
                change: FileChange::Missing,
            },
            AuditError::FileChanged {
                path: path.clone(),
                change: FileChange::Replaced,
            },
            AuditError::FileChanged {
                path,
                change: FileChange::Resized {
                    expected: 10,
                    found: 20,
                },
            },
            AuditError::Stopped {
                path: "audit.jsonl".into(),
                source: std::sync::Arc::new(io::Error::other("disk full")),
            },
        ];
        for e in &errors {
            let failure = explain(e);
            assert!(failure.fix.is_some(), "{e}");
            assert!(failure.message.contains("audit.jsonl"), "{e}: {failure}");
        }
        let chain = explain(&errors[1]);
        assert!(chain.fix.unwrap().contains(&"ab".repeat(32)));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(999), "0 s");
        assert_eq!(duration(61_000), "1 min 1 s");
        assert_eq!(duration(3_723_000), "1 t 2 min 3 s");
    }

    #[test]
    fn every_problem_has_words() {
        let problems = [
            Problem::TooLong { max: 10 },
            Problem::NotUtf8,
            Problem::Unparsable { detail: "x".into() },
            Problem::Edited,
            Problem::Missing {
                expected: 2,
                found: 3,
            },
            Problem::Missing {
                expected: 2,
                found: 5,
            },
            Problem::OutOfOrder {
                expected: 3,
                found: 2,
            },
            Problem::WrongPrev,
            Problem::Torn,
        ];
        for p in problems {
            assert!(!describe(&p).is_empty());
        }
        assert_eq!(
            describe(&Problem::Missing {
                expected: 2,
                found: 5
            }),
            "post nr. 2 til 4 mangler (slettet eller flyttet)"
        );
    }
}
