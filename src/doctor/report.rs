//! What the doctor shows and hands over: one line per check for people, the same as JSON for
//! scripts, and the support bundle (`--report FILE`) for the help desk.
//!
//! The bundle holds the results, versions, the readers and the card's public facts, the
//! certificate's public facts, the posture report and the trace of what was tried. It never
//! holds a PIN or a password: the doctor has none to give it (the PIN of `--sign-test` is
//! dropped once the card has checked it), and nothing is read from the card beyond what the
//! certificate shows anyone it is presented to.

use std::io::{self, Write as _};
use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};

use super::trace::Step;
use super::{CheckResult, Status};
use crate::i18n::catalogue::doctor as m;
use crate::posture::report::Report;

/// Exit code when every check passed (warnings allowed).
pub const EXIT_OK: u8 = 0;
/// Exit code when a check failed.
pub const EXIT_FAILED: u8 = 1;

/// The exit code for `results`.
pub fn exit_code(results: &[CheckResult]) -> u8 {
    if results.iter().any(|r| r.status == Status::Fail) {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// Width of the status column.
const STATUS_WIDTH: usize = 10;

/// One check as people read it: the status and the finding, and under it, when it is not OK,
/// what to do.
pub fn line(result: &CheckResult) -> String {
    let mut text = format!(
        "{:<width$}{}",
        result.status.word(),
        result.summary,
        width = STATUS_WIDTH
    );
    if let (Some(fix), false) = (&result.fix, result.status == Status::Ok) {
        text.push_str(&format!(
            "\n{:<width$}{}",
            "",
            m::FIX_PREFIX.with(&[("fix", fix)]),
            width = STATUS_WIDTH
        ));
    }
    text
}

/// Every check, then the sum.
pub fn render(results: &[CheckResult]) -> String {
    let mut text: Vec<String> = results.iter().map(line).collect();
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    let (failed, warned) = (count(Status::Fail), count(Status::Warning));
    text.push(String::new());
    text.push(match (failed, warned) {
        (0, 0) => m::ALL_OK.text(),
        (0, w) => m::WARNINGS_ABOVE.with(&[("n", &w)]),
        (f, _) => m::FAILURES_ABOVE.with(&[("n", &f)]),
    });
    text.join("\n")
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    /// No check failed.
    pub ok: bool,
    /// The exit code.
    pub exit_code: u8,
    /// Every check.
    pub checks: &'a [CheckResult],
}

impl<'a> Summary<'a> {
    /// The summary of `results`.
    pub fn of(results: &'a [CheckResult]) -> Self {
        let exit_code = exit_code(results);
        Summary {
            ok: exit_code == EXIT_OK,
            exit_code,
            checks: results,
        }
    }
}

/// The program and the system it runs on.
#[derive(Debug, Clone, Serialize)]
pub struct Versions {
    /// This client's version.
    pub client: &'static str,
    /// `linux`, `windows`, `macos`.
    pub os: &'static str,
    /// `x86_64`, `aarch64`.
    pub arch: &'static str,
    /// The operating system's name and version, as the posture probe read them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_release: Option<String>,
}

impl Versions {
    /// This build on this system; the release from the posture report when it knows it.
    pub fn here(posture: Option<&Report>) -> Self {
        let os_release = posture
            .and_then(|r| r.os.value())
            .map(|os| match &os.build {
                Some(b) => format!("{} {} ({b})", os.name, os.version),
                None => format!("{} {}", os.name, os.version),
            });
        Versions {
            client: env!("CARGO_PKG_VERSION"),
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
            os_release,
        }
    }
}

/// The support bundle.
#[derive(Debug, Serialize)]
pub struct Bundle<'a> {
    /// What this file is, with its version.
    pub format: &'static str,
    /// When it was made, Unix seconds.
    pub created_at: i64,
    /// Program and system.
    pub versions: Versions,
    /// Where the checks got their settings from (never a username, PIN or password).
    pub settings: Value,
    /// No check failed.
    pub ok: bool,
    /// Every check with its details.
    pub results: &'a [CheckResult],
    /// Readers, the card or token, and the login certificate's public facts.
    pub card: Value,
    /// The posture report, as the client would send it.
    pub posture: Option<&'a Report>,
    /// What was tried, with timings.
    pub trace: Vec<Step>,
}

/// The bundle's `format`.
pub const BUNDLE_FORMAT: &str = "hjemmekontor-doctor-bundle/1";

impl<'a> Bundle<'a> {
    /// Puts a bundle together; the card facts are taken from the card checks' details.
    pub fn new(
        results: &'a [CheckResult],
        posture: Option<&'a Report>,
        trace: Vec<Step>,
        settings: Value,
        created_at: i64,
    ) -> Self {
        let details = |id: &str| {
            results
                .iter()
                .find(|r| r.id == id)
                .map_or(Value::Null, |r| r.details.clone())
        };
        let readers = details("readers")
            .get("readers")
            .cloned()
            .unwrap_or(Value::Null);
        let card = json!({
            "readers": readers,
            "card": details("card"),
            "application": details("card-application"),
            "certificate": details("certificate"),
            "pin": details("pin"),
        });
        Bundle {
            format: BUNDLE_FORMAT,
            created_at,
            versions: Versions::here(posture),
            settings,
            ok: exit_code(results) == EXIT_OK,
            results,
            card,
            posture,
            trace,
        }
    }

    /// Writes the bundle to `path`, readable by its owner only.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        write_private(path, &text)
    }
}

