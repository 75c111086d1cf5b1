//! The audit log end to end: concurrent appends, every kind of damage found at its line,
//! restarts, the file deleted, moved, replaced or written by another process while the log is
//! open, a full disk, one writer at a time, and the `hjemmekontor-gateway audit` commands with
//! their output and exit codes.

mod support;

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hjemmekontor::gateway::audit::{
    verify, Admission, AuditError, AuditEvent, AuditLog, AuditRecord, EndReason, FileChange,
    Problem, RefusalCoalescer, RefusalReason, TargetRefusal, VerifyError, VerifyReport, GENESIS,
};
use time::macros::datetime;
use time::OffsetDateTime;

const T0: OffsetDateTime = datetime!(2025-05-25 08:00 UTC);

fn source() -> std::net::SocketAddr {
    "192.0.2.7:50412".parse().unwrap()
}

/// A varied day at the gateway: refusals of each kind, logins, sessions.
fn event(i: usize) -> AuditEvent {
    let user = ["ola", "kari", "per"][i % 3].to_string();
    match i % 5 {
        0 => AuditEvent::LoginAccepted {
            user,
            personal_id: format!("9578-4050-{i:09}"),
            source: source(),
            session_id: format!("s-{i}"),
            targets: vec!["kontor-pc-17".into()],
        },
        1 => AuditEvent::LoginRefused {
            reason: RefusalReason::WrongPassword,
            user: Some(user),
            personal_id: Some("9578-4050-127091783".into()),
            source: source(),
            detail: None,
        },
        2 => AuditEvent::LoginRefused {
            reason: RefusalReason::Expired,
            user: None,
            personal_id: None,
            source: source(),
            detail: Some("utløpt 2025-01-01".into()),
        },
        3 => AuditEvent::TargetRefused {
            user,
            session_id: format!("s-{i}"),
            target: "server-3".into(),
            source: source(),
            reason: TargetRefusal::NotGranted,
        },
        _ => AuditEvent::SessionEnded {
            session_id: format!("s-{i}"),
            user,
            target_streams: 2,
            bytes_to_target: 1234,
            bytes_from_target: 567_890,
            duration_ms: 3_723_000,
            reason: EndReason::CardRemoved,
        },
    }
}

/// Opens the log and appends `n` records one per minute from `T0`, in order.
fn opened(path: &Path, n: usize) -> (AuditLog, Vec<AuditRecord>) {
    let log = AuditLog::open(path).unwrap();
    let written = (0..n)
        .map(|i| {
            log.append(event(i), T0 + time::Duration::minutes(i as i64))
                .unwrap()
        })
        .collect();
    (log, written)
}

/// Writes `n` records one per minute from `T0`, in order, and closes the log.
fn write_log(path: &Path, n: usize) -> Vec<AuditRecord> {
    opened(path, n).1
}

/// Opens the log as a restarted gateway does and returns the `seq` its first record gets.
fn seq_after_restart(path: &Path) -> u64 {
    let log = AuditLog::open(path).unwrap();
    log.append(event(0), T0).unwrap().seq
}

fn check(path: &Path) -> Result<VerifyReport, VerifyError> {
    verify(BufReader::new(std::fs::File::open(path).unwrap()))
}

fn broken_line(path: &Path) -> (u64, Problem) {
    match check(path) {
        Err(VerifyError::Broken { line, problem, .. }) => (line, problem),
        other => panic!("expected a broken log, got {other:?}"),
    }
}

fn lines(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    (dir, path)
}

#[test]
fn concurrent_writers_leave_one_unbroken_chain() {
    let (_dir, path) = tmp();
    let log = Arc::new(AuditLog::open(&path).unwrap());
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                (0..50)
                    .map(|i| log.append(event(w * 50 + i), T0).unwrap().seq)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=400).collect::<Vec<_>>());
    let stats = log.stats();
    assert_eq!(stats.records, 400);
    assert!(stats.syncs >= 1 && stats.syncs <= 400);
    drop(log);
    let report = check(&path).unwrap();
    assert_eq!(report.records, 400);
    assert_eq!(report.last_seq, 400);
}

#[test]
fn an_untouched_log_passes() {
    let (_dir, path) = tmp();
    let written = write_log(&path, 20);
    let report = check(&path).unwrap();
    assert_eq!(report.records, 20);
    assert_eq!(report.last_hash, written[19].hash);
    assert_eq!(written[0].prev, GENESIS);
}

