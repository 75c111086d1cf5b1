//! Audit log append throughput: one writer alone, then 16 writers at once sharing flushes
//! (group commit), from threads and from tokio tasks. Prints numbers; asserts nothing about
//! time.
//!
//! `cargo bench --bench audit_append` runs the full sizes; `cargo test` runs it small, as a
//! smoke test. The log is written under the target directory (a real disk, where `/tmp` may
//! be memory), or under `AUDIT_BENCH_DIR` when set: fsync costs depend on that disk.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hjemmekontor::gateway::audit::{verify, AuditEvent, AuditLog, AuditStats, RefusalReason};
use time::OffsetDateTime;

fn event(i: usize) -> AuditEvent {
    AuditEvent::LoginRefused {
        reason: RefusalReason::WrongPassword,
        user: Some(format!("bruker-{}", i % 100)),
        personal_id: Some("9578-4050-127091783".into()),
        source: "192.0.2.7:50412".parse().expect("a fixed address parses"),
        detail: None,
    }
}

struct Run {
    name: &'static str,
    records: usize,
    elapsed: Duration,
    stats: AuditStats,
}

impl Run {
    fn print(&self) {
        let per_sec = self.records as f64 / self.elapsed.as_secs_f64();
        let syncs_per_record = self.stats.syncs as f64 / self.stats.records.max(1) as f64;
        println!(
            "{:<34} {:>7} records {:>9.0} appends/s {:>8.3} ms/append {:>6.3} fsyncs/record",
            self.name,
            self.records,
            per_sec,
            self.elapsed.as_secs_f64() * 1000.0 / self.records as f64,
            syncs_per_record
        );
    }
}

fn single(dir: &std::path::Path, n: usize) -> Run {
    let log = AuditLog::open(dir.join("single.jsonl")).expect("open");
    let start = Instant::now();
    for i in 0..n {
        log.append(event(i), OffsetDateTime::UNIX_EPOCH)
            .expect("append");
    }
    Run {
        name: "1 thread",
        records: n,
        elapsed: start.elapsed(),
        stats: log.stats(),
    }
}

fn threads(dir: &std::path::Path, writers: usize, each: usize) -> Run {
    let log = Arc::new(AuditLog::open(dir.join("threads.jsonl")).expect("open"));
    let start = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for i in 0..each {
                    log.append(event(w * each + i), OffsetDateTime::UNIX_EPOCH)
                        .expect("append");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("writer thread");
    }
    Run {
        name: "16 threads (group commit)",
        records: writers * each,
        elapsed: start.elapsed(),
        stats: log.stats(),
    }
}

fn tasks(dir: &std::path::Path, writers: usize, each: usize) -> Run {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let log = Arc::new(AuditLog::open(dir.join("tasks.jsonl")).expect("open"));
    let start = Instant::now();
    runtime.block_on(async {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    for i in 0..each {
                        log.append_async(event(w * each + i), OffsetDateTime::UNIX_EPOCH)
                            .await
                            .expect("append");
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.expect("writer task");
        }
    });
    Run {
        name: "16 tokio tasks (group commit)",
        records: writers * each,
        elapsed: start.elapsed(),
        stats: log.stats(),
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (single_n, each) = if full { (2000, 250) } else { (20, 2) };
    let base = std::env::var_os("AUDIT_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    std::fs::create_dir_all(&base).expect("bench directory");
    let dir = tempfile::tempdir_in(&base).expect("temporary directory");
    println!("audit log append ({})", dir.path().display());
    let runs = [
        single(dir.path(), single_n),
        threads(dir.path(), 16, each),
        tasks(dir.path(), 16, each),
    ];
    for run in &runs {
        run.print();
    }
    for name in ["single.jsonl", "threads.jsonl", "tasks.jsonl"] {
        let file = std::fs::File::open(dir.path().join(name)).expect("log");
        let report = verify(std::io::BufReader::new(file)).expect("the chain holds");
        println!("{name}: {} records, chain intact", report.records);
    }
}
