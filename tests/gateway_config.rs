//! The gateway's configuration as an operator meets it: the shipped example, `check-config` on
//! broken files, `hash-password`, and the login decision with lockout at fixed times.

mod support;

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hjemmekontor::gateway::auth::{
    check_login, hash_password_with, verify_password, ClientRefusal, HashParams, LockScope,
    LockState, Lockout, LoginAttempt, RefusalReason, BAD_CREDENTIALS_MESSAGE,
};
use hjemmekontor::gateway::config::{self, dangerous_options, Config, PathKind};
use hjemmekontor::gateway::{access, auth};
use hjemmekontor::posture::policy::{evaluate, Action, Policy, Rule, Verdict};
use hjemmekontor::posture::report::Report;
use hjemmekontor::secret::Password;
use serde_json::Value;

const EXAMPLE: &str = include_str!("../installer/gateway/gateway.example.toml");
/// The files the example names, as `hjemmekontor-vcard pki --out pki` writes them.
const PKI_FILES: &[&str] = &[
    "gateway.pem",
    "gateway.key",
    "root-ca.pem",
    "person-ca.pem",
    "crl.pem",
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn gateway(args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hjemmekontor-gateway"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A directory with `gateway.toml` (the given text) and, if asked, the example's PKI files
/// from the TEST PKI (check-config loads them as `run` does).
fn setup(text: &str, with_pki: bool) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    if with_pki {
        std::fs::create_dir(dir.path().join("pki")).unwrap();
        for f in PKI_FILES {
            let from = support::pki::dir().join(f);
            std::fs::copy(&from, dir.path().join("pki").join(f)).unwrap();
        }
    }
    let file = dir.path().join("gateway.toml");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in the text"))
        + 1
}

#[test]
fn the_example_passes_check_config() {
    let (_dir, file) = setup(EXAMPLE, true);
    let run = gateway(&["check-config", file.to_str().unwrap()], None);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("er i orden"));
    assert!(
        run.stdout.contains("Farlige valg:   ingen"),
        "{}",
        run.stdout
    );

    let run = gateway(&["check-config", "--json", file.to_str().unwrap()], None);
    assert_eq!(run.code, 0);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["users"], 3);
    assert_eq!(v["groups"], 3);
    assert_eq!(v["machines"], 4);
    assert_eq!(v["grants"], 3);
    assert_eq!(v["dangerous_options"], serde_json::json!([]));
    assert_eq!(v["users_without_grants"], serde_json::json!([]));

    // And through the library, as `run` will load it.
    let config = config::load(&file).unwrap();
    assert_eq!(
        config.gateway.server_cert,
        file.parent().unwrap().join("pki/gateway.pem")
    );
    let kinds: Vec<&str> = config.groups.iter().map(|g| g.kind.as_str()).collect();
    assert_eq!(kinds, ["legesenter", "legevakt", "sykehjem"]);
    let per: Vec<String> = access::targets(&config, "per.hansen")
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(per, ["sentrum-kontor-2", "legevakt-vakt-1"]);
    assert!(dangerous_options(&config).is_empty());
}

/// check-config on the example with one PKI file replaced: it must refuse what `run` refuses.
fn check_with(file_name: &str, contents: Option<&[u8]>, mode: Option<u32>) -> Run {
    let (dir, file) = setup(EXAMPLE, true);
    let target = dir.path().join("pki").join(file_name);
    if let Some(bytes) = contents {
        std::fs::write(&target, bytes).unwrap();
    }
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let run = gateway(&["check-config", file.to_str().unwrap()], None);
    drop(dir);
    run
}

