//! `hjemmekontor profile`: IT makes a connection profile (`create`), checks one (`show`), and
//! users import it (`import`) so that they never type a gateway address (docs/profiles.md).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::client::profile::{self, ImportError, Imported, Profile, ProfileError};
use crate::client::settings;
use crate::i18n::catalogue::profile as m;

use super::failure::{exit, Failure};
use super::output::print_json;

/// Arguments of `hjemmekontor profile`.
#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// Import the profile file IT gave you: the gateway, its CA certificate and the service's
    /// name go into your settings (your username stays). Shows the CA's fingerprint to
    /// compare with what IT told you.
    ///
    /// Example: hjemmekontor profile import Hjemmekontor-kommune.hjemmekontor
    Import(ImportArgs),
    /// Check a profile file and show what it holds, without importing it.
    Show(ShowArgs),
    /// For IT: write a profile for the users of one gateway.
    ///
    /// Example:
    ///   hjemmekontor profile create --name "Hjemmekontor Eksempel kommune" \
    ///     --gateway gw.kommune.no:443 --gateway-ca kommune-gateway-ca.pem \
    ///     --expect-address 10.20.30.40 --port 443 --output kommune.hjemmekontor
    #[command(verbatim_doc_comment)]
    Create(CreateArgs),
}

/// Arguments of `hjemmekontor profile import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The profile file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print what was imported as JSON on standard output.
    #[arg(long)]
    pub json: bool,
    /// Settings file (default: the user's configuration directory).
    #[arg(long, value_name = "FILE", hide = true)]
    pub settings: Option<PathBuf>,
}

/// Arguments of `hjemmekontor profile show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The profile file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print the profile as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `hjemmekontor profile create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The service's name as the users know it; the window's title.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// The gateway, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub gateway: String,
    /// The CA certificate (PEM) that issued the gateway's certificate.
    #[arg(long, value_name = "FILE")]
    pub gateway_ca: PathBuf,
    /// The address the gateway's name must resolve to at the users' homes (`doctor`'s
    /// split-DNS check).
    #[arg(long, value_name = "IP")]
    pub expect_address: Option<IpAddr>,
    /// A port on the gateway's host that must be open besides the gateway's own (repeat).
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,
    /// Where to write the profile; `-` for standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// What `profile import --json` and `profile show --json` print.
#[derive(Serialize)]
struct Summary<'a> {
    name: &'a str,
    gateway: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expect_address: Option<IpAddr>,
    required_ports: &'a [u16],
    ca_fingerprint_sha256: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_path: Option<&'a Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replaced_gateway: Option<&'a str>,
}

impl<'a> Summary<'a> {
    fn of(p: &'a Profile, fingerprint: &'a str) -> Self {
        Summary {
            name: p.name.trim(),
            gateway: &p.gateway,
            expect_address: p.expect_address,
            required_ports: &p.required_ports,
            ca_fingerprint_sha256: fingerprint,
            ca_path: None,
            replaced_gateway: None,
        }
    }
}

/// Runs `hjemmekontor profile …`.
pub fn run(command: &ProfileCommand) -> ExitCode {
    let (result, json) = match command {
        ProfileCommand::Import(args) => (import(args), args.json),
        ProfileCommand::Show(args) => (show(args), args.json),
        ProfileCommand::Create(args) => (create(args), false),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => f.report(json),
    }
}

fn import(args: &ImportArgs) -> Result<(), Failure> {
    let settings_path = args
        .settings
        .clone()
        .or_else(settings::default_path)
        .ok_or_else(no_settings_dir)?;
    let imported = import_file(&args.file, &settings_path)?;
    let mut summary = Summary::of(&imported.profile, &imported.ca_fingerprint);
    summary.ca_path = Some(&imported.ca_path);
    summary.replaced_gateway = imported.replaced_gateway.as_deref();
    if args.json {
        print_json(&summary);
        return Ok(());
    }
    println!("{}", imported_words(&imported));
    println!("{}", m::NEXT.text());
    Ok(())
}

/// Imports a profile, its failures in words: the command line's and the window's.
pub fn import_file(file: &Path, settings_path: &Path) -> Result<Imported, Failure> {
    profile::import(file, settings_path).map_err(|e| import_failure(&e))
}

/// What an import did, in sentences: the service and gateway, the gateway it replaced, and
/// the fingerprint to compare.
pub fn imported_words(imported: &Imported) -> String {
    let p = &imported.profile;
    let mut words = m::IMPORTED.with(&[("name", &p.name.trim()), ("gateway", &p.gateway)]);
    if let Some(old) = &imported.replaced_gateway {
        words = format!("{words} {}", m::REPLACED.with(&[("old", old)]));
    }
    format!(
        "{words}\n{}",
        m::FINGERPRINT.with(&[("fingerprint", &imported.ca_fingerprint)])
    )
}

