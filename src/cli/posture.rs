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
use crate::i18n::catalogue::{self as connect, posture as m};

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
#[derive(Debug, Clone, Serialize)]
pub struct GatewayVerdict {
    /// The gateway asked.
    pub address: String,
    /// Whether a login would get past the posture rules.
    pub admitted: bool,
    /// The rules that would refuse the login, with their remediation.
    pub denied: Vec<PostureNotice>,
    /// The rules that would let it in with a warning.
    pub warned: Vec<PostureNotice>,
    /// How often the gateway wants a new report during a session.
    pub recheck_secs: u64,
}

impl GatewayVerdict {
    /// The verdict's first line, as `hjemmekontor posture --gateway` prints it.
    pub fn headline(&self) -> String {
        let said = match (self.admitted, self.warned.is_empty()) {
            (false, _) => m::WOULD_REFUSE,
            (true, false) => m::ADMITS_WITH_WARNINGS,
            (true, true) => m::ADMITS,
        };
        said.with(&[("gateway", &self.address)])
    }

    /// The rules that failed, each with its remediation; empty when none did.
    pub fn failed_text(&self) -> String {
        let failed: Vec<PostureNotice> = self.denied.iter().chain(&self.warned).cloned().collect();
        if failed.is_empty() {
            String::new()
        } else {
            posture::notices_text(&failed)
        }
    }
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
    eprintln!("{}", m::CHECKING.text());
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
        println!("{}", m::ASK_THE_GATEWAY.text());
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
    println!("{}", verdict.headline());
    let failed = verdict.failed_text();
    if !failed.is_empty() {
        println!("{failed}");
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
            Failure::new("no-gateway", exit::USAGE, connect::NO_GATEWAY.text())
                .fix(m::NO_GATEWAY_FIX.text())
        })?,
        given => given.to_string(),
    };
    let ca_path = args
        .gateway_ca
        .clone()
        .or(remembered.gateway_ca)
        .ok_or_else(|| {
            Failure::new("no-gateway-ca", exit::USAGE, connect::NO_GATEWAY_CA.text())
                .fix(m::NO_GATEWAY_CA_FIX.text())
        })?;
    eprintln!("{}", m::ASKING.with(&[("gateway", &address)]));
    verdict_of(&address, &ca_path, report)
}

/// Fetches the gateway's published policy (no card, no PIN) and applies it to `report` now:
/// the command line's `posture --gateway` and the window's summary before a login.
pub fn verdict_of(
    address: &str,
    ca_path: &std::path::Path,
    report: &Report,
) -> Result<GatewayVerdict, Failure> {
    let target = super::connect::gateway_target(address, ca_path)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                "runtime",
                exit::OTHER,
                connect::RUNTIME.with(&[("error", &e)]),
            )
        })?;
    let published = runtime
        .block_on(fetch_policy(&target))
        .map_err(|e| policy_failure(&e))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let verdict = evaluate(&published.policy, report, now);
    let notices = |list: &[Failed]| list.iter().map(PostureNotice::from).collect();
    Ok(GatewayVerdict {
        address: address.to_owned(),
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
            connect::GATEWAY_UNREACHABLE.with(&[("address", address), ("detail", detail)]),
        )
        .fix(m::UNREACHABLE_FIX.text()),
        PolicyError::Tls(detail) => Failure::new(
            "tls",
            exit::OTHER,
            connect::TLS_FAILED.with(&[("detail", detail)]),
        )
        .fix(m::TLS_FIX.text()),
        PolicyError::Answer(detail) => Failure::new(
            "protocol",
            exit::OTHER,
            m::POLICY_NOT_SENT.with(&[("detail", detail)]),
        )
        .fix(m::POLICY_NOT_SENT_FIX.text()),
    }
}
