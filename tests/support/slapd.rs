//! OpenLDAP's slapd (Debian's) with the TEST directory of `installer/dev/slapd/`: its own
//! database in a temporary directory, LDAP (for StartTLS) and LDAPS on free ports of
//! 127.0.0.1, the TEST PKI's server certificate (issued for 127.0.0.1). As root it runs as the
//! `openldap` user. Every wait is bounded; the server is killed when the handle drops.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory's users' password (TEST).
pub const USER_PASSWORD: &str = "demo-passord-TEST";
/// The service account's password (TEST).
pub const SERVICE_PASSWORD: &str = "tjeneste-passord-TEST";
/// The service account.
pub const SERVICE_DN: &str = "cn=hjemmekontor-gateway,ou=tjenester,dc=test,dc=hjemmekontor";
/// The GPs' group, of which `ase.nordmann` is a member.
pub const GPS: &str = "cn=fastleger,ou=grupper,dc=test,dc=hjemmekontor";

const SLAPD: &str = "/usr/sbin/slapd";

/// True when slapd is installed. Without it: with `CI` set the test fails; otherwise it
/// prints a notice and the caller skips.
pub fn require_slapd(test: &str) -> bool {
    if Path::new(SLAPD).exists() {
        return true;
    }
    let problem = "OpenLDAP's slapd (package slapd) is not installed; \
                   installer/dev/setup.sh --cluster installs it";
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {problem}");
    }
    eprintln!("{test}: skipped: {problem}");
    false
}

fn as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// A running slapd.
pub struct Slapd {
    dir: tempfile::TempDir,
    /// Plain LDAP, for StartTLS.
    pub ldap: SocketAddr,
    /// LDAPS.
    pub ldaps: SocketAddr,
    child: Option<Child>,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Slapd {
    /// A new TEST directory, loaded and listening.
    pub fn start() -> Slapd {
        let dir = tempfile::tempdir().unwrap();
        let here = dir.path();
        std::fs::create_dir(here.join("data")).unwrap();
        let template = std::fs::read_to_string("installer/dev/slapd/slapd.conf.in").unwrap();
        std::fs::write(
            here.join("slapd.conf"),
            template.replace("@DIR@", &here.display().to_string()),
        )
        .unwrap();
        let pki = super::pki::dir();
        let mut chain = std::fs::read(pki.join("gateway.pem")).unwrap();
        chain.extend(std::fs::read(pki.join("person-ca.pem")).unwrap());
        std::fs::write(here.join("server.pem"), chain).unwrap();
        std::fs::copy(pki.join("gateway.key"), here.join("server.key")).unwrap();
        let loaded = Command::new("/usr/sbin/slapadd")
            .arg("-f")
            .arg(here.join("slapd.conf"))
            .arg("-l")
            .arg(std::fs::canonicalize("installer/dev/slapd/directory.ldif").unwrap())
            .output()
            .unwrap();
        assert!(
            loaded.status.success(),
            "slapadd: {}",
            String::from_utf8_lossy(&loaded.stderr)
        );
        if as_root() {
            let owned = Command::new("chown")
                .args(["-R", "openldap:openldap"])
                .arg(here)
                .status()
                .unwrap();
            assert!(owned.success(), "chown to openldap");
        }
        let mut slapd = Slapd {
            ldap: super::world::free_port(),
            ldaps: super::world::free_port(),
            dir,
            child: None,
        };
        slapd.resume();
        slapd
    }

    /// Starts the server (again) and waits until both ports take connections.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        let here = self.dir.path();
        let mut command = Command::new(SLAPD);
        command
            .arg("-f")
            .arg(here.join("slapd.conf"))
            .arg("-h")
            .arg(format!("ldap://{}/ ldaps://{}/", self.ldap, self.ldaps))
            .args(["-d", "0"]);
        if as_root() {
            command.args(["-u", "openldap", "-g", "openldap"]);
        }
        let log = std::fs::File::create(here.join("slapd.log")).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(self.ldap).is_err() || TcpStream::connect(self.ldaps).is_err() {
            assert!(
                Instant::now() < deadline,
                "slapd did not listen: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (killed, as a crash would): nothing answers on its ports.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections are taken by the kernel but never answered,
    /// as with a directory that hangs.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen server go on (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, which: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let sent = Command::new("kill").args([which, &pid]).status().unwrap();
        assert!(sent.success(), "kill {which}");
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// A `[directory]` section for this server: StartTLS on the plain port or LDAPS, trusting
    /// `ca_file`, with the service password written to a file in `dir`.
    pub fn section(&self, starttls: bool, ca_file: &Path, dir: &Path) -> String {
        let password_file = password_file(dir);
        let url = if starttls {
            format!("ldap://{}", self.ldap)
        } else {
            format!("ldaps://{}", self.ldaps)
        };
        format!(
            r#"[directory]
url = "{url}"
starttls = {starttls}
ca_file = "{ca}"
bind_dn = "{SERVICE_DN}"
bind_password_file = "{password}"
user_base = "ou=personer,dc=test,dc=hjemmekontor"
personal_id_attribute = "employeeNumber"
group_base = "ou=grupper,dc=test,dc=hjemmekontor"
timeout_secs = 2
"#,
            ca = ca_file.display(),
            password = password_file.display(),
        )
    }
}

/// The service account's password file in `dir`, as an operator makes it (mode 0600).
fn password_file(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("ldap.pass");
    std::fs::write(&path, format!("{SERVICE_PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}
