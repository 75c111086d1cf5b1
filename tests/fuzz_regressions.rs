//! Every input fuzzing found a crash or a hang with, kept in `tests/fuzz/regressions/<target>/`,
//! fed again to the parser it broke (docs/fuzzing.md: every crash becomes a test). The inputs
//! are cut and driven by the fuzz targets' own helpers, so a replay here is the fuzz run's.

#[allow(dead_code)] // the helpers of every target; this file uses some of them
#[path = "fuzz/src/lib.rs"]
mod fuzz_input;

use std::path::{Path, PathBuf};

use fuzz_input::{drive_card, ScriptedCard};
use hjemmekontor::card::identify::{identify, Application};
use hjemmekontor::card::piv::{PivError, Slot};
use hjemmekontor::card::ExchangeError;

fn regressions(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/regressions")
        .join(target)
}

fn kept(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut inputs: Vec<_> = std::fs::read_dir(regressions(target))
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no inputs kept for {target}");
    inputs
}

/// Every kept card script is driven to its end, as the fuzz target drives it.
#[test]
fn every_kept_card_script_ends() {
    for (name, input) in kept("card_answers") {
        eprintln!("card_answers/{name}");
        drive_card(ScriptedCard::new(&input));
    }
}

/// A card that answers `61 04` (more data) with no data, again and again, while a certificate
/// is read: the exchange gives up after its bound on GET RESPONSE rounds, where it used to ask
/// forever.
#[test]
fn a_card_announcing_data_it_never_sends_is_cut_off() {
    let input = std::fs::read(regressions("card_answers").join("more-data-without-data")).unwrap();
    let Ok(Application::Piv(mut piv)) = identify(Box::new(ScriptedCard::new(&input))) else {
        panic!("the script answers the PIV SELECT");
    };
    let _ = piv.read_chuid();
    let answers: Vec<_> = Slot::ALL.map(|slot| piv.read_certificate(slot)).into();
    assert!(
        answers.iter().any(|a| matches!(
            a,
            Err(PivError::Exchange(ExchangeError::ResponseLoop { .. }))
        )),
        "{answers:?}"
    );
}