fn show(args: &ShowArgs) -> Result<(), Failure> {
    let bytes = std::fs::read(&args.file).map_err(|e| read_failure(&args.file, &e))?;
    let p = profile::parse(&bytes).map_err(|e| profile_failure(&args.file, &e))?;
    let fingerprint = profile::ca_fingerprint(&p).map_err(|e| profile_failure(&args.file, &e))?;
    if args.json {
        print_json(&Summary::of(&p, &fingerprint));
        return Ok(());
    }
    println!("{}", m::SHOW_NAME.with(&[("name", &p.name.trim())]));
    println!("{}", m::SHOW_GATEWAY.with(&[("gateway", &p.gateway)]));
    if let Some(address) = p.expect_address {
        println!("{}", m::SHOW_ADDRESS.with(&[("address", &address)]));
    }
    if !p.required_ports.is_empty() {
        let ports: Vec<String> = p.required_ports.iter().map(u16::to_string).collect();
        println!("{}", m::SHOW_PORTS.with(&[("ports", &ports.join(", "))]));
    }
    println!("{}", m::SHOW_CA.with(&[("fingerprint", &fingerprint)]));
    Ok(())
}

fn create(args: &CreateArgs) -> Result<(), Failure> {
    let ca = std::fs::read_to_string(&args.gateway_ca).map_err(|e| {
        Failure::new(
            "file-unreadable",
            exit::IO,
            m::CA_UNREADABLE.with(&[("path", &args.gateway_ca.display()), ("error", &e)]),
        )
    })?;
    let p = Profile {
        format: profile::FORMAT,
        name: args.name.trim().to_owned(),
        gateway: args.gateway.clone(),
        expect_address: args.expect_address,
        required_ports: args.ports.clone(),
        gateway_ca: ca,
    };
    let invalid = |e: ProfileError| {
        Failure::new(
            "profile-invalid",
            exit::USAGE,
            m::CREATE_INVALID.with(&[("error", &e)]),
        )
        .fix(m::CREATE_INVALID_FIX.text())
    };
    let text = profile::render(&p).map_err(invalid)?;
    let fingerprint = profile::ca_fingerprint(&p).map_err(invalid)?;
    if args.output == Path::new("-") {
        print!("{text}");
    } else {
        write_new(&args.output, &text, args.force)?;
        println!(
            "{}",
            m::WROTE.with(&[("name", &p.name), ("path", &args.output.display())])
        );
    }
    eprintln!("{}", m::SHOW_CA.with(&[("fingerprint", &fingerprint)]));
    Ok(())
}

fn write_new(path: &Path, text: &str, force: bool) -> Result<(), Failure> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let unwritable = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::new(
                "file-exists",
                exit::USAGE,
                m::EXISTS.with(&[("path", &path.display())]),
            )
            .fix(m::EXISTS_FIX.text())
        } else {
            Failure::new(
                "file-unwritable",
                exit::IO,
                m::UNWRITABLE.with(&[("path", &path.display()), ("error", &e)]),
            )
        }
    };
    let mut file = options.open(path).map_err(unwritable)?;
    file.write_all(text.as_bytes()).map_err(unwritable)
}

fn import_failure(e: &ImportError) -> Failure {
    match e {
        ImportError::Read { path, source } => read_failure(path, source),
        ImportError::Profile { path, source } => profile_failure(path, source),
        ImportError::Settings(e) => super::card_open::settings_failure(e),
    }
}

fn read_failure(path: &Path, e: &std::io::Error) -> Failure {
    Failure::new(
        "profile-unreadable",
        exit::IO,
        m::UNREADABLE.with(&[("path", &path.display()), ("error", e)]),
    )
    .fix(m::UNREADABLE_FIX.text())
}

fn profile_failure(path: &Path, e: &ProfileError) -> Failure {
    let path = path.display();
    match e {
        ProfileError::Altered => Failure::new(
            "profile-altered",
            exit::USAGE,
            m::ALTERED.with(&[("path", &path)]),
        )
        .fix(m::ALTERED_FIX.text()),
        ProfileError::Format { found } => Failure::new(
            "profile-newer",
            exit::USAGE,
            m::NEWER.with(&[("path", &path), ("found", found)]),
        )
        .fix(m::NEWER_FIX.text()),
        other => Failure::new(
            "profile-invalid",
            exit::USAGE,
            m::INVALID.with(&[("path", &path), ("error", other)]),
        )
        .fix(m::INVALID_FIX.text()),
    }
}

fn no_settings_dir() -> Failure {
    Failure::new("settings", exit::USAGE, m::NO_SETTINGS_DIR.text())
        .fix(m::NO_SETTINGS_DIR_FIX.text())
}