#[test]
fn check_config_refuses_what_run_refuses() {
    let other_key = std::fs::read(support::pki::dir().join("person-high.key")).unwrap();
    let key_text = std::fs::read(support::pki::dir().join("gateway.key")).unwrap();
    for (file, contents, mode, words) in [
        (
            "gateway.key",
            Some(other_key.as_slice()),
            None,
            "KeyMismatch",
        ),
        ("crl.pem", Some(b"not a CRL".as_slice()), None, "CRL"),
        (
            "root-ca.pem",
            Some(key_text.as_slice()),
            None,
            "Tillitsankere",
        ),
        ("gateway.key", None, Some(0o644), "chmod 600"),
    ] {
        let run = check_with(file, contents, mode);
        assert_eq!(run.code, 2, "{file}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(words), "{file}: {}", run.stderr);
    }
}

#[test]
fn run_refuses_a_server_key_others_can_read() {
    let (dir, file) = setup(EXAMPLE, true);
    use std::os::unix::fs::PermissionsExt;
    let key = dir.path().join("pki/gateway.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let run = gateway(&["run", file.to_str().unwrap()], None);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);
    assert!(
        !dir.path().join("audit.jsonl").exists(),
        "nothing written before refusing"
    );
}

#[test]
fn check_config_names_each_missing_file() {
    let (_dir, file) = setup(EXAMPLE, false);
    let path = file.to_str().unwrap();
    let run = gateway(&["check-config", path], None);
    assert_eq!(run.code, 2);
    for (key, name) in [
        ("server_cert", "gateway.pem"),
        ("server_key", "gateway.key"),
        ("anchors", "root-ca.pem"),
        ("intermediates", "person-ca.pem"),
        ("crls", "crl.pem"),
    ] {
        let line = line_of(EXAMPLE, &format!("{key} = "));
        let prefix = format!("{path}:{line}:");
        assert!(
            run.stderr
                .lines()
                .any(|l| l.starts_with(&prefix) && l.contains(name) && l.contains("finnes ikke")),
            "{key}: {}",
            run.stderr
        );
    }
    assert!(run.stderr.contains("5 feil"));
}

#[test]
fn several_mistakes_are_each_reported_at_their_line() {
    let text = EXAMPLE
        .replacen("listen = \"0.0.0.0:8443\"", "listen = \"0.0.0.0\"", 1)
        .replacen("max_sessions = 1000", "max_sessions = 0", 1)
        .replacen("username = \"lise.berg\"", "username = \"per.hansen\"", 1)
        .replacen(
            "personal_id = \"UN:NO-9578-4050-100000003\"",
            "personal_id = \"12345678901\"",
            1,
        )
        .replacen(
            "address = \"127.0.0.1:33893\"",
            "address = \"127.0.0.1\"",
            1,
        )
        .replacen("group = \"sykehjem-nord\"", "group = \"sykehjem-sor\"", 1)
        .replacen(
            "machines = [\"sentrum-kontor-1\"]",
            "machines = [\"sentrum-kontor-9\"]\nmachine = [\"x\"]",
            1,
        );
    let (_dir, file) = setup(&text, true);
    let path = file.to_str().unwrap();

    let run = gateway(&["check-config", path], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let expected = [
        ("listen = \"0.0.0.0\"", "IP-adresse:port"),
        ("max_sessions = 0", "utenfor det tillatte området"),
        (
            "username = \"per.hansen\"\ndisplay_name = \"Lise",
            "allerede definert",
        ),
        ("12345678901", "UN:NO-9578"),
        ("address = \"127.0.0.1\"", "mangler :port"),
        ("sykehjem-sor", "ukjent gruppe `sykehjem-sor`"),
        ("sentrum-kontor-9", "ukjent maskin `sentrum-kontor-9`"),
        ("machine = [\"x\"]", "ukjent nøkkel `machine`"),
        // Lise's entry now names Per, so her grant names a user that no longer exists.
        ("user = \"lise.berg\"", "ukjent bruker `lise.berg`"),
    ];
    let error_lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with(path)).collect();
    assert_eq!(error_lines.len(), expected.len(), "{}", run.stderr);
    for (needle, what) in expected {
        // A needle spanning two lines points at its first.
        let first = needle.split('\n').next().unwrap();
        let line = if needle.contains('\n') {
            text[..text.find(needle).unwrap()].lines().count() + 1
        } else {
            line_of(&text, first)
        };
        let prefix = format!("{path}:{line}:");
        assert!(
            error_lines
                .iter()
                .any(|l| l.starts_with(&prefix) && l.contains(what)),
            "{what} at line {line}: {}",
            run.stderr
        );
    }

    let run = gateway(&["check-config", "--json", path], None);
    assert_eq!(run.code, 2);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"].as_array().unwrap().len(), expected.len());
    assert_eq!(v["errors"][0]["line"], line_of(&text, "listen ="));
}

#[test]
fn an_unreadable_file_is_an_io_failure() {
    let run = gateway(&["check-config", "/nonexistent/gateway.toml"], None);
    assert_eq!(run.code, 5);
    assert!(run.stderr.contains("Kunne ikke lese konfigurasjonsfilen"));
}

#[test]
fn hash_password_from_stdin_verifies_and_never_shows_the_password() {
    let secret = "Korrekt-Hest-Batteri-Stift-42";
    let run = gateway(&["hash-password", "--stdin"], Some(&format!("{secret}\n")));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let phc = run.stdout.trim();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert_eq!(run.stdout.lines().count(), 1);
    assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    assert!(verify_password(
        phc,
        &Password::from_input(secret.to_string())
    ));
    assert!(!verify_password(
        phc,
        &Password::from_input("Korrekt-Hest-Batteri-Stift-43".to_string())
    ));

    // The hash goes straight into a user entry.
    let text = EXAMPLE.replacen(
        "$argon2id$v=19$m=19456,t=2,p=1$77PYYZd7fC0jj3kMS5HkAg$tFq9Pe3rjYGPBO7zcX5HwsAvduExOL0j9hs3jRAL9SY",
        phc,
        1,
    );
    assert_ne!(text, EXAMPLE);
    let (_dir, file) = setup(&text, true);
    let config = config::load(&file).unwrap();
    assert!(verify_password(
        config.users[0].password_hash.as_str(),
        &Password::from_input(secret.to_string())
    ));
}

#[test]
fn hash_password_warns_refuses_and_never_takes_argv() {
    let run = gateway(&["hash-password", "--stdin"], Some("kort\n"));
    assert_eq!(run.code, 0);
    assert!(run.stderr.contains("færre enn 12 tegn"));
    assert!(!run.stderr.contains("kort\n") && !run.stdout.contains("kort"));

    let run = gateway(&["hash-password", "--stdin"], Some(""));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("Passordet er tomt"));

    // No terminal and no --stdin: refuse rather than read a pipe silently.
    let run = gateway(&["hash-password"], None);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("ingen terminal"));

    // There is no way to give the password as an argument.
    let run = gateway(&["hash-password", "hemmelig-passord"], None);
    assert_eq!(run.code, 2);
    let run = gateway(&["hash-password", "--password", "hemmelig-passord"], None);
    assert_eq!(run.code, 2);
}

