//! `hjemmekontor-gateway check-crl`: the shell around [`super::crl_check`]. Reads the
//! configuration's CAs, the files, the clock; prints one verdict per CRL.
//!
//! Human output is bokmål, one line per CRL that starts `FILE: i orden:` or `FILE: avvist:`
//! (what `installer/gateway/refresh-crls` relays), with what to do under a refusal; `--json`
//! keys are English and stable. Exit codes: `0` every file may be used, `1` a file or a CRL in
//! it is refused, `2` wrong arguments or a configuration that cannot be used, `5` a file could
//! not be read.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;
use time::OffsetDateTime;

use crate::cli::failure::{exit, Failure};
use crate::cli::output::{norwegian_date, print_json};

use super::config::{self, PathKind};
use super::crl_check::{check, CrlCheck, FileCheck, FileProblem, Refusal, Replaced, MAX_CRL_BYTES};

/// Exit code when a file or a CRL in it is refused (as `audit verify` for a broken chain).
pub const EXIT_REFUSED: u8 = 1;

/// Arguments of `check-crl`.
#[derive(Debug, clap::Args)]
pub struct CheckCrlArgs {
    /// The gateway's configuration: a CRL must be signed by one of its `[trust]` anchors or
    /// intermediates. The CRL files it names need not exist yet, so the first download can
    /// be checked.
    pub config: PathBuf,
    /// The CRL files to check (PEM or DER; a PEM file may hold several).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The CRL file a FILE would replace: give it once per FILE, in the same order (or not
    /// at all). A FILE must then come from the same CAs as OLD and not be older (thisUpdate,
    /// CRL number).
    #[arg(long, value_name = "OLD")]
    pub replaces: Vec<PathBuf>,
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One file's outcome.
#[derive(Serialize)]
struct FileReport {
    file: String,
    replaces: Option<String>,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Failure>,
    #[serde(flatten)]
    check: Option<FileCheck>,
}

#[derive(Serialize)]
struct Report {
    config: String,
    ok: bool,
    files: Vec<FileReport>,
}

/// Checks every file: a verdict per CRL, exit code 0 when every one may be used.
pub fn check_crl(args: &CheckCrlArgs) -> ExitCode {
    let now = OffsetDateTime::now_utc();
    let report = match run(args, now) {
        Ok(report) => report,
        Err(failure) => return failure.report(args.json),
    };
    if args.json {
        print_json(&report);
    } else {
        for file in &report.files {
            print_file(file, now);
        }
        let refused = report.files.iter().filter(|f| !f.ok).count();
        if refused > 0 {
            eprintln!(
                "{refused} av {} kan ikke brukes; en CRL som skulle erstattes, må bli stående.",
                files_word(report.files.len())
            );
        }
    }
    ExitCode::from(exit_code(&report))
}

fn files_word(n: usize) -> String {
    if n == 1 {
        "1 fil".into()
    } else {
        format!("{n} filer")
    }
}

fn exit_code(report: &Report) -> u8 {
    if report.files.iter().any(|f| f.error.is_some()) {
        exit::IO
    } else if report.ok {
        0
    } else {
        EXIT_REFUSED
    }
}

fn run(args: &CheckCrlArgs, now: OffsetDateTime) -> Result<Report, Failure> {
    if !args.replaces.is_empty() && args.replaces.len() != args.files.len() {
        return Err(Failure::new(
            "replaces-mismatch",
            exit::USAGE,
            format!(
                "--replaces er gitt {} for {}.",
                match args.replaces.len() {
                    1 => "én gang".to_string(),
                    n => format!("{n} ganger"),
                },
                files_word(args.files.len())
            ),
        )
        .fix("Gi én --replaces per FIL, i samme rekkefølge, eller ingen."));
    }
    let signers = signers(&args.config)?;
    let files = args
        .files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            check_one(
                file,
                args.replaces.get(i).map(PathBuf::as_path),
                &signers,
                now,
            )
        })
        .collect::<Vec<_>>();
    Ok(Report {
        config: args.config.display().to_string(),
        ok: files.iter().all(|f| f.ok),
        files,
    })
}

fn check_one(
    file: &Path,
    old: Option<&Path>,
    signers: &[Vec<u8>],
    now: OffsetDateTime,
) -> FileReport {
    let mut report = FileReport {
        file: file.display().to_string(),
        replaces: old.map(|o| o.display().to_string()),
        ok: false,
        error: None,
        check: None,
    };
    let bytes = match read_bounded(file) {
        Ok(bytes) => bytes,
        Err(e) => {
            report.error = Some(unreadable(file, &e));
            return report;
        }
    };
    let old_bytes = match old.map(read_bounded).transpose() {
        Ok(old_bytes) => old_bytes,
        Err(e) => {
            report.error = Some(unreadable(old.unwrap_or(file), &e));
            return report;
        }
    };
    let checked = check(&bytes, signers, old_bytes.as_deref(), now);
    report.ok = checked.ok();
    report.check = Some(checked);
    report
}

