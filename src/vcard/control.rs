//! Pulling the virtual card out and putting it back while it runs.
//!
//! Tests of "card pulled → tunnel closed" need a card that can leave the reader on cue.
//! [`Presence`] is the shared wish (inserted or not) and fact (connected to vpcd or not);
//! the vpcd loop obeys the wish, and two things change it: a Unix control socket taking
//! one-line commands (`remove`, `insert`, `status`), and `SIGUSR1`, which toggles.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long `remove`/`insert` wait for the vpcd loop to act before answering.
pub const ACT_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy)]
struct State {
    wanted: bool,
    connected: bool,
}

/// Whether the card should be in the reader, and whether it is (connected to vpcd).
#[derive(Debug)]
pub struct Presence {
    state: Mutex<State>,
    changed: Condvar,
}

impl Presence {
    /// A presence that starts wanting the card `inserted`, not yet connected.
    pub fn new(inserted: bool) -> Arc<Self> {
        Arc::new(Presence {
            state: Mutex::new(State {
                wanted: inserted,
                connected: false,
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks for the card to be inserted (`true`) or removed.
    pub fn request(&self, inserted: bool) {
        self.lock().wanted = inserted;
        self.changed.notify_all();
    }

    /// Flips the wish; returns the new one.
    pub fn toggle(&self) -> bool {
        let mut s = self.lock();
        s.wanted = !s.wanted;
        let now = s.wanted;
        drop(s);
        self.changed.notify_all();
        now
    }

    /// Whether the card should be in the reader.
    pub fn wants_inserted(&self) -> bool {
        self.lock().wanted
    }

    /// Whether the card is connected to vpcd right now.
    pub fn is_connected(&self) -> bool {
        self.lock().connected
    }

    /// Records the connection state (called by the vpcd loop).
    pub fn set_connected(&self, connected: bool) {
        self.lock().connected = connected;
        self.changed.notify_all();
    }

    /// Waits until the connection state is `connected`, at most `timeout`.
    pub fn wait_connected(&self, connected: bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        while s.connected != connected {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = self
                .changed
                .wait_timeout(s, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Sleeps until the wish or state changes, at most `timeout` (the loop's idle wait).
    pub fn wait_change(&self, timeout: Duration) {
        let s = self.lock();
        let _ = self.changed.wait_timeout(s, timeout);
    }
}

/// Extra status text (counters) supplied by whoever owns the card.
pub type StatusFn = Box<dyn Fn() -> String + Send + Sync>;

/// Answers one control command line. Waits (bounded) for removal or insertion to happen.
pub fn answer_line(line: &str, presence: &Presence, status: &dyn Fn() -> String) -> String {
    match line.trim() {
        "remove" => {
            presence.request(false);
            if presence.wait_connected(false, ACT_TIMEOUT) {
                "ok removed".into()
            } else {
                "ok removal pending".into()
            }
        }
        "insert" => {
            presence.request(true);
            if presence.wait_connected(true, ACT_TIMEOUT) {
                "ok inserted".into()
            } else {
                "ok insertion pending (vpcd not reachable yet)".into()
            }
        }
        "status" => {
            let wanted = if presence.wants_inserted() {
                "inserted"
            } else {
                "removed"
            };
            let conn = if presence.is_connected() {
                "connected"
            } else {
                "disconnected"
            };
            let extra = status();
            if extra.is_empty() {
                format!("{wanted} {conn}")
            } else {
                format!("{wanted} {conn} {extra}")
            }
        }
        other => format!("error unknown command {other:?}; use remove, insert or status"),
    }
}

/// The Unix control socket and the signal handler (the card runs on Unix hosts only:
/// vpcd is a pcsc-lite driver).
#[cfg(unix)]
mod unix {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::thread::JoinHandle;
    use std::time::Duration;

    use super::{answer_line, Presence, StatusFn};

    /// Longest command line accepted on the control socket.
    const MAX_LINE: u64 = 256;

    /// Why the control socket could not be set up or used.
    #[derive(Debug, thiserror::Error)]
    pub enum ControlError {
        /// A live process already answers on that path.
        #[error("another virtual card already listens on control socket {0}")]
        InUse(PathBuf),
        /// Creating, reading or writing the socket failed.
        #[error("control socket {path}: {source}")]
        Io {
            /// The socket path.
            path: PathBuf,
            /// What the OS said.
            #[source]
            source: std::io::Error,
        },
    }

    /// The listening control socket; dropping it stops the thread and removes the file.
    pub struct ControlServer {
        path: PathBuf,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    impl ControlServer {
        /// Listens on `path` (owner-only permissions). A stale socket file left by a dead
        /// process is replaced; a live one is an error.
        pub fn bind(
            path: &Path,
            presence: Arc<Presence>,
            status: StatusFn,
        ) -> Result<Self, ControlError> {
            let io = |source| ControlError::Io {
                path: path.to_owned(),
                source,
            };
            if path.exists() {
                if UnixStream::connect(path).is_ok() {
                    return Err(ControlError::InUse(path.to_owned()));
                }
                std::fs::remove_file(path).map_err(io)?;
            }
            let listener = UnixListener::bind(path).map_err(io)?;
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
            listener.set_nonblocking(true).map_err(io)?;
            let stop = Arc::new(AtomicBool::new(false));
            let thread_stop = stop.clone();
            let thread = std::thread::Builder::new()
                .name("vcard-control".into())
                .spawn(move || serve(listener, presence, status, thread_stop))
                .map_err(io)?;
            Ok(ControlServer {
                path: path.to_owned(),
                stop,
                thread: Some(thread),
            })
        }

        /// The socket path.
        pub fn path(&self) -> &Path {
            &self.path
        }
    }

    impl Drop for ControlServer {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
            let _ = std::fs::remove_file(&self.path);
        }
    }

    fn serve(
        listener: UnixListener,
        presence: Arc<Presence>,
        status: StatusFn,
        stop: Arc<AtomicBool>,
    ) {
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    if let Err(e) = answer_client(stream, &presence, &status) {
                        tracing::warn!("control socket client: {e}");
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    tracing::warn!("control socket accept: {e}");
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    fn answer_client(
        stream: UnixStream,
        presence: &Presence,
        status: &dyn Fn() -> String,
    ) -> std::io::Result<()> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.set_write_timeout(Some(Duration::from_secs(2)))?;
        let mut line = String::new();
        BufReader::new((&stream).take(MAX_LINE)).read_line(&mut line)?;
        let answer = answer_line(&line, presence, status);
        tracing::info!("control: {} -> {answer}", line.trim());
        let mut w = &stream;
        w.write_all(answer.as_bytes())?;
        w.write_all(b"\n")?;
        w.flush()
    }

    /// Sends one command to a running card's control socket and returns its one-line answer.
    pub fn send_command(path: &Path, command: &str, timeout: Duration) -> std::io::Result<String> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let mut w = &stream;
        w.write_all(command.trim().as_bytes())?;
        w.write_all(b"\n")?;
        let mut line = String::new();
        BufReader::new((&stream).take(4096)).read_line(&mut line)?;
        Ok(line.trim_end().to_owned())
    }

    /// Makes `SIGUSR1` toggle the card in and out, from a background thread.
    pub fn toggle_on_sigusr1(presence: Arc<Presence>) -> std::io::Result<()> {
        let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGUSR1])?;
        std::thread::Builder::new()
            .name("vcard-sigusr1".into())
            .spawn(move || {
                for _ in signals.forever() {
                    let now = presence.toggle();
                    tracing::info!("SIGUSR1: card {}", if now { "inserted" } else { "removed" });
                }
            })?;
        Ok(())
    }
}

#[cfg(unix)]
pub use unix::{send_command, toggle_on_sigusr1, ControlError, ControlServer};

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn commands_change_the_wish_and_report() {
        let p = Presence::new(true);
        p.set_connected(true);
        let none = || String::new();
        assert_eq!(answer_line("status\n", &p, &none), "inserted connected");
        // A loop thread would disconnect on the request; play its part.
        let p2 = p.clone();
        let loop_side = std::thread::spawn(move || {
            while p2.wants_inserted() {
                p2.wait_change(Duration::from_millis(20));
            }
            p2.set_connected(false);
        });
        assert_eq!(answer_line("remove", &p, &none), "ok removed");
        loop_side.join().unwrap();
        assert!(!p.wants_inserted());
        assert_eq!(answer_line("status", &p, &none), "removed disconnected");
        assert!(answer_line("frobnicate", &p, &none).starts_with("error"));
        assert!(p.toggle());
    }

    #[test]
    fn socket_round_trip_and_cleanup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl");
        let p = Presence::new(true);
        let server = ControlServer::bind(&path, p.clone(), Box::new(|| "apdus=0".into())).unwrap();
        assert!(matches!(
            ControlServer::bind(&path, p.clone(), Box::new(String::new)),
            Err(ControlError::InUse(_))
        ));
        let answer = send_command(&path, "status", Duration::from_secs(5)).unwrap();
        assert_eq!(answer, "inserted disconnected apdus=0");
        drop(server);
        assert!(!path.exists());
    }
}
