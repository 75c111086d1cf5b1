//! `connect --launch`: the system's remote-desktop program, pointed at the tunnel's local
//! listener with the sharing the gateway allows ([`Redirect`]).
//!
//! Pure builders decide what to run: which program ([`find_client`]), the `.rdp` file of the
//! Microsoft clients ([`rdp_file`]) and FreeRDP's arguments ([`freerdp_args`]), put together
//! by [`plan`]. The thin spawner ([`start`]) writes the `.rdp` file, runs the program with no
//! standard input and its output in a log file (so it never steals a prompt from us or writes
//! into `--json`), waits for it on a thread of its own (no zombie), and reports its exit.
//! [`launch`] is the whole edge: this computer's system, environment, `PATH` and temp dir.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::i18n::catalogue::launch as m;

pub use crate::tunnel::protocol::Redirect;

/// The operating system, as far as launching goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Windows: `mstsc` with a `.rdp` file.
    Windows,
    /// macOS: `open` on a `.rdp` file (the Microsoft client registers for them).
    MacOs,
    /// Linux and other Unix desktops: FreeRDP.
    Linux,
}

impl Os {
    /// The system this program was built for.
    pub fn this() -> Os {
        if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        }
    }
}

/// The graphical session on Linux, from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Wayland; `x11_too` when XWayland offers a `DISPLAY` as well.
    Wayland {
        /// X11 programs can run too.
        x11_too: bool,
    },
    /// X11 only.
    X11,
    /// No graphical session (a console, ssh without forwarding).
    None,
}

/// Reads the session kind from environment variables (`get` is `std::env::var_os` at the edge).
pub fn display_of(get: &dyn Fn(&str) -> Option<OsString>) -> Display {
    let set = |name: &str| get(name).is_some_and(|v| !v.is_empty());
    let wayland = set("WAYLAND_DISPLAY")
        || get("XDG_SESSION_TYPE").is_some_and(|v| v.eq_ignore_ascii_case("wayland"));
    match (wayland, set("DISPLAY")) {
        (true, x11_too) => Display::Wayland { x11_too },
        (false, true) => Display::X11,
        (false, false) => Display::None,
    }
}

/// The FreeRDP clients we know, by program name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeRdp {
    /// FreeRDP 3's SDL client (`sdl-freerdp3`): X11 and Wayland, and the only one that asks
    /// for the Windows password and about certificates in a window.
    Sdl3,
    /// FreeRDP 3's Wayland client (`wlfreerdp3`).
    Wayland3,
    /// FreeRDP 2's Wayland client (`wlfreerdp`).
    Wayland2,
    /// FreeRDP 3's X11 client (`xfreerdp3`).
    X3,
    /// FreeRDP 2's X11 client (`xfreerdp`; an upstream FreeRDP 3 build installs this name too,
    /// which is why every argument below is written the way both versions read it).
    X2,
}

impl FreeRdp {
    /// The program's name.
    pub fn program(self) -> &'static str {
        match self {
            FreeRdp::Sdl3 => "sdl-freerdp3",
            FreeRdp::Wayland3 => "wlfreerdp3",
            FreeRdp::Wayland2 => "wlfreerdp",
            FreeRdp::X3 => "xfreerdp3",
            FreeRdp::X2 => "xfreerdp",
        }
    }

    /// Whether it asks for credentials in a window. The others ask on a terminal, which a
    /// launched program never gets from us.
    pub fn asks_in_a_window(self) -> bool {
        self == FreeRdp::Sdl3
    }
}

/// The clients to try in a session, best first. SDL comes first because it can ask for the
/// Windows password in a window (needed for Network Level Authentication); then the session's
/// native client, FreeRDP 3 before 2.
pub fn freerdp_order(display: Display) -> &'static [FreeRdp] {
    use FreeRdp::*;
    match display {
        Display::Wayland { x11_too: true } => &[Sdl3, Wayland3, Wayland2, X3, X2],
        Display::Wayland { x11_too: false } => &[Sdl3, Wayland3, Wayland2],
        Display::X11 => &[Sdl3, X3, X2],
        Display::None => &[],
    }
}