#[test]
fn any_single_byte_edit_is_found_at_its_line() {
    let (_dir, path) = tmp();
    write_log(&path, 10);
    let original = lines(&path);
    let target = 6; // line 7
    let len = original[target].len() - 1; // leave the newline alone here
    for pos in 0..len {
        let mut edited = original.clone();
        edited[target][pos] ^= 0x01;
        std::fs::write(&path, edited.concat()).unwrap();
        let (line, problem) = broken_line(&path);
        assert_eq!(line, 7, "byte {pos}: {problem}");
    }
    std::fs::write(&path, original.concat()).unwrap();
    assert!(check(&path).is_ok());
}

#[test]
fn an_edited_value_is_named_edited() {
    let (_dir, path) = tmp();
    write_log(&path, 10);
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("wrong-password", "locked-out", 1);
    std::fs::write(&path, edited).unwrap();
    assert_eq!(broken_line(&path), (2, Problem::Edited));
}

#[test]
fn a_removed_line_is_found_where_it_was() {
    let (_dir, path) = tmp();
    write_log(&path, 10);
    let original = lines(&path);
    for removed in 0..9 {
        let mut cut = original.clone();
        cut.remove(removed);
        std::fs::write(&path, cut.concat()).unwrap();
        let (line, problem) = broken_line(&path);
        assert_eq!(line, removed as u64 + 1);
        assert_eq!(
            problem,
            Problem::Missing {
                expected: removed as u64 + 1,
                found: removed as u64 + 2
            }
        );
    }
    // Whole lines cut off the end leave a shorter sound log: only a last hash noted
    // elsewhere shows it, which is why verify reports it.
    let mut cut = original.clone();
    cut.pop();
    std::fs::write(&path, cut.concat()).unwrap();
    let report = check(&path).unwrap();
    assert_eq!(report.records, 9);
    std::fs::write(&path, original.concat()).unwrap();
    assert_ne!(check(&path).unwrap().last_hash, report.last_hash);
}

#[test]
fn swapped_lines_are_found() {
    let (_dir, path) = tmp();
    write_log(&path, 10);
    let original = lines(&path);
    for (a, b) in [(0, 1), (3, 7), (8, 9)] {
        let mut swapped = original.clone();
        swapped.swap(a, b);
        std::fs::write(&path, swapped.concat()).unwrap();
        assert_eq!(broken_line(&path).0, a as u64 + 1);
    }
}

#[test]
fn a_torn_last_line_is_named_and_blocks_reopening() {
    let (_dir, path) = tmp();
    write_log(&path, 5);
    let mut bytes = std::fs::read(&path).unwrap();
    let whole = bytes.len();
    bytes.truncate(whole - 30);
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(broken_line(&path), (5, Problem::Torn));
    let start_of_last = lines(&path)[..4].concat().len() as u64;
    match AuditLog::open(&path) {
        Err(AuditError::TornTail { offset, .. }) => assert_eq!(offset, start_of_last),
        other => panic!("expected a torn tail, got {other:?}"),
    }
}

#[test]
fn a_restart_continues_the_chain() {
    let (_dir, path) = tmp();
    let first = write_log(&path, 3);
    let log = AuditLog::open(&path).unwrap();
    let next = log.append(event(3), T0).unwrap();
    assert_eq!(next.seq, 4);
    assert_eq!(next.prev, first[2].hash);
    drop(log);
    assert_eq!(seq_after_restart(&path), 5);
    assert_eq!(check(&path).unwrap().records, 5);
}

// ---- the file under the log's feet ----

/// `<log><suffix>`: the lock and head files next to the log.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn changed(result: Result<AuditRecord, AuditError>) -> FileChange {
    match result {
        Err(AuditError::FileChanged { change, .. }) => change,
        other => panic!("expected the file to be reported changed, got {other:?}"),
    }
}

#[test]
fn a_deleted_log_takes_no_records_and_a_restart_starts_no_silent_new_chain() {
    let (_dir, path) = tmp();
    let (log, written) = opened(&path, 1);
    let first = &written[0];
    std::fs::remove_file(&path).unwrap();
    for i in 1..4 {
        assert_eq!(changed(log.append(event(i), T0)), FileChange::Missing);
    }
    assert!(!path.exists());
    drop(log);
    match AuditLog::open(&path) {
        Err(e @ AuditError::ChainLost { .. }) => {
            let AuditError::ChainLost {
                head_seq,
                ref head_hash,
                found,
                ..
            } = e
            else {
                unreachable!()
            };
            assert_eq!((head_seq, head_hash, found), (1, &first.hash, 0));
            assert!(
                e.to_string().contains("removed, replaced or cut short"),
                "{e}"
            );
        }
        other => panic!("expected a lost chain, got {other:?}"),
    }
    assert!(!path.exists(), "a refused start leaves no new log behind");
    // Starting a new chain is a person's decision: they remove the head file.
    std::fs::remove_file(beside(&path, ".head")).unwrap();
    assert_eq!(seq_after_restart(&path), 1);
}

