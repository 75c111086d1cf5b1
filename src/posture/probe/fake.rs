//! A computer made of canned answers, for tests of the probes' glue: which programs and files
//! they consult, and what they make of missing tools and refusals.

use super::host::{CommandOutput, Host};
use std::collections::BTreeMap;

/// A fixture's text: `tests/fixtures/posture/<platform>/<name>`.
pub fn fixture(platform: &str, name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/posture/{platform}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// Canned answers; anything not given is missing (not installed, does not exist).
#[derive(Default)]
pub struct FakeHost {
    /// `"program arg1 arg2"` → its output or the reason it failed.
    pub commands: BTreeMap<String, Result<CommandOutput, String>>,
    /// Path → contents.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Path → modification time (Unix seconds); files without one were changed at `now`.
    pub mtimes: BTreeMap<String, i64>,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Now, as Unix seconds.
    pub now: i64,
    /// What `first_seen` answers.
    pub first_seen: Option<i64>,
}

impl FakeHost {
    /// A program that prints `stdout` and exits with `status`.
    pub fn command(&mut self, line: &str, status: i32, stdout: &str) -> &mut Self {
        let output = CommandOutput {
            status: Some(status),
            stdout: stdout.into(),
            stderr: String::new(),
        };
        self.commands.insert(line.into(), Ok(output));
        self
    }

    /// A file with these contents.
    pub fn file(&mut self, path: &str, contents: impl Into<Vec<u8>>) -> &mut Self {
        self.files.insert(path.into(), contents.into());
        self
    }
}

impl Host for FakeHost {
    fn run(&self, program: &str, args: &[&str]) -> Result<CommandOutput, String> {
        let line = std::iter::once(program)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        self.commands
            .get(&line)
            .cloned()
            .unwrap_or_else(|| Err(format!("{program} is not installed")))
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| format!("{path} does not exist"))
    }

    fn list_dir(&self, path: &str) -> Result<Vec<String>, String> {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        let mut names: Vec<String> = self
            .files
            .keys()
            .filter_map(|p| p.strip_prefix(&prefix))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
            .collect();
        names.dedup();
        if names.is_empty() {
            return Err(format!("{path} does not exist"));
        }
        Ok(names)
    }

    fn modified(&self, path: &str) -> Result<i64, String> {
        if !self.files.contains_key(path) {
            return Err(format!("{path} does not exist"));
        }
        Ok(self.mtimes.get(path).copied().unwrap_or(self.now))
    }

    fn exists(&self, path: &str) -> bool {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.files.contains_key(path) || self.files.keys().any(|p| p.starts_with(&prefix))
    }

    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }

    fn now(&self) -> i64 {
        self.now
    }

    fn first_seen(&self, pending: &[String]) -> Option<i64> {
        if pending.is_empty() {
            None
        } else {
            self.first_seen
        }
    }
}