/// The remote-desktop program to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// Windows' own Remote Desktop Connection, given a `.rdp` file.
    Mstsc,
    /// macOS: `open -W` on a `.rdp` file, which starts the Microsoft client and waits for it.
    MacOpen,
    /// A FreeRDP client, given arguments.
    FreeRdp(FreeRdp),
}

/// Why the remote desktop could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// Linux without X11 or Wayland: nothing could show a window.
    #[error("no graphical session (neither DISPLAY nor WAYLAND_DISPLAY is set)")]
    NoDisplay,
    /// None of the FreeRDP clients is installed.
    #[error("no FreeRDP client found (tried {})", tried.join(", "))]
    NoClient {
        /// The program names looked for.
        tried: Vec<&'static str>,
    },
    /// The `.rdp` file or the log could not be written.
    #[error("cannot write {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The program could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// What the system said.
        source: std::io::Error,
    },
}

impl LaunchError {
    /// What went wrong, for the person, in the run's language.
    pub fn message(&self) -> String {
        match self {
            LaunchError::NoDisplay => m::NO_DISPLAY.text(),
            LaunchError::NoClient { tried } => m::NO_CLIENT.with(&[("tried", &tried.join(", "))]),
            LaunchError::File { path, source } => {
                m::FILE.with(&[("path", &path.display()), ("error", source)])
            }
            LaunchError::Spawn { program, source } => {
                m::SPAWN.with(&[("program", program), ("error", source)])
            }
        }
    }

    /// What to do about it, in the run's language. The tunnel stays up either way.
    pub fn fix(&self, addr: SocketAddr) -> String {
        let fix = match self {
            LaunchError::NoDisplay => m::NO_DISPLAY_FIX,
            LaunchError::NoClient { .. } => m::NO_CLIENT_FIX,
            LaunchError::File { .. } => m::FILE_FIX,
            LaunchError::Spawn { .. } => m::SPAWN_FIX,
        };
        fix.with(&[("addr", &addr)])
    }
}

/// The first installed program of the session's FreeRDP clients, or `None`.
pub fn choose_freerdp(display: Display, installed: &dyn Fn(&str) -> bool) -> Option<FreeRdp> {
    freerdp_order(display)
        .iter()
        .copied()
        .find(|c| installed(c.program()))
}

/// The program for this system and session. Pure: the environment and what is installed are
/// asked through `env` and `installed`.
pub fn find_client(
    os: Os,
    env: &dyn Fn(&str) -> Option<OsString>,
    installed: &dyn Fn(&str) -> bool,
) -> Result<Client, LaunchError> {
    match os {
        Os::Windows => Ok(Client::Mstsc),
        Os::MacOs => Ok(Client::MacOpen),
        Os::Linux => {
            let display = display_of(env);
            if display == Display::None {
                return Err(LaunchError::NoDisplay);
            }
            choose_freerdp(display, installed)
                .map(Client::FreeRdp)
                .ok_or_else(|| LaunchError::NoClient {
                    tried: freerdp_order(display).iter().map(|c| c.program()).collect(),
                })
        }
    }
}

/// Where the remote-desktop program connects: the listener, or loopback when the listener
/// takes every address (`0.0.0.0`, `::`).
pub fn connect_address(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, listen.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, listen.port()).into(),
        _ => listen,
    }
}

/// The `.rdp` file for mstsc and the Microsoft clients on macOS (CRLF lines, ASCII).
///
/// Beyond the address and the sharing the gateway allows:
/// - `prompt for credentials:i:1`: every office PC is «127.0.0.1» to this computer, so a
///   saved Windows password would be offered to each of them; and a password should not be
///   left on a home computer. The Windows password is asked each time.
/// - `enablecredsspsupport:i:1`: Network Level Authentication works through the tunnel (it is
///   plain TCP to the office PC), and office PCs usually require it.
/// - `authentication level:i:2`: the office PC's certificate is its own, self-signed, and
///   never names 127.0.0.1, so the client warns and lets the person accept it (and remember
///   it), rather than refusing outright (0 would not even warn).
/// - `autoreconnection enabled:i:1`: after a network drop the tunnel comes back on the same
///   port, and the session with it.
/// - `devicestoredirect`, `usbdevicestoredirect` empty, `redirectcomports:i:0`: phones,
///   cameras, USB and serial devices can hold files, so none is offered.
pub fn rdp_file(addr: SocketAddr, redirect: Redirect) -> String {
    let flag = |on: bool| u8::from(on);
    let lines = [
        format!("full address:s:{addr}"),
        "prompt for credentials:i:1".into(),
        "enablecredsspsupport:i:1".into(),
        "authentication level:i:2".into(),
        "autoreconnection enabled:i:1".into(),
        format!("redirectprinters:i:{}", flag(redirect.printers)),
        format!("redirectclipboard:i:{}", flag(redirect.clipboard)),
        format!("redirectdrives:i:{}", flag(redirect.drives)),
        format!(
            "drivestoredirect:s:{}",
            if redirect.drives { "*" } else { "" }
        ),
        "devicestoredirect:s:".into(),
        "usbdevicestoredirect:s:".into(),
        "redirectcomports:i:0".into(),
    ];
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    text
}