#[test]
fn a_renamed_log_takes_records_again_once_it_is_back() {
    let (dir, path) = tmp();
    let moved = dir.path().join("audit.jsonl.old");
    let (log, _) = opened(&path, 1);
    std::fs::rename(&path, &moved).unwrap();
    assert_eq!(changed(log.append(event(1), T0)), FileChange::Missing);
    std::fs::rename(&moved, &path).unwrap();
    assert_eq!(log.append(event(2), T0).unwrap().seq, 2);
    drop(log);
    assert_eq!(check(&path).unwrap().records, 2);
}

#[test]
fn a_replaced_log_is_not_continued() {
    let (dir, path) = tmp();
    let (log, _) = opened(&path, 3);
    // A shorter log of its own, renamed over ours.
    let other = dir.path().join("other.jsonl");
    write_log(&other, 2);
    std::fs::rename(&other, &path).unwrap();
    let change = changed(log.append(event(3), T0));
    if cfg!(unix) {
        assert_eq!(change, FileChange::Replaced);
    }
    drop(log);
    assert_eq!(check(&path).unwrap().records, 2);
    assert!(matches!(
        AuditLog::open(&path),
        Err(AuditError::ChainLost {
            head_seq: 3,
            found: 2,
            ..
        })
    ));
}

#[test]
fn another_writer_on_the_file_stops_this_one_until_a_restart() {
    let (_dir, path) = tmp();
    let (log, written) = opened(&path, 1);
    let last = &written[0];
    // An older gateway that knows no lock appends the next record itself.
    let foreign = AuditRecord::seal(2, T0, event(1), &last.hash).unwrap();
    {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(foreign.to_line().unwrap().as_bytes())
            .unwrap();
    }
    let change = changed(log.append(event(2), T0));
    assert!(matches!(change, FileChange::Resized { .. }), "{change:?}");
    // It does not heal: the chain this writer knows is no longer the file's.
    assert_eq!(changed(log.append(event(3), T0)), change);
    drop(log);
    assert_eq!(seq_after_restart(&path), 3);
    assert_eq!(check(&path).unwrap().records, 3);
}

