//! `hjemmekontor cert inspect` as a user runs it: the built binary on TEST PKI files.

use hjemmekontor::vcard::pki::{generate, PkiOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use time::macros::datetime;

const AT: &str = "2026-03-01T12:00:00Z";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// The client in bokmål, whatever the locale, since the tests read its words.
fn run(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_hjemmekontor"))
        .args(["--lang", "nb"])
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn files() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let pki = generate(&PkiOptions::new(datetime!(2026-03-01 12:00 UTC))).unwrap();
    pki.write(dir.path()).unwrap();
    let path = dir.path().to_path_buf();
    (dir, path)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn inspect_with_chain(dir: &Path, variant: &str, extra: &[&str]) -> Run {
    let cert = dir.join(format!("{variant}.pem"));
    let root = dir.join("root-ca.pem");
    let ca = dir.join("person-ca.pem");
    let crl = dir.join("crl.pem");
    let mut args = vec![
        "cert",
        "inspect",
        s(&cert),
        "--json",
        "--at",
        AT,
        "--roots",
        s(&root),
        "--intermediates",
        s(&ca),
        "--crl",
        s(&crl),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn variants_through_the_binary() {
    let (_keep, dir) = files();

    let ok = inspect_with_chain(&dir, "person-high", &["--test-environment"]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    let j = ok.json();
    assert_eq!(j["level"], "person-high");
    assert_eq!(j["usable"], true);
    assert_eq!(j["reasons"], serde_json::json!([]));
    assert_eq!(j["personal_id"], "UN:NO-9578-4050-12345678");
    assert_eq!(j["test_certificate"], true);
    assert_eq!(j["warnings"][0]["code"], "test-certificate");
    assert_eq!(j["chain"]["trusted"], true);
    assert!(j["not_after"].as_str().unwrap().starts_with("2029-"));

    let revoked = inspect_with_chain(&dir, "revoked", &["--test-environment"]);
    assert_eq!(revoked.code, 4);
    let j = revoked.json();
    assert_eq!(j["usable"], false);
    assert_eq!(j["reasons"][0]["code"], "revoked");
    assert_eq!(
        j["reasons"][0]["message"],
        "Sertifikatet er sperret (tilbakekalt) av utstederen."
    );
    assert_eq!(j["reasons"].as_array().unwrap().len(), 1);

    let hsm = inspect_with_chain(&dir, "person-hsm", &["--test-environment"]);
    let j = hsm.json();
    assert_eq!(j["level"], "person-high-hsm");
    assert_eq!(j["reasons"][0]["code"], "level-too-low");
    assert_eq!(j["reasons"][0]["found"], "person-high-hsm");

    let wrong = inspect_with_chain(&dir, "wrong-usage", &["--test-environment"]);
    let j = wrong.json();
    assert_eq!(
        j["reasons"][0]["code"],
        "key-usage-without-digital-signature"
    );

    // Without --test-environment a TEST certificate is level `test` and refused.
    let prod = inspect_with_chain(&dir, "person-high", &[]);
    assert_eq!(prod.code, 4);
    let j = prod.json();
    assert_eq!(j["level"], "test");
    assert_eq!(j["reasons"][0]["code"], "level-too-low");
    assert_eq!(j["reasons"][0]["found"], "test");

    // Human output, judged at a time after the certificate expired.
    let expired = run(&[
        "cert",
        "inspect",
        s(&dir.join("person-high.pem")),
        "--test-environment",
        "--at",
        "2031-01-01T00:00:00Z",
    ]);
    assert_eq!(expired.code, 4);
    assert!(
        expired.stdout.contains("Kan IKKE brukes til innlogging:"),
        "{}",
        expired.stdout
    );
    assert!(expired.stdout.contains("Sertifikatet ditt utløp "));
    assert!(expired
        .stdout
        .contains("Gjør dette: Bestill nytt kort fra Buypass."));
}

#[test]
fn bad_input_gives_a_failure_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.der");
    std::fs::write(&garbage, [0x30, 0x82, 0x01, 0x00, 0xFF, 0xFF]).unwrap();
    let r = run(&["cert", "inspect", s(&garbage), "--json"]);
    assert_eq!(r.code, 4, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["error"]["kind"], "bad-certificate");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let r = run(&["cert", "inspect", s(&text)]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.starts_with("Feil: Fant ikke noe sertifikat"),
        "{}",
        r.stderr
    );

    let missing = dir.path().join("missing.pem");
    let r = run(&["cert", "inspect", s(&missing), "--json"]);
    assert_eq!(r.code, 5);
    assert_eq!(r.json()["error"]["kind"], "file-unreadable");

    // A file and --card at once is a usage error (the card itself is covered by the
    // real-stack tests).
    let r = run(&["cert", "inspect", s(&text), "--card"]);
    assert_eq!(r.code, 2);

    let r = run(&["cert", "inspect", s(&text), "--at", "yesterday"]);
    assert_eq!(r.code, 2);
}