/// FreeRDP's arguments, in the form both FreeRDP 2 and 3 read.
///
/// - `/cert:tofu`: the certificate checked is the office PC's own, self-signed one (the tunnel
///   to the gateway is already authenticated). FreeRDP asks about an unknown certificate on a
///   terminal and gives up without one, and `/cert:ignore` would never notice a different
///   machine answering. Trust on first use accepts it the first time and remembers it in
///   FreeRDP's `known_hosts`; a changed one is then refused.
/// - `/dynamic-resolution`: the office desktop follows the window's size.
/// - `+auto-reconnect`: after a network drop the tunnel comes back on the same port.
/// - `/printer` when printers may be shared (the default printer); `-clipboard` unless the
///   clipboard may be (FreeRDP shares it by default); `+drives` only when drives may be
///   (FreeRDP shares none by default).
/// - `-sec-nla` for the clients that can only ask for a password on a terminal: with NLA
///   they would stop at that question; without it the office PC shows its own Windows logon.
///   An office PC that requires NLA needs `sdl-freerdp3`, which asks in a window.
pub fn freerdp_args(client: FreeRdp, addr: SocketAddr, redirect: Redirect) -> Vec<String> {
    let mut args = vec![
        format!("/v:{addr}"),
        "/cert:tofu".into(),
        "/dynamic-resolution".into(),
        "+auto-reconnect".into(),
    ];
    if redirect.printers {
        args.push("/printer".into());
    }
    args.push(
        if redirect.clipboard {
            "+clipboard"
        } else {
            "-clipboard"
        }
        .into(),
    );
    if redirect.drives {
        args.push("+drives".into());
    }
    if !client.asks_in_a_window() {
        args.push("-sec-nla".into());
    }
    args
}

/// What to run: the program, its arguments, and the `.rdp` file to write first, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The program (looked up in `PATH`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// The `.rdp` file to write before starting, and its text.
    pub rdp_file: Option<(PathBuf, String)>,
}

/// Puts a client, the address and the sharing together. `rdp_path` is where a `.rdp` file
/// goes, if the client takes one.
pub fn plan(client: Client, addr: SocketAddr, redirect: Redirect, rdp_path: &Path) -> Plan {
    let with_file = |program: &str, pre: &[&str]| Plan {
        program: program.into(),
        args: pre
            .iter()
            .map(OsString::from)
            .chain([rdp_path.as_os_str().to_owned()])
            .collect(),
        rdp_file: Some((rdp_path.to_path_buf(), rdp_file(addr, redirect))),
    };
    match client {
        Client::Mstsc => with_file("mstsc", &[]),
        // -W: wait until the client quits, so the file is there for as long as it may read it.
        Client::MacOpen => with_file("open", &["-W"]),
        Client::FreeRdp(f) => Plan {
            program: f.program().into(),
            args: freerdp_args(f, addr, redirect)
                .into_iter()
                .map(OsString::from)
                .collect(),
            rdp_file: None,
        },
    }
}

/// Whether `name` is an executable file in one of the `PATH` directories (`is_file` asks the
/// disk at the edge).
pub fn in_path(name: &str, path: Option<&OsString>, is_file: &dyn Fn(&Path) -> bool) -> bool {
    path.is_some_and(|p| std::env::split_paths(p).any(|dir| is_file(&dir.join(name))))
}

