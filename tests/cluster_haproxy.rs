//! The real HAProxy (Debian's) in front of two gateways, with the configuration the project
//! ships (`installer/gateway/haproxy.cfg`), changed only in its addresses: logins land on
//! both gateways with the client's own address; a gateway whose readiness port says "not
//! ready" (its audit log moved away) is taken out of rotation and every login goes to the
//! other, and it comes back when the log does. HAProxy connects from 127.0.0.3, so its own
//! address and the client's (127.0.0.1) differ.
//! Nothing here asserts a time; waits are bounded only so that a hang fails.

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::inproc::{office_grant, office_pc, users, InProcessGateway, PASSWORD};
use support::world::free_port;
use tokio::net::TcpListener;

/// True when HAProxy is installed. Without it: with `CI` set the test fails; otherwise it
/// prints a notice and the caller skips.
fn require_haproxy(test: &str) -> bool {
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

/// A gateway behind the balancer, with its readiness port.
struct Member {
    gateway: InProcessGateway,
    health: SocketAddr,
}

async fn member() -> Member {
    let rest = format!(
        "[load_balancer]\naddresses = [\"127.0.0.3\"]\n\n{}\n{}",
        users(),
        office_grant(office_pc())
    );
    let gateway = InProcessGateway::start(&rest).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let health = listener.local_addr().unwrap();
    tokio::spawn(Arc::clone(&gateway.gateway).serve_health(listener, gateway.shutdown.clone()));
    Member { gateway, health }
}

/// The shipped configuration with this machine's addresses: the front on `front`, the two
/// members, HAProxy's side of each connection from 127.0.0.3, checks every 200 ms, a stats
/// socket, in the foreground as this user.
fn configuration(front: SocketAddr, members: &[&Member], socket: &Path) -> String {
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
                "{}\n    default-server source 127.0.0.3 inter 200ms fall 1 rise 1\n",
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
    for (name, m) in ["gw-a", "gw-b"].iter().zip(members) {
        out.push_str(&format!(
            "    server {name} {} check port {}\n",
            m.gateway.addr,
            m.health.port()
        ));
    }
    out
}

struct Haproxy {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Haproxy {
    fn start(front: SocketAddr, members: &[&Member]) -> Haproxy {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("stats.sock");
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(&cfg, configuration(front, members, &socket)).unwrap();
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
        Haproxy {
            child,
            socket,
            _dir: dir,
        }
    }

    /// Each server's status (`UP`, `DOWN`, …) as HAProxy's stats say.
    fn statuses(&self) -> Vec<(String, String)> {
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
    async fn wait_for(&self, want: &[(&str, &str)]) {
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
                std::fs::read_to_string(self._dir.path().join("haproxy.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn accepted(m: &Member) -> Vec<String> {
    m.gateway
        .audit()
        .iter()
        .filter(|r| r["event"] == "login-accepted")
        .map(|r| r["source"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_spreads_logins_and_takes_out_a_gateway_that_is_not_ready() {
    if !require_haproxy("haproxy_spreads_logins_and_takes_out_a_gateway_that_is_not_ready") {
        return;
    }
    let (a, b) = (member().await, member().await);
    let front = free_port();
    let haproxy = Haproxy::start(front, &[&a, &b]);
    haproxy.wait_for(&[("gw-a", "UP"), ("gw-b", "UP")]).await;

    // Sessions held open: least-connections sends the second to the other gateway.
    let first = InProcessGateway::login_through(front, "person-high", "ase", PASSWORD)
        .await
        .expect("a login through HAProxy");
    let second = InProcessGateway::login_through(front, "person-high", "ase", PASSWORD)
        .await
        .expect("a second login through HAProxy");
    let (on_a, on_b) = (accepted(&a), accepted(&b));
    assert_eq!((on_a.len(), on_b.len()), (1, 1), "a: {on_a:?}, b: {on_b:?}");
    for source in on_a.iter().chain(&on_b) {
        assert!(
            source.starts_with("127.0.0.1:"),
            "the client's address, not HAProxy's: {source}"
        );
    }
    drop((first, second));

    // Gateway A's audit log is moved away: its readiness port says so, HAProxy takes it out,
    // and every login goes to B.
    let log = a.gateway.dir.path().join("audit.jsonl");
    let away = a.gateway.dir.path().join("audit.jsonl.away");
    std::fs::rename(&log, &away).unwrap();
    haproxy.wait_for(&[("gw-a", "DOWN"), ("gw-b", "UP")]).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            InProcessGateway::login_through(front, "person-high", "ase", PASSWORD)
                .await
                .expect("a login while one gateway is out"),
        );
    }
    std::fs::rename(&away, &log).unwrap();
    assert_eq!(
        accepted(&a).len(),
        1,
        "nothing reached the gateway that was out"
    );
    assert_eq!(accepted(&b).len(), 4);

    // With its log back, A is back in rotation.
    haproxy.wait_for(&[("gw-a", "UP"), ("gw-b", "UP")]).await;
    drop(held);
    drop(haproxy);
    a.gateway.stop().await;
    b.gateway.stop().await;
}
