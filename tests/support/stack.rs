//! The real smart-card stack for tests: pcscd with vsmartcard's vpcd reader, OpenSC's
//! tools, and the `hjemmekontor-vcard` process sitting in the first virtual reader.
//!
//! Every wait here is bounded, and every child process is killed when its handle drops.
//! Only one virtual card fits in the first reader, so tests that use it take [`serial`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Reader name prefix of vpcd's readers ("Virtual PCD 00 00", "Virtual PCD 00 01").
pub const VIRTUAL_READER_PREFIX: &str = "Virtual PCD";

/// Where distributions put OpenSC's PKCS#11 module.
const OPENSC_MODULE_CANDIDATES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib64/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
    "/usr/local/lib/opensc-pkcs11.so",
];

/// Takes the one-card-at-a-time lock for the test's duration (poisoning is ignored, so
/// one failed test does not fail the rest).
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// OpenSC's PKCS#11 module, if installed.
pub fn opensc_module() -> Option<PathBuf> {
    OPENSC_MODULE_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// What is missing from the stack, or `None` when everything is there.
pub fn stack_problem() -> Option<String> {
    let ctx = match pcsc::Context::establish(pcsc::Scope::User) {
        Ok(c) => c,
        Err(e) => {
            return Some(format!(
                "pcscd is not reachable ({e}); start it with `pcscd`"
            ))
        }
    };
    match first_virtual_reader_in(&ctx) {
        Ok(_) => {}
        Err(e) => return Some(e),
    }
    for tool in ["pkcs15-tool", "pkcs11-tool"] {
        let ran = Command::new(tool)
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if ran.is_err() {
            return Some(format!("OpenSC's {tool} is not installed"));
        }
    }
    if opensc_module().is_none() {
        return Some("OpenSC's PKCS#11 module (opensc-pkcs11.so) is not installed".into());
    }
    None
}

/// True when the stack is there. Without it: with `CI` set the test fails with the reason;
/// otherwise it prints a notice and the caller skips.
pub fn require_stack(test: &str) -> bool {
    match stack_problem() {
        None => true,
        Some(problem) => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "{test}: the real PC/SC stack (pcscd, vsmartcard-vpcd, OpenSC) is required \
                     when CI is set, but {problem}"
                );
            }
            eprintln!("SKIPPED {test}: {problem} (with CI set this is a failure)");
            false
        }
    }
}

fn first_virtual_reader_in(ctx: &pcsc::Context) -> Result<String, String> {
    let mut buf = vec![0u8; 8192];
    let names: Vec<String> = match ctx.list_readers(&mut buf) {
        Ok(names) => names.map(|n| n.to_string_lossy().into_owned()).collect(),
        Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
        Err(e) => return Err(format!("cannot list readers: {e}")),
    };
    let mut virtual_readers: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with(VIRTUAL_READER_PREFIX))
        .collect();
    virtual_readers.sort();
    virtual_readers.into_iter().next().ok_or_else(|| {
        "pcscd shows no \"Virtual PCD\" reader; is vsmartcard-vpcd installed?".to_string()
    })
}

/// The name of the first virtual reader ("Virtual PCD 00 00").
pub fn first_virtual_reader() -> Result<String, String> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(|e| e.to_string())?;
    first_virtual_reader_in(&ctx)
}

/// Whether a card sits in the first virtual reader now.
pub fn card_present() -> Result<bool, String> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(|e| e.to_string())?;
    let reader = first_virtual_reader_in(&ctx)?;
    let name = std::ffi::CString::new(reader).map_err(|e| e.to_string())?;
    let mut states = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
    ctx.get_status_change(Duration::from_millis(0), &mut states)
        .map_err(|e| format!("reader status: {e}"))?;
    Ok(states[0].event_state().contains(pcsc::State::PRESENT))
}

