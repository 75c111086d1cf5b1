//! `hjemmekontor doctor` through the real PC/SC stack: the virtual card in vpcd's reader, a
//! gateway in-process on the loopback with the TEST PKI (its certificate names `localhost` and
//! `127.0.0.1`), and the client binary with a settings file of its own.
//!
//! Healthy: every line OK and exit 0. A pulled card, a blocked PIN, a gateway reached by a
//! name its certificate does not carry, a name resolving to another address and a closed port
//! each give their FEIL line and exit 1. No check spends a PIN try unless `--sign-test`, and
//! the support bundle holds neither the PIN nor a password.
//!
//! Needs pcscd with vsmartcard-vpcd. With `CI` set its absence is a failure; otherwise these
//! tests print a notice and pass without running. pcscd is never stopped here (other tests
//! share it): "service not running" is a unit test (`src/doctor/card/tests.rs`).

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::inproc::{users, InProcessGateway, PASSWORD};
use support::stack::{require_stack, run_tool_with_input, serial, start_card, ToolOutput};

const CLIENT: &str = env!("CARGO_BIN_EXE_hjemmekontor");
const TIMEOUT: Duration = Duration::from_secs(90);
/// The virtual card's PIN in these tests: digits found nowhere else (the TEST person's
/// identifier holds 123456, the default PIN).
const PIN: &str = "97531864";

/// The virtual card with the TEST person's certificate, `extra` arguments after.
fn card(extra: &[&str]) -> support::stack::VcardProcess {
    let (cert, key) = support::pki::files("person-high");
    let mut args: Vec<std::ffi::OsString> = vec![
        "--cert".into(),
        cert.into(),
        "--key".into(),
        key.into(),
        "--pin".into(),
        PIN.into(),
    ];
    args.extend(extra.iter().map(|s| (*s).into()));
    start_card(args)
}

/// The reader the virtual card sits in, named so a card in another reader is never used.
fn reader() -> String {
    support::stack::first_virtual_reader().unwrap()
}

/// `card --check-pin` with a wrong PIN: spends one try.
fn spend_a_try() -> ToolOutput {
    let args = [
        "card",
        "--test-environment",
        "--check-pin",
        "--pin-stdin",
        "--reader",
        &reader(),
    ];
    let args = args.iter().map(|s| s.to_string()).collect();
    client(args, Some("00000000\n".into()))
}

fn pki(name: &str) -> String {
    support::pki::dir().join(name).display().to_string()
}

/// Runs the client to its end.
fn client(args: Vec<String>, stdin: Option<String>) -> ToolOutput {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_tool_with_input(CLIENT, &args, stdin.as_deref(), TIMEOUT).expect("client runs")
}

/// The in-process gateway, served by a runtime of its own while the test thread runs the
/// client.
fn gateway() -> (InProcessGateway, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let gateway = runtime.block_on(InProcessGateway::start(&users()));
    (gateway, runtime)
}

/// `doctor` against `gateway` with a settings file in `dir`, the TEST root as the gateway's
/// CA and the card certificate's chain, then `more`.
fn doctor_args(dir: &Path, gateway: &str, more: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--lang",
        "nb",
        "doctor",
        "--settings",
        &dir.join("client.toml").display().to_string(),
        "--gateway",
        gateway,
        "--gateway-ca",
        &pki("root-ca.pem"),
        "--test-environment",
        "--roots",
        &pki("root-ca.pem"),
        "--intermediates",
        &pki("person-ca.pem"),
        "--reader",
        &reader(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(more.iter().map(|s| s.to_string()));
    args
}

fn json(out: &ToolOutput) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", out.both()))
}

/// The check `id` of a `--json` summary.
fn check<'a>(summary: &'a Value, id: &str) -> &'a Value {
    summary["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {summary:#}"))
}

