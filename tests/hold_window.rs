//! `--hold`: a window opened from a menu entry or a shortcut stays until Enter, so the last
//! message (a refusal, what to do) can be read; without a terminal nothing waits.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const CLIENT: &str = env!("CARGO_BIN_EXE_hjemmekontor");

/// A command that fails quickly and prints why (a certificate file that is not there).
fn failing_command() -> String {
    format!("{CLIENT} --hold --lang en cert inspect /nonexistent/card.pem")
}

#[test]
fn at_a_terminal_it_waits_for_enter_after_the_last_message() {
    // `script` gives the program a terminal of its own; its input and output are ours.
    let mut child = Command::new("script")
        .args(["-q", "-f", "-e", "-c", &failing_command(), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script (util-linux) runs");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            let _ = tx.send(String::from_utf8_lossy(&seen).into_owned());
        }
    });
    let mut text = String::new();
    while !text.contains("Press Enter to close this window.") {
        text = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no hold prompt; the terminal showed: {text}"));
    }
    assert!(text.contains("/nonexistent/card.pem"), "{text}");
    assert!(child.try_wait().unwrap().is_none(), "it waits for Enter");
    child.stdin.as_mut().unwrap().write_all(b"\n").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(5),
        "the command's own exit code: {text}"
    );
}

#[test]
fn without_a_terminal_it_does_not_wait() {
    let out = Command::new(CLIENT)
        .args([
            "--hold",
            "--lang",
            "en",
            "cert",
            "inspect",
            "/nonexistent/card.pem",
        ])
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Press Enter"));
}
