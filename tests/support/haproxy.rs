//! The real HAProxy in front of gateways on 127.0.0.1, with the configuration the project
//! ships (`installer/gateway/haproxy.cfg`), changed only in its addresses and in what running
//! as a test needs (foreground, this user, no syslog, fast checks, a stats socket). HAProxy
//! connects to the gateways from 127.0.0.3, so its address and the client's (127.0.0.1)
//! differ. Every wait is bounded; HAProxy is stopped when its handle drops.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// HAProxy's own address towards the gateways: what their `[load_balancer]` names.
pub const HAPROXY_SOURCE: &str = "127.0.0.3";

/// A gateway behind HAProxy: where it takes connections and where its readiness port is.
#[derive(Debug, Clone, Copy)]
pub struct Backend {
    /// The gateway's port.
    pub gateway: SocketAddr,
    /// Its `[health]` port.
    pub health: SocketAddr,
}

/// The `[load_balancer]` and `[health]` sections of a gateway behind HAProxy.
pub fn gateway_sections(health: SocketAddr) -> String {
    format!(
        "[load_balancer]\naddresses = [\"{HAPROXY_SOURCE}\"]\n\n[health]\nlisten = \"{health}\"\n"
    )
}

/// True when HAProxy is installed. Without it: with `CI` set the test fails; otherwise it
/// prints a notice and the caller skips.
pub fn require_haproxy(test: &str) -> bool {
    if Command::new("haproxy").arg("-v").output().is_ok() {
        return true;
    }
    let problem =
        "HAProxy (package haproxy) is not installed; installer/dev/setup.sh --cluster installs it";
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {problem}");
    }
    eprintln!("{test}: skipped: {problem}");
    false
}

/// The shipped configuration with this machine's addresses: the front on `front`, the
/// backends, HAProxy's side of each connection from 127.0.0.3, checks every 200 ms, a stats
/// socket, in the foreground as this user.
fn configuration(front: SocketAddr, backends: &[Backend], socket: &Path) -> String {
    let shipped = std::fs::read_to_string("installer/gateway/haproxy.cfg").unwrap();
    let mut out = String::new();
    for line in shipped.lines() {
        let word = line.split_whitespace().next().unwrap_or_default();
        match word {
            // Running as this user in the foreground, without syslog, within this machine's
            // file limit.
            "chroot" | "user" | "group" | "daemon" | "log" | "maxconn"
                if line.starts_with("    ") =>
            {
                continue
            }
            "bind" => out.push_str(&format!("    bind {front}\n")),
            "default-server" => out.push_str(&format!(
                "{}\n    default-server source {HAPROXY_SOURCE} inter 200ms fall 1 rise 1\n",
                line
            )),
            "server" => {}
            "global" => out.push_str(&format!(
                "global\n    stats socket {} mode 600 level admin\n",
                socket.display()
            )),
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    assert!(
        out.contains("send-proxy-v2"),
        "the shipped file lost send-proxy-v2"
    );
    assert!(
        out.contains("option httpchk GET /ready"),
        "the shipped file lost its check"
    );
    for (i, b) in backends.iter().enumerate() {
        out.push_str(&format!(
            "    server {} {} check port {}\n",
            server_name(i),
            b.gateway,
            b.health.port()
        ));
    }
    out
}

/// A running HAProxy.
pub struct Haproxy {
    child: Child,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Haproxy {
    /// Starts HAProxy on `front` before `backends` (named `gw-a`, `gw-b`, … in order).
    pub fn start(front: SocketAddr, backends: &[Backend]) -> Haproxy {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("stats.sock");
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(&cfg, configuration(front, backends, &socket)).unwrap();
        let check = Command::new("haproxy")
            .arg("-c")
            .arg("-f")
            .arg(&cfg)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "haproxy -c: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("haproxy.log")).unwrap())
            .spawn()
            .unwrap();
        Haproxy { child, socket, dir }
    }

    /// Each server's status (`UP`, `DOWN`, …) as HAProxy's stats say.
    pub fn statuses(&self) -> Vec<(String, String)> {
        let Ok(mut s) = UnixStream::connect(&self.socket) else {
            return Vec::new();
        };
        s.write_all(b"show stat\n").unwrap();
        let mut csv = String::new();
        let _ = s.read_to_string(&mut csv);
        csv.lines()
            .filter(|l| l.starts_with("gateways,gw-"))
            .map(|l| {
                let fields: Vec<&str> = l.split(',').collect();
                (fields[1].to_string(), fields[17].to_string())
            })
            .collect()
    }

    /// Waits (bounded, failing the test) until the servers' statuses are `want`.
    pub fn wait_for(&self, want: &[(&str, &str)]) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.statuses();
            let matches = want
                .iter()
                .all(|(name, status)| now.iter().any(|(n, s)| n == name && s.starts_with(status)));
            if matches {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "HAProxy shows {now:?}, not {want:?}; its output:\n{}",
                std::fs::read_to_string(self.dir.path().join("haproxy.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The name of the `i`-th server: `gw-a`, `gw-b`, …
pub fn server_name(i: usize) -> String {
    format!("gw-{}", char::from(b'a' + u8::try_from(i).unwrap()))
}