#[test]
fn a_password_in_the_configuration_is_never_echoed() {
    let secret = "Sommer2024!Hemmelig";
    let start = EXAMPLE.find("password_hash = \"$argon2id").unwrap();
    let end = start + EXAMPLE[start..].find('\n').unwrap();
    let text = format!(
        "{}password_hash = \"{secret}\"\npassword = \"{secret}\"{}",
        &EXAMPLE[..start],
        &EXAMPLE[end..]
    );
    let (_dir, file) = setup(&text, true);
    let path = file.to_str().unwrap();
    for args in [
        vec!["check-config", path],
        vec!["check-config", "--json", path],
    ] {
        let run = gateway(&args, None);
        assert_eq!(run.code, 2);
        assert!(!run.stdout.contains(secret), "{}", run.stdout);
        assert!(!run.stderr.contains(secret), "{}", run.stderr);
        assert!((run.stdout.clone() + &run.stderr).contains("argon2id"));
    }
}

// ---------------------------------------------------------------------------------------------
// The login decision, through the public API, at fixed times.

const KARI_ID: &str = "UN:NO-9578-4050-100000001";
const OLA_ID: &str = "UN:NO-9578-4050-100000002";
const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

fn pw(s: &str) -> Password {
    Password::from_input(s.to_string())
}