fn unreadable(path: &Path, e: &std::io::Error) -> Failure {
    Failure::new(
        "crl-unreadable",
        exit::IO,
        format!("Kunne ikke lese {}: {e}.", path.display()),
    )
    .fix("Sjekk stien, og at brukeren som kjører kommandoen kan lese filen.")
}

/// Reads at most one byte more than a CRL may have, so the core sees an oversized file as
/// such without the whole of it in memory.
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_CRL_BYTES + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The configuration's anchors and intermediates (DER). The configuration is checked as the
/// gateway checks it, except that files it names may be missing: they are read here, and the
/// CRL files are what the caller is about to put in place.
fn signers(config_path: &Path) -> Result<Vec<Vec<u8>>, Failure> {
    let shown = config_path.display();
    let text = std::fs::read_to_string(config_path).map_err(|e| {
        Failure::new(
            "config-read",
            exit::IO,
            format!("Kunne ikke lese konfigurasjonsfilen {shown}: {e}."),
        )
        .fix("Sjekk stien, og at brukeren som kjører kommandoen kan lese filen.")
    })?;
    let base = match config_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let lenient = |p: &Path| match config::probe_disk(p) {
        PathKind::Missing => PathKind::File,
        kind => kind,
    };
    let config = config::parse(&text, base, &lenient).map_err(|errors| {
        let first = errors
            .first()
            .map(|e| format!(" Den første: linje {}: {}", e.line, e.message))
            .unwrap_or_default();
        Failure::new(
            "config-invalid",
            exit::USAGE,
            format!(
                "Konfigurasjonsfilen {shown} har {} feil.{first}",
                errors.len()
            ),
        )
        .fix(format!(
            "Kjør «hjemmekontor-gateway check-config {shown}» og rett feilene."
        ))
    })?;
    let mut out = Vec::new();
    for path in config
        .trust
        .anchors
        .iter()
        .chain(&config.trust.intermediates)
    {
        let bytes = read_bounded(path).map_err(|e| unreadable(path, &e))?;
        let certs = crate::cert::certificates_from_bytes(&bytes).map_err(|e| {
            Failure::new(
                "trust-unusable",
                exit::USAGE,
                format!("CA-sertifikatet {} kan ikke brukes: {e}.", path.display()),
            )
            .fix(format!(
                "Kjør «hjemmekontor-gateway check-config {shown}» og rett filen."
            ))
        })?;
        out.extend(certs);
    }
    Ok(out)
}

fn print_file(file: &FileReport, now: OffsetDateTime) {
    if let Some(error) = &file.error {
        print_refusal(&file.file, &error.message, error.fix.as_deref());
        return;
    }
    let Some(check) = &file.check else { return };
    let many = check.crls.len() > 1;
    for (i, crl) in check.crls.iter().enumerate() {
        let label = if many {
            format!("{} (liste {} av {})", file.file, i + 1, check.crls.len())
        } else {
            file.file.clone()
        };
        print_crl(&label, crl, &check.replaced, now);
    }
    if let Some(problem) = &check.problem {
        let (message, fix) = file_problem_words(problem);
        print_refusal(&file.file, &message, Some(&fix));
    }
}

fn print_crl(label: &str, crl: &CrlCheck, replaced: &Replaced, now: OffsetDateTime) {
    let f = &crl.facts;
    let next = match f.next_update {
        Some(next) if next > now => format!("{} ({})", when(next), time_left(next - now)),
        Some(next) => when(next),
        None => "ingen".to_string(),
    };
    let mut facts = format!(
        "{}; thisUpdate {}; nextUpdate {next}; {} tilbakekalte",
        f.issuer,
        when(f.this_update),
        f.revoked
    );
    match (crl.replaced_this_update, replaced) {
        (Some(old), _) => facts.push_str(&format!("; erstatter liste fra {}", when(old))),
        (None, Replaced::Unreadable { .. }) => facts.push_str("; erstatter en fil uten lesbar CRL"),
        _ => {}
    }
    match &crl.refusal {
        None => println!("{label}: i orden: {facts}"),
        Some(refusal) => {
            let (message, fix) = refusal_words(refusal, crl);
            print_refusal(label, &message, Some(&fix));
            println!("  Listen: {facts}");
        }
    }
}

fn print_refusal(label: &str, message: &str, fix: Option<&str>) {
    println!("{label}: avvist: {message}");
    if let Some(fix) = fix {
        println!("  Gjør dette: {fix}");
    }
}

/// A moment as `31.05.2025 12:00 UTC`.
fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{} {:02}:{:02} UTC",
        norwegian_date(t),
        t.hour(),
        t.minute()
    )
}

