//! The client speaks bokmål or English as the locale or `--lang` says. What is in the message
//! catalogue so far (the connection's progress and failures, every failure's frame) follows
//! it; the rest of the client's words move into the catalogue area by area.

use std::process::Command;

const CLIENT: &str = env!("CARGO_BIN_EXE_hjemmekontor");

/// `connect` with no gateway given: fails at once, before any card, in the chosen language.
fn without_gateway(env: &[(&str, &str)], args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(CLIENT)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .envs(env.iter().copied())
        .args(args)
        .args(["connect", "--settings"])
        .arg(dir.path().join("client.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn the_locale_or_the_flag_chooses_the_language() {
    let english = without_gateway(&[("LANG", "en_US.UTF-8")], &[]);
    assert!(
        english.starts_with("Error: No gateway was given."),
        "{english}"
    );
    assert!(
        english.contains("Do this: Give it with --gateway HOST:PORT"),
        "{english}"
    );

    let bokmal = without_gateway(&[("LANG", "nb_NO.UTF-8")], &[]);
    assert!(
        bokmal.starts_with("Feil: Det er ikke oppgitt noen gateway."),
        "{bokmal}"
    );
    assert!(
        bokmal.contains("Gjør dette: Oppgi den med --gateway"),
        "{bokmal}"
    );

    // LC_ALL wins over LANG; the flag wins over both; no locale at all is bokmål.
    let all = without_gateway(&[("LC_ALL", "en_GB.UTF-8"), ("LANG", "nb_NO.UTF-8")], &[]);
    assert!(all.starts_with("Error:"), "{all}");
    let flag = without_gateway(&[("LANG", "en_US.UTF-8")], &["--lang", "nb"]);
    assert!(flag.starts_with("Feil:"), "{flag}");
    assert!(without_gateway(&[], &[]).starts_with("Feil:"));
}