/// Creates (or replaces) `path` readable and writable by its owner only (on Windows, the
/// directory's ACLs decide), as support traces are.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // An existing file keeps its old mode through `open`; tighten it as well.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results() -> Vec<CheckResult> {
        vec![
            CheckResult::ok("readers", "Kortleser: «A».")
                .details(json!({ "readers": [{ "name": "A" }] })),
            CheckResult::warning(
                "clock",
                "Klokken går 2 min 0 s foran gatewayens.",
                "Still den.",
            ),
            CheckResult::fail(
                "port-8041",
                "Port 8041 avviser forbindelsen.",
                "Sjekk brannmuren.",
            ),
        ]
    }

    #[test]
    fn lines_show_status_finding_and_fix() {
        let r = results();
        assert_eq!(line(&r[0]), "OK        Kortleser: «A».");
        assert_eq!(
            line(&r[2]),
            "FEIL      Port 8041 avviser forbindelsen.\n          Gjør dette: Sjekk brannmuren."
        );
        let all = render(&r);
        assert!(all.ends_with("1 feil må rettes før innlogging kan virke (se «Gjør dette» over)."));
        assert_eq!(exit_code(&r), EXIT_FAILED);
        assert_eq!(exit_code(&r[..2]), EXIT_OK);
        assert!(render(&r[..1]).ends_with("Alt er i orden."));
        let english = crate::i18n::with_lang(crate::i18n::Lang::En, || line(&r[2]));
        assert_eq!(
            english,
            "FAILED    Port 8041 avviser forbindelsen.\n          Do this: Sjekk brannmuren."
        );
    }

    #[test]
    fn the_bundle_gathers_card_facts_and_is_private() {
        let r = results();
        let bundle = Bundle::new(&r, None, Vec::new(), json!({ "gateway": "gw:443" }), 5);
        let value = serde_json::to_value(&bundle).unwrap();
        assert_eq!(value["format"], BUNDLE_FORMAT);
        assert_eq!(value["card"]["readers"][0]["name"], "A");
        assert_eq!(value["ok"], false);
        assert_eq!(value["versions"]["client"], env!("CARGO_PKG_VERSION"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.json");
        std::fs::write(&path, "old, longer content than the bundle will have ....").unwrap();
        bundle.write(&path).unwrap();
        let back: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back["settings"]["gateway"], "gw:443");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
