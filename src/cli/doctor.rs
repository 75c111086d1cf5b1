//! `hjemmekontor doctor`: every check of a home-office setup in one command, each one line
//! `OK`, `ADVARSEL` or `FEIL` with what to do, and with `--report FILE` a support bundle.
//!
//! The card, the posture probes and the network run at the same time, each in its own thread
//! and each bounded (`doctor::Bounds`), so one that hangs is reported as hanging and the rest
//! still come back. Progress goes to standard error. Exit code 0 when nothing failed
//! (warnings allowed), 1 when a check failed, 2 for wrong arguments or settings.

mod card;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cert::{self, AuthPolicy, ChainConfig};
use crate::client::posture::{LocalProbes, ReportSource as _};
use crate::client::session::GatewayTarget;
use crate::client::settings::ClientSettings;
use crate::doctor::network::{check_gateway, GatewayPlan, NetworkOutcome, SystemResolver};
use crate::doctor::posture::{posture_check, Judge};
use crate::doctor::report::{exit_code, render, write_private, Bundle, Summary};
use crate::doctor::trace::Trace;
use crate::doctor::{Bounds, CheckResult, Clock, SystemClock};
use crate::i18n::catalogue::{self, doctor as m};
use crate::i18n::Msg;
use crate::posture::report::Report;

use self::card::{card_phase, sign_test, CardPlan, Ready, Shared, CARD_CHECKS};
use super::card_open::CardOptions;
use super::failure::{exit, Failure};
use super::output::print_json;
use super::prompt::SecretSource;

/// Arguments of `hjemmekontor doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// How to reach the card.
    #[command(flatten)]
    pub card: CardOptions,
    /// The gateway (HOST:PORT) to check the network against. Default: the one remembered
    /// from the last login.
    #[arg(long, value_name = "HOST:PORT")]
    pub gateway: Option<String>,
    /// The gateway's CA certificate (PEM), as for `connect`. Default: the remembered one.
    #[arg(long, value_name = "FILE")]
    pub gateway_ca: Option<PathBuf>,
    /// The address the gateway's name must resolve to (the Helsenett address of a name that
    /// is also on the internet). Default: `expect_address` in the settings.
    #[arg(long, value_name = "IP")]
    pub expect_address: Option<IpAddr>,
    /// Another TCP port on the gateway's host that must answer (repeat for more), besides the
    /// gateway's own and `required_ports` in the settings.
    #[arg(long = "port", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub ports: Vec<u16>,
    /// Trust anchors (PEM or DER) to check the card certificate's chain against.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub roots: Vec<PathBuf>,
    /// Intermediate CA certificates for that chain.
    #[arg(long, value_name = "FILE", num_args = 1.., requires = "roots")]
    pub intermediates: Vec<PathBuf>,
    /// Test environment: judge TEST certificates by their policy as if they were production.
    /// For test setups only, never for real users.
    #[arg(long)]
    pub test_environment: bool,
    /// Also test a signature: asks the PIN once (a wrong PIN costs a try, and is never
    /// retried), signs a random challenge and checks it against the certificate.
    #[arg(long)]
    pub sign_test: bool,
    /// With --sign-test: read the PIN from standard input instead of prompting.
    #[arg(long, requires = "sign_test")]
    pub pin_stdin: bool,
    /// With --sign-test: read the PIN from this inherited file descriptor.
    #[arg(long, value_name = "FD", requires = "sign_test")]
    pub pin_fd: Option<u32>,
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write a support bundle (JSON, readable by you only) to FILE: every result, versions,
    /// reader and card facts, the certificate's public facts, the posture report, and what
    /// was tried with timings. Never a PIN or password.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: &DoctorArgs) -> ExitCode {
    let setup = match Setup::from_args(args) {
        Ok(s) => s,
        Err(f) => return f.report(args.json),
    };
    let trace = Trace::new();
    let found = run_checks(args, &setup, &trace);
    let results = found.results;
    if args.json {
        print_json(&Summary::of(&results));
    } else {
        println!("{}", render(&results));
    }
    let code = exit_code(&results);
    if let Some(path) = &args.report {
        let now = SystemClock.now().unix_timestamp();
        let bundle = Bundle::new(
            &results,
            found.posture.as_ref(),
            trace.steps(),
            setup.shown,
            now,
        );
        if let Err(e) = bundle.write(path) {
            return unwritable(path, &e).report(args.json);
        }
        eprintln!("{}", m::REPORT_WRITTEN.with(&[("path", &path.display())]));
    }
    ExitCode::from(code)
}

