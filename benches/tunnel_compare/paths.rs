//! The paths under comparison, each a local port that leads to the target: plain loopback
//! (the baseline), our tunnel, stunnel and `ssh -L`. A path's server side starts once and
//! stays; its client side can be restarted, which is how connect time is measured. CPU time
//! is read from /proc for the path's processes and everything they forked.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path as FsPath;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Makes the command that starts a path's client side, listening on the given local port.
type ClientCommand = Box<dyn Fn(u16) -> Command>;

/// One way to the target.
pub struct Path {
    /// Its name in the table and the JSON.
    pub name: &'static str,
    /// The local port a program connects to.
    pub port: u16,
    servers: Vec<Child>,
    client: Option<Child>,
    command: Option<ClientCommand>,
}

/// One start of a path's client side.
pub struct Connect {
    /// From starting the client side to the first echo through the path.
    pub ms: f64,
    /// What the client said when it was ready (our client only: its phases), as JSON.
    pub report: Option<serde_json::Value>,
}

impl Path {
    /// Plain loopback TCP to the target: the baseline, nothing in between.
    pub fn loopback(target: SocketAddr) -> Path {
        Path {
            name: "loopback",
            port: target.port(),
            servers: Vec::new(),
            client: None,
            command: None,
        }
    }

    /// A path of `servers` (already listening) and a client side started by `command`.
    pub fn new(name: &'static str, servers: Vec<Child>, command: ClientCommand) -> Path {
        Path {
            name,
            port: 0,
            servers,
            client: None,
            command: Some(command),
        }
    }

    /// Whether this is the baseline (no processes of its own).
    pub fn is_baseline(&self) -> bool {
        self.command.is_none()
    }

    /// Stops the client side if it runs, starts a new one on a fresh port, and waits until a
    /// message goes through the path and back.
    pub fn restart_client(&mut self) -> std::io::Result<Connect> {
        self.stop_client();
        let Some(command) = &self.command else {
            return Err(std::io::Error::other("the baseline has no client side"));
        };
        let port = free_port()?;
        let start = Instant::now();
        let mut child = command(port).stdout(Stdio::piped()).spawn()?;
        let deadline = start + Duration::from_secs(60);
        loop {
            if crate::target::echo(port).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(std::io::Error::other(format!(
                    "{}: the client side ended ({status})",
                    self.name
                )));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(std::io::Error::other(format!("{}: not ready", self.name)));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let report = report_line(&mut child);
        self.port = port;
        self.client = Some(child);
        Ok(Connect { ms, report })
    }

    fn stop_client(&mut self) {
        if let Some(mut child) = self.client.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The path's processes: the client side and the servers.
    pub fn pids(&self) -> Vec<u32> {
        self.client
            .iter()
            .chain(&self.servers)
            .map(Child::id)
            .collect()
    }

    /// CPU seconds used so far by the path's processes and their descendants.
    pub fn cpu_seconds(&self) -> f64 {
        tree_cpu_seconds(&self.pids())
    }

    /// Context switches so far of the path's living threads.
    pub fn context_switches(&self) -> u64 {
        tree_context_switches(&self.pids())
    }
}

impl Drop for Path {
    fn drop(&mut self) {
        self.stop_client();
        for child in &mut self.servers {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The first line the client side printed on stdout, if it is JSON (our client prints its
/// phases there once the tunnel is up; the others print nothing, so this is not waited for).
fn report_line(child: &mut Child) -> Option<serde_json::Value> {
    let stdout = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_millis(200)).ok()?;
    serde_json::from_str(line.trim()).ok()
}

/// A port the system just handed out and let go.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Clock ticks per second of /proc's CPU times.
fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// (pid, parent, utime + stime + cutime + cstime in ticks) of every process.
fn all_processes() -> Vec<(u32, u32, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The command name may hold spaces and parentheses; fields follow the last ')'.
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let parent = fields.get(1)?.parse().ok()?;
            let ticks = (11..15)
                .map(|i| {
                    fields
                        .get(i)
                        .and_then(|f| f.parse::<u64>().ok())
                        .unwrap_or(0)
                })
                .sum();
            Some((pid, parent, ticks))
        })
        .collect()
}

/// `roots` and all their living descendants (sshd forks one per connection).
fn tree(processes: &[(u32, u32, u64)], roots: &[u32]) -> Vec<u32> {
    let mut members: Vec<u32> = roots.to_vec();
    let mut i = 0;
    while i < members.len() {
        let parent = members[i];
        for (pid, ppid, _) in processes {
            if *ppid == parent && !members.contains(pid) {
                members.push(*pid);
            }
        }
        i += 1;
    }
    members
}

/// CPU seconds of `roots` and all their living descendants, with the children they already
/// reaped.
pub fn tree_cpu_seconds(roots: &[u32]) -> f64 {
    let processes = all_processes();
    let members = tree(&processes, roots);
    let ticks: u64 = processes
        .iter()
        .filter(|(pid, _, _)| members.contains(pid))
        .map(|(_, _, t)| t)
        .sum();
    ticks as f64 / ticks_per_second()
}

/// Context switches (voluntary and not) of every living thread of `roots` and their
/// descendants. Threads that already ended are not counted: read it while the connections
/// being measured are still open.
pub fn tree_context_switches(roots: &[u32]) -> u64 {
    let members = tree(&all_processes(), roots);
    let mut total = 0;
    for pid in members {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.filter_map(Result::ok) {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            total += status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    total
}

/// Starts `command` and waits (bounded) until `port` on 127.0.0.1 accepts connections.
pub fn start_listening(mut command: Command, port: u16, what: &str) -> std::io::Result<Child> {
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::null()).spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(std::io::Error::other(format!("{what} ended ({status})")));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(std::io::Error::other(format!("{what} does not listen")));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(child)
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &FsPath, name: &str, text: &str) -> std::io::Result<std::path::PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}
