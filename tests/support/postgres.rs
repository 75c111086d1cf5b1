//! A PostgreSQL server of the test's own (Debian's `postgresql`): a new cluster in a temporary
//! directory, on 127.0.0.1 and a free port, with the project's schema
//! (`installer/gateway/postgres/schema.sql`) loaded and the gateway's role made with a
//! password, as an operator would. PostgreSQL refuses to run as root, so as root the server
//! and its tools run as the `postgres` user. Every wait is bounded; the server is stopped
//! when the handle drops.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The gateway's database role.
pub const GATEWAY_ROLE: &str = "hjemmekontor_gateway";
/// The owner of the database, who loads the schema (trusted on the server's own socket).
pub const OWNER: &str = "hjemmekontor_eier";
/// The database.
pub const DATABASE: &str = "hjemmekontor";

/// The server binaries' directory (`/usr/lib/postgresql/<version>/bin`), the newest there.
pub fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// True when PostgreSQL's server is installed. Without it: with `CI` set the test fails;
/// otherwise it prints a notice and the caller skips.
pub fn require_postgres(test: &str) -> bool {
    if bin_dir().is_some() {
        return true;
    }
    let problem = "PostgreSQL (package postgresql) is not installed; \
                   installer/dev/setup.sh --cluster installs it";
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {problem}");
    }
    eprintln!("{test}: skipped: {problem}");
    false
}

/// A running server.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Option<Child>,
}

fn as_root() -> bool {
    // The owner of /proc/self is this process's user.
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// `program` with `args`, as the `postgres` user when this process is root.
fn command(program: &Path) -> Command {
    if as_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--reset-env",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, what: &str) -> Output {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Postgres {
    /// A new cluster with the schema loaded; the gateway role's password is `password`.
    pub fn start(password: &str) -> Postgres {
        let bin = bin_dir().expect("require_postgres first");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        if as_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["-R", "postgres:postgres"]).arg(dir.path());
                    c
                },
                "chown",
            );
        }
        let mut initdb = command(&bin.join("initdb"));
        initdb
            .args(["-D"])
            .arg(&data)
            .args([
                "-U",
                OWNER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .args(["--no-sync", "-E", "UTF8", "--locale=C"]);
        run(initdb, "initdb");
        let addr = super::world::free_port();
        let mut db = Postgres {
            dir,
            bin,
            addr,
            child: None,
        };
        db.resume();
        db.psql("postgres", &format!("CREATE DATABASE {DATABASE}"));
        db.psql(
            DATABASE,
            &format!("CREATE ROLE {GATEWAY_ROLE} LOGIN PASSWORD '{password}'"),
        );
        let schema = std::fs::canonicalize("installer/gateway/postgres/schema.sql").unwrap();
        let copy = db.dir.path().join("schema.sql");
        std::fs::copy(&schema, &copy).unwrap();
        let mut load = db.psql_command(DATABASE);
        load.args(["-v", &format!("gateway_role={GATEWAY_ROLE}"), "-f"])
            .arg(&copy);
        run(load, "loading schema.sql");
        db
    }

    /// The server's socket directory (the owner's way in).
    fn socket_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Starts the server (again) and waits until it takes connections.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::File::create(self.dir.path().join("postgres.log")).unwrap();
        let child = command(&self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-h", "127.0.0.1", "-p", &self.addr.port().to_string(), "-k"])
            .arg(self.socket_dir())
            .args(["-c", "fsync=off", "-c", "max_connections=50"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut ready = command(&self.bin.join("pg_isready"));
            ready.args(["-h"]).arg(self.socket_dir()).args([
                "-p",
                &self.addr.port().to_string(),
                "-q",
            ]);
            if ready.status().is_ok_and(|s| s.success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server now (fast shutdown: clients are cut off), as a crash or an operator
    /// would.
    pub fn pause(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.wait();
        }
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    fn psql_command(&self, database: &str) -> Command {
        let mut c = command(&self.bin.join("psql"));
        c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.socket_dir())
            .args([
                "-p",
                &self.addr.port().to_string(),
                "-U",
                OWNER,
                "-d",
                database,
            ]);
        c
    }

    /// Runs `sql` as the owner; fails the test if it fails.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let mut c = self.psql_command(database);
        c.args(["-A", "-t", "-c", sql]);
        String::from_utf8(run(c, sql).stdout).unwrap()
    }

    /// Runs `sql` as the owner in the gateways' database; the server's answer, and whether it
    /// succeeded.
    pub fn try_as_owner(&self, sql: &str) -> (bool, String) {
        let mut c = self.psql_command(DATABASE);
        c.args(["-A", "-t", "-c", sql]);
        let out = c.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Runs `sql` as the gateway's role over TCP with its password; the server's answer,
    /// and whether it succeeded.
    pub fn psql_as_gateway(&self, password: &str, sql: &str) -> (bool, String) {
        let out = Command::new(self.bin.join("psql"))
            .env("PGPASSWORD", password)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.addr.port().to_string()])
            .args(["-U", GATEWAY_ROLE, "-d", DATABASE, "-c", sql])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// The `[audit]` section for a gateway, with its password in `password_file`.
    pub fn audit_section(&self, password_file: &Path) -> String {
        format!(
            "[audit]\npostgres = \"host=127.0.0.1 port={} dbname={DATABASE} user={GATEWAY_ROLE}\"\n\
             postgres_password_file = \"{}\"\n",
            self.addr.port(),
            password_file.display()
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.pause();
    }
}
