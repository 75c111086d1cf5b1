//! `installer/gateway/refresh-crls` as the timer runs it: the real script under bash, the real
//! `hjemmekontor-gateway check-crl`, curl fetching from a small web server on 127.0.0.1. A
//! newer list of the configured CA replaces the old one; everything else (an error page, a
//! 404, a list of a CA the gateway does not trust, an older list, an expired one) leaves the
//! old file byte for byte, says why, and makes the run fail, without stopping other sources.
//! And `check-crl` by hand: its JSON and exit codes.

mod support;

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, SerialNumber,
};
use time::OffsetDateTime;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/installer/gateway/refresh-crls"
);
/// Bound on one run of the script: each download is bounded by curl's --max-time 60.
const RUN_LIMIT: Duration = Duration::from_secs(180);
/// Bound on a socket read or write of the web server.
const IO_LIMIT: Duration = Duration::from_secs(30);

/// A web server on 127.0.0.1: `GET /NAME` answers what was put under NAME, anything else 404.
struct Server {
    addr: SocketAddr,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let served = Arc::clone(&files);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                // A client that goes away mid-answer is curl's business, not the test's.
                let _ = answer(stream, &served);
            }
        });
        Server { addr, files }
    }

    fn put(&self, name: &str, body: impl Into<Vec<u8>>) -> String {
        self.files
            .lock()
            .unwrap()
            .insert(format!("/{name}"), body.into());
        self.url(name)
    }

    fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }
}

fn answer(mut stream: TcpStream, files: &Mutex<HashMap<String, Vec<u8>>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_LIMIT))?;
    stream.set_write_timeout(Some(IO_LIMIT))?;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("/");
    let body = files.lock().unwrap().get(path).cloned();
    let (status, body) = match body {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", b"<html>Not Found</html>".to_vec()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/pkix-crl\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)
}

/// A gateway's configuration over the TEST PKI with its CRL in `crl/test.crl`, which holds
/// the TEST PKI's list to begin with.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let pki = support::pki::dir();
        let p = |name: &str| pki.join(name).display().to_string();
        std::fs::create_dir(dir.path().join("crl")).unwrap();
        let config = format!(
            r#"[gateway]
listen = "127.0.0.1:8443"
server_cert = "{cert}"
server_key = "{key}"
test_environment = true

[trust]
anchors = ["{root}"]
intermediates = ["{ca}"]
crls = ["crl/test.crl", "crl/other.crl"]

[audit]
path = "audit.jsonl"
"#,
            cert = p("gateway.pem"),
            key = p("gateway.key"),
            root = p("root-ca.pem"),
            ca = p("person-ca.pem"),
        );
        std::fs::write(dir.path().join("gateway.toml"), config).unwrap();
        let site = Site { dir };
        std::fs::write(site.crl("test.crl"), initial_crl()).unwrap();
        site
    }

    fn crl(&self, name: &str) -> PathBuf {
        self.dir.path().join("crl").join(name)
    }

    fn marker(&self) -> PathBuf {
        self.dir.path().join("changed")
    }

    /// Runs the script over the sources `lines` (`URL FILE`).
    fn refresh(&self, lines: &[String]) -> Run {
        let text = format!("# written by the test\n\n{}\n", lines.join("\n"));
        self.refresh_with(&text)
    }

    /// Runs the script over the sources file `text`, with a marker for replaced lists.
    fn refresh_with(&self, text: &str) -> Run {
        let sources = self.dir.path().join("crl-sources");
        std::fs::write(&sources, text).unwrap();
        let _ = std::fs::remove_file(self.marker());
        let path = |p: &Path| p.display().to_string();
        run_bounded(
            Command::new("bash")
                .arg(SCRIPT)
                .args(["--sources", &path(&sources)])
                .args(["--crl-dir", &path(&self.dir.path().join("crl"))])
                .args(["--config", &path(&self.dir.path().join("gateway.toml"))])
                .args(["--gateway", env!("CARGO_BIN_EXE_hjemmekontor-gateway")])
                .args(["--changed-marker", &path(&self.marker())]),
        )
    }

    /// The names in the CRL directory: no temporary file may be left behind.
    fn crl_dir_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path().join("crl"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

struct Run {
    code: i32,
    out: String,
}

impl Run {
    /// The script's line about `name`.
    fn line(&self, name: &str) -> &str {
        let prefix = format!("{name}: ");
        self.out
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no line about {name} in:\n{}", self.out))
    }
}

/// Runs `command` with stdout and stderr together, killed if it outlives [`RUN_LIMIT`].
fn run_bounded(command: &mut Command) -> Run {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(RUN_LIMIT) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("refresh-crls did not finish within {RUN_LIMIT:?}");
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        code: out.status.code().unwrap_or(-1),
        out: text,
    }
}