/// The support bundle alone, for a front end that is not the terminal (the window's "Send til
/// IT"): the same checks and the same file as `doctor --report FILE` with the remembered
/// gateway, nothing printed on standard output, no PIN asked. Returns the exit code `doctor`
/// would give.
pub fn write_report(card: CardOptions, test_environment: bool, path: &Path) -> Result<u8, Failure> {
    let args = DoctorArgs {
        card,
        gateway: None,
        gateway_ca: None,
        expect_address: None,
        ports: Vec::new(),
        roots: Vec::new(),
        intermediates: Vec::new(),
        test_environment,
        sign_test: false,
        pin_stdin: false,
        pin_fd: None,
        json: false,
        report: Some(path.to_path_buf()),
    };
    let setup = Setup::from_args(&args)?;
    let trace = Trace::new();
    let found = run_checks(&args, &setup, &trace);
    let now = SystemClock.now().unix_timestamp();
    Bundle::new(
        &found.results,
        found.posture.as_ref(),
        trace.steps(),
        setup.shown,
        now,
    )
    .write(path)
    .map_err(|e| unwritable(path, &e))?;
    Ok(exit_code(&found.results))
}

fn unwritable(path: &Path, e: &std::io::Error) -> Failure {
    Failure::new(
        "report-unwritable",
        exit::USAGE,
        m::REPORT_UNWRITABLE.with(&[("path", &path.display()), ("error", e)]),
    )
    .fix(catalogue::common::WRITABLE_FOLDER_FIX.text())
}

/// Everything decided before any check runs: bad arguments and settings are found here.
struct Setup {
    card: CardPlan,
    gateway: Option<GatewayPlan>,
    /// The gateway's CA could not be used, or none was given: why, as a check line.
    ca_problem: Option<CheckResult>,
    /// The settings in force, for the bundle (no username).
    shown: serde_json::Value,
}

impl Setup {
    fn from_args(args: &DoctorArgs) -> Result<Setup, Failure> {
        let remembered = args.card.remembered()?;
        if let Some(path) = &args.report {
            // Made now, so a report that cannot be written is said before the checks run.
            write_private(path, b"").map_err(|e| unwritable(path, &e))?;
        }
        let (gateway, ca_problem) = gateway_plan(args, &remembered)?;
        let shown = json!({
            "gateway": gateway.as_ref().map(|g| format!("{}:{}", g.host, g.port)),
            "gateway_ca": args.gateway_ca.clone().or_else(|| remembered.gateway_ca.clone()),
            "expect_address": gateway.as_ref().and_then(|g| g.expect),
            "ports": gateway.as_ref().map(GatewayPlan::ports),
            "backend": args.card.backend.or(remembered.backend),
            "pkcs11_module": args.card.pkcs11_module.clone().or_else(|| remembered.pkcs11_module.clone()),
            "reader": args.card.reader,
            "roots": args.roots,
            "test_environment": args.test_environment,
            "sign_test": args.sign_test,
        });
        let policy = AuthPolicy {
            test_environment: args.test_environment,
            expiry_warning_days: crate::doctor::card::EXPIRY_WARNING_DAYS,
            ..AuthPolicy::default()
        };
        let card = CardPlan {
            options: args.card.clone(),
            remembered,
            policy,
            chain: chain_config(args)?,
        };
        Ok(Setup {
            card,
            gateway,
            ca_problem,
            shown,
        })
    }
}