/// Waits until the first virtual reader holds a card (`present`) or is empty.
pub fn wait_for_card(present: bool, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut last;
    loop {
        match card_present() {
            Ok(p) if p == present => return Ok(()),
            Ok(_) => last = format!("card present: {}", !present),
            Err(e) => last = e,
        }
        if Instant::now() >= deadline {
            let want = if present { "a card" } else { "no card" };
            return Err(format!(
                "the first virtual reader did not show {want} within {timeout:?} ({last})"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running `hjemmekontor-vcard run`, killed when dropped.
pub struct VcardProcess {
    child: Child,
    control: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl VcardProcess {
    /// Starts `hjemmekontor-vcard run ARGS… --control <temp path>`, logging to a temp file.
    pub fn spawn<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let dir = tempfile::tempdir().expect("temp dir");
        let control = dir.path().join("control.sock");
        let log = dir.path().join("vcard.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hjemmekontor-vcard"));
        cmd.arg("run")
            .args(args.into_iter().map(Into::into))
            .arg("--control")
            .arg(&control)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let child = cmd.spawn().expect("spawn hjemmekontor-vcard");
        VcardProcess {
            child,
            control,
            log,
            _dir: dir,
        }
    }

    /// The process id (for signals).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The control socket path.
    pub fn control(&self) -> &Path {
        &self.control
    }

    /// Sends a control command (`remove`, `insert`, `status`), waiting for the socket to
    /// appear first (bounded).
    pub fn ctl(&self, command: &str) -> Result<String, String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.control.exists() {
            if Instant::now() >= deadline {
                return Err(format!(
                    "no control socket after 10 s; log:\n{}",
                    self.log_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        hjemmekontor::vcard::control::send_command(&self.control, command, Duration::from_secs(10))
            .map_err(|e| format!("control {command}: {e}"))
    }

    /// Whether the process has exited, and how.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// What the process logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the card to be in the reader, with the process log in the error.
    pub fn wait_present(&mut self, timeout: Duration) -> Result<(), String> {
        wait_for_card(true, timeout).map_err(|e| {
            let exited = self
                .exited()
                .map(|s| format!(" (the card process exited: {s})"))
                .unwrap_or_default();
            format!("{e}{exited}; card log:\n{}", self.log_text())
        })
    }
}

impl Drop for VcardProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long a card may take to show up in or leave the reader.
pub const CARD_TIMEOUT: Duration = Duration::from_secs(20);

/// The virtual card with the TEST PKI's Person-High certificate and key, started as
/// [`start_card`] does.
pub fn start_person_high_card() -> VcardProcess {
    let (cert, key) = super::pki::files("person-high");
    start_card([
        "--cert".as_ref(),
        cert.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
    ])
}

/// Starts a card with `args` once the first reader is empty (the previous test's card
/// gone), and waits until pcscd sees it. Panics with the card's log when it does not come.
pub fn start_card<I, S>(args: I) -> VcardProcess
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    if let Err(e) = wait_for_card(false, CARD_TIMEOUT) {
        panic!("another card occupies the first virtual reader: {e}");
    }
    let mut card = VcardProcess::spawn(args);
    if let Err(e) = card.wait_present(CARD_TIMEOUT) {
        panic!("{e}");
    }
    card
}

/// The outcome of a tool run.
pub struct ToolOutput {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl ToolOutput {
    /// Both streams, for failure messages.
    pub fn both(&self) -> String {
        format!(
            "status {}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs a program to completion within `timeout` (killed after it), capturing its output.
pub fn run_tool(program: &str, args: &[&str], timeout: Duration) -> Result<ToolOutput, String> {
    run_tool_with_input(program, args, None, timeout)
}

/// Like [`run_tool`], with `input` (if any) as the program's standard input.
pub fn run_tool_with_input(
    program: &str,
    args: &[&str],
    input: Option<&str>,
    timeout: Duration,
) -> Result<ToolOutput, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let stdin = match input {
        Some(text) => {
            let in_path = dir.path().join("stdin");
            std::fs::write(&in_path, text).map_err(|e| e.to_string())?;
            Stdio::from(std::fs::File::open(&in_path).map_err(|e| e.to_string())?)
        }
        None => Stdio::null(),
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(stdin)
        .stdout(std::fs::File::create(&out_path).map_err(|e| e.to_string())?)
        .stderr(std::fs::File::create(&err_path).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} did not finish within {timeout:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    };
    Ok(ToolOutput {
        status,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    })
}