fn time_left(d: time::Duration) -> String {
    match (d.whole_days(), d.whole_hours()) {
        (days, _) if days >= 2 => format!("om {days} dager"),
        (_, hours) if hours >= 2 => format!("om {hours} timer"),
        _ => format!("om {} minutter", d.whole_minutes()),
    }
}

/// A refused CRL in words: what is wrong, and what to do.
fn refusal_words(refusal: &Refusal, crl: &CrlCheck) -> (String, String) {
    let issuer = &crl.facts.issuer;
    match refusal {
        Refusal::Unsupported { detail } => (
            format!("Listen fra {issuer} har en form gatewayen ikke kan lese ({detail}), så den ville ikke blitt lastet inn."),
            "Sjekk at adressen gir CA-ens fullstendige CRL (ikke en delta-CRL), og meld fra til CA-en hvis den gjør det.".into(),
        ),
        Refusal::UnknownIssuer => (
            format!("Listen er utstedt av {issuer}, som ikke er blant tillitsankerne eller de mellomliggende CA-ene i konfigurasjonen."),
            "Sjekk at adressen er CRL-en til en CA gatewayen stoler på, eller legg CA-ens sertifikat til under [trust] intermediates.".into(),
        ),
        Refusal::BadSignature => (
            format!("Signaturen på listen fra {issuer} stemmer ikke med nøkkelen til noen konfigurert CA med det navnet: listen er skadet, forfalsket, eller signert med en CA-nøkkel som ikke er konfigurert."),
            "Hent listen på nytt. Er den fortsatt feil, sjekk om CA-en har fått ny nøkkel, og legg i så fall det nye CA-sertifikatet til under [trust].".into(),
        ),
        Refusal::SignerMayNotSignCrls { signer } => (
            format!("CA-en {signer} signerte listen, men sertifikatet dens gir ikke lov til å signere CRL-er (cRLSign mangler), så gatewayen godtar den ikke."),
            "Bruk adressen til CRL-en fra CA-en som utsteder kortsertifikatene (se CRL Distribution Points i et kortsertifikat).".into(),
        ),
        Refusal::Expired => (
            format!("Listen fra {issuer} er utløpt (nextUpdate {}); med en utløpt liste avviser gatewayen alle kort fra denne CA-en.", crl.facts.next_update.map(when).unwrap_or_else(|| "mangler".into())),
            "Hent en nyere liste. Publiserer CA-en fortsatt denne, meld fra til CA-en; sjekk også at klokka på maskinen går riktig.".into(),
        ),
        Refusal::Older { replaced_this_update } => (
            format!("Listen fra {issuer} er eldre enn den den skulle erstatte (thisUpdate {}, den gamle {}); en gammel liste kan mangle kort som er trukket tilbake siden.", when(crl.facts.this_update), when(*replaced_this_update)),
            "Behold den gamle listen. Gir adressen en utdatert kopi (et speil eller et mellomlager), bruk CA-ens egen adresse.".into(),
        ),
        Refusal::OtherIssuer { replaced_issuers } => (
            format!("Listen er fra {issuer}, men filen den skulle erstatte har listen fra {}.", replaced_issuers.join(" og ")),
            "Sjekk at adressen og filnavnet hører sammen. Har CA-en fått ny nøkkel, hent den nye listen til en egen fil og legg den til under [trust] crls.".into(),
        ),
    }
}

/// A file that gives no usable CRL, in words.
fn file_problem_words(problem: &FileProblem) -> (String, String) {
    let fetch_again = "Hent listen på nytt, og sjekk adressen den hentes fra.";
    match problem {
        FileProblem::Empty => ("Filen er tom.".into(), fetch_again.into()),
        FileProblem::TooLarge => (
            format!("Filen er større enn {} MiB, langt over noen CRL.", MAX_CRL_BYTES >> 20),
            fetch_again.into(),
        ),
        FileProblem::Certificate => (
            "Filen er et sertifikat, ikke en CRL.".into(),
            "Adressen gir CA-sertifikatet; bruk CRL-adressen (CRL Distribution Points i et kortsertifikat, eller CA-ens nettsider).".into(),
        ),
        FileProblem::NotACrl { detail } => (
            match detail {
                Some(detail) => format!("Filen er ikke en CRL (verken DER eller PEM med «X509 CRL»): {detail}."),
                None => "Filen er ikke en CRL (verken DER eller PEM med «X509 CRL»).".into(),
            },
            format!("{fetch_again} En feilside fra en nettjener ser slik ut."),
        ),
        FileProblem::DropsIssuer { issuer } => (
            format!("Den gamle filen har en liste fra {issuer}, som den nye mangler; kort fra den CA-en ville blitt avvist."),
            "Hent listen til hver CA til en egen fil, eller behold filen slik den er.".into(),
        ),
    }
}
