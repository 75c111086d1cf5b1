//! `hjemmekontor-gateway run CONFIG`: loads and checks the configuration, opens the audit log,
//! listens, re-reads trust anchors and CRLs on SIGHUP and on a timer, and shuts down cleanly
//! on Ctrl-C or SIGTERM (every live session gets its `session-ended` record).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::config::{self, LoadError};
use super::server::{Gateway, ServerError, Shards, SystemClock};
use crate::cli::failure::{exit, Failure};

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The configuration file (see installer/gateway/gateway.example.toml).
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

/// Runs the gateway until it is stopped.
pub fn run(args: &RunArgs) -> ExitCode {
    let file = args.config.display().to_string();
    let config = match config::load(&args.config) {
        Ok(c) => c,
        Err(LoadError::Read(e)) => {
            return Failure::new(
                "config-read",
                exit::IO,
                format!("Kunne ikke lese konfigurasjonsfilen {file}: {e}."),
            )
            .report(false)
        }
        Err(LoadError::Invalid(errors)) => {
            for e in &errors {
                eprintln!("{file}:{}:{}: {}", e.line, e.column, e.message);
            }
            eprintln!("Gatewayen starter ikke: rett feilene og prøv igjen («hjemmekontor-gateway check-config {file}»).");
            return ExitCode::from(exit::USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return Failure::new("runtime", exit::OTHER, format!("Kunne ikke starte: {e}."))
                .report(false)
        }
    };
    runtime.block_on(serve(config))
}

async fn serve(config: config::Config) -> ExitCode {
    let listen = config.gateway.listen;
    let reload_every = Duration::from_secs(config.gateway.reload_interval_secs.max(1));
    for option in config::dangerous_options(&config) {
        tracing::warn!("dangerous option in force: {option}");
        eprintln!("ADVARSEL: farlig innstilling er på: {option}");
    }
    let problems = super::preflight::preflight(&config);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("Feil: {}", p.message);
        }
        eprintln!("Gatewayen starter ikke. Rett dette og prøv igjen (også «hjemmekontor-gateway check-config» finner det).");
        return ExitCode::from(exit::USAGE);
    }
    // Opening the audit log may wait for a gateway that is still stopping (it holds the
    // log's lock); say so rather than sit silent.
    let waiting_for = match config.audit.file() {
        Some(path) => format!(
            "Venter på at en annen gateway slipper revisjonsloggen {} (opptil {} s) …",
            path.display(),
            super::audit::LOCK_WAIT.as_secs()
        ),
        None => "Kobler til revisjonsdatabasen …".to_string(),
    };
    let starting = tokio::task::spawn_blocking(move || Gateway::new(config, Arc::new(SystemClock)));
    tokio::pin!(starting);
    let started = tokio::select! {
        started = &mut starting => started,
        _ = tokio::time::sleep(Duration::from_secs(1)) => {
            eprintln!("{waiting_for}");
            starting.await
        }
    };
    let started = match started {
        Ok(started) => started,
        Err(e) => {
            return Failure::new(
                "gateway-start",
                exit::OTHER,
                format!("Gatewayen kan ikke starte: {e}."),
            )
            .report(false)
        }
    };
    let gateway = match started {
        Ok(g) => g,
        Err(ServerError::Audit(e)) => return super::audit::cli::explain(&e).report(false),
        Err(ServerError::Directory(e)) => {
            return Failure::new(
                "gateway-start",
                exit::USAGE,
                format!("Gatewayen kan ikke starte: {e}."),
            )
            .fix(format!("Katalogen ([directory]): {}.", e.advice()))
            .report(false)
        }
        Err(e) => return Failure::new(
            "gateway-start",
            exit::USAGE,
            format!("Gatewayen kan ikke starte: {e}."),
        )
        .fix(
            "Sjekk sertifikat, nøkkel, tillitsankere, CRL-er og revisjonsloggen i konfigurasjonen.",
        )
        .report(false),
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            return Failure::new(
                "listen",
                exit::USAGE,
                format!("Kan ikke lytte på {listen}: {e}."),
            )
            .fix("Et annet program bruker porten, eller adressen finnes ikke på maskinen.")
            .report(false)
        }
    };
    eprintln!("hjemmekontor-gateway lytter på {listen}");
    let shutdown = CancellationToken::new();
    let health = match health_port(&gateway, shutdown.clone()).await {
        Ok(h) => h,
        Err(code) => return code,
    };
    let reloader = {
        let gateway = Arc::clone(&gateway);
        let shutdown = shutdown.clone();
        tokio::spawn(async move { reload_loop(gateway, reload_every, shutdown).await })
    };
    let stopper = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            wait_for_stop().await;
            eprintln!("hjemmekontor-gateway stopper; øktene avsluttes");
            shutdown.cancel();
        })
    };
    // Sessions on a runtime of one worker per core (`server::Shards`); stopped when this
    // function returns, after `serve` has ended every session.
    let shards = match Shards::per_core() {
        Ok(shards) => shards,
        Err(e) => {
            return Failure::new("runtime", exit::OTHER, format!("Kunne ikke starte: {e}."))
                .report(false)
        }
    };
    let result = Arc::clone(&gateway)
        .serve_on(listener, shutdown.clone(), Some(&shards))
        .await;
    shutdown.cancel();
    reloader.abort();
    stopper.abort();
    if let Some(h) = health {
        h.abort();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            Failure::new("gateway", exit::OTHER, format!("Gatewayen stoppet: {e}.")).report(false)
        }
    }
}

/// Starts the readiness port when `[health]` asks for one.
async fn health_port(
    gateway: &Arc<Gateway>,
    shutdown: CancellationToken,
) -> Result<Option<tokio::task::JoinHandle<()>>, ExitCode> {
    let Some(health) = gateway.config().health else {
        return Ok(None);
    };
    let listener = match tokio::net::TcpListener::bind(health.listen).await {
        Ok(l) => l,
        Err(e) => {
            return Err(Failure::new(
                "listen",
                exit::USAGE,
                format!("Kan ikke lytte på {} ([health]): {e}.", health.listen),
            )
            .fix("Et annet program bruker porten, eller adressen finnes ikke på maskinen.")
            .report(false))
        }
    };
    eprintln!(
        "hjemmekontor-gateway svarer på helsesjekk på http://{}/ready",
        health.listen
    );
    let gateway = Arc::clone(gateway);
    Ok(Some(tokio::spawn(gateway.serve_health(listener, shutdown))))
}

async fn reload_loop(gateway: Arc<Gateway>, every: Duration, shutdown: CancellationToken) {
    let mut timer = tokio::time::interval(every);
    timer.tick().await;
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        let sighup = async {
            match hangup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let sighup = std::future::pending::<()>();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = timer.tick() => {}
            _ = sighup => {}
        }
        let reloading = Arc::clone(&gateway);
        let reloaded = tokio::task::spawn_blocking(move || reloading.reload_trust()).await;
        let Ok(reloaded) = reloaded else { continue };
        match reloaded {
            Ok(s) => tracing::info!(anchors = s.trust_anchors, crls = s.crls, "trust reloaded"),
            Err(e) => {
                tracing::error!("trust reload failed, the previous trust stays in force: {e}");
                eprintln!(
                    "Kunne ikke lese tillitsankere/CRL-er på nytt (de gamle gjelder fortsatt): {e}"
                );
            }
        }
    }
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
