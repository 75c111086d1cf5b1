//! The gateway process and what it shows in /proc.

use super::*;

/// A running `hjemmekontor-gateway run`, in a directory of its own (config, audit log).
pub(super) struct Gateway {
    pub(super) child: Child,
    pub(super) dir: tempfile::TempDir,
    pub(super) address: SocketAddr,
    pub(super) stderr: Arc<Mutex<Vec<String>>>,
}

impl Gateway {
    /// Starts a gateway on a free port, and waits until it listens.
    pub(super) fn start(world: &World, base: &Path) -> Gateway {
        for _ in 0..5 {
            // A port the system just handed out and let go; another program may take it in
            // between, so a gateway that cannot listen is started again on another.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let dir = tempfile::tempdir_in(base).expect("gateway directory");
            let config = dir.path().join("gateway.toml");
            std::fs::write(&config, world.config(port)).expect("config file");
            let mut child = Command::new(env!("CARGO_BIN_EXE_hjemmekontor-gateway"))
                .arg("run")
                .arg(&config)
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the gateway starts");
            let stderr = Arc::new(Mutex::new(Vec::new()));
            let (listening, ready) = mpsc::channel();
            let lines = BufReader::new(child.stderr.take().expect("stderr"));
            let kept = Arc::clone(&stderr);
            std::thread::spawn(move || {
                for line in lines.lines().map_while(Result::ok) {
                    if line.contains("lytter på") {
                        let _ = listening.send(());
                    }
                    kept.lock().expect("stderr lines").push(line);
                }
            });
            if ready.recv_timeout(Duration::from_secs(30)).is_ok() {
                return Gateway {
                    child,
                    dir,
                    address: SocketAddr::from((USER_IP, port)),
                    stderr,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            eprintln!(
                "the gateway did not start: {:?}",
                stderr.lock().expect("stderr lines")
            );
        }
        panic!("the gateway did not start in five tries");
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub(super) fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    /// Lines in the audit log (one record each) and its size in bytes.
    pub(super) fn audit_size(&self) -> (usize, usize) {
        let text = std::fs::read_to_string(self.audit_path()).unwrap_or_default();
        (text.lines().count(), text.len())
    }

    /// Records after the first `skip`, counted by event and reason.
    pub(super) fn audit_events(&self, skip: usize) -> BTreeMap<String, u64> {
        let text = std::fs::read_to_string(self.audit_path()).unwrap_or_default();
        let mut counts = BTreeMap::new();
        for line in text.lines().skip(skip) {
            let record: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            let mut kind = record["event"].as_str().unwrap_or("?").to_string();
            if let Some(reason) = record["reason"].as_str() {
                kind = format!("{kind}/{reason}");
            }
            *counts.entry(kind).or_default() += 1;
        }
        counts
    }

    /// Stops the gateway with SIGTERM (as an operator would) and checks the audit log's chain.
    /// Returns whether it stopped by itself within 20 s, and the chain's verdict.
    pub(super) fn stop(mut self) -> (bool, Result<u64, String>) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut stopped = false;
        while Instant::now() < deadline {
            if !self.running() {
                stopped = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let chain = std::fs::File::open(self.audit_path())
            .map_err(|e| e.to_string())
            .and_then(|f| {
                hjemmekontor::gateway::audit::verify(BufReader::new(f))
                    .map(|report| report.records)
                    .map_err(|e| e.to_string())
            });
        (stopped, chain)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One look at the gateway process: memory (KiB), threads, open file descriptors.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Sample {
    pub(super) hwm_kib: u64,
    pub(super) rss_kib: u64,
    pub(super) threads: u64,
    pub(super) fds: u64,
}

impl Sample {
    pub(super) fn of(pid: u32) -> Sample {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        Sample {
            hwm_kib: field("VmHWM:"),
            rss_kib: field("VmRSS:"),
            threads: field("Threads:"),
            fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64),
        }
    }

    pub(super) fn max(self, other: Sample) -> Sample {
        Sample {
            hwm_kib: self.hwm_kib.max(other.hwm_kib),
            rss_kib: self.rss_kib.max(other.rss_kib),
            threads: self.threads.max(other.threads),
            fds: self.fds.max(other.fds),
        }
    }
}

pub(super) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Samples the gateway every 200 ms on a thread of its own until stopped; the highest of each.
/// An attack that takes the gateway's memory past `cap_kib` is stopped there, so that the
/// bench cannot starve the machine it runs on.
pub(super) struct Sampler {
    pub(super) stop: Arc<AtomicBool>,
    pub(super) thread: std::thread::JoinHandle<(Sample, Option<Duration>)>,
}

impl Sampler {
    pub(super) fn start(pid: u32, cap_kib: u64, attack: CancellationToken) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let started = Instant::now();
        let thread = std::thread::spawn(move || {
            let mut peak = Sample::of(pid);
            let mut capped = None;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                peak = peak.max(Sample::of(pid));
                if peak.rss_kib > cap_kib && capped.is_none() {
                    capped = Some(started.elapsed());
                    attack.cancel();
                }
            }
            (peak, capped)
        });
        Sampler { stop, thread }
    }

    /// The highest of each, and when the attack was stopped at the cap.
    pub(super) fn finish(self, pid: u32) -> (Sample, Option<Duration>) {
        self.stop.store(true, Ordering::Relaxed);
        let (peak, capped) = self.thread.join().expect("sampler");
        (peak.max(Sample::of(pid)), capped)
    }
}

/// The gateway memory at which an attack is stopped: `HJK_ABUSE_RSS_CAP_MIB`, else half the
/// memory available now, at most 8 GiB.
pub(super) fn rss_cap_kib() -> u64 {
    if let Some(mib) = std::env::var("HJK_ABUSE_RSS_CAP_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return mib * 1024;
    }
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
        })
        .unwrap_or(u64::MAX);
    (available / 2).min(8 * 1024 * 1024)
}

/// `line` without its ANSI colour sequences (the gateway's log colours even a pipe).
pub(super) fn without_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            plain.push(c);
        }
    }
    plain
}
