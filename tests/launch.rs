//! `connect --launch`: the spawner with a stand-in remote-desktop program (no standard input,
//! its output kept out of ours, reaped, its exit code reported, its `.rdp` file there while it
//! runs and gone after); `connect --launch --json` starting a stand-in `xfreerdp` against its
//! listener and reporting `rdp-exited`; and a gateway group's sharing arriving at the client in
//! `accepted`.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hjemmekontor::client::launch::{self, Plan, Redirect};
use serde_json::{json, Value};

use support::inproc::{office_pc, users, InProcessGateway, PASSWORD};
use support::softhsm::{require_softhsm, Token};
use support::world::GatewayWorld;

/// Set in the environment of the helper run below: the directory of the stand-in.
const HELPER_DIR: &str = "HJEMMEKONTOR_LAUNCH_HELPER_DIR";

/// A stand-in for mstsc: records its arguments, the `.rdp` file it was given and its standard
/// input, writes to both its outputs, and exits 3.
#[cfg(unix)]
fn write_stand_in(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("stand-in");
    let d = dir.display();
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             printf '%s\\n' \"$@\" > '{d}/argv'\n\
             cat \"$1\" > '{d}/seen.rdp'\n\
             cat > '{d}/stdin'\n\
             echo 'stray line from the remote desktop'\n\
             echo 'stray error from the remote desktop' >&2\n\
             exit 3\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// Not a test of its own: run by the test below as a child process whose standard input holds
/// a PIN and whose output is captured, it starts the stand-in and writes what it saw to
/// `report.json`. Without the variable it does nothing.
#[test]
fn helper_starts_the_stand_in() {
    let Some(dir) = std::env::var_os(HELPER_DIR).map(PathBuf::from) else {
        return;
    };
    // The sentence below is read in bokmål, whatever the machine's locale.
    hjemmekontor::i18n::set(hjemmekontor::i18n::Lang::Nb);
    let rdp = dir.join("session.rdp");
    let plan = Plan {
        program: dir.join("stand-in").display().to_string(),
        args: vec![rdp.clone().into(), "to ord".into()],
        rdp_file: Some((rdp.clone(), "full address:s:127.0.0.1:13389\r\n".into())),
    };
    let (tx, rx) = mpsc::channel();
    let started = launch::start(plan, &dir.join("rdp.log"), move |exited| {
        let _ = tx.send(exited);
    })
    .expect("the stand-in starts");
    let exited = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("its exit is reported");
    // Reaped: once waited for, the process is gone, not a zombie (Linux shows both in /proc).
    let proc_entry = PathBuf::from(format!("/proc/{}", started.pid));
    let report = json!({
        "code": exited.code,
        "log": exited.log,
        "sentence": exited.sentence(),
        "zombie_or_running": proc_entry.exists(),
        "rdp_file_left": rdp.exists(),
    });
    std::fs::write(dir.join("report.json"), report.to_string()).unwrap();
}

#[cfg(unix)]
#[test]
fn the_launched_program_gets_no_input_keeps_out_of_our_output_and_its_exit_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_stand_in(dir.path());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["helper_starts_the_stand_in", "--exact", "--nocapture"])
        .env(HELPER_DIR, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // What `connect --pin-stdin` would be reading: the stand-in must not see it.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"123456\nhemmelig-passord\n").unwrap();
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the helper did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        !stdout.contains("stray") && !stderr.contains("stray"),
        "the program's output reached ours:\n{stdout}\n{stderr}"
    );

    let d = dir.path();
    let read = |name: &str| std::fs::read_to_string(d.join(name)).unwrap();
    let report: Value = serde_json::from_str(&read("report.json")).unwrap();
    assert_eq!(report["code"], 3, "{report}");
    assert_eq!(report["zombie_or_running"], false, "{report}");
    assert_eq!(
        report["sentence"],
        format!(
            "Fjernskrivebordet ble avsluttet (kode 3). Det skrev dette i {}.",
            d.join("rdp.log").display()
        )
    );
    assert_eq!(read("stdin"), "", "the program read our standard input");
    let rdp = d.join("session.rdp").display().to_string();
    assert_eq!(read("argv"), format!("{rdp}\nto ord\n"));
    assert_eq!(read("seen.rdp"), "full address:s:127.0.0.1:13389\r\n");
    assert_eq!(report["rdp_file_left"], false, "the .rdp file outlived it");
    // It failed, so its output is kept for support, in the log and nowhere else.
    let log = read("rdp.log");
    assert!(
        log.contains("stray line") && log.contains("stray error"),
        "{log}"
    );
}