/// The gateway to check, from the flags, else the settings; a malformed address is a usage
/// error, a CA file that cannot be used a failed check.
fn gateway_plan(
    args: &DoctorArgs,
    remembered: &ClientSettings,
) -> Result<(Option<GatewayPlan>, Option<CheckResult>), Failure> {
    let Some(address) = args.gateway.clone().or_else(|| remembered.gateway.clone()) else {
        return Ok((None, None));
    };
    let target = GatewayTarget::new(&address, Vec::new()).map_err(|_| {
        Failure::new(
            "bad-gateway",
            exit::USAGE,
            catalogue::BAD_GATEWAY.with(&[("address", &address)]),
        )
        .fix(catalogue::BAD_GATEWAY_FIX.text())
    })?;
    let port = address
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .unwrap_or(443);
    let ca = args
        .gateway_ca
        .clone()
        .or_else(|| remembered.gateway_ca.clone());
    let (roots, problem) = match ca {
        None => (
            None,
            Some(CheckResult::fail(
                "gateway-ca",
                m::NO_GATEWAY_CA.text(),
                catalogue::posture::NO_GATEWAY_CA_FIX.text(),
            )),
        ),
        Some(path) => match crate::client::flow::gateway_target(&address, &path) {
            Ok(t) => (Some(t.roots), None),
            Err(f) => (
                None,
                Some(
                    CheckResult::from_failure("gateway-ca", &f)
                        .fix(m::GATEWAY_CA_UNUSABLE_FIX.text()),
                ),
            ),
        },
    };
    let mut extra_ports = remembered.required_ports.clone();
    extra_ports.extend(&args.ports);
    let plan = GatewayPlan {
        host: target.server_name,
        port,
        roots,
        expect: args.expect_address.or(remembered.expect_address),
        extra_ports,
    };
    Ok((Some(plan), problem))
}

/// The roots (and intermediates) for the card certificate's chain, when given.
fn chain_config(args: &DoctorArgs) -> Result<Option<ChainConfig>, Failure> {
    if args.roots.is_empty() {
        return Ok(None);
    }
    let read = |path: &PathBuf| -> Result<Vec<Vec<u8>>, Failure> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| {
            Failure::new(
                "file-unreadable",
                exit::USAGE,
                catalogue::common::FILE_UNREADABLE.with(&[("path", &shown), ("error", &e)]),
            )
            .fix(catalogue::common::FILE_UNREADABLE_FIX.text())
        })?;
        cert::certificates_from_bytes(&bytes).map_err(|e| {
            let mut f = super::cert_words::cert_error(&e, &shown);
            f.exit_code = exit::USAGE;
            f
        })
    };
    let mut config = ChainConfig::default();
    for p in &args.roots {
        config.anchors.extend(read(p)?);
    }
    for p in &args.intermediates {
        config.intermediates.extend(read(p)?);
    }
    Ok(Some(config))
}

/// What came back from the checks.
struct Found {
    results: Vec<CheckResult>,
    posture: Option<Report>,
}

/// A part of the checks that finished.
enum Done {
    Card(Option<Ready>),
    Posture(Report),
    Network(NetworkOutcome),
}

/// The three parts in words, for the progress line: the card, the posture probes, the network.
const PARTS: [Msg; 3] = [m::PART_CARD, m::PART_POSTURE, m::PART_NETWORK];

