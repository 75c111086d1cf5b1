//! `hjemmekontor profile` as IT and a user meet it: IT writes a profile from the gateway's CA
//! (refusing to overwrite a file, refusing a certificate that is not a CA), `show` prints the
//! fingerprint OpenSSL prints for the same certificate, `import` fills the settings and
//! keeps the username, and a profile changed after IT made it is refused in the user's
//! language with what to do.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const CLIENT: &str = env!("CARGO_BIN_EXE_hjemmekontor");

fn client(args: &[&str]) -> Output {
    Command::new(CLIENT).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn create(profile: &Path, ca: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "--lang",
        "en",
        "profile",
        "create",
        "--name",
        "Hjemmekontor Eksempel kommune",
        "--gateway",
        "gw.kommune.example:443",
        "--gateway-ca",
        ca.to_str().unwrap(),
        "--expect-address",
        "10.20.30.40",
        "--port",
        "443",
        "--port",
        "8041",
        "--output",
        profile.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    client(&args)
}

/// The SHA-256 fingerprint as `openssl x509` prints it.
fn openssl_fingerprint(pem: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(pem)
        .output()
        .expect("openssl is installed (installer/dev/setup.sh --packaging)");
    let line = String::from_utf8(out.stdout).unwrap();
    line.trim().rsplit('=').next().unwrap().to_string()
}

#[test]
fn it_writes_a_profile_that_shows_the_ca_fingerprint_openssl_sees() {
    let dir = tempfile::tempdir().unwrap();
    let ca = support::pki::dir().join("root-ca.pem");
    let profile = dir.path().join("kommune.hjemmekontor");

    let out = create(&profile, &ca, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Wrote the profile"), "{}", text(&out));
    let written = std::fs::read_to_string(&profile).unwrap();
    assert!(written.lines().last().unwrap().starts_with("# sha256: "));

    let again = create(&profile, &ca, &[]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("--force"), "{}", text(&again));
    assert!(create(&profile, &ca, &["--force"]).status.success());

    let out = client(&["profile", "show", "--json", profile.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["name"], "Hjemmekontor Eksempel kommune");
    assert_eq!(shown["gateway"], "gw.kommune.example:443");
    assert_eq!(shown["expect_address"], "10.20.30.40");
    assert_eq!(shown["required_ports"], serde_json::json!([443, 8041]));
    assert_eq!(shown["ca_fingerprint_sha256"], openssl_fingerprint(&ca));

    // A person's certificate is not a CA: no profile is written.
    let leaf = support::pki::dir().join("person-high.pem");
    let wrong = dir.path().join("wrong.hjemmekontor");
    let out = create(&wrong, &leaf, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("is not a certificate authority"),
        "{}",
        text(&out)
    );
    assert!(!wrong.exists());
}

#[test]
fn import_fills_the_settings_and_a_changed_profile_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = support::pki::dir().join("root-ca.pem");
    let profile = dir.path().join("kommune.hjemmekontor");
    assert!(create(&profile, &ca, &[]).status.success());
    let settings = dir.path().join("config/client.toml");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, "username = \"kari\"\n").unwrap();
    let settings_arg = settings.to_str().unwrap();

    let out = client(&[
        "--lang",
        "nb",
        "profile",
        "import",
        profile.to_str().unwrap(),
        "--settings",
        settings_arg,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let words = text(&out);
    assert!(
        words.contains("Importerte «Hjemmekontor Eksempel kommune»"),
        "{words}"
    );
    assert!(words.contains(&openssl_fingerprint(&ca)), "{words}");

    let toml = std::fs::read_to_string(&settings).unwrap();
    for line in [
        "username = \"kari\"",
        "gateway = \"gw.kommune.example:443\"",
        "service_name = \"Hjemmekontor Eksempel kommune\"",
        "expect_address = \"10.20.30.40\"",
    ] {
        assert!(toml.contains(line), "{line} in {toml}");
    }
    let ca_copy = dir.path().join("config/gateway-ca.pem");
    assert_eq!(openssl_fingerprint(&ca_copy), openssl_fingerprint(&ca));

    // One digit changed on the way: refused, settings untouched.
    let changed = std::fs::read_to_string(&profile)
        .unwrap()
        .replace("8041", "8042");
    let tampered = dir.path().join("endret.hjemmekontor");
    std::fs::write(&tampered, changed).unwrap();
    let out = client(&[
        "--lang",
        "en",
        "profile",
        "import",
        "--json",
        tampered.to_str().unwrap(),
        "--settings",
        settings_arg,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "profile-altered");
    assert!(error["error"]["fix"]
        .as_str()
        .unwrap()
        .contains("Ask IT to send the profile again"));
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), toml);
}
