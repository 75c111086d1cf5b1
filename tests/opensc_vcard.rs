//! The virtual card behind the real stack: `hjemmekontor-vcard run` in vpcd's reader, read
//! and used by OpenSC (`pkcs15-tool`, `pkcs11-tool` with `opensc-pkcs11.so`), an
//! independent PIV client.
//!
//! Needs pcscd with vsmartcard-vpcd and OpenSC. With `CI` set their absence is a failure;
//! otherwise these tests print a notice and pass without running.

mod support;

use std::time::Duration;

use sha2::{Digest, Sha256};
use support::certs::{self, TestIdentity};
use support::stack::{self, run_tool, start_card, wait_for_card, VcardProcess, CARD_TIMEOUT};

const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// Writes the identity and starts a card with it (plus `extra` arguments).
fn card_with(id: &TestIdentity, dir: &std::path::Path, extra: &[&str]) -> VcardProcess {
    let (cert, key) = id.write_to(dir, "auth");
    let mut args: Vec<std::ffi::OsString> =
        vec!["--cert".into(), cert.into(), "--key".into(), key.into()];
    args.extend(extra.iter().map(Into::into));
    start_card(args)
}

fn module() -> String {
    stack::opensc_module()
        .expect("checked by require_stack")
        .display()
        .to_string()
}

