//! The client through the real PC/SC stack: `hjemmekontor-vcard run` with TEST PKI
//! certificates in vpcd's reader, read by `hjemmekontor readers`/`card`, by our PC/SC
//! transport and PIV driver, by the reader monitor, and cross-checked with OpenSC.
//!
//! Needs pcscd with vsmartcard-vpcd and OpenSC. With `CI` set their absence is a failure;
//! otherwise these tests print a notice and pass without running.

mod support;

use std::time::Duration;

use hjemmekontor::card::monitor::{CardEvent, Monitor};
use hjemmekontor::card::padding::{self, HashAlg};
use hjemmekontor::card::pcsc::{establish, PcscTransport};
use hjemmekontor::card::piv::{KeyAlgorithm, PinStatus, Piv, PivError, Slot};
use hjemmekontor::secret::Pin;
use rsa::pkcs8::DecodePublicKey;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::stack::{
    first_virtual_reader, require_stack, run_tool, run_tool_with_input, serial, start_card,
    wait_for_card, ToolOutput, VcardProcess, CARD_TIMEOUT,
};

const CLIENT: &str = env!("CARGO_BIN_EXE_hjemmekontor");
const TIMEOUT: Duration = Duration::from_secs(60);

fn card(variant: &str) -> VcardProcess {
    let (cert, key) = support::pki::files(variant);
    start_card([
        "--cert".as_ref(),
        cert.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
    ])
}

/// The client in bokmål, whatever the locale, since the tests read its words.
fn client(args: &[&str], stdin: Option<&str>) -> ToolOutput {
    let args: Vec<&str> = ["--lang", "nb"].iter().chain(args).copied().collect();
    run_tool_with_input(CLIENT, &args, stdin, TIMEOUT).expect("client runs")
}

fn json(out: &ToolOutput) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", out.both()))
}

#[test]
fn card_json_shows_the_person_and_three_tries_and_opensc_sees_the_same_certificate() {
    let _lock = serial();
    if !require_stack("card_json") {
        return;
    }
    let _card = card("person-high");

    let readers = client(&["readers", "--json"], None);
    assert!(readers.status.success(), "{}", readers.both());
    let readers = json(&readers);
    let reader = &readers["readers"][0];
    assert_eq!(reader["card_present"], true);
    assert_eq!(reader["atr"], "3B 87 81 31 FE 45 80 55 48 4B 50 49 56 15");
    assert_eq!(reader["application"], "piv");

    let out = client(&["card", "--json", "--test-environment"], None);
    assert!(out.status.success(), "{}", out.both());
    let report = json(&out);
    assert_eq!(report["application"], "piv");
    assert_eq!(report["pin"]["tries_left"], 3);
    assert_eq!(report["pin"]["blocked"], false);
    assert_eq!(report["login_certificate"], "9A");
    let login = &report["certificates"][0];
    assert_eq!(login["id"], "9A");
    assert_eq!(report["backend"], "piv");
    assert_eq!(report["pin"]["state"], "tries-left");
    assert_eq!(login["personal_id"], "UN:NO-9578-4050-12345678");
    assert_eq!(login["level"], "person-high");
    assert_eq!(login["usable"], true);
    assert_eq!(login["test_certificate"], true);

    // OpenSC, an independent PIV client, lists and reads the very same certificate.
    let listed = run_tool("pkcs15-tool", &["--list-certificates"], TIMEOUT).unwrap();
    assert!(
        listed.stdout.contains("PIV Authentication"),
        "{}",
        listed.both()
    );
    let read = run_tool("pkcs15-tool", &["--read-certificate", "01"], TIMEOUT).unwrap();
    let ders = hjemmekontor::cert::certificates_from_bytes(read.stdout.as_bytes())
        .unwrap_or_else(|e| panic!("{e}: {}", read.both()));
    assert_eq!(ders[0], support::pki::variant("person-high").cert_der);
}

#[test]
fn without_the_test_switch_a_test_card_is_refused_before_the_pin() {
    let _lock = serial();
    if !require_stack("test_card_refused") {
        return;
    }
    let vcard = card("person-high");
    let out = client(&["card", "--check-pin", "--pin-stdin"], Some("123456\n"));
    assert_eq!(out.status.code(), Some(4), "{}", out.both());
    assert!(out.stderr.contains("testsertifikat"), "{}", out.both());
    assert!(vcard.ctl("status").unwrap().contains("pin_tries=3"));
}

#[test]
fn three_wrong_pins_block_the_card_and_card_says_so() {
    let _lock = serial();
    if !require_stack("three_wrong_pins") {
        return;
    }
    let _card = card("person-high");
    let check = |pin: &str| {
        client(
            &[
                "card",
                "--json",
                "--test-environment",
                "--check-pin",
                "--pin-stdin",
            ],
            Some(pin),
        )
    };
    for left in [2, 1] {
        let out = check("000000\n");
        assert_eq!(out.status.code(), Some(4), "{}", out.both());
        let report = json(&out);
        assert_eq!(report["pin_check"]["accepted"], false);
        assert_eq!(report["pin"]["tries_left"], left);
        assert_eq!(report["problem"]["kind"], "wrong-pin");
    }
    let out = check("000000\n");
    assert_eq!(json(&out)["problem"]["kind"], "pin-blocked");

    let out = client(&["card", "--test-environment"], None);
    assert_eq!(out.status.code(), Some(4), "{}", out.both());
    assert!(
        out.stdout.contains("PIN:           SPERRET"),
        "{}",
        out.both()
    );
    assert!(
        out.stderr
            .contains("Kortet er sperret etter for mange feil PIN-forsøk."),
        "{}",
        out.both()
    );
    assert!(out.stderr.contains("PUK"), "{}", out.both());
    let report = json(&client(&["card", "--json", "--test-environment"], None));
    assert_eq!(report["pin"]["blocked"], true);
    assert_eq!(report["pin"]["tries_left"], 0);

    // A blocked card is never asked for a PIN again.
    let out = check("123456\n");
    assert_eq!(json(&out)["problem"]["kind"], "pin-blocked");
    assert!(json(&out).get("pin_check").is_none());
}

