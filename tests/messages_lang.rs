//! The client speaks bokmål or English as the locale or `--lang` says, in every command:
//! here the ones that need no card and no gateway (a failure before any card, `cert inspect`
//! of a TEST PKI certificate, the local `posture` report, a card backend this system lacks,
//! `doctor` against a port nothing listens on).

mod support;

use std::process::{Command, Output};

const CLIENT: &str = env!("CARGO_BIN_EXE_hjemmekontor");

/// The client with only `env` for a locale (none of the developer's own).
fn client(env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(CLIENT)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

const ENGLISH: &[(&str, &str)] = &[("LANG", "en_US.UTF-8")];
const BOKMAL: &[(&str, &str)] = &[("LANG", "nb_NO.UTF-8")];

/// `connect` with no gateway given: fails at once, before any card, in the chosen language.
fn without_gateway(env: &[(&str, &str)], args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("client.toml");
    let mut all = args.to_vec();
    all.extend(["connect", "--settings", settings.to_str().unwrap()]);
    let out = client(env, &all);
    assert_eq!(out.status.code(), Some(2));
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn the_locale_or_the_flag_chooses_the_language() {
    let english = without_gateway(ENGLISH, &[]);
    assert!(
        english.starts_with("Error: No gateway was given."),
        "{english}"
    );
    assert!(
        english.contains("Do this: Give it with --gateway HOST:PORT"),
        "{english}"
    );

    let bokmal = without_gateway(BOKMAL, &[]);
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
    let flag = without_gateway(ENGLISH, &["--lang", "nb"]);
    assert!(flag.starts_with("Feil:"), "{flag}");
    assert!(without_gateway(&[], &[]).starts_with("Feil:"));
}

#[test]
fn cert_inspect_speaks_the_locale_s_language() {
    let (expired, _) = support::pki::files("expired");
    let args = [
        "cert",
        "inspect",
        expired.to_str().unwrap(),
        "--test-environment",
    ];

    let english = client(ENGLISH, &args);
    assert_eq!(english.status.code(), Some(4));
    let text = String::from_utf8(english.stdout).unwrap();
    assert!(text.starts_with("Certificate for "), "{text}");
    assert!(
        text.contains("  Personal identifier:  UN:NO-9578-"),
        "{text}"
    );
    assert!(text.contains("Can NOT be used to log in:"), "{text}");
    assert!(text.contains("  - Your certificate expired on "), "{text}");
    assert!(
        text.contains("    Do this: Order a new card from "),
        "{text}"
    );

    let bokmal = client(BOKMAL, &args);
    assert_eq!(bokmal.status.code(), Some(4));
    let text = String::from_utf8(bokmal.stdout).unwrap();
    assert!(text.starts_with("Sertifikat for "), "{text}");
    assert!(text.contains("Kan IKKE brukes til innlogging:"), "{text}");
    assert!(text.contains("  - Sertifikatet ditt utløp "), "{text}");
    assert!(
        text.contains("    Gjør dette: Bestill nytt kort fra "),
        "{text}"
    );

    // The JSON's keys and codes stay English; its sentences follow the language.
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let english: serde_json::Value =
        serde_json::from_slice(&client(ENGLISH, &json_args).stdout).unwrap();
    assert_eq!(english["reasons"][0]["code"], "expired");
    let message = english["reasons"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Your certificate expired on "),
        "{message}"
    );

    // A file that is not there: the failure's frame and its words.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let args = ["cert", "inspect", missing.to_str().unwrap()];
    let english = String::from_utf8(client(ENGLISH, &args).stderr).unwrap();
    assert!(english.starts_with("Error: Could not read "), "{english}");
    assert!(
        english.contains("Do this: Check the file name"),
        "{english}"
    );
    let bokmal = String::from_utf8(client(BOKMAL, &args).stderr).unwrap();
    assert!(bokmal.starts_with("Feil: Kunne ikke lese "), "{bokmal}");
}

#[test]
fn the_posture_report_speaks_the_locale_s_language() {
    let english = client(ENGLISH, &["posture"]);
    assert!(english.status.success());
    let (out, err) = (
        String::from_utf8(english.stdout).unwrap(),
        String::from_utf8(english.stderr).unwrap(),
    );
    assert!(err.starts_with("Checking the computer ("), "{err}");
    assert!(out.starts_with("Your computer (checked "), "{out}");
    for line in [
        "Operating system:",
        "Firewall:",
        "Disk encryption:",
        "Screen lock:",
    ] {
        assert!(out.contains(line), "{line} in {out}");
    }
    assert!(
        out.contains("Run `hjemmekontor posture --gateway`."),
        "{out}"
    );

    let bokmal = client(BOKMAL, &["posture"]);
    let out = String::from_utf8(bokmal.stdout).unwrap();
    assert!(out.starts_with("Maskinen din (sjekket "), "{out}");
    assert!(out.contains("Operativsystem:"), "{out}");
}

/// The Windows certificate store asked for where there is none: refused before any card.
#[cfg(not(windows))]
#[test]
fn a_backend_this_system_lacks_is_refused_in_the_locale_s_language() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("client.toml");
    let args = [
        "card",
        "--backend",
        "windows",
        "--settings",
        settings.to_str().unwrap(),
    ];
    let english = client(ENGLISH, &args);
    assert_eq!(english.status.code(), Some(2));
    let err = String::from_utf8(english.stderr).unwrap();
    assert_eq!(
        err.trim_end(),
        "Error: The card backend “windows” exists only on Windows.\n\
         Do this: Use --backend auto, piv or pkcs11."
    );
    let bokmal = String::from_utf8(client(BOKMAL, &args).stderr).unwrap();
    assert!(
        bokmal.starts_with("Feil: Kortveien «windows» finnes bare på Windows."),
        "{bokmal}"
    );
}

/// `doctor` against 127.0.0.1:1, where nothing listens: the name needs no lookup and the port
/// is refused at once. The card checks find what they find; their words follow the language
/// all the same. Returns what it printed, stdout and stderr together.
fn doctor_on_a_closed_port(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("client.toml");
    let root = support::pki::dir().join("root-ca.pem");
    let out = client(
        env,
        &[
            "doctor",
            "--settings",
            settings.to_str().unwrap(),
            "--gateway",
            "127.0.0.1:1",
            "--gateway-ca",
            root.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    format!("{stdout}\n{stderr}")
}

#[test]
fn doctor_speaks_the_locale_s_language() {
    let english = doctor_on_a_closed_port(ENGLISH);
    for said in [
        "Checking the network towards 127.0.0.1:1 …",
        "The gateway is given as the IP address 127.0.0.1; no name lookup is needed.",
        "FAILED    Port 1 on 127.0.0.1 refuses the connection.",
        "Do this: No service listens on the port, or a firewall refuses it.",
        "must be fixed before logging in can work",
    ] {
        assert!(english.contains(said), "{said}: {english}");
    }
    for bokmal in ["Gjør dette", "Sjekker", "FEIL", "Kortleser", "Maskinen"] {
        assert!(!english.contains(bokmal), "{bokmal}: {english}");
    }

    let bokmal = doctor_on_a_closed_port(BOKMAL);
    for said in [
        "Sjekker nettverket mot 127.0.0.1:1 …",
        "Gatewayen er oppgitt med IP-adressen 127.0.0.1; ingen navneoppslag trengs.",
        "FEIL      Port 1 på 127.0.0.1 avviser forbindelsen.",
        "Gjør dette: Ingen tjeneste tar imot på porten",
        "feil må rettes før innlogging kan virke",
    ] {
        assert!(bokmal.contains(said), "{said}: {bokmal}");
    }
    assert!(!bokmal.contains("Do this"), "{bokmal}");
}