/// `pkcs11-tool --sign` with the TEST card's PIN; returns the signature bytes.
fn pkcs11_sign(
    card: &VcardProcess,
    dir: &std::path::Path,
    mechanism: &str,
    extra: &[&str],
) -> Vec<u8> {
    let input = dir.join("message");
    let output = dir.join("signature");
    std::fs::write(&input, b"hjemmekontor: sign me").unwrap();
    let module = module();
    let mut args = vec![
        "--module",
        &module,
        "--login",
        "--pin",
        "123456",
        "--sign",
        "--mechanism",
        mechanism,
        "--input-file",
        input.to_str().unwrap(),
        "--output-file",
        output.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    if !extra.contains(&"--id") {
        args.extend_from_slice(&["--id", "01"]);
    }
    let out = run_tool("pkcs11-tool", &args, TOOL_TIMEOUT).unwrap();
    assert!(
        out.status.success(),
        "pkcs11-tool --sign failed:\n{}\ncard log:\n{}",
        out.both(),
        card.log_text()
    );
    std::fs::read(&output).expect("signature file")
}

#[test]
fn opensc_lists_and_reads_the_authentication_certificate() {
    if !stack::require_stack("opensc_lists_and_reads_the_authentication_certificate") {
        return;
    }
    let _serial = stack::serial();
    let id = certs::rsa_identity("Test Person RSA");
    for extra in [&[][..], &["--gzip"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let card = card_with(&id, dir.path(), extra);
        let out = run_tool("pkcs15-tool", &["--list-certificates"], TOOL_TIMEOUT).unwrap();
        assert!(
            out.status.success()
                && out.stdout.contains("Certificate for PIV Authentication")
                && out.stdout.contains("ID             : 01"),
            "pkcs15-tool --list-certificates {extra:?}:\n{}\ncard log:\n{}",
            out.both(),
            card.log_text()
        );
        let out = run_tool("pkcs15-tool", &["--read-certificate", "01"], TOOL_TIMEOUT).unwrap();
        assert!(out.status.success(), "{}", out.both());
        let der = hjemmekontor::vcard::keys::certificate_der_from_pem(&out.stdout)
            .expect("pkcs15-tool prints a PEM certificate");
        assert_eq!(der, id.cert_der, "certificate read back {extra:?}");
        // The log shows the APDUs, with nothing secret in it.
        assert!(
            card.log_text().contains("APDU 00 A4 04 00"),
            "{}",
            card.log_text()
        );
    }
}

#[test]
fn opensc_signs_with_the_rsa_key() {
    use rsa::pkcs8::DecodePublicKey;
    if !stack::require_stack("opensc_signs_with_the_rsa_key") {
        return;
    }
    let _serial = stack::serial();
    let id = certs::rsa_identity("Test Person RSA");
    let dir = tempfile::tempdir().unwrap();
    let card = card_with(&id, dir.path(), &[]);
    let sig = pkcs11_sign(&card, dir.path(), "SHA256-RSA-PKCS", &[]);
    let public = rsa::RsaPublicKey::from_public_key_der(&id.spki_der()).unwrap();
    public
        .verify(
            rsa::Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(b"hjemmekontor: sign me"),
            &sig,
        )
        .expect("the card's RSA signature verifies against its certificate");
    let status = card.ctl("status").unwrap();
    assert!(status.contains("signatures=1"), "{status}");
    // The PIN went through VERIFY, and the log shows it redacted.
    let log = card.log_text();
    assert!(log.contains("00 20 00 80 [REDACTED 8 bytes]"), "{log}");
    assert!(
        !log.contains("313233343536"),
        "the PIN leaked into the log:\n{log}"
    );
}

#[test]
fn opensc_signs_with_ecdsa_p256_keys_in_9a_and_pin_always_9c() {
    use p256::ecdsa::signature::Verifier;
    use p256::pkcs8::DecodePublicKey;
    if !stack::require_stack("opensc_signs_with_ecdsa_p256_keys_in_9a_and_pin_always_9c") {
        return;
    }
    let _serial = stack::serial();
    let auth = certs::p256_identity("Test Person P-256");
    let signing = certs::p256_identity("Test Person P-256 signing");
    let dir = tempfile::tempdir().unwrap();
    let (cert_9c, key_9c) = signing.write_to(dir.path(), "signing");
    let card = card_with(
        &auth,
        dir.path(),
        &[
            "--cert-9c",
            cert_9c.to_str().unwrap(),
            "--key-9c",
            key_9c.to_str().unwrap(),
        ],
    );
    // OpenSC numbers the PIV keys 01 (9A), 02 (9C), 03 (9D), 04 (9E).
    for (id, pkcs11_id) in [(&auth, "01"), (&signing, "02")] {
        let der = pkcs11_sign(
            &card,
            dir.path(),
            "ECDSA-SHA256",
            &["--signature-format", "openssl", "--id", pkcs11_id],
        );
        let sig = p256::ecdsa::Signature::from_der(&der).expect("DER ECDSA signature");
        let key = p256::ecdsa::VerifyingKey::from_public_key_der(&id.spki_der()).unwrap();
        key.verify(b"hjemmekontor: sign me", &sig)
            .unwrap_or_else(|e| panic!("signature by key {pkcs11_id} does not verify: {e}"));
    }
    let status = card.ctl("status").unwrap();
    assert!(status.contains("signatures=2"), "{status}");
}

#[test]
fn a_wrong_pin_through_pkcs11_spends_one_try() {
    if !stack::require_stack("a_wrong_pin_through_pkcs11_spends_one_try") {
        return;
    }
    let _serial = stack::serial();
    let id = certs::rsa_identity("Test Person RSA");
    let dir = tempfile::tempdir().unwrap();
    let card = card_with(&id, dir.path(), &[]);
    let module = module();
    let out = run_tool(
        "pkcs11-tool",
        &[
            "--module",
            &module,
            "--login",
            "--pin",
            "999999",
            "--list-objects",
        ],
        TOOL_TIMEOUT,
    )
    .unwrap();
    assert!(
        !out.status.success(),
        "a wrong PIN must fail:\n{}",
        out.both()
    );
    let status = card.ctl("status").unwrap();
    assert!(
        status.contains("pin_tries=2"),
        "{status}\n{}",
        card.log_text()
    );
}

#[test]
fn pulling_the_card_empties_the_reader_and_inserting_brings_it_back() {
    if !stack::require_stack("pulling_the_card_empties_the_reader_and_inserting_brings_it_back") {
        return;
    }
    let _serial = stack::serial();
    let id = certs::rsa_identity("Test Person RSA");
    let dir = tempfile::tempdir().unwrap();
    let mut card = card_with(&id, dir.path(), &[]);
    assert_eq!(card.ctl("remove").unwrap(), "ok removed");
    wait_for_card(false, CARD_TIMEOUT).unwrap();
    assert!(card
        .ctl("status")
        .unwrap()
        .starts_with("removed disconnected"));
    assert_eq!(card.ctl("insert").unwrap(), "ok inserted");
    card.wait_present(CARD_TIMEOUT).unwrap();
    assert!(card
        .ctl("status")
        .unwrap()
        .starts_with("inserted connected"));
    // The reinserted card works.
    let out = run_tool("pkcs15-tool", &["--list-certificates"], TOOL_TIMEOUT).unwrap();
    assert!(
        out.stdout.contains("Certificate for PIV Authentication"),
        "{}",
        out.both()
    );
    // SIGUSR1 toggles the card out and back in.
    let pid = card.id().to_string();
    for present in [false, true] {
        let out = run_tool("kill", &["-USR1", &pid], TOOL_TIMEOUT).unwrap();
        assert!(out.status.success(), "{}", out.both());
        wait_for_card(present, CARD_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}\ncard log:\n{}", card.log_text()));
    }
    assert!(card.exited().is_none(), "the card process keeps running");
}