fn test_config(max_failures: u32, per_address: u32) -> Config {
    let kari = hash_password_with(&pw("kari-passord"), HashParams::TEST_ONLY).unwrap();
    let ola = hash_password_with(&pw("ola-passord"), HashParams::TEST_ONLY).unwrap();
    let text = format!(
        r#"
[gateway]
listen = "127.0.0.1:8443"
server_cert = "gw.pem"
server_key = "gw.key"
test_environment = true

[trust]
anchors = ["root.pem"]

[dangerous]
allow_no_crl = true

[audit]
path = "audit.log"

[lockout]
max_failures = {max_failures}
max_failures_per_address = {per_address}
window_secs = 300
lock_secs = 60
max_lock_secs = 600

[[user]]
username = "kari"
personal_id = "{KARI_ID}"
password_hash = "{kari}"

[[user]]
username = "ola"
personal_id = "{OLA_ID}"
password_hash = "{ola}"

[[group]]
id = "legevakt"
name = "Legevakta"
kind = "legevakt"

[[machine]]
id = "lv-1"
name = "Legevakt 1"
address = "127.0.0.1:33891"
group = "legevakt"

[[grant]]
user = "kari"
groups = ["legevakt"]
"#
    );
    let probe = |p: &Path| {
        if p.extension().is_some() {
            PathKind::File
        } else {
            PathKind::Directory
        }
    };
    let config = config::parse(&text, Path::new("/srv/gw"), &probe).unwrap();
    let dangerous = dangerous_options(&config);
    assert_eq!(dangerous.len(), 3, "{dangerous:#?}");
    config
}

fn login(
    config: &Config,
    lockout: &mut Lockout,
    at: Instant,
    id: &str,
    user: &str,
    password: &str,
) -> Result<auth::Accepted, auth::Refusal> {
    let password = pw(password);
    check_login(
        config,
        lockout,
        at,
        &LoginAttempt {
            source: HOME,
            personal_id: id,
            username: user,
            password: &password,
        },
        Verdict::default,
    )
}

#[test]
fn lockout_timeline_at_fixed_times() {
    let config = test_config(3, 100);
    let mut lockout = Lockout::new(config.lockout);
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);

    // Three failures lock Kari for 60 s.
    for s in 0..3 {
        let r = login(&config, &mut lockout, at(s), KARI_ID, "kari", "feil").unwrap_err();
        assert_eq!(r.reason, RefusalReason::WrongPassword);
    }
    assert_eq!(
        lockout.state("kari", HOME, at(3)),
        LockState::Locked {
            until: at(62),
            scope: LockScope::User
        }
    );
    // The right password during the lock: still refused, as locked out.
    let r = login(
        &config,
        &mut lockout,
        at(30),
        KARI_ID,
        "kari",
        "kari-passord",
    )
    .unwrap_err();
    assert_eq!(r.reason, RefusalReason::LockedOut);
    assert_eq!(
        r.client,
        ClientRefusal::LockedOut {
            retry_after_secs: 32
        }
    );
    // After lock_secs it is open again; three more failures lock for twice as long.
    assert_eq!(lockout.state("kari", HOME, at(62)), LockState::Open);
    for s in 62..65 {
        login(&config, &mut lockout, at(s), KARI_ID, "kari", "feil").unwrap_err();
    }
    assert_eq!(
        lockout.state("kari", HOME, at(65)),
        LockState::Locked {
            until: at(64 + 120),
            scope: LockScope::User
        }
    );
    // Open again, the right password gets in.
    let ok = login(
        &config,
        &mut lockout,
        at(184),
        KARI_ID,
        "kari",
        "kari-passord",
    )
    .unwrap();
    assert_eq!(ok.targets[0].id, "lv-1");
}

#[test]
fn one_source_address_is_locked_across_usernames() {
    let config = test_config(10, 4);
    let mut lockout = Lockout::new(config.lockout);
    let t0 = Instant::now();
    for (i, name) in ["anne", "bjorn", "carl", "dina"].iter().enumerate() {
        let r = login(
            &config,
            &mut lockout,
            t0 + Duration::from_secs(i as u64),
            KARI_ID,
            name,
            "gjett",
        )
        .unwrap_err();
        assert_eq!(r.reason, RefusalReason::UnknownUser);
        assert_eq!(r.audit_user, None);
    }
    // Kari herself, from the same address, with the right password: locked by the address.
    let r = login(
        &config,
        &mut lockout,
        t0 + Duration::from_secs(5),
        KARI_ID,
        "kari",
        "kari-passord",
    )
    .unwrap_err();
    assert_eq!(r.reason, RefusalReason::LockedOut);
    assert_eq!(r.lock, Some(LockScope::Address));
}

