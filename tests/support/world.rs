//! A gateway on 127.0.0.1 with one user (the TEST PKI's person, password [`PASSWORD`]) granted
//! one stand-in office PC, and `hjemmekontor connect` against it with `--json` events. The
//! card is the caller's business: the virtual card in vpcd's reader, or a PKCS#11 token.
//!
//! Every wait is bounded; child processes are killed when their handles drop.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The client binary.
pub const CLIENT: &str = env!("CARGO_BIN_EXE_hjemmekontor");
/// The gateway binary.
pub const GATEWAY: &str = env!("CARGO_BIN_EXE_hjemmekontor-gateway");
/// The TEST user's password.
pub const PASSWORD: &str = "demo-passord-TEST";
/// The TEST PIN of the virtual card and of the test tokens.
pub const PIN: &str = "123456";
/// Bound on every wait.
pub const WAIT: Duration = Duration::from_secs(30);

/// A free port on 127.0.0.1.
pub fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// A child process killed on drop.
pub struct Proc(pub Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The gateway's directory (configuration, audit log, logs) and address.
pub struct GatewayWorld {
    /// Configuration, audit log and the processes' logs.
    pub dir: tempfile::TempDir,
    /// Where the gateway listens.
    pub gateway: SocketAddr,
}

impl GatewayWorld {
    /// Writes the configuration and starts the office PC; the gateway starts with
    /// [`GatewayWorld::start_gateway`].
    pub fn new() -> GatewayWorld {
        GatewayWorld::with_rules("")
    }

    /// As [`GatewayWorld::new`], with `rules` (posture rules...) after the grants.
    pub fn with_rules(rules: &str) -> GatewayWorld {
        let dir = tempfile::tempdir().unwrap();
        let office = free_port();
        let listener = TcpListener::bind(office).unwrap();
        std::thread::spawn(move || hjemmekontor::vcard::office_pc::serve(listener));
        let gateway = free_port();
        let hash = hjemmekontor::gateway::auth::hash_password(
            &hjemmekontor::secret::Password::from_input(PASSWORD.into()),
        )
        .unwrap();
        let rest = format!(
            r#"[[user]]
username = "ase"
display_name = "Åse Test Nordmann"
personal_id = "UN:NO-9578-4050-12345678"
password_hash = "{hash}"

[[group]]
id = "legesenter"
name = "Legesenter"
kind = "legesenter"

[[machine]]
id = "kontor-pc"
name = "Kontor-PC"
address = "{office}"
group = "legesenter"

[[grant]]
user = "ase"
machines = ["kontor-pc"]

{rules}"#
        );
        let config = super::gateway::config(dir.path(), gateway, &rest);
        std::fs::write(dir.path().join("gateway.toml"), config).unwrap();
        GatewayWorld { dir, gateway }
    }

    /// The audit log.
    pub fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    /// Starts the gateway and waits until it listens.
    pub fn start_gateway(&self) -> Proc {
        let child = Command::new(GATEWAY)
            .arg("run")
            .arg(self.dir.path().join("gateway.toml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("gateway.log")).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(self.gateway).is_err() {
            assert!(
                Instant::now() < deadline,
                "gateway did not listen: {}",
                self.log("gateway.log")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Proc(child)
    }

    /// A log file of the directory (`gateway.log`, `client.log`).
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// `connect --json` as the TEST user, PIN then password on stdin.
    pub fn connect(&self, password: &str, extra: &[&str]) -> (Proc, Events) {
        self.connect_with(password, extra, &[])
    }

    /// [`GatewayWorld::connect`] with more environment for the client (a token's
    /// configuration).
    pub fn connect_with(
        &self,
        password: &str,
        extra: &[&str],
        env: &[(&str, &OsStr)],
    ) -> (Proc, Events) {
        self.connect_at(self.gateway, password, extra, env)
    }

    /// [`GatewayWorld::connect_with`] to the gateway address `front` (a load balancer before
    /// this gateway and others).
    pub fn connect_at(
        &self,
        front: SocketAddr,
        password: &str,
        extra: &[&str],
        env: &[(&str, &OsStr)],
    ) -> (Proc, Events) {
        let listen = free_port();
        // In bokmål whatever the locale, since the tests read its words.
        let mut child = Command::new(CLIENT)
            .args(["--lang", "nb"])
            .args([
                "connect",
                "--json",
                "--test-environment",
                "--pin-stdin",
                "--password-stdin",
            ])
            .args(["--username", "ase", "--listen", &listen.to_string()])
            .arg("--gateway")
            .arg(front.to_string())
            .arg("--gateway-ca")
            .arg(super::pki::dir().join("root-ca.pem"))
            .arg("--settings")
            .arg(self.dir.path().join("client.toml"))
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(self.dir.path().join("client.log")).unwrap())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{PIN}\n{password}").unwrap();
        drop(stdin);
        let events = Events::new(child.stdout.take().unwrap(), listen);
        (Proc(child), events)
    }

    /// The audit records.
    pub fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.audit_path())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits (bounded by [`WAIT`], failing the test) for the first audit record of `event`.
    pub fn wait_for(&self, event: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(r) = self.audit().into_iter().find(|r| r["event"] == event) {
                return r;
            }
            assert!(Instant::now() < deadline, "no {event} record");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The audit records' event names, in order.
    pub fn audit_events(&self) -> Vec<String> {
        self.audit()
            .iter()
            .map(|r| r["event"].as_str().unwrap().to_string())
            .collect()
    }
}

/// The client's JSON lines, read on a thread so waits are bounded.
pub struct Events {
    rx: mpsc::Receiver<Value>,
    /// Where the client listens for the remote-desktop program.
    pub listen: SocketAddr,
}

impl Events {
    fn new(out: ChildStdout, listen: SocketAddr) -> Events {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        Events { rx, listen }
    }

    /// The next event, or a panic with both logs.
    pub fn next(&self, what: &str, world: &GatewayWorld) -> Value {
        self.rx.recv_timeout(WAIT).unwrap_or_else(|_| {
            panic!(
                "no {what} from connect within {WAIT:?}\n--- client\n{}\n--- gateway\n{}",
                world.log("client.log"),
                world.log("gateway.log")
            )
        })
    }
}

/// Connects through the tunnel: the office PC's greeting, then `text` echoed.
pub fn round_trip(listen: SocketAddr, text: &str) -> (String, String) {
    let stream = TcpStream::connect(listen).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut greeting = String::new();
    reader.read_line(&mut greeting).unwrap();
    (&stream).write_all(format!("{text}\n").as_bytes()).unwrap();
    let mut echoed = String::new();
    reader.read_line(&mut echoed).unwrap();
    (greeting, echoed)
}

/// The exit code within `within`, or `None`.
pub fn wait_exit(proc: &mut Proc, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = proc.0.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
