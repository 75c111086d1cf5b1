//! A Buypass card through the real PC/SC stack: `hjemmekontor-vcard run --profile buypass`
//! in vpcd's reader (T=0, the Buypass ATR), recognised by `hjemmekontor readers` and refused
//! by `hjemmekontor card` with the advice to use Buypass's middleware — and no PIN try spent.
//!
//! Needs pcscd with vsmartcard-vpcd and OpenSC. With `CI` set their absence is a failure;
//! otherwise these tests print a notice and pass without running.

mod support;

use std::time::Duration;

use hjemmekontor::card::apdu::{Command, StatusWord};
use hjemmekontor::card::beid::{Beid, PinTries};
use hjemmekontor::card::pcsc::{establish, PcscTransport};
use hjemmekontor::card::transport::exchange;
use serde_json::Value;
use support::stack::{
    first_virtual_reader, require_stack, run_tool, serial, start_card, ToolOutput, VcardProcess,
};
use zeroize::Zeroizing;

const CLIENT: &str = env!("CARGO_BIN_EXE_hjemmekontor");
const TIMEOUT: Duration = Duration::from_secs(60);
const BUYPASS_ATR: &str = "3B 9F 96 40 0A 80 31 E0 6B 04 52 05 02 4F 55 55 55 55 55 55";

fn buypass_card() -> VcardProcess {
    start_card(["--profile", "buypass"])
}

/// The client in bokmål, whatever the locale, since the tests read its words.
fn client(args: &[&str]) -> ToolOutput {
    let args: Vec<&str> = ["--lang", "nb"].iter().chain(args).copied().collect();
    run_tool(CLIENT, &args, TIMEOUT).expect("client runs")
}

fn json(out: &ToolOutput) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", out.both()))
}

fn first_reader(report: &Value) -> &Value {
    let reader = first_virtual_reader().unwrap();
    report["readers"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["name"] == reader.as_str()))
        .unwrap_or_else(|| panic!("{reader} not listed: {report}"))
}

#[test]
fn readers_shows_a_buypass_card_and_its_trace_holds_the_probe() {
    let _lock = serial();
    if !require_stack("buypass_readers") {
        return;
    }
    let vcard = buypass_card();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.txt");

    let out = client(&["readers", "--json", "--trace", trace.to_str().unwrap()]);
    assert!(out.status.success(), "{}", out.both());
    let report = json(&out);
    let reader = first_reader(&report);
    assert_eq!(reader["card_present"], true);
    assert_eq!(reader["atr"], BUYPASS_ATR);
    assert_eq!(reader["application"], "buypass", "{report}");

    let text = client(&["readers"]);
    assert!(text.status.success(), "{}", text.both());
    assert!(
        text.stdout.contains("Buypass-kort (BEID)"),
        "{}",
        text.both()
    );

    let trace = std::fs::read_to_string(&trace).unwrap();
    assert!(trace.contains("> 00 A4 00 00 02 3F 00  < 90 00"), "{trace}");
    assert!(trace.contains("> A0 20 00 82  < 63 C3"), "{trace}");
    assert!(vcard.ctl("status").unwrap().contains("pin_tries=3"));
}

#[test]
fn card_refuses_a_buypass_card_with_the_middleware_advice() {
    let _lock = serial();
    if !require_stack("buypass_card") {
        return;
    }
    let vcard = buypass_card();
    let out = client(&["card", "--json"]);
    assert_eq!(out.status.code(), Some(4), "{}", out.both());
    let error = &json(&out)["error"];
    assert_eq!(error["kind"], "buypass-needs-middleware", "{}", out.both());
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("Buypass Access"), "{message}");
    assert!(message.contains("iidp11"), "{message}");
    assert!(
        error["fix"].as_str().unwrap().contains("--backend pkcs11"),
        "{error}"
    );

    let text = client(&["card"]);
    assert_eq!(text.status.code(), Some(4), "{}", text.both());
    assert!(text.stderr.contains("Buypass-kort"), "{}", text.both());
    assert!(vcard.ctl("status").unwrap().contains("pin_tries=3"));
}

#[test]
fn the_driver_reads_the_tries_through_pcsc_over_t0_and_a_pin_stays_out_of_the_log() {
    let _lock = serial();
    if !require_stack("buypass_driver") {
        return;
    }
    let vcard = buypass_card();
    let ctx = establish().unwrap();
    let transport = PcscTransport::connect(&ctx, &first_virtual_reader().unwrap()).unwrap();
    let mut beid = Beid::probe(Box::new(transport))
        .map_err(|(_, e)| e)
        .unwrap();
    assert_eq!(beid.tries_at_probe(), PinTries::Left(3));
    assert_eq!(beid.pin_tries().unwrap(), PinTries::Left(3));
    assert!(vcard.ctl("status").unwrap().contains("pin_tries=3"));

    // A wrong TEST PIN, sent as Buypass cards take it, costs one try; the card's log shows
    // the command without the PIN.
    let mut transport = beid.into_transport();
    let mut block = Zeroizing::new(vec![0xFF; 8]);
    block[..4].copy_from_slice(b"4711");
    let verify = Command::new(0xA0, 0x20, 0x00, 0x82).with_secret_data(block);
    {
        let mut tx = transport.transaction().unwrap();
        let answer = exchange(&mut *tx, &verify, false).unwrap();
        assert_eq!(answer.sw, StatusWord(0x63C2));
    }
    let mut beid = Beid::probe(transport).map_err(|(_, e)| e).unwrap();
    assert_eq!(beid.pin_tries().unwrap(), PinTries::Left(2));
    assert!(vcard.ctl("status").unwrap().contains("pin_tries=2"));
    let log = vcard.log_text();
    assert!(log.contains("A0 20 00 82 [REDACTED 8 bytes]"), "{log}");
    // (Only the hex forms: the log's timestamps may contain any four digits.)
    for secret in ["34 37 31 31", "34373131"] {
        assert!(!log.contains(secret), "{secret} in the card log:\n{log}");
    }
}