#[test]
fn login_checks_come_in_order() {
    let config = test_config(5, 100);
    let mut lockout = Lockout::new(config.lockout);
    let now = Instant::now();

    // Unknown user, with any card.
    let r = login(&config, &mut lockout, now, KARI_ID, "karin", "kari-passord").unwrap_err();
    assert_eq!(r.reason, RefusalReason::UnknownUser);
    // Ola's card for Kari: the binding is checked before the password, so even the right
    // password is refused for the card, and a wrong one is not reported as wrong.
    let r = login(&config, &mut lockout, now, OLA_ID, "kari", "kari-passord").unwrap_err();
    assert_eq!(r.reason, RefusalReason::IdentifierNotBound);
    let r = login(&config, &mut lockout, now, OLA_ID, "kari", "feil").unwrap_err();
    assert_eq!(r.reason, RefusalReason::IdentifierNotBound);
    // Kari's card, wrong password.
    let r = login(&config, &mut lockout, now, KARI_ID, "kari", "feil").unwrap_err();
    assert_eq!(r.reason, RefusalReason::WrongPassword);
    assert_eq!(r.client.message(), BAD_CREDENTIALS_MESSAGE);
    // Ola: right card and password, but no grant.
    let r = login(&config, &mut lockout, now, OLA_ID, "ola", "ola-passord").unwrap_err();
    assert_eq!(r.reason, RefusalReason::NoGrants);
    assert_eq!(r.audit_user.as_deref(), Some("ola"));

    // Posture is asked only when everything before it passed, and comes before grants.
    let password = pw("ola-passord");
    let r = check_login(
        &config,
        &mut lockout,
        now,
        &LoginAttempt {
            source: HOME,
            personal_id: OLA_ID,
            username: "ola",
            password: &password,
        },
        || {
            let rules = Policy::of([(
                Rule::Antivirus {
                    max_definitions_age_days: Some(7),
                },
                Action::Deny,
            )]);
            evaluate(&rules, &Report::unknown(0, "no antivirus probe ran"), 0)
        },
    )
    .unwrap_err();
    assert_eq!(r.reason, RefusalReason::PostureRefused);
    let password = pw("feil");
    let r = check_login(
        &config,
        &mut lockout,
        now,
        &LoginAttempt {
            source: HOME,
            personal_id: OLA_ID,
            username: "ola",
            password: &password,
        },
        || panic!("posture must not be asked before the password is right"),
    )
    .unwrap_err();
    assert_eq!(r.reason, RefusalReason::WrongPassword);

    // Everything right.
    let ok = login(&config, &mut lockout, now, KARI_ID, "kari", "kari-passord").unwrap();
    assert_eq!(ok.user, "kari");
}

#[test]
fn damaged_files_give_errors_never_panics() {
    let probe = |_: &Path| PathKind::File;
    let base = Path::new("/srv/gw");
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    let mut damaged = Vec::new();
    for i in 0..lines.len() {
        // Each line left out, and each line doubled.
        let mut without = lines.clone();
        without.remove(i);
        damaged.push(without.join("\n"));
        let mut doubled = lines.clone();
        doubled.insert(i, lines[i]);
        damaged.push(doubled.join("\n"));
    }
    // Cut anywhere (on a character boundary).
    for cut in (0..EXAMPLE.len()).step_by(37) {
        if EXAMPLE.is_char_boundary(cut) {
            damaged.push(EXAMPLE[..cut].to_string());
        }
    }
    for text in [
        "",
        "\u{feff}",
        "[[user]]\n[user]",
        "a = 1\n[a]",
        "[gateway]\nlisten = 1e400",
    ] {
        damaged.push(text.to_string());
    }
    for text in &damaged {
        if let Err(errors) = config::parse(text, base, &probe) {
            assert!(!errors.is_empty());
            for e in errors {
                assert!(
                    e.line >= 1 && e.line <= text.lines().count().max(1) + 1,
                    "{e:?}"
                );
                assert!(e.column >= 1);
            }
        }
    }
}
