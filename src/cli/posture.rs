//! `hjemmekontor posture`: what this computer reports about itself, and with `--gateway`,
//! what that gateway's policy says about it — before anyone types a PIN (the policy is
//! published by the gateway on a connection that needs no card; `docs/protocol.md`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use crate::client::posture::{self, fetch_policy, LocalProbes, PolicyError, ReportSource as _};
use crate::posture::policy::{evaluate, Failed};
use crate::posture::report::Report;
use crate::tunnel::protocol::PostureNotice;

use super::failure::{exit, Failure};
use super::output::print_json;
use super::posture_words::describe;

/// Arguments of `hjemmekontor posture`.
#[derive(Args, Debug)]
pub struct PostureArgs {
    /// Also ask this gateway (HOST:PORT) what its policy says about this computer; no card
    /// or PIN is needed. Without a value: the gateway remembered from the last login.
    #[arg(long, value_name = "HOST:PORT", num_args = 0..=1, default_missing_value = "")]
    pub gateway: Option<String>,
    /// The CA certificate of the gateway (PEM), as for `connect`; remembered after a login.
    #[arg(long, value_name = "FILE")]
    pub gateway_ca: Option<PathBuf>,
    /// Print the report (and the verdict) as JSON on standard output.
    #[arg(long)]
    pub json: bool,
    /// Settings file (tests).
    #[arg(long, value_name = "FILE", hide = true)]
    pub settings: Option<PathBuf>,
}

/// What `--json` prints.
#[derive(Serialize)]
struct Output<'a> {
    report: &'a Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<GatewayVerdict>,
}

/// The gateway's policy applied to the report, as the login would.
#[derive(Serialize)]
struct GatewayVerdict {
    address: String,
    admitted: bool,
    denied: Vec<PostureNotice>,
    warned: Vec<PostureNotice>,
    recheck_secs: u64,
}

/// Runs `hjemmekontor posture`. Exit code 0 when the gateway (if asked) would admit this
/// computer, 6 when it would refuse it.
pub fn run(args: &PostureArgs) -> ExitCode {
    match report_and_verdict(args) {
        Ok(code) => code,
        Err(f) => f.report(args.json),
    }
}

fn report_and_verdict(args: &PostureArgs) -> Result<ExitCode, Failure> {
    eprintln!("Sjekker maskinen (brannmur, antivirus, oppdateringer, diskkryptering, skjermlås) …");
    let report = LocalProbes.report();
    let verdict = match &args.gateway {
        None => None,
        Some(address) => Some(ask_gateway(args, address, &report)?),
    };
    if args.json {
        let refused = verdict.as_ref().is_some_and(|v| !v.admitted);
        print_json(&Output {
            report: &report,
            gateway: verdict,
        });
        return Ok(if refused {
            ExitCode::from(exit::POSTURE)
        } else {
            ExitCode::SUCCESS
        });
    }
    println!("{}", describe(&report));
    let Some(verdict) = verdict else {
        println!(
            "Vil du vite hva gatewayen sier om maskinen? Kjør `hjemmekontor posture --gateway`."
        );
        return Ok(ExitCode::SUCCESS);
    };
    print_verdict(&verdict);
    Ok(if verdict.admitted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::POSTURE)
    })
}

fn print_verdict(verdict: &GatewayVerdict) {
    println!();
    match (verdict.admitted, verdict.warned.is_empty()) {
        (false, _) => println!("Gatewayen {} ville AVVIST denne maskinen:", verdict.address),
        (true, false) => println!(
            "Gatewayen {} slipper denne maskinen inn, med advarsler:",
            verdict.address
        ),
        (true, true) => println!(
            "Gatewayen {} slipper denne maskinen inn: alle kravene er oppfylt.",
            verdict.address
        ),
    }
    let failed: Vec<PostureNotice> = verdict
        .denied
        .iter()
        .chain(&verdict.warned)
        .cloned()
        .collect();
    if !failed.is_empty() {
        println!("{}", posture::notices_text(&failed));
    }
}

/// Fetches the gateway's policy and applies it to `report` now.
fn ask_gateway(
    args: &PostureArgs,
    address: &str,
    report: &Report,
) -> Result<GatewayVerdict, Failure> {
    let remembered = match args
        .settings
        .clone()
        .or_else(crate::client::settings::default_path)
    {
        Some(path) => crate::client::settings::load(&path).unwrap_or_default(),
        None => Default::default(),
    };
    let address = match address {
        "" => remembered.gateway.clone().ok_or_else(|| {
            Failure::new(
                "no-gateway",
                exit::USAGE,
                "Det er ikke oppgitt noen gateway.",
            )
            .fix("Oppgi den med --gateway VERT:PORT (du får adressen fra IT-ansvarlig).")
        })?,
        given => given.to_string(),
    };
    let ca_path = args
        .gateway_ca
        .clone()
        .or(remembered.gateway_ca)
        .ok_or_else(|| {
            Failure::new(
                "no-gateway-ca",
                exit::USAGE,
                "Det er ikke oppgitt hvilket CA-sertifikat gatewayen bruker.",
            )
            .fix("Oppgi filen med --gateway-ca FIL (du får den fra IT-ansvarlig).")
        })?;
    let target = super::connect::gateway_target(&address, &ca_path)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new("runtime", exit::OTHER, format!("Kunne ikke starte: {e}.")))?;
    eprintln!("Spør gatewayen {address} om kravene (uten kort og PIN) …");
    let published = runtime
        .block_on(fetch_policy(&target))
        .map_err(|e| policy_failure(&e))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let verdict = evaluate(&published.policy, report, now);
    let notices = |list: &[Failed]| list.iter().map(PostureNotice::from).collect();
    Ok(GatewayVerdict {
        address,
        admitted: verdict.admitted(),
        denied: notices(&verdict.denied),
        warned: notices(&verdict.warned),
        recheck_secs: published.recheck_secs,
    })
}

fn policy_failure(e: &PolicyError) -> Failure {
    match e {
        PolicyError::Unreachable { address, detail } => Failure::new(
            "gateway-unreachable",
            exit::OTHER,
            format!("Får ikke kontakt med gatewayen {address} ({detail})."),
        )
        .fix("Sjekk nettverket og adressen, eller kontakt IT-ansvarlig."),
        PolicyError::Tls(detail) => Failure::new(
            "tls",
            exit::OTHER,
            format!("Den sikre forbindelsen til gatewayen kunne ikke opprettes ({detail})."),
        )
        .fix("Sjekk at --gateway-ca er CA-sertifikatet du fikk av IT-ansvarlig. En eldre gateway publiserer ikke kravene sine."),
        PolicyError::Answer(detail) => Failure::new(
            "protocol",
            exit::OTHER,
            format!("Gatewayen sendte ikke kravene sine ({detail})."),
        )
        .fix("Prøv igjen, eller kontakt IT-ansvarlig."),
    }
}
