//! `hjemmekontor readers --watch --json` through the real PC/SC stack: the virtual card pulled
//! and put back shows as `card-removed` then `card-inserted` with its ATR, and Ctrl-C (SIGINT)
//! ends the watch with exit code 0, promptly.
//!
//! Needs pcscd with vsmartcard-vpcd. With `CI` set its absence is a failure; otherwise the test
//! prints a notice and passes without running.

mod support;

#[cfg(unix)]
mod unix {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use serde_json::Value;

    use super::support::stack::{first_virtual_reader, require_stack, serial, start_card};
    use super::support::world::{wait_exit, Proc, CLIENT};

    /// The virtual card's ATR (`hjemmekontor-vcard`'s PIV card), as `readers --json` writes it.
    const ATR: &str = "3B 87 81 31 FE 45 80 55 48 4B 50 49 56 15";
    const WAIT: Duration = Duration::from_secs(20);

    /// The watch's JSON lines, read on a thread so every wait is bounded.
    struct Lines {
        rx: mpsc::Receiver<String>,
        seen: Vec<String>,
    }

    impl Lines {
        /// The next event about `reader` (other readers' events are kept for the message).
        fn next_for(&mut self, reader: &str) -> Value {
            let deadline = Instant::now() + WAIT;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let line = self.rx.recv_timeout(left).unwrap_or_else(|_| {
                    panic!(
                        "no event for {reader} within {WAIT:?}; seen: {:#?}",
                        self.seen
                    )
                });
                self.seen.push(line.clone());
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
                assert!(
                    v["time"].as_str().is_some_and(|t| t.ends_with('Z')),
                    "{line}"
                );
                if v["reader"] == reader {
                    return v;
                }
            }
        }
    }

    #[test]
    fn pulling_and_reinserting_the_card_is_seen_and_ctrl_c_ends_the_watch() {
        let _lock = serial();
        if !require_stack("readers_watch") {
            return;
        }
        let (cert, key) = super::support::pki::files("person-high");
        let card = start_card([
            "--cert".as_ref(),
            cert.as_os_str(),
            "--key".as_ref(),
            key.as_os_str(),
        ]);
        let reader = first_virtual_reader().unwrap();
        let mut child = Command::new(CLIENT)
            .args(["--lang", "nb", "readers", "--watch", "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let mut watch = Proc(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut lines = Lines {
            rx,
            seen: Vec::new(),
        };

        // The first look lists what is there: the reader, then the card in it.
        assert_eq!(lines.next_for(&reader)["event"], "reader-present");
        let present = lines.next_for(&reader);
        assert_eq!(present["event"], "card-present", "{present}");
        assert_eq!(present["atr"], ATR);
        assert_eq!(present["application"], "piv");

        card.ctl("remove").unwrap();
        let removed = lines.next_for(&reader);
        assert_eq!(removed["event"], "card-removed", "{removed}");
        card.ctl("insert").unwrap();
        let inserted = lines.next_for(&reader);
        assert_eq!(inserted["event"], "card-inserted", "{inserted}");
        assert_eq!(inserted["atr"], ATR);
        assert_eq!(inserted["application"], "piv");

        let interrupted = Instant::now();
        let kill = Command::new("kill")
            .args(["-INT", &watch.0.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let code = wait_exit(&mut watch, Duration::from_secs(5));
        assert_eq!(code, Some(0), "Ctrl-C did not end the watch with 0");
        eprintln!("Ctrl-C → exit in {:?}", interrupted.elapsed());
    }
}