fn tries(card: &support::stack::VcardProcess) -> String {
    let status = card.ctl("status").unwrap();
    status
        .split_whitespace()
        .find(|w| w.starts_with("pin_tries="))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_healthy_setup_is_all_ok_and_exits_0() {
    let _lock = serial();
    if !require_stack("doctor_healthy") {
        return;
    }
    let _card = card(&[]);
    let (gw, _runtime) = gateway();
    let dir = tempfile::tempdir().unwrap();
    let gateway = format!("127.0.0.1:{}", gw.addr.port());

    let began = Instant::now();
    let out = client(doctor_args(dir.path(), &gateway, &[]), None);
    eprintln!("doctor on a healthy setup took {:?}", began.elapsed());
    assert_eq!(out.status.code(), Some(0), "{}", out.both());
    let lines: Vec<&str> = out.stdout.lines().take_while(|l| !l.is_empty()).collect();
    assert!(lines.len() >= 11, "{}", out.both());
    for line in &lines {
        assert!(line.starts_with("OK "), "not OK: {line}\n{}", out.both());
    }
    assert!(
        out.stdout.trim_end().ends_with("Alt er i orden."),
        "{}",
        out.both()
    );

    let out = client(doctor_args(dir.path(), &gateway, &["--json"]), None);
    assert_eq!(out.status.code(), Some(0), "{}", out.both());
    let summary = json(&out);
    assert_eq!(summary["ok"], true);
    let ids: Vec<&str> = summary["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let port = format!("port-{}", gw.addr.port());
    let expected = [
        "smartcard-service",
        "readers",
        "card",
        "card-application",
        "certificate",
        "pin",
        "posture",
        "dns",
        port.as_str(),
        "tls",
        "clock",
    ];
    assert_eq!(ids, expected, "{summary:#}");
    assert_eq!(
        check(&summary, "certificate")["details"]["chain_trusted"],
        true
    );
    assert_eq!(
        check(&summary, "certificate")["details"]["level"],
        "person-high"
    );
    assert_eq!(check(&summary, "pin")["details"]["tries_left"], 3);
    assert_eq!(
        check(&summary, "card-application")["details"]["backend"],
        "piv"
    );
    assert_eq!(check(&summary, "posture")["details"]["admitted"], true);
    assert_eq!(check(&summary, "clock")["status"], "ok");
    assert!(
        gw.attempts().is_empty(),
        "the policy connection is no login attempt"
    );
}

#[test]
fn no_check_spends_a_pin_try_and_the_bundle_keeps_no_secret() {
    let _lock = serial();
    if !require_stack("doctor_pin_tries") {
        return;
    }
    let card = card(&[]);
    let (gw, _runtime) = gateway();
    let dir = tempfile::tempdir().unwrap();
    let gateway = format!("127.0.0.1:{}", gw.addr.port());
    // One wrong PIN first, so a PIN sent by anyone would show: a wrong one lowers the count,
    // a right one puts it back to 3.
    let out = spend_a_try();
    assert_eq!(out.status.code(), Some(4), "{}", out.both());
    assert_eq!(tries(&card), "pin_tries=2");

    let out = client(doctor_args(dir.path(), &gateway, &["--json"]), None);
    assert_eq!(out.status.code(), Some(0), "{}", out.both());
    assert_eq!(check(&json(&out), "pin")["details"]["tries_left"], 2);
    assert_eq!(tries(&card), "pin_tries=2", "doctor spent a PIN try");

    let bundle = dir.path().join("bundle.json");
    let bundle_arg = bundle.display().to_string();
    let more = [
        "--sign-test",
        "--pin-stdin",
        "--report",
        bundle_arg.as_str(),
    ];
    let out = client(
        doctor_args(dir.path(), &gateway, &more),
        Some(format!("{PIN}\n")),
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.both());
    assert!(
        out.stdout
            .contains("OK        Kortet signerte en tilfeldig utfordring"),
        "{}",
        out.both()
    );
    assert_eq!(
        tries(&card),
        "pin_tries=3",
        "the signature test sends the PIN once"
    );
    assert!(
        !out.stdout.contains(PIN) && !out.stderr.contains(PIN),
        "{}",
        out.both()
    );

    let text = std::fs::read_to_string(&bundle).unwrap();
    assert!(!text.contains(PIN), "the PIN is in the bundle");
    assert!(!text.contains(PASSWORD), "a password is in the bundle");
    assert!(!text.to_lowercase().contains("\"pin_value"), "{text}");
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["format"], "hjemmekontor-doctor-bundle/1");
    assert_eq!(value["ok"], true);
    assert_eq!(value["card"]["readers"][0]["card_present"], true);
    assert_eq!(value["card"]["application"]["application"], "piv");
    assert_eq!(value["card"]["certificate"]["level"], "person-high");
    assert!(value["card"]["certificate"]["serial"].is_string());
    assert!(value["posture"]["version"].is_number());
    assert!(value["versions"]["client"].is_string());
    let trace = value["trace"].as_array().unwrap();
    assert!(trace
        .iter()
        .any(|s| s["what"] == "verify the PIN (once)" && s["outcome"] == "accepted"));
    assert!(trace.iter().all(|s| s["took_ms"].is_number()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&bundle).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the bundle is readable by others");
    }
}

#[test]
fn a_pulled_card_fails_the_card_line() {
    let _lock = serial();
    if !require_stack("doctor_pulled_card") {
        return;
    }
    let card = card(&[]);
    card.ctl("remove").unwrap();
    support::stack::wait_for_card(false, support::stack::CARD_TIMEOUT).unwrap();
    let (gw, _runtime) = gateway();
    let dir = tempfile::tempdir().unwrap();
    let gateway = format!("127.0.0.1:{}", gw.addr.port());
    let out = client(doctor_args(dir.path(), &gateway, &[]), None);
    assert_eq!(out.status.code(), Some(1), "{}", out.both());
    assert!(
        out.stdout.contains("FEIL      Det er ikke noe kort i"),
        "{}",
        out.both()
    );
    assert!(
        out.stdout.contains("Gjør dette: Sett inn smartkortet"),
        "{}",
        out.both()
    );
    // The rest still ran.
    assert!(
        out.stdout.contains("OK        Klokken går likt"),
        "{}",
        out.both()
    );
}

#[test]
fn a_blocked_pin_fails_the_pin_line_and_is_never_tried() {
    let _lock = serial();
    if !require_stack("doctor_blocked_pin") {
        return;
    }
    let card = card(&["--retries", "1"]);
    let out = spend_a_try();
    assert_eq!(out.status.code(), Some(4), "{}", out.both());
    assert_eq!(tries(&card), "pin_tries=0");
    let (gw, _runtime) = gateway();
    let dir = tempfile::tempdir().unwrap();
    let gateway = format!("127.0.0.1:{}", gw.addr.port());
    let more = ["--json", "--sign-test", "--pin-stdin"];
    let out = client(
        doctor_args(dir.path(), &gateway, &more),
        Some(format!("{PIN}\n")),
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.both());
    let summary = json(&out);
    let pin = check(&summary, "pin");
    assert_eq!(pin["status"], "fail");
    assert_eq!(
        pin["summary"],
        "Kortet er sperret etter for mange feil PIN-forsøk."
    );
    assert!(pin["fix"].as_str().unwrap().contains("PUK"));
    assert_eq!(check(&summary, "sign-test")["status"], "warning");
    assert_eq!(tries(&card), "pin_tries=0");
}

/// A gateway like the in-process one, listening on `ip` instead of 127.0.0.1.
async fn gateway_on(
    ip: &str,
) -> (
    tempfile::TempDir,
    SocketAddr,
    tokio_util::sync::CancellationToken,
) {
    use hjemmekontor::gateway::{config, server};
    let dir = tempfile::tempdir().unwrap();
    let text = support::gateway::config(dir.path(), "127.0.0.1:9".parse().unwrap(), &users());
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    let cfg = config::load(&path).unwrap_or_else(|_| panic!("the test configuration loads"));
    let gateway = server::Gateway::new(cfg, Arc::new(server::SystemClock)).unwrap();
    let listener = tokio::net::TcpListener::bind(format!("{ip}:0"))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        let _ = gateway.serve(listener, token).await;
    });
    (dir, addr, stop)
}

