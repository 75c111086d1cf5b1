//! Our tunnel side by side with stunnel and `ssh -L` on 127.0.0.1: bulk throughput both ways
//! and over 8 parallel streams, CPU seconds per GiB of the processes that carry the data,
//! the round trip of a 64-byte message, and the time from starting the client side to the
//! first message through. The paths are measured in turn (round-robin, the starting path
//! rotating each repetition), so load from other work on the machine falls on all of them
//! alike; the table gives the median with the lowest and highest in brackets.
//!
//! Run it through `installer/dev/bench.sh`, which installs stunnel and OpenSSH if missing and
//! builds in release mode; see `docs/performance.md`. Options (after `--`): `--quick` (a few
//! MiB, to check the command works), `--size MIB` per measurement (default 1024), `--reps N`,
//! `--pings N`, `--json FILE`. It asserts nothing about time.

mod external;
mod ours;
mod paths;
#[path = "../support/procfs.rs"]
mod procfs;
mod report;
mod sessions;
mod target;

use paths::Path;
use procfs::load_average;
use report::Samples;

/// What one run measures.
struct Options {
    size_mib: u64,
    reps: usize,
    pings: usize,
    /// Idle sessions held at the gateway, ascending.
    sessions: Vec<usize>,
    /// How long handshakes per second are counted.
    handshake_secs: f64,
    json: Option<String>,
    /// Started by `cargo bench` (which passes `--bench`); `cargo test --all-targets` runs it
    /// without, and then it only says how to run it.
    bench: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        size_mib: 1024,
        reps: 5,
        pings: 5000,
        sessions: vec![1000, 10_000],
        handshake_secs: 5.0,
        json: None,
        bench: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let number = |text: String| text.parse::<u64>().map_err(|e| format!("{text}: {e}"));
        match arg.as_str() {
            "--quick" => {
                options.size_mib = 8;
                options.reps = 2;
                options.pings = 200;
                options.sessions = vec![200];
                options.handshake_secs = 1.0;
            }
            "--size" => options.size_mib = number(value("--size")?)?.max(1),
            "--reps" => options.reps = number(value("--reps")?)?.max(1) as usize,
            "--pings" => options.pings = number(value("--pings")?)?.max(1) as usize,
            "--sessions" => {
                let list = value("--sessions")?;
                let mut counts = Vec::new();
                for n in list.split(',').filter(|n| !n.is_empty()) {
                    // Fewer would be mostly the warm-up before the baseline.
                    counts.push((number(n.to_string())? as usize).max(2 * sessions::WARM));
                }
                counts.sort_unstable();
                counts.dedup();
                options.sessions = counts;
            }
            "--json" => options.json = Some(value("--json")?),
            "--bench" => options.bench = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("client") {
        if let Err(e) = ours::run_client(&args[1..]) {
            eprintln!("client: {e}");
            std::process::exit(1);
        }
        return;
    }
    let options = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("tunnel_compare: {e}");
            std::process::exit(2);
        }
    };
    if !options.bench {
        println!("tunnel_compare: a benchmark; run it with installer/dev/bench.sh");
        return;
    }
    if let Err(e) = run(&options) {
        eprintln!("tunnel_compare: {e}");
        std::process::exit(1);
    }
}

fn record(samples: &mut Samples, path: &str, key: &str, value: f64) {
    samples
        .entry(path.to_string())
        .or_default()
        .entry(key.to_string())
        .or_default()
        .push(value);
}

/// The paths in the order of repetition `rep`: each starts first once in a while.
fn rotated(count: usize, rep: usize) -> Vec<usize> {
    (0..count).map(|i| (i + rep) % count).collect()
}

fn run(options: &Options) -> std::io::Result<()> {
    let scratch = tempfile::tempdir()?;
    let pki_dir = scratch.path().join("pki");
    let pki = ours::write_pki(&pki_dir)?;
    let target = target::start();
    let mut paths = vec![
        Path::loopback(target),
        ours::path(scratch.path(), &pki_dir, target)?,
        external::stunnel(scratch.path(), &pki_dir, target)?,
        external::ssh(scratch.path(), target)?,
    ];
    let names: Vec<&str> = paths.iter().map(|p| p.name).collect();
    let ours_name = paths[1].name;
    eprintln!(
        "tunnel_compare: {} MiB per measurement, {} repetitions, {} round trips; load {}",
        options.size_mib,
        options.reps,
        options.pings,
        load_average()
    );
    let mut samples = Samples::new();
    let phases = connect_phase(&mut paths, options.reps, &mut samples)?;
    bulk_phase(&paths, options, &mut samples)?;
    rtt_phase(&paths, options, &mut samples)?;
    drop(paths);
    let gateway = sessions::measure(
        scratch.path(),
        &pki_dir,
        &pki,
        &options.sessions,
        options.handshake_secs,
    )?;

    println!("\n{}", report::table(&samples, &names, ours_name));
    println!("{}", report::gateway_lines(&gateway));
    if let Some(phases) = phases.last() {
        println!("{ours_name}, its last connect: {phases}");
    }
    if let Some(file) = &options.json {
        let extra = serde_json::json!({
            "size_mib": options.size_mib,
            "reps": options.reps,
            "pings": options.pings,
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "load_average_after": load_average(),
            "commit": commit(),
            "connect_phases": phases,
            "gateway": gateway,
        });
        let text = serde_json::to_string_pretty(&report::json(&samples, extra))?;
        if let Some(parent) = std::path::Path::new(file).parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(file, text + "\n")?;
        eprintln!("tunnel_compare: wrote {file}");
    }
    Ok(())
}