/// How the remote-desktop program ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exited {
    /// The program.
    pub program: String,
    /// Its exit code (`None`: ended by a signal, or it could not be waited for).
    pub code: Option<i32>,
    /// Its output, kept when it failed; removed when it ended well.
    pub log: Option<PathBuf>,
}

impl Exited {
    /// The sentence to show, in the run's language.
    pub fn sentence(&self) -> String {
        let how = match self.code {
            Some(code) => m::EXITED_WITH.with(&[("code", &code)]),
            None => m::EXITED.text(),
        };
        match &self.log {
            Some(log) => m::WROTE_LOG.with(&[("how", &how), ("log", &log.display())]),
            None => how,
        }
    }
}

/// A started remote-desktop program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The program.
    pub program: String,
    /// Its process id.
    pub pid: u32,
}

/// Writes the plan's `.rdp` file, starts the program with no standard input and its output in
/// `log`, and waits for it on a thread of its own; `on_exit` is called there once it ended
/// (the `.rdp` file is then removed, and the log too unless the program failed).
pub fn start(
    plan: Plan,
    log: &Path,
    on_exit: impl FnOnce(Exited) + Send + 'static,
) -> Result<Started, LaunchError> {
    if let Some((path, text)) = &plan.rdp_file {
        write_new(path, text.as_bytes())?;
    }
    let cleanup = |plan: &Plan| {
        if let Some((path, _)) = &plan.rdp_file {
            let _ = std::fs::remove_file(path);
        }
    };
    let output = match write_new(log, b"") {
        Ok(file) => file,
        Err(e) => {
            cleanup(&plan);
            return Err(e);
        }
    };
    let spawned = output.try_clone().and_then(|err| {
        Command::new(&plan.program)
            .args(&plan.args)
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(err)
            .spawn()
    });
    let mut child = match spawned {
        Ok(child) => child,
        Err(source) => {
            cleanup(&plan);
            let _ = std::fs::remove_file(log);
            return Err(LaunchError::Spawn {
                program: plan.program,
                source,
            });
        }
    };
    let started = Started {
        program: plan.program.clone(),
        pid: child.id(),
    };
    let log = log.to_path_buf();
    let reaper = std::thread::Builder::new()
        .name("rdp-wait".into())
        .spawn(move || {
            let code = child.wait().ok().and_then(|s| s.code());
            cleanup(&plan);
            on_exit(Exited {
                program: plan.program,
                code,
                log: keep_log(log, code),
            });
        });
    if let Err(e) = reaper {
        // No thread left to wait on: the program runs on, its exit goes unreported, and it is
        // reaped only when we exit. Rare enough (the system is out of threads) to only log.
        tracing::warn!("cannot wait for the remote desktop: {e}");
    }
    Ok(started)
}

/// The log when the program failed and wrote something; otherwise removed.
fn keep_log(log: PathBuf, code: Option<i32>) -> Option<PathBuf> {
    let wrote = std::fs::metadata(&log).is_ok_and(|m| m.len() > 0);
    if code != Some(0) && wrote {
        Some(log)
    } else {
        let _ = std::fs::remove_file(&log);
        None
    }
}

/// Creates a new file (never one that is there already, so nobody can plant a link in a
/// shared temp dir), readable by its owner only, with `bytes` in it.
fn write_new(path: &Path, bytes: &[u8]) -> Result<File, LaunchError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let fail = |source| LaunchError::File {
        path: path.to_path_buf(),
        source,
    };
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    Ok(file)
}

/// A name no other run uses: `hjemmekontor-` and 16 random hex digits.
fn unique_stem() -> String {
    let mut bytes = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("hjemmekontor-{hex}")
}