#[test]
fn a_program_that_is_not_there_is_a_spawn_error_and_leaves_no_files() {
    let dir = tempfile::tempdir().unwrap();
    let rdp = dir.path().join("x.rdp");
    let plan = Plan {
        program: dir.path().join("finnes-ikke").display().to_string(),
        args: vec![rdp.clone().into()],
        rdp_file: Some((rdp.clone(), "full address:s:127.0.0.1:1\r\n".into())),
    };
    let err = launch::start(plan, &dir.path().join("x.log"), |_| {}).unwrap_err();
    assert!(matches!(err, launch::LaunchError::Spawn { .. }), "{err:?}");
    assert!(err.message().starts_with("Kunne ikke starte"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_forbids_printing_says_so_in_accepted() {
    let office = office_pc();
    let users = users();
    let rest = format!(
        r#"{users}
[[group]]
id = "legevakt"
name = "Legevakt"
kind = "legevakt"
redirect_printers = false

[[group]]
id = "legesenter"
name = "Legesenter"
kind = "legesenter"

[[machine]]
id = "lv-pc"
name = "Legevakt-PC"
address = "{office}"
group = "legevakt"

[[machine]]
id = "kontor-pc"
name = "Kontor-PC"
address = "{office}"
group = "legesenter"

[[machine]]
id = "egen-pc"
name = "PC uten gruppe"
address = "{office}"

[[grant]]
user = "ase"
machines = ["lv-pc", "kontor-pc", "egen-pc"]
"#
    );
    let gateway = InProcessGateway::start(&rest).await;
    let tunnel = gateway
        .login("person-high", "ase", PASSWORD)
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    let redirect_of = |id: &str| {
        tunnel
            .accepted
            .targets
            .iter()
            .find(|t| t.id == id)
            .unwrap_or_else(|| panic!("{id} not among {:?}", tunnel.accepted.targets))
            .redirect
    };
    assert_eq!(
        redirect_of("lv-pc"),
        Redirect {
            printers: false,
            clipboard: false,
            drives: false
        }
    );
    assert_eq!(redirect_of("kontor-pc"), Redirect::default());
    assert_eq!(redirect_of("egen-pc"), Redirect::default());
    assert!(Redirect::default().printers);
    hjemmekontor::client::session::close(
        &tunnel,
        hjemmekontor::tunnel::protocol::ClientEndReason::ClientClosed,
    )
    .await;
    gateway.stop().await;
}

/// A stand-in `xfreerdp`: records its arguments and where its standard input comes from,
/// writes a JSON-looking line to its output (which must not reach `--json`), exits 3.
#[cfg(target_os = "linux")]
fn write_stand_in_freerdp(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("xfreerdp");
    let d = dir.display();
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             printf '%s\\n' \"$@\" > '{d}/argv'\n\
             readlink /proc/self/fd/0 > '{d}/stdin-is'\n\
             echo '{{\"event\":\"stray-from-the-remote-desktop\"}}'\n\
             exit 3\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn connect_launch_starts_freerdp_against_the_tunnel_and_reports_its_exit() {
    if !require_softhsm("connect_launch") {
        return;
    }
    let token = Token::with(&["person-high"]);
    let bin = tempfile::tempdir().unwrap();
    write_stand_in_freerdp(bin.path());
    let path = std::env::join_paths(std::iter::once(bin.path().to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let world = GatewayWorld::new();
    let _gateway = world.start_gateway();
    let module = token.module.to_str().unwrap().to_string();
    let args = [
        "--backend",
        "pkcs11",
        "--pkcs11-module",
        &module,
        "--no-reconnect",
        "--launch",
    ];
    // An X11 session, whatever the machine running the tests has.
    let env = [
        token.env()[0],
        ("PATH", path.as_os_str()),
        ("DISPLAY", ":99".as_ref()),
        ("WAYLAND_DISPLAY", "".as_ref()),
        ("XDG_SESSION_TYPE", "x11".as_ref()),
        // The program's log is kept (it failed), here rather than in the machine's temp dir.
        ("TMPDIR", bin.path().as_os_str()),
    ];
    let (_client, events) = world.connect_with(support::world::PASSWORD, &args, &env);
    let up = events.next("tunnel-up", &world);
    assert_eq!(up["event"], "tunnel-up", "{up}");
    // The next line is ours: the stand-in's JSON-looking line went to its log.
    let exited = events.next("rdp-exited", &world);
    assert_eq!(
        exited,
        json!({"event": "rdp-exited", "code": 3}),
        "client log:\n{}",
        world.log("client.log")
    );
    let read = |name: &str| std::fs::read_to_string(bin.path().join(name)).unwrap();
    assert_eq!(read("stdin-is").trim(), "/dev/null");
    let argv: Vec<String> = read("argv").lines().map(String::from).collect();
    assert_eq!(argv[0], format!("/v:{}", events.listen));
    assert!(argv.contains(&"/cert:tofu".to_string()), "{argv:?}");
    assert!(argv.contains(&"/printer".to_string()), "{argv:?}");
    assert!(argv.contains(&"-clipboard".to_string()), "{argv:?}");
    let kept: Vec<PathBuf> = std::fs::read_dir(bin.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-rdp.log"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let rdp_log = std::fs::read_to_string(&kept[0]).unwrap();
    assert!(
        rdp_log.contains("stray-from-the-remote-desktop"),
        "{rdp_log}"
    );
    let log = world.log("client.log");
    assert!(log.contains("Startet xfreerdp."), "{log}");
    assert!(
        log.contains("Fjernskrivebordet ble avsluttet (kode 3)."),
        "{log}"
    );
}