#[test]
fn a_second_gateway_waits_for_the_lock_then_refuses_while_verify_still_reads() {
    let (_dir, path) = tmp();
    let (log, _) = opened(&path, 1);

    match AuditLog::open_waiting(&path, Duration::from_millis(300)) {
        Err(e @ AuditError::Locked { .. }) => {
            let AuditError::Locked {
                path: ref p,
                ref lock,
            } = e
            else {
                unreachable!()
            };
            assert_eq!((p, lock), (&path, &beside(&path, ".lock")));
            assert!(e.to_string().contains("another gateway is running"), "{e}");
        }
        other => panic!("expected the lock to be held, got {other:?}"),
    }

    // Reading needs no lock.
    let file = path.to_str().unwrap();
    let out = gateway(&["audit", "verify", file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = gateway(&["audit", "query", file, "--json"]);
    assert_eq!(text(&out.stdout).lines().count(), 1);

    // A gateway waiting for one that is draining gets the log once it lets go.
    let waiting = {
        let path = path.clone();
        std::thread::spawn(move || AuditLog::open_waiting(&path, Duration::from_secs(60)))
    };
    std::thread::sleep(Duration::from_millis(200));
    drop(log);
    let log = waiting.join().unwrap().unwrap();
    assert_eq!(log.append(event(1), T0).unwrap().seq, 2);
}

/// Set in the child process of the full-disk test: the log to fill.
const FULL_DISK_LOG: &str = "HJEMMEKONTOR_TEST_FULL_DISK_LOG";

/// A file size limit (`ulimit -f`) makes writes fail part-way as a full disk does, without
/// root. It is set in a child process: this same test, run again alone.
#[cfg(unix)]
#[test]
fn a_full_disk_leaves_whole_records_and_a_restart_needs_no_hand_work() {
    if let Some(path) = std::env::var_os(FULL_DISK_LOG) {
        let log = AuditLog::open(PathBuf::from(path)).unwrap();
        let mut acked = 0;
        let failure = loop {
            match log.append(event(acked), T0) {
                Ok(_) => acked += 1,
                Err(e) => break e,
            }
            assert!(acked < 10_000, "the file size limit did not hold");
        };
        assert!(matches!(failure, AuditError::Write { .. }), "{failure:?}");
        println!("acknowledged={acked}");
        return;
    }
    let (_dir, path) = tmp();
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f 16; exec "$0" "$@""#)
        .arg(std::env::current_exe().unwrap())
        .args([
            "a_full_disk_leaves_whole_records_and_a_restart_needs_no_hand_work",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FULL_DISK_LOG, &path)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let acked: u64 = stdout
        .lines()
        .find_map(|l| l.split_once("acknowledged=").map(|(_, n)| n))
        .expect("the child reports what was acknowledged")
        .parse()
        .unwrap();
    assert!(acked > 0);
    // Every acknowledged record, and no torn line after them.
    let report = check(&path).unwrap();
    assert_eq!(report.records, acked);
    assert_eq!(seq_after_restart(&path), acked + 1);
}

#[test]
fn repeated_refusals_become_one_record_that_verify_and_query_read() {
    let (_dir, path) = tmp();
    let log = AuditLog::open(&path).unwrap();
    let mut coalescer = RefusalCoalescer::new(Duration::from_secs(10), 100);
    let client = source();
    for i in 0..341 {
        let now = T0 + time::Duration::milliseconds(i * 3);
        if coalescer.admit(client.ip(), RefusalReason::NoCertificate, now) == Admission::Record {
            log.append(
                AuditEvent::LoginRefused {
                    reason: RefusalReason::NoCertificate,
                    user: None,
                    personal_id: None,
                    source: client,
                    detail: None,
                },
                now,
            )
            .unwrap();
        }
    }
    let flushed = T0 + time::Duration::seconds(10);
    for event in coalescer.flush_due(flushed) {
        log.append(event, flushed).unwrap();
    }
    drop(log);
    assert_eq!(check(&path).unwrap().records, 2);
    let out = gateway(&[
        "audit",
        "query",
        path.to_str().unwrap(),
        "--event",
        "login-refused-repeated",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "2025-05-25T08:00:10.000Z  login-refused-repeated  -                 no-certificate \
         fra 192.0.2.7, 340 ganger til, 2025-05-25T08:00:00.003Z til 2025-05-25T08:00:01.020Z\n"
    );
}

// ---- the command line ----

fn gateway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hjemmekontor-gateway"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn cli_verify_intact_and_broken() {
    let (_dir, path) = tmp();
    let written = write_log(&path, 12);
    let file = path.to_str().unwrap();

    let out = gateway(&["audit", "verify", file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Revisjonsloggen er hel: 12 poster, siste er nr. 12."),
        "{stdout}"
    );
    assert!(stdout.contains(&written[11].hash));

    let out = gateway(&["audit", "verify", file, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["intact"], true);
    assert_eq!(json["records"], 12);
    assert_eq!(json["last_hash"], written[11].hash.as_str());

    let mut edited = lines(&path);
    edited[4] = text(&edited[4]).replace("kari", "karl").into_bytes();
    std::fs::write(&path, edited.concat()).unwrap();
    let out = gateway(&["audit", "verify", file]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("Feil: linje 5: posten er endret etter at den ble skrevet"),
        "{stderr}"
    );
    assert!(stderr.contains("De 4 postene før den er hele."), "{stderr}");
    assert!(stderr.contains("Gjør dette:"), "{stderr}");

    let out = gateway(&["audit", "verify", file, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["intact"], false);
    assert_eq!(json["line"], 5);
    assert_eq!(json["problem"], "edited");

    let mut removed = lines(&path);
    removed.remove(4);
    std::fs::write(&path, removed.concat()).unwrap();
    let out = gateway(&["audit", "verify", file]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("Feil: linje 5: post nr. 5 mangler"));
}

#[test]
fn cli_verify_torn_tells_how_to_cut() {
    let (_dir, path) = tmp();
    write_log(&path, 3);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.pop();
    std::fs::write(&path, &bytes).unwrap();
    let out = gateway(&["audit", "verify", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("linje 3: siste linje er avkuttet"),
        "{stderr}"
    );
    let offset = lines(&path)[..2].concat().len();
    assert!(
        stderr.contains(&format!("truncate -s {offset} ")),
        "{stderr}"
    );
}

#[test]
fn cli_query_filters_by_user_time_and_kind() {
    let (_dir, path) = tmp();
    write_log(&path, 15);
    let file = path.to_str().unwrap();

    let out = gateway(&["audit", "query", file, "--user", "kari"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let shown: Vec<&str> = stdout.lines().collect();
    // i % 3 == 1 names kari; i % 5 == 2 names no user.
    let expected = (0..15).filter(|i| i % 3 == 1 && i % 5 != 2).count();
    assert_eq!(shown.len(), expected, "{stdout}");
    assert!(shown.iter().all(|l| l.contains(" kari ")), "{stdout}");
    assert!(
        shown[0].starts_with("2025-05-25T08:01:00.000Z  login-refused    kari"),
        "{stdout}"
    );
    assert!(shown[0].ends_with("wrong-password fra 192.0.2.7:50412"));
    assert!(text(&out.stderr).contains(&format!("{expected} poster passet.")));

    let out = gateway(&[
        "audit",
        "query",
        file,
        "--since",
        "2025-05-25T08:05:00Z",
        "--until",
        "2025-05-25T10:07:00+02:00",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let seqs: Vec<u64> = text(&out.stdout)
        .lines()
        .map(|l| AuditRecord::from_line(l).unwrap().seq)
        .collect();
    assert_eq!(seqs, [6, 7]);

    let out = gateway(&[
        "audit",
        "query",
        file,
        "--event",
        "session-ended,target-refused",
        "--since",
        "2025-05-25",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 6, "{stdout}");
    assert!(
        stdout.contains("card-removed etter 1 t 2 min 3 s"),
        "{stdout}"
    );

    let out = gateway(&["audit", "query", file, "--since", "i går"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("ugyldig tid"));

    let out = gateway(&["audit", "query", file, "--event", "login"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn cli_query_stops_at_a_broken_line() {
    let (_dir, path) = tmp();
    write_log(&path, 6);
    let mut edited = lines(&path);
    edited[3] = text(&edited[3])
        .replace("server-3", "server-4")
        .into_bytes();
    std::fs::write(&path, edited.concat()).unwrap();
    let out = gateway(&["audit", "query", path.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    // The sound records before the break, then the break on stderr as one JSON line.
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(report["line"], 4);
    assert_eq!(report["problem"], "edited");
}

#[test]
fn cli_missing_file_is_an_io_error() {
    let (_dir, path) = tmp();
    let out = gateway(&["audit", "verify", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5));
    assert!(text(&out.stderr).starts_with("Feil: Fant ikke revisjonsloggen"));
}

#[test]
fn cli_garbage_file_fails_cleanly() {
    let (_dir, path) = tmp();
    let mut junk = vec![b'{'; 200_000];
    junk.extend_from_slice(b"\n\xff\n");
    std::fs::write(&path, junk).unwrap();
    let out = gateway(&["audit", "verify", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("Feil: linje 1: linjen er lengre enn 65536 byte"));
}

/// A gateway started while another still holds the log (a restart while the old one drains)
/// waits, says so, and continues the chain once the first has stopped.
#[test]
fn a_second_gateway_waits_for_the_first_to_let_go_of_the_log() {
    use std::net::TcpStream;
    use support::world::{free_port, GatewayWorld, Proc, GATEWAY};
    let world = GatewayWorld::new();
    let first = world.start_gateway();
    let second_addr = free_port();
    let config = std::fs::read_to_string(world.dir.path().join("gateway.toml"))
        .unwrap()
        .replace(&world.gateway.to_string(), &second_addr.to_string());
    std::fs::write(world.dir.path().join("second.toml"), config).unwrap();
    let second = Proc(
        Command::new(GATEWAY)
            .arg("run")
            .arg(world.dir.path().join("second.toml"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(world.dir.path().join("second.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !world
        .log("second.log")
        .contains("Venter på at en annen gateway")
    {
        assert!(Instant::now() < deadline, "{}", world.log("second.log"));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        TcpStream::connect(second_addr).is_err(),
        "the second gateway must not serve while the first holds the log"
    );
    let term = Command::new("kill")
        .args(["-TERM", &first.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    while TcpStream::connect(second_addr).is_err() {
        assert!(
            Instant::now() < deadline + Duration::from_secs(20),
            "the second gateway never took over: {}",
            world.log("second.log")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(second);
    drop(first);
    let text = std::fs::read_to_string(world.audit_path()).unwrap();
    assert_eq!(text.matches("\"gateway-started\"").count(), 2, "{text}");
    hjemmekontor::gateway::audit::verify(std::io::BufReader::new(text.as_bytes())).unwrap();
}