/// Starts the remote desktop of this computer against `listen`, sharing what `redirect`
/// allows; `on_exit` is called once it ends. The `.rdp` file and the log go in the user's
/// temp dir.
pub fn launch(
    listen: SocketAddr,
    redirect: Redirect,
    on_exit: impl FnOnce(Exited) + Send + 'static,
) -> Result<Started, LaunchError> {
    let path = std::env::var_os("PATH");
    let installed = |name: &str| in_path(name, path.as_ref(), &|p: &Path| p.is_file());
    let client = find_client(Os::this(), &|name| std::env::var_os(name), &installed)?;
    let dir = std::env::temp_dir();
    let stem = unique_stem();
    let plan = plan(
        client,
        connect_address(listen),
        redirect,
        &dir.join(format!("{stem}.rdp")),
    );
    start(plan, &dir.join(format!("{stem}-rdp.log")), on_exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:13389".parse().unwrap()
    }

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_default_rdp_file_shares_printers_only() {
        let text = rdp_file(addr(), Redirect::default());
        assert_eq!(
            text,
            "full address:s:127.0.0.1:13389\r\n\
             prompt for credentials:i:1\r\n\
             enablecredsspsupport:i:1\r\n\
             authentication level:i:2\r\n\
             autoreconnection enabled:i:1\r\n\
             redirectprinters:i:1\r\n\
             redirectclipboard:i:0\r\n\
             redirectdrives:i:0\r\n\
             drivestoredirect:s:\r\n\
             devicestoredirect:s:\r\n\
             usbdevicestoredirect:s:\r\n\
             redirectcomports:i:0\r\n"
        );
    }

    #[test]
    fn a_group_that_forbids_printing_and_allows_the_clipboard_gets_that() {
        let redirect = Redirect {
            printers: false,
            clipboard: true,
            drives: false,
        };
        let text = rdp_file(addr(), redirect);
        assert!(text.contains("redirectprinters:i:0\r\n"));
        assert!(text.contains("redirectclipboard:i:1\r\n"));
        assert!(text.contains("redirectdrives:i:0\r\ndrivestoredirect:s:\r\n"));
        let drives = rdp_file(
            addr(),
            Redirect {
                drives: true,
                ..Redirect::default()
            },
        );
        assert!(drives.contains("redirectdrives:i:1\r\ndrivestoredirect:s:*\r\n"));
    }

    #[test]
    fn freerdp_gets_the_same_sharing_as_arguments() {
        for client in [
            FreeRdp::Sdl3,
            FreeRdp::Wayland3,
            FreeRdp::Wayland2,
            FreeRdp::X3,
            FreeRdp::X2,
        ] {
            let args = freerdp_args(client, addr(), Redirect::default());
            let mut want = vec![
                "/v:127.0.0.1:13389",
                "/cert:tofu",
                "/dynamic-resolution",
                "+auto-reconnect",
                "/printer",
                "-clipboard",
            ];
            if client != FreeRdp::Sdl3 {
                want.push("-sec-nla");
            }
            assert_eq!(args, want, "{client:?}");
            assert!(!args.iter().any(|a| a.contains("drive")), "{client:?}");
        }
        let open = Redirect {
            printers: false,
            clipboard: true,
            drives: true,
        };
        assert_eq!(
            freerdp_args(FreeRdp::Sdl3, addr(), open),
            [
                "/v:127.0.0.1:13389",
                "/cert:tofu",
                "/dynamic-resolution",
                "+auto-reconnect",
                "+clipboard",
                "+drives"
            ]
        );
    }

    #[test]
    fn the_session_decides_which_freerdp_is_preferred() {
        assert_eq!(
            display_of(&env(&[("WAYLAND_DISPLAY", "wayland-0"), ("DISPLAY", ":0")])),
            Display::Wayland { x11_too: true }
        );
        assert_eq!(
            display_of(&env(&[("XDG_SESSION_TYPE", "wayland")])),
            Display::Wayland { x11_too: false }
        );
        assert_eq!(display_of(&env(&[("DISPLAY", ":0")])), Display::X11);
        assert_eq!(display_of(&env(&[("DISPLAY", "")])), Display::None);

        let only = |names: &'static [&'static str]| move |n: &str| names.contains(&n);
        let wayland = Display::Wayland { x11_too: true };
        assert_eq!(
            choose_freerdp(wayland, &only(&["xfreerdp", "wlfreerdp"])),
            Some(FreeRdp::Wayland2)
        );
        assert_eq!(
            choose_freerdp(wayland, &only(&["xfreerdp"])),
            Some(FreeRdp::X2)
        );
        assert_eq!(
            choose_freerdp(Display::Wayland { x11_too: false }, &only(&["xfreerdp"])),
            None
        );
        assert_eq!(
            choose_freerdp(Display::X11, &only(&["xfreerdp", "xfreerdp3", "wlfreerdp"])),
            Some(FreeRdp::X3)
        );
        assert_eq!(
            choose_freerdp(Display::X11, &only(&["xfreerdp", "sdl-freerdp3"])),
            Some(FreeRdp::Sdl3)
        );
    }

    #[test]
    fn find_client_explains_what_is_missing() {
        let none = |_: &str| false;
        assert_eq!(
            find_client(Os::Windows, &env(&[]), &none).unwrap(),
            Client::Mstsc
        );
        assert_eq!(
            find_client(Os::MacOs, &env(&[]), &none).unwrap(),
            Client::MacOpen
        );
        assert!(matches!(
            find_client(Os::Linux, &env(&[]), &none),
            Err(LaunchError::NoDisplay)
        ));
        let Err(LaunchError::NoClient { tried }) =
            find_client(Os::Linux, &env(&[("DISPLAY", ":0")]), &none)
        else {
            panic!("a missing FreeRDP is not NoClient");
        };
        assert_eq!(tried, ["sdl-freerdp3", "xfreerdp3", "xfreerdp"]);
        let e = LaunchError::NoClient { tried };
        assert!(e.message().contains("xfreerdp3"));
        assert!(e.fix(addr()).contains("127.0.0.1:13389"));
    }

    #[test]
    fn each_client_is_planned_with_its_file_or_its_arguments() {
        let file = Path::new("tmp").join("hjemmekontor-00.rdp");
        let windows = plan(Client::Mstsc, addr(), Redirect::default(), &file);
        assert_eq!(windows.program, "mstsc");
        assert_eq!(windows.args, [file.as_os_str()]);
        let (path, text) = windows.rdp_file.unwrap();
        assert_eq!(path, file);
        assert_eq!(text, rdp_file(addr(), Redirect::default()));

        let mac = plan(Client::MacOpen, addr(), Redirect::default(), &file);
        assert_eq!(mac.program, "open");
        assert_eq!(mac.args, [OsString::from("-W"), file.clone().into()]);
        assert!(mac.rdp_file.is_some());

        let linux = plan(
            Client::FreeRdp(FreeRdp::X2),
            addr(),
            Redirect::default(),
            &file,
        );
        assert_eq!(linux.program, "xfreerdp");
        assert_eq!(linux.args[0], "/v:127.0.0.1:13389");
        assert!(linux.rdp_file.is_none());
    }

    #[test]
    fn a_listener_on_every_address_is_reached_on_loopback() {
        assert_eq!(connect_address("0.0.0.0:13389".parse().unwrap()), addr());
        assert_eq!(
            connect_address("[::]:13389".parse().unwrap()).to_string(),
            "[::1]:13389"
        );
        assert_eq!(
            connect_address("127.0.0.2:4000".parse().unwrap()).to_string(),
            "127.0.0.2:4000"
        );
    }

    #[test]
    fn path_lookup_joins_each_directory() {
        let path = std::env::join_paths(["/opt/a", "/usr/bin"]).unwrap();
        let is_file = |p: &Path| p == Path::new("/usr/bin/xfreerdp");
        assert!(in_path("xfreerdp", Some(&path), &is_file));
        assert!(!in_path("wlfreerdp", Some(&path), &is_file));
        assert!(!in_path("xfreerdp", None, &is_file));
    }

    #[test]
    fn the_exit_is_said_with_its_code_and_the_log_when_kept() {
        let exited = Exited {
            program: "xfreerdp".into(),
            code: Some(3),
            log: None,
        };
        assert_eq!(
            exited.sentence(),
            "Fjernskrivebordet ble avsluttet (kode 3)."
        );
        let with_log = Exited {
            log: Some(PathBuf::from("rdp.log")),
            ..exited
        };
        assert!(with_log.sentence().ends_with("Det skrev dette i rdp.log."));
        let english = crate::i18n::with_lang(crate::i18n::Lang::En, || with_log.sentence());
        assert_eq!(
            english,
            "The remote desktop ended (code 3). What it wrote is in rdp.log."
        );
    }
}