fn initial_crl() -> Vec<u8> {
    std::fs::read(support::pki::dir().join("crl.pem")).unwrap()
}

/// A list of the TEST PKI's person CA as issued at `at` (thisUpdate an hour before it,
/// nextUpdate 90 days after), revoking the `revoked` card.
fn person_ca_crl(at: OffsetDateTime, number: u64) -> String {
    support::pki::test_pki()
        .revocation_list(at, number, &["revoked"])
        .unwrap()
}

/// A current list of a CA the gateway has never heard of.
fn unknown_ca_crl() -> String {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "Ukjent CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let issuer = Issuer::new(params, KeyPair::generate().unwrap());
    let now = OffsetDateTime::now_utc();
    CertificateRevocationListParams {
        this_update: now - time::Duration::hours(1),
        next_update: now + time::Duration::days(7),
        crl_number: SerialNumber::from(9u64),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&issuer)
    .unwrap()
    .pem()
    .unwrap()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_newer_list_of_the_configured_ca_replaces_the_old_one() {
    let server = Server::start();
    let site = Site::new();
    let newer = person_ca_crl(OffsetDateTime::now_utc() + time::Duration::minutes(30), 2);
    let url = server.put("person.crl", newer.clone());

    let run = site.refresh(&[format!("{url} test.crl")]);
    assert_eq!(run.code, 0, "{}", run.out);
    assert_eq!(
        std::fs::read(site.crl("test.crl")).unwrap(),
        newer.as_bytes()
    );
    assert_eq!(mode(&site.crl("test.crl")), 0o644);
    let line = run.line("test.crl");
    assert!(line.starts_with("test.crl: oppdatert: "), "{line}");
    assert!(
        line.contains("thisUpdate ") && line.contains("nextUpdate "),
        "{line}"
    );
    assert!(line.contains("1 tilbakekalte"), "{line}");
    assert!(site.marker().exists(), "a replaced list must be marked");
    assert_eq!(site.crl_dir_names(), ["test.crl"]);

    // The same list again: nothing to replace, nothing to reload.
    let again = site.refresh(&[format!("{url} test.crl")]);
    assert_eq!(again.code, 0, "{}", again.out);
    assert!(again.line("test.crl").starts_with("test.crl: uendret: "));
    assert!(!site.marker().exists());
    assert_eq!(site.crl_dir_names(), ["test.crl"]);
}

/// Serves `body` (or nothing: a 404) as the source of `test.crl` and checks that the run
/// fails, leaves the old list as it was, and says `why`.
fn refused(body: Option<Vec<u8>>, why: &str) {
    let server = Server::start();
    let site = Site::new();
    let url = match body {
        Some(body) => server.put("person.crl", body),
        None => server.url("missing.crl"),
    };
    let run = site.refresh(&[format!("{url} test.crl")]);
    assert_eq!(run.code, 1, "{}", run.out);
    assert_eq!(
        std::fs::read(site.crl("test.crl")).unwrap(),
        initial_crl(),
        "the old list was touched: {}",
        run.out
    );
    let line = run.line("test.crl");
    assert!(line.contains(why), "expected «{why}» in: {line}");
    assert!(line.ends_with("Den gamle listen beholdes."), "{line}");
    assert!(!site.marker().exists());
    assert_eq!(site.crl_dir_names(), ["test.crl"]);
}

#[test]
fn an_error_page_instead_of_a_list_leaves_the_old_one() {
    refused(
        Some(b"<html><body>502 Bad Gateway</body></html>".to_vec()),
        "Filen er ikke en CRL",
    );
}

#[test]
fn a_404_leaves_the_old_list() {
    refused(None, "404");
}

#[test]
fn a_list_of_an_unknown_ca_leaves_the_old_one() {
    refused(
        Some(unknown_ca_crl().into_bytes()),
        "som ikke er blant tillitsankerne",
    );
}

#[test]
fn an_older_list_leaves_the_newer_one() {
    let older = person_ca_crl(OffsetDateTime::now_utc() - time::Duration::days(1), 1);
    refused(
        Some(older.into_bytes()),
        "er eldre enn den den skulle erstatte",
    );
}

#[test]
fn an_expired_list_leaves_the_old_one() {
    // Issued 100 days ago with 90 days to live.
    let expired = person_ca_crl(OffsetDateTime::now_utc() - time::Duration::days(100), 3);
    refused(Some(expired.into_bytes()), "er utløpt");
}

#[test]
fn one_bad_source_does_not_stop_the_others() {
    let server = Server::start();
    let site = Site::new();
    let newer = person_ca_crl(OffsetDateTime::now_utc() + time::Duration::minutes(30), 2);
    let good = server.put("person.crl", newer.clone());
    let broken = server.put("broken.crl", "not a list");
    let run = site.refresh(&[
        format!("{broken} other.crl"),
        format!("{} gone.crl", server.url("gone.crl")),
        format!("{good} ../outside.crl"),
        // A comment after the file name, and a line end from Windows.
        format!("{good} test.crl   # the TEST person CA\r"),
    ]);
    assert_eq!(run.code, 1, "{}", run.out);
    assert!(run.line("other.crl").contains("Filen er ikke en CRL"));
    assert!(run
        .line("other.crl")
        .ends_with("Ingen liste er lagt på plass."));
    assert!(run.line("gone.crl").contains("404"));
    assert!(run
        .out
        .contains("«../outside.crl» må være et filnavn under"));
    assert!(run.line("test.crl").starts_with("test.crl: oppdatert: "));
    assert_eq!(
        std::fs::read(site.crl("test.crl")).unwrap(),
        newer.as_bytes()
    );
    assert!(!site.dir.path().join("outside.crl").exists());
    assert!(site.marker().exists());
    assert_eq!(site.crl_dir_names(), ["test.crl"]);
    assert!(run
        .out
        .contains("4 kilder: 1 oppdatert, 0 uendret, 3 feilet."));
}

#[test]
fn the_shipped_sources_file_names_no_real_address_and_says_so() {
    let example = include_str!("../installer/gateway/crl-sources");
    // Every example line is commented out and points nowhere real.
    for line in example.lines() {
        let line = line.trim_start();
        assert!(line.is_empty() || line.starts_with('#'), "{line}");
        let body = line.trim_start_matches('#').trim_start();
        if body.starts_with("http://") || body.starts_with("https://") {
            assert!(body.contains(".example.invalid/"), "{line}");
        }
    }
    let site = Site::new();
    let run = site.refresh_with(example);
    assert_eq!(run.code, 2, "{}", run.out);
    assert!(run.out.contains("Ingen kilder i"), "{}", run.out);
    assert_eq!(std::fs::read(site.crl("test.crl")).unwrap(), initial_crl());
}

/// Runs `check-crl` as an operator would.
fn check_crl(args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_hjemmekontor-gateway"))
        .arg("check-crl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), json)
}

#[test]
fn check_crl_by_hand_answers_scripts_with_json_and_exit_codes() {
    let site = Site::new();
    let config = site.dir.path().join("gateway.toml");
    let config = config.to_str().unwrap();
    let current = site.crl("test.crl");
    let current = current.to_str().unwrap();

    let (code, v) = check_crl(&["--json", config, current]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["ok"], true);
    let crl = &v["files"][0]["crls"][0];
    assert_eq!(crl["revoked"], 1);
    assert_eq!(crl["refusal"], serde_json::Value::Null);
    assert!(crl["next_update"].is_string() && crl["this_update"].is_string());
    assert!(crl["issuer"].as_str().unwrap().contains("TEST Class 3 CA"));

    let expired = site.dir.path().join("expired.crl");
    let old = OffsetDateTime::now_utc() - time::Duration::days(100);
    std::fs::write(&expired, person_ca_crl(old, 3)).unwrap();
    let expired = expired.to_str().unwrap();
    let (code, v) = check_crl(&["--json", config, expired, "--replaces", current]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["files"][0]["crls"][0]["refusal"]["code"], "expired");

    let certificate = support::pki::dir().join("root-ca.pem");
    let (code, v) = check_crl(&["--json", config, certificate.to_str().unwrap()]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["files"][0]["problem"]["code"], "certificate");

    let (code, v) = check_crl(&["--json", config, "/nonexistent/list.crl"]);
    assert_eq!(code, 5, "{v}");
    assert_eq!(v["files"][0]["error"]["kind"], "crl-unreadable");

    let (code, v) = check_crl(&["--json", config, current, current, "--replaces", current]);
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["error"]["kind"], "replaces-mismatch");
}