/// Our client's phases, in ms, as rows of their own.
const PHASES: &[(&str, &str)] = &[
    ("tcp_connect_ms", "connect_tcp_ms"),
    ("session_ms", "connect_session_ms"),
    ("process_ms", "connect_ready_ms"),
];

/// Starts each path's client side `reps` times, round-robin; the last start stays up for
/// the other measurements. Returns what our client reported of its phases each time.
fn connect_phase(
    paths: &mut [Path],
    reps: usize,
    samples: &mut Samples,
) -> std::io::Result<Vec<serde_json::Value>> {
    let mut phases = Vec::new();
    for rep in 0..reps {
        for i in rotated(paths.len(), rep) {
            let path = &mut paths[i];
            if path.is_baseline() {
                continue;
            }
            let connect = path.restart_client()?;
            record(samples, path.name, "connect_ms", connect.ms);
            if let Some(report) = connect.report {
                for (field, key) in PHASES {
                    if let Some(ms) = report[*field].as_f64() {
                        record(samples, path.name, key, ms);
                    }
                }
                phases.push(report);
            }
        }
    }
    Ok(phases)
}

/// One measurement of bulk `kind` on `path`: MB/s, and per GiB the CPU seconds and the
/// thousands of context switches of its processes (none for the baseline).
fn bulk(path: &Path, kind: &str, bytes: u64) -> std::io::Result<(f64, Option<(f64, f64)>)> {
    let cpu_before = path.cpu_seconds();
    let switches_before = path.context_switches();
    let (took, open) = match kind {
        "up" => target::upload(path.port, bytes).map(|(t, c)| (t, vec![c]))?,
        "down" => target::download(path.port, bytes).map(|(t, c)| (t, vec![c]))?,
        _ => target::parallel_upload(path.port, bytes, 8)?,
    };
    // Read while the connections are open: stunnel's threads end with them.
    let cpu = path.cpu_seconds() - cpu_before;
    let switches = path.context_switches().saturating_sub(switches_before);
    drop(open);
    let gib = bytes as f64 / (1u64 << 30) as f64;
    let per_gib = (!path.is_baseline()).then_some((cpu / gib, switches as f64 / 1e3 / gib));
    Ok((bytes as f64 / 1e6 / took.as_secs_f64(), per_gib))
}

fn bulk_phase(paths: &[Path], options: &Options, samples: &mut Samples) -> std::io::Result<()> {
    let bytes = options.size_mib << 20;
    for rep in 0..options.reps {
        for kind in ["up", "down", "par8"] {
            for i in rotated(paths.len(), rep) {
                let path = &paths[i];
                let (mb_s, per_gib) = bulk(path, kind, bytes)?;
                record(samples, path.name, &format!("{kind}_mb_s"), mb_s);
                if let Some((cpu, switches)) = per_gib {
                    record(samples, path.name, &format!("{kind}_cpu_s_gib"), cpu);
                    record(samples, path.name, &format!("{kind}_kctxsw_gib"), switches);
                }
            }
        }
        eprintln!(
            "tunnel_compare: bulk repetition {} of {} done",
            rep + 1,
            options.reps
        );
    }
    Ok(())
}

/// Round trips a path makes in one turn. The paths take turns this often, so a burst of load
/// from elsewhere on the machine falls on all of them alike rather than on one path's block.
const PINGS_PER_TURN: usize = 100;

/// Round trips of 64-byte messages on each path, the paths taking turns; the added round
/// trip is a path's quantile minus plain loopback's in the same repetition. Also the CPU
/// time and context switches of the path's processes per round trip.
fn rtt_phase(paths: &[Path], options: &Options, samples: &mut Samples) -> std::io::Result<()> {
    for rep in 0..options.reps {
        let mut echoes = Vec::new();
        for path in paths {
            let mut tcp = target::echo(path.port)?;
            target::round_trips(&mut tcp, 20)?;
            echoes.push(tcp);
        }
        let cpu_before: Vec<f64> = paths.iter().map(Path::cpu_seconds).collect();
        let switches_before: Vec<u64> = paths.iter().map(Path::context_switches).collect();
        let mut times = vec![Vec::new(); paths.len()];
        for turn in 0..options.pings.div_ceil(PINGS_PER_TURN) {
            let n = PINGS_PER_TURN.min(options.pings - turn * PINGS_PER_TURN);
            for i in rotated(paths.len(), rep + turn) {
                times[i].extend(target::round_trips(&mut echoes[i], n)?);
            }
        }
        let pings = options.pings as f64;
        let mut base = None;
        let mut measured = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            // Read while the connections are open, as for bulk.
            if !path.is_baseline() {
                let cpu = path.cpu_seconds() - cpu_before[i];
                let switches = path.context_switches().saturating_sub(switches_before[i]);
                record(samples, path.name, "rtt_cpu_us", cpu * 1e6 / pings);
                record(samples, path.name, "rtt_ctxsw", switches as f64 / pings);
            }
            let p50 = report::quantile(&times[i], 0.5);
            let p99 = report::quantile(&times[i], 0.99);
            if path.is_baseline() {
                base = Some((p50, p99));
            }
            measured.push((path.name, p50, p99));
        }
        drop(echoes);
        for (name, p50, p99) in measured {
            record(samples, name, "rtt_p50_us", p50);
            record(samples, name, "rtt_p99_us", p99);
            if let Some((b50, b99)) = base.filter(|_| name != "loopback") {
                record(samples, name, "added_rtt_p50_us", p50 - b50);
                record(samples, name, "added_rtt_p99_us", p99 - b99);
            }
        }
        eprintln!(
            "tunnel_compare: round trip repetition {} of {} done",
            rep + 1,
            options.reps
        );
    }
    Ok(())
}

/// The commit measured, if this is a git checkout.
fn commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