#[test]
fn unusable_certificates_are_refused_before_any_pin_is_asked() {
    let _lock = serial();
    if !require_stack("refused_before_pin") {
        return;
    }
    for (variant, code, words) in [
        ("expired", "expired", "utløp"),
        ("person-standard", "level-too-low", "nivå høyt"),
        (
            "wrong-usage",
            "key-usage-without-digital-signature",
            "innlogging",
        ),
    ] {
        let vcard = card(variant);
        let out = client(
            &[
                "card",
                "--json",
                "--test-environment",
                "--check-pin",
                "--pin-stdin",
            ],
            Some("123456\n"),
        );
        assert_eq!(out.status.code(), Some(4), "{variant}: {}", out.both());
        let report = json(&out);
        assert_eq!(
            report["problem"]["kind"], "certificate-refused",
            "{variant}"
        );
        let message = report["problem"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{variant}: {message}");
        assert!(report.get("pin_check").is_none(), "{variant}");
        assert!(
            vcard.ctl("status").unwrap().contains("pin_tries=3"),
            "{variant}: a PIN try was spent"
        );

        let out = client(
            &["cert", "inspect", "--card", "--test-environment", "--json"],
            None,
        );
        assert_eq!(out.status.code(), Some(4), "{variant}: {}", out.both());
        let inspected = json(&out);
        assert_eq!(inspected["usable"], false);
        assert!(
            inspected["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["code"] == code),
            "{variant}: {inspected}"
        );
        drop(vcard);
    }
}

#[test]
fn driver_signs_through_pcsc_and_a_foreign_reset_loses_the_pin_state() {
    let _lock = serial();
    if !require_stack("driver_over_pcsc") {
        return;
    }
    let vcard = card("person-high");
    let ctx = establish().unwrap();
    let reader = first_virtual_reader().unwrap();
    let transport = PcscTransport::connect(&ctx, &reader).unwrap();
    let mut piv = Piv::open(Box::new(transport)).unwrap();
    let der = piv.read_certificate(Slot::Authentication).unwrap().unwrap();
    assert_eq!(der, support::pki::variant("person-high").cert_der);
    assert_eq!(piv.pin_status().unwrap(), PinStatus::TriesLeft(3));
    let mut piv = piv
        .verify_pin(&Pin::from_input("123456".into()).unwrap())
        .unwrap();

    let digest = Sha256::digest(b"transcript").to_vec();
    let block = padding::pss(HashAlg::Sha256, &digest, &[9; 32], 2048).unwrap();
    let sig = piv
        .sign(Slot::Authentication, KeyAlgorithm::Rsa2048, &block)
        .unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let public =
        rsa::RsaPublicKey::from_public_key_der(cert.tbs_certificate.subject_pki.raw).unwrap();
    public
        .verify(rsa::Pss::new::<Sha256>(), &digest, &sig)
        .unwrap();
    assert!(vcard.ctl("status").unwrap().contains("signatures=1"));

    // Another program resets the card: our verified state is gone, and we say so.
    {
        let other = ctx
            .connect(
                &std::ffi::CString::new(reader.clone()).unwrap(),
                pcsc::ShareMode::Shared,
                pcsc::Protocols::ANY,
            )
            .unwrap();
        assert!(other.disconnect(pcsc::Disposition::ResetCard).is_ok());
    }
    assert_eq!(
        piv.sign(Slot::Authentication, KeyAlgorithm::Rsa2048, &block),
        Err(PivError::PinStateLost)
    );
    let mut piv = piv.relock();
    assert_eq!(piv.pin_status().unwrap(), PinStatus::TriesLeft(3));
    assert!(vcard.ctl("status").unwrap().contains("signatures=1"));

    // Pulled out mid-use: a distinct error.
    vcard.ctl("remove").unwrap();
    wait_for_card(false, CARD_TIMEOUT).unwrap();
    let err = piv.read_certificate(Slot::Authentication).unwrap_err();
    assert!(err.is_card_removed(), "{err:?}");
}

#[test]
fn the_monitor_sees_the_card_pulled_and_put_back() {
    let _lock = serial();
    if !require_stack("monitor") {
        return;
    }
    let vcard = card("person-high");
    let reader = first_virtual_reader().unwrap();
    let ctx = establish().unwrap();
    let mut monitor = Monitor::new(&ctx).unwrap();
    assert!(monitor
        .current()
        .iter()
        .any(|s| s.reader == reader && s.present));

    let wait_for = |monitor: &mut Monitor, want: &dyn Fn(&CardEvent) -> bool| {
        let deadline = std::time::Instant::now() + CARD_TIMEOUT;
        while std::time::Instant::now() < deadline {
            let events = monitor.wait(Duration::from_millis(500)).unwrap();
            if events.iter().any(want) {
                return;
            }
        }
        panic!("the monitor did not report the event within {CARD_TIMEOUT:?}");
    };
    vcard.ctl("remove").unwrap();
    wait_for(
        &mut monitor,
        &|e| matches!(e, CardEvent::CardRemoved { reader: r } if *r == reader),
    );
    vcard.ctl("insert").unwrap();
    wait_for(
        &mut monitor,
        &|e| matches!(e, CardEvent::CardInserted { reader: r, .. } if *r == reader),
    );
}