#[test]
fn a_gateway_reached_by_a_name_its_certificate_lacks_fails_naming_both() {
    let _lock = serial();
    if !require_stack("doctor_wrong_name") {
        return;
    }
    let _card = card(&[]);
    // The certificate names localhost and 127.0.0.1; the same gateway is reached as 127.0.0.2
    // (Linux routes all of 127.0.0.0/8 to the loopback).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_gw_dir, addr, stop) = runtime.block_on(gateway_on("127.0.0.2"));
    let dir = tempfile::tempdir().unwrap();
    let out = client(doctor_args(dir.path(), &addr.to_string(), &[]), None);
    stop.cancel();
    assert_eq!(out.status.code(), Some(1), "{}", out.both());
    let expected = format!(
        "FEIL      Gatewayen på {addr} viser et sertifikat for «localhost», «127.0.0.1», ikke for «127.0.0.2», som du kobler til."
    );
    assert!(out.stdout.contains(&expected), "{}", out.both());
}

#[test]
fn the_settings_file_names_the_expected_address_and_the_ports() {
    let _lock = serial();
    if !require_stack("doctor_settings") {
        return;
    }
    let _card = card(&[]);
    let (gw, _runtime) = gateway();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let settings: PathBuf = dir.path().join("client.toml");
    std::fs::write(
        &settings,
        format!(
            "gateway = \"localhost:{}\"\ngateway_ca = \"{}\"\nexpect_address = \"127.0.0.9\"\nrequired_ports = [{closed}]\n",
            gw.addr.port(),
            pki("root-ca.pem").replace('\\', "\\\\"),
        ),
    )
    .unwrap();
    let args: Vec<String> = [
        "doctor",
        "--json",
        "--test-environment",
        "--settings",
        &settings.display().to_string(),
        "--reader",
        &reader(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = client(args, None);
    assert_eq!(out.status.code(), Some(1), "{}", out.both());
    let summary = json(&out);
    let dns = check(&summary, "dns");
    assert_eq!(dns["status"], "fail");
    assert_eq!(
        dns["summary"],
        "«localhost» slår opp til 127.0.0.1, men skal slå opp til 127.0.0.9."
    );
    assert!(dns["fix"].as_str().unwrap().contains("Helsenett"));
    assert_eq!(check(&summary, &format!("port-{closed}"))["status"], "fail");
    assert_eq!(
        check(&summary, &format!("port-{}", gw.addr.port()))["status"],
        "ok"
    );
    // The name in the certificate: the handshake itself is fine.
    assert_eq!(check(&summary, "tls")["status"], "ok");
}

#[test]
fn bad_usage_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("client.toml").display().to_string();
    let bad = |args: &[&str]| {
        let mut all = vec!["doctor", "--settings", settings.as_str()];
        all.extend(args);
        run_tool_with_input(CLIENT, &all, None, TIMEOUT).unwrap()
    };
    let out = bad(&["--gateway", "no-port-here"]);
    assert_eq!(out.status.code(), Some(2), "{}", out.both());
    assert!(out.stderr.contains("VERT:PORT"), "{}", out.both());
    assert_eq!(bad(&["--port", "0"]).status.code(), Some(2));
    assert_eq!(
        bad(&["--expect-address", "not-an-ip"]).status.code(),
        Some(2)
    );
    assert_eq!(bad(&["--pin-stdin"]).status.code(), Some(2));
    let unwritable = dir
        .path()
        .join("missing-dir/bundle.json")
        .display()
        .to_string();
    let out = bad(&["--report", unwritable.as_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", out.both());
    assert!(out.stderr.contains("rapporten"), "{}", out.both());
}