fn run_checks(args: &DoctorArgs, setup: &Setup, trace: &Trace) -> Found {
    let bounds = Bounds::default();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (tx, rx) = mpsc::channel::<Done>();
    eprintln!("{}", m::CHECKING_CARD.text());
    let card_results = Shared::default();
    spawn_card(setup, clock.now(), trace, &card_results, tx.clone());
    eprintln!("{}", catalogue::posture::CHECKING.text());
    spawn_posture(trace, tx.clone());
    if let Some(plan) = &setup.gateway {
        let (host, port) = (&plan.host, &plan.port);
        eprintln!(
            "{}",
            m::CHECKING_NETWORK.with(&[("host", host), ("port", port)])
        );
        spawn_network(plan.clone(), Arc::clone(&clock), bounds, trace, tx);
    } else {
        drop(tx);
    }
    // The network's own steps are bounded; this only catches a runtime that never returns.
    let network_bound = bounds.dns + bounds.connect + bounds.tls * 3 + Duration::from_secs(2);
    let deadlines = [bounds.card, bounds.posture, network_bound];
    let mut done = [false, false, setup.gateway.is_none()];
    let (mut card, mut posture, mut network) = (None, None, None);
    let (started, mut last_said) = (Instant::now(), Instant::now());
    loop {
        let pending: Vec<&str> = (0..PARTS.len())
            .filter(|&i| !done[i] && started.elapsed() < deadlines[i])
            .map(|i| PARTS[i].as_str())
            .collect();
        if pending.is_empty() {
            break;
        }
        if last_said.elapsed() >= Duration::from_secs(5) {
            let parts = pending.join(m::AND.as_str());
            eprintln!("{}", m::STILL_WAITING.with(&[("parts", &parts)]));
            last_said = Instant::now();
        }
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(Done::Card(c)) => (card, done[0]) = (Some(c), true),
            Ok(Done::Posture(p)) => (posture, done[1]) = (Some(p), true),
            Ok(Done::Network(n)) => (network, done[2]) = (Some(n), true),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let card = (card_results.take(), card);
    assemble(args, setup, bounds, trace, card, posture, network)
}

/// The results in their order: card, signature test, posture, network.
fn assemble(
    args: &DoctorArgs,
    setup: &Setup,
    bounds: Bounds,
    trace: &Trace,
    (card_results, card): (Vec<CheckResult>, Option<Option<Ready>>),
    posture: Option<Report>,
    network: Option<NetworkOutcome>,
) -> Found {
    let mut results = Vec::new();
    let done = card_results.len();
    results.extend(card_results);
    let ready = match card {
        Some(ready) => ready,
        None => {
            // The check that was running when the bound passed.
            let id = CARD_CHECKS.get(done).copied().unwrap_or("card");
            results.push(hung(id, m::CARD_HUNG, bounds.card));
            None
        }
    };
    if args.sign_test {
        let source = SecretSource::from_flags(args.pin_fd, args.pin_stdin);
        results.push(sign_test(ready, source, bounds.sign, trace));
    }
    let policy = network.as_ref().map(|n| n.policy.clone());
    let judge = match (&setup.gateway, &policy) {
        (None, _) => Judge::NoGateway,
        (Some(_), Some(Ok(p))) => Judge::Policy(p),
        (Some(_), Some(Err(e))) => Judge::Unavailable(e),
        (Some(_), None) => Judge::Unavailable("the network checks did not finish"),
    };
    match &posture {
        Some(report) => {
            let now = SystemClock.now().unix_timestamp();
            results.push(posture_check(report, judge, now));
        }
        None => results.push(hung("posture", m::POSTURE_HUNG, bounds.posture)),
    }
    results.extend(setup.ca_problem.clone());
    match (&setup.gateway, network) {
        (None, _) => results.push(CheckResult::ok("gateway", m::NO_GATEWAY.text())),
        (Some(_), Some(n)) => results.extend(n.results),
        (Some(_), None) => results.push(hung("network", m::NETWORK_HUNG, bounds.tls)),
    }
    Found { results, posture }
}

fn hung(id: &str, what: Msg, bound: Duration) -> CheckResult {
    CheckResult::fail(
        id,
        what.with(&[("bound", &bound.as_secs())]),
        m::HUNG_FIX.text(),
    )
}

fn spawn_card(
    setup: &Setup,
    now: time::OffsetDateTime,
    trace: &Trace,
    results: &Shared,
    tx: mpsc::Sender<Done>,
) {
    let results = results.clone();
    let plan = CardPlan {
        options: setup.card.options.clone(),
        remembered: setup.card.remembered.clone(),
        policy: setup.card.policy.clone(),
        chain: setup.card.chain.clone(),
    };
    let trace = trace.clone();
    let spawned = std::thread::Builder::new()
        .name("doctor-card".into())
        .spawn(move || {
            let _ = tx.send(Done::Card(card_phase(&plan, now, &trace, &results)));
        });
    if let Err(e) = spawned {
        tracing::warn!("the card checks could not start: {e}");
    }
}

fn spawn_posture(trace: &Trace, tx: mpsc::Sender<Done>) {
    let trace = trace.clone();
    let spawned = std::thread::Builder::new()
        .name("doctor-posture".into())
        .spawn(move || {
            let began = Instant::now();
            let report = LocalProbes.report();
            trace.record("posture", "run the posture probes", began, "done");
            let _ = tx.send(Done::Posture(report));
        });
    if let Err(e) = spawned {
        tracing::warn!("the posture probes could not start: {e}");
    }
}

fn spawn_network(
    plan: GatewayPlan,
    clock: Arc<dyn Clock>,
    bounds: Bounds,
    trace: &Trace,
    tx: mpsc::Sender<Done>,
) {
    let trace = trace.clone();
    let spawned = std::thread::Builder::new()
        .name("doctor-network".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("no runtime for the network checks: {e}");
                    return;
                }
            };
            let outcome = runtime.block_on(check_gateway(
                &plan,
                &SystemResolver,
                clock,
                &bounds,
                &trace,
            ));
            let _ = tx.send(Done::Network(outcome));
            // A name lookup that never answered still holds a blocking thread: do not wait.
            runtime.shutdown_background();
        });
    if let Err(e) = spawned {
        tracing::warn!("the network checks could not start: {e}");
    }
}
