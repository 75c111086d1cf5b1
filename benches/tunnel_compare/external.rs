//! stunnel and `ssh -L`, set up the way an operator would for the same job: TLS 1.3 with
//! AES-256-GCM for stunnel, `aes256-gcm@openssh.com` for ssh, both on 127.0.0.1, every
//! configuration file and key in the run's scratch directory.

use std::net::SocketAddr;
use std::path::Path as FsPath;
use std::process::{Command, Stdio};

use crate::paths::{free_port, start_listening, write, Path};

/// The first of `names` found on PATH or in `dirs`.
fn program(names: &[&str]) -> std::io::Result<String> {
    for name in names {
        for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"] {
            let path = format!("{dir}/{name}");
            if FsPath::new(&path).exists() {
                return Ok(path);
            }
        }
    }
    Err(std::io::Error::other(format!(
        "{} is not installed (installer/dev/bench.sh installs it)",
        names[0]
    )))
}

/// stunnel's settings for one side: TLS 1.3 only, the one suite, critical errors only in its
/// log (the readiness probe's connection that closes at once would be an error).
fn stunnel_config(service: &str) -> String {
    format!(
        "foreground = yes\npid =\ndebug = crit\n\n[{service}]\nsslVersionMin = TLSv1.3\n\
         ciphersuites = TLS_AES_256_GCM_SHA384\n"
    )
}

/// A stunnel server in front of `target` with the TEST PKI's gateway certificate, and a
/// stunnel client that checks that certificate's chain against the TEST root.
pub fn stunnel(dir: &FsPath, pki: &FsPath, target: SocketAddr) -> std::io::Result<Path> {
    let exe = program(&["stunnel4", "stunnel"])?;
    let server_port = free_port()?;
    let server = format!(
        "{}accept = 127.0.0.1:{server_port}\nconnect = {target}\ncert = {}\nkey = {}\n",
        stunnel_config("server"),
        pki.join("gateway-chain.pem").display(),
        pki.join("gateway.key").display(),
    );
    let server = write(dir, "stunnel-server.conf", &server)?;
    let mut command = Command::new(&exe);
    command.arg(&server);
    let servers = vec![start_listening(command, server_port, "the stunnel server")?];
    let root = pki.join("root-ca.pem");
    let dir = dir.to_path_buf();
    let client = move |port: u16| {
        let text = format!(
            "{}client = yes\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{server_port}\n\
             verifyChain = yes\nCAfile = {}\n",
            stunnel_config("client"),
            root.display(),
        );
        let conf = write(&dir, "stunnel-client.conf", &text).expect("stunnel client config");
        let mut command = Command::new(&exe);
        command.arg(conf).stdin(Stdio::null());
        command
    };
    Ok(Path::new("stunnel", servers, Box::new(client)))
}

fn keygen(path: &FsPath) -> std::io::Result<()> {
    let status = Command::new(program(&["ssh-keygen"])?)
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other("ssh-keygen failed"))
    }
}

/// Who runs the bench: ssh logs in as the same user (sshd runs as that user too).
fn user() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "root".into())
}

/// A throwaway sshd on a free port with its own host key and one authorized key, and an
/// `ssh -N -L` to `target` through it.
pub fn ssh(dir: &FsPath, target: SocketAddr) -> std::io::Result<Path> {
    let sshd = program(&["sshd"])?;
    let ssh = program(&["ssh"])?;
    let (host_key, user_key) = (dir.join("ssh-host-key"), dir.join("ssh-user-key"));
    keygen(&host_key)?;
    keygen(&user_key)?;
    let public = std::fs::read_to_string(user_key.with_extension("pub"))?;
    let authorized = write(dir, "authorized_keys", &public)?;
    // sshd refuses to start without its privilege separation directory.
    std::fs::create_dir_all("/run/sshd")?;
    let port = free_port()?;
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile none\n\
         PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
         Ciphers aes256-gcm@openssh.com\nAllowTcpForwarding yes\nLogLevel FATAL\n",
        host_key.display(),
        authorized.display(),
    );
    let config = write(dir, "sshd_config", &config)?;
    let mut command = Command::new(&sshd);
    command.arg("-D").arg("-e").arg("-f").arg(&config);
    let servers = vec![start_listening(command, port, "sshd")?];
    let login = format!("{}@127.0.0.1", user());
    let client = move |local: u16| {
        let mut command = Command::new(&ssh);
        command
            .args(["-N", "-F", "/dev/null", "-c", "aes256-gcm@openssh.com"])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes"])
            .args(["-o", "LogLevel=ERROR", "-o", "Compression=no"])
            .arg("-i")
            .arg(&user_key)
            .arg("-p")
            .arg(port.to_string())
            .arg("-L")
            .arg(format!("127.0.0.1:{local}:{target}"))
            .arg(&login)
            .stdin(Stdio::null());
        command
    };
    Ok(Path::new("ssh -L", servers, Box::new(client)))
}
