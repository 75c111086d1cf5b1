//! The PKCS#11 backend with real modules: SoftHSM2 holding TEST PKI keys, and OpenSC's module
//! in front of the virtual PIV card through pcscd. `card` shows the token and the verdicts;
//! `connect` logs in through the gateway with one signature per session (counted in the
//! support trace's `C_Sign` lines, or the virtual card's counter); the trace holds no PIN;
//! pulling the virtual card closes the OpenSC-backed tunnel.
//!
//! With `CI` set, a missing SoftHSM2, OpenSC or PC/SC stack fails these tests.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::softhsm::{require_softhsm, Token, LABEL};
use support::stack::{opensc_module, require_stack, serial, start_card};
use support::world::{round_trip, wait_exit, GatewayWorld, CLIENT, PASSWORD, PIN};

fn client(token: &Token, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    // In bokmål whatever the locale, since the tests read its words.
    let mut child = Command::new(CLIENT)
        .args(["--lang", "nb"])
        .args(args)
        .envs(token.env())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// `card --json --test-environment` through the token's module.
fn card(token: &Token, extra: &[&str], stdin: Option<&str>) -> Output {
    let module = token.module.to_str().unwrap();
    let mut args = vec!["card", "--backend", "pkcs11", "--pkcs11-module", module];
    args.extend(["--json", "--test-environment"]);
    args.extend(extra);
    client(token, &args, stdin)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn count_calls(trace: &Path, function: &str) -> usize {
    let text = std::fs::read_to_string(trace).unwrap();
    text.lines()
        .filter(|l| {
            l.contains(&format!("call  {function} ")) || l.contains(&format!("call  {function}  "))
        })
        .count()
}

/// The trace never holds the PIN, in ASCII or in hex.
fn assert_no_pin(trace: &Path) {
    let text = std::fs::read_to_string(trace).unwrap();
    let hex: String = PIN.bytes().map(|b| format!("{b:02X}")).collect();
    assert!(!text.contains(PIN), "PIN in the trace:\n{text}");
    assert!(
        !text.to_uppercase().replace(' ', "").contains(&hex),
        "PIN (hex) in the trace:\n{text}"
    );
    assert!(text.contains("pin=REDACTED"), "{text}");
}

#[test]
fn softhsm_card_shows_the_token_the_certificates_and_their_verdicts() {
    if !require_softhsm("softhsm_card") {
        return;
    }
    let token = Token::with(&["person-high", "wrong-usage"]);
    let module = token.module.to_str().unwrap().to_string();
    let out = card(&token, &[], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["backend"], "pkcs11");
    assert_eq!(report["token"]["label"], LABEL);
    assert_eq!(report["token"]["module"], module);
    assert_eq!(report["pin"]["entry"]["kind"], "keyboard");
    assert_eq!(
        report["pin"]["state"], "unknown",
        "PKCS#11 tells no exact count"
    );
    let certs = report["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "{report}");
    let login = certs.iter().find(|c| c["id"] == "01").unwrap();
    assert_eq!(login["level"], "person-high");
    assert_eq!(login["usable"], true);
    assert_eq!(login["personal_id"], "UN:NO-9578-4050-12345678");
    let other = certs.iter().find(|c| c["id"] == "02").unwrap();
    assert_eq!(other["usable"], false);
    // The verdicts choose: only the person-high certificate can log in.
    assert_eq!(report["login_certificate"], "01");
    assert_eq!(report["login_key"]["tls"], "tls13");

    // The PIN is checked once, through C_Login.
    let out = card(
        &token,
        &["--check-pin", "--pin-stdin"],
        Some(&format!("{PIN}\n")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["pin_check"]["accepted"], true);
    let out = card(&token, &["--check-pin", "--pin-stdin"], Some("999999\n"));
    assert_eq!(
        json(&out)["problem"]["kind"],
        "wrong-pin",
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn several_usable_certificates_need_a_choice_and_cert_makes_it() {
    if !require_softhsm("softhsm_choice") {
        return;
    }
    let token = Token::with(&["person-high", "person-high-ec"]);
    let out = card(&token, &[], None);
    let report = json(&out);
    assert_eq!(report["problem"]["kind"], "choose-certificate", "{report}");
    let ec = report["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "02")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let report = json(&card(&token, &["--cert", &ec], None));
    assert_eq!(report["login_certificate"], "02", "{report}");
    assert!(report.get("problem").is_none(), "{report}");
}

#[test]
fn every_token_is_listed_and_reader_picks_one() {
    if !require_softhsm("softhsm_tokens") {
        return;
    }
    let token = Token::with(&["person-high"]);
    token.add_empty_token("tomt-kort");
    let report = json(&card(&token, &["--reader", LABEL], None));
    assert_eq!(report["token"]["label"], LABEL, "{report}");
    let others = report["token"]["others"].as_array().unwrap();
    assert!(
        others
            .iter()
            .any(|o| o.as_str().unwrap().ends_with("tomt-kort")),
        "{report}"
    );
    let report = json(&card(&token, &["--reader", "tomt-kort"], None));
    assert_eq!(report["token"]["label"], "tomt-kort", "{report}");
    assert_eq!(
        report["problem"]["kind"], "no-login-certificate",
        "{report}"
    );
}

#[test]
fn a_certificate_without_its_key_on_the_token_is_refused_after_login_with_one_try() {
    if !require_softhsm("softhsm_no_key") {
        return;
    }
    let token = Token::with(&["person-high"]);
    token.import_certificate_only("person-high-ec", "02");
    let ec = support::pki::variant("person-high-ec").cert_der.clone();
    let sha = hjemmekontor::card::padding::HashAlg::Sha256
        .digest(&ec)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let out = card(
        &token,
        &["--cert", &sha, "--check-pin", "--pin-stdin"],
        Some(&format!("{PIN}\n")),
    );
    let report = json(&out);
    assert_eq!(report["login_certificate"], "02", "{report}");
    assert_eq!(report["problem"]["kind"], "key-unsupported", "{report}");
    assert!(
        report["problem"]["message"]
            .as_str()
            .unwrap()
            .contains("no private key with id 02"),
        "{report}"
    );
}

/// Logs in through the gateway with the SoftHSM token; returns the client's log.
fn connect_with_softhsm(variant: &str, extra: &[&str]) -> String {
    let token = Token::with(&[variant]);
    let world = GatewayWorld::new();
    let _gateway = world.start_gateway();
    let trace = token.dir().join("trace.txt");
    let module = token.module.to_str().unwrap().to_string();
    let trace_arg = trace.to_str().unwrap().to_string();
    let mut args = vec![
        "--backend",
        "pkcs11",
        "--pkcs11-module",
        &module,
        "--trace",
        &trace_arg,
        "--no-reconnect",
    ];
    args.extend(extra);
    let (mut client, events) = world.connect_with(PASSWORD, &args, &token.env());
    let up = events.next("tunnel-up", &world);
    assert_eq!(up["event"], "tunnel-up", "{up}");
    let (_, echoed) = round_trip(events.listen, "via pkcs11");
    assert_eq!(echoed, "via pkcs11\n");
    assert_eq!(
        count_calls(&trace, "C_Sign"),
        1,
        "one token signature per session"
    );
    assert_eq!(count_calls(&trace, "C_Login"), 1, "the PIN is given once");
    assert_no_pin(&trace);
    // The backend and the module that logged in are remembered for next time.
    let remembered = std::fs::read_to_string(world.dir.path().join("client.toml")).unwrap();
    assert!(remembered.contains("backend = \"pkcs11\""), "{remembered}");
    assert!(remembered.contains(&module), "{remembered}");
    drop(client.0.kill());
    let _ = wait_exit(&mut client, Duration::from_secs(5));
    world.log("client.log")
}

#[test]
fn softhsm_rsa_logs_in_over_tls13_with_one_signature() {
    if !require_softhsm("softhsm_connect_rsa") {
        return;
    }
    let log = connect_with_softhsm("person-high", &[]);
    assert!(log.contains("TLSv1_3"), "{log}");
}

#[test]
fn softhsm_ec_logs_in_with_one_signature() {
    if !require_softhsm("softhsm_connect_ec") {
        return;
    }
    let log = connect_with_softhsm("person-high-ec", &[]);
    assert!(log.contains("TLSv1_3"), "{log}");
}

#[test]
fn a_token_that_offers_only_pkcs1_logs_in_over_tls12() {
    if !require_softhsm("softhsm_connect_pkcs1") {
        return;
    }
    // SoftHSM does PSS; the test switch hides it (and raw RSA), as a PKCS#1-only token.
    let log = connect_with_softhsm("person-high", &["--test-pkcs1-only"]);
    assert!(log.contains("TLSv1_2"), "{log}");
    assert!(log.contains("PKCS#1 v1.5"), "{log}");
}

#[test]
fn opensc_in_front_of_the_virtual_card_logs_in_and_a_pulled_card_closes_the_tunnel() {
    let _lock = serial();
    if !require_stack("opensc_connect") {
        return;
    }
    let (cert, key) = support::pki::files("person-high");
    let card = start_card([
        "--cert".as_ref(),
        cert.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
    ]);
    let world = GatewayWorld::new();
    let _gateway = world.start_gateway();
    let module = opensc_module().unwrap();
    let trace = world.dir.path().join("trace.txt");
    let (mut client, events) = world.connect(
        PASSWORD,
        &[
            "--backend",
            "pkcs11",
            "--pkcs11-module",
            module.to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
            "--no-reconnect",
        ],
    );
    let up = events.next("tunnel-up", &world);
    assert_eq!(up["event"], "tunnel-up", "{up}");
    let (_, echoed) = round_trip(events.listen, "via opensc");
    assert_eq!(echoed, "via opensc\n");
    let status = card.ctl("status").unwrap();
    assert!(
        status.contains("signatures=1"),
        "one card signature: {status}"
    );
    assert_eq!(count_calls(&trace, "C_Sign"), 1);
    assert_no_pin(&trace);

    let pulled = Instant::now();
    card.ctl("remove").unwrap();
    let closed = events.next("tunnel-closed", &world);
    assert_eq!(closed["event"], "tunnel-closed", "{closed}");
    assert_eq!(closed["reason"], "card-removed");
    let took = pulled.elapsed();
    eprintln!(
        "card pulled → tunnel closed (OpenSC): {} ms",
        took.as_millis()
    );
    assert!(wait_exit(&mut client, Duration::from_secs(10)).is_some());
}

#[test]
fn a_key_that_wants_the_pin_for_every_signature_signs_once_per_login() {
    use hjemmekontor::card::credential::{CardSession, KeyError, SignOp};
    use hjemmekontor::card::padding::{self, HashAlg};
    use hjemmekontor::card::pkcs11::{self, Pkcs11Options};
    use hjemmekontor::secret::Pin;

    let _lock = serial();
    if !require_stack("pkcs11_context_specific") {
        return;
    }
    // The virtual card's 9C key is "PIN always", as on real PIV cards; OpenSC marks it
    // CKA_ALWAYS_AUTHENTICATE.
    let (cert, key) = support::pki::files("person-high");
    let (sign_cert, sign_key) = support::pki::files("wrong-usage");
    let _card = start_card([
        "--cert".as_ref(),
        cert.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
        "--cert-9c".as_ref(),
        sign_cert.as_os_str(),
        "--key-9c".as_ref(),
        sign_key.as_os_str(),
    ]);
    let options = Pkcs11Options {
        module: opensc_module().unwrap(),
        ..Pkcs11Options::default()
    };
    let mut session: Box<dyn CardSession> = Box::new(pkcs11::open(&options).unwrap());
    let wanted = support::pki::variant("wrong-usage").cert_der.clone();
    let certificate = session
        .certificates()
        .unwrap()
        .into_iter()
        .find(|c| c.der == wanted)
        .expect("OpenSC shows the 9C certificate");
    let pin = Pin::from_input(PIN.into()).unwrap();
    let mut key = session
        .login(&certificate, Some(&pin))
        .map_err(|(_, e)| e)
        .unwrap();
    let digest = HashAlg::Sha256.digest(b"context-specific");
    let op = if key.mechanisms().raw_rsa {
        SignOp::RawRsa(padding::pkcs1v15(HashAlg::Sha256, &digest, 2048).unwrap())
    } else {
        SignOp::RsaPkcs1 {
            hash: HashAlg::Sha256,
            digest: digest.clone(),
        }
    };
    let signature = key
        .sign(&op)
        .expect("the first signature gets its context login");
    assert_eq!(signature.len(), 256);
    // The PIN was used for that one signature and is gone: the next needs the person.
    assert_eq!(key.sign(&op), Err(KeyError::PinStateLost));
    assert!(key.pin_state_lost());
}
