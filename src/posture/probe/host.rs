//! The probes' window on the computer: files, programs and the clock behind one narrow trait,
//! so every probe can be run against canned answers in tests and against the real system here.

use super::ledger::Ledger;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a program printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// The exit code, `None` if a signal ended it.
    pub status: Option<i32>,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
}

impl CommandOutput {
    /// Whether it exited with 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// What the probes may ask of the computer. Every error is a reason in English, fit to be an
/// unknown fact's reason as it is ("ufw is not installed", "timed out after 5 s").
pub trait Host: Send + Sync {
    /// Runs `program` with `args` (no shell, no stdin, the C locale), bounded in time.
    fn run(&self, program: &str, args: &[&str]) -> Result<CommandOutput, String>;
    /// A file's bytes.
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
    /// At most the first `max` bytes of a file (a header of a large file).
    fn read_head(&self, path: &str, max: usize) -> Result<Vec<u8>, String> {
        self.read(path).map(|mut bytes| {
            bytes.truncate(max);
            bytes
        })
    }
    /// A file's text (lossy UTF-8).
    fn read_to_string(&self, path: &str) -> Result<String, String> {
        self.read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }
    /// The names in a directory, sorted.
    fn list_dir(&self, path: &str) -> Result<Vec<String>, String>;
    /// When a file was last changed, as Unix seconds.
    fn modified(&self, path: &str) -> Result<i64, String>;
    /// Whether a path exists.
    fn exists(&self, path: &str) -> bool;
    /// An environment variable.
    fn env(&self, name: &str) -> Option<String>;
    /// Now, as Unix seconds.
    fn now(&self) -> i64;
    /// Since when the oldest of `pending` (identifiers of waiting updates) has been seen
    /// waiting, for tools that do not say when an update was published. Remembers what it is
    /// shown; `None` when nothing is pending or nothing can be remembered.
    fn first_seen(&self, pending: &[String]) -> Option<i64>;
}

/// Longest output kept from a program; more is cut (no probe needs that much).
const MAX_OUTPUT: u64 = 4 * 1024 * 1024;

/// The real computer.
pub struct LocalHost {
    command_bound: Duration,
    ledger: Option<Ledger>,
}

impl LocalHost {
    /// Programs may run for `command_bound` each; pending updates are remembered in the file
    /// `ledger` (the client's state directory), if given.
    pub fn new(command_bound: Duration, ledger: Option<PathBuf>) -> LocalHost {
        LocalHost {
            command_bound,
            ledger: ledger.map(Ledger::new),
        }
    }
}

impl Host for LocalHost {
    fn run(&self, program: &str, args: &[&str]) -> Result<CommandOutput, String> {
        run_bounded(program, args, self.command_bound)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(path).map_err(|e| io_reason(path, &e))
    }

    fn read_head(&self, path: &str, max: usize) -> Result<Vec<u8>, String> {
        let file = std::fs::File::open(path).map_err(|e| io_reason(path, &e))?;
        let mut head = Vec::with_capacity(max);
        file.take(max as u64)
            .read_to_end(&mut head)
            .map_err(|e| io_reason(path, &e))?;
        Ok(head)
    }

    fn list_dir(&self, path: &str) -> Result<Vec<String>, String> {
        let mut names = std::fs::read_dir(path)
            .map_err(|e| io_reason(path, &e))?
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        names.sort();
        Ok(names)
    }

    fn modified(&self, path: &str) -> Result<i64, String> {
        let modified = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map_err(|e| io_reason(path, &e))?;
        Ok(unix_secs(modified))
    }

    fn exists(&self, path: &str) -> bool {
        std::path::Path::new(path).exists()
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn now(&self) -> i64 {
        unix_secs(std::time::SystemTime::now())
    }

    fn first_seen(&self, pending: &[String]) -> Option<i64> {
        self.ledger.as_ref()?.first_seen(pending, self.now())
    }
}

fn unix_secs(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn io_reason(path: &str, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => format!("{path} does not exist"),
        std::io::ErrorKind::PermissionDenied => {
            format!("{path} may not be read without admin rights")
        }
        _ => format!("{path} could not be read: {e}"),
    }
}

/// Runs a program with a time bound; on timeout it is killed and the reason says so.
fn run_bounded(program: &str, args: &[&str], bound: Duration) -> Result<CommandOutput, String> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if cfg!(unix) {
        // Output in the one language and format the parsers know.
        command.env("LC_ALL", "C").env("LANG", "C");
    }
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{program} is not installed"),
        std::io::ErrorKind::PermissionDenied => format!("{program} may not be run"),
        _ => format!("{program} could not be started: {e}"),
    })?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(pipe) = pipe {
                let _ = pipe.take(MAX_OUTPUT).read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= bound => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program} did not answer within {} s",
                    bound.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("{program} could not be waited for: {e}")),
        }
    };
    Ok(CommandOutput {
        status: status.code(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}
