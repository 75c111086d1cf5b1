//! `[audit]`: where the records go. A file (`path`), the single-machine default; or a
//! PostgreSQL database (`postgres`), where several gateways append to one chain. A password
//! for the database never stands in this file: it is read from `postgres_password_file`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::DeValue;
use toml::Spanned;

use super::{deserialize, file, resolve, Errors, PathKind};

/// `[audit]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// Where the records go.
    pub store: AuditStore,
    /// Where this gateway keeps its lockout state between restarts.
    pub lockout_state: PathBuf,
}

impl AuditSettings {
    /// The log file, for the file store.
    pub fn file(&self) -> Option<&Path> {
        match &self.store {
            AuditStore::File(path) => Some(path),
            AuditStore::Postgres(_) => None,
        }
    }
}

/// Where the records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditStore {
    /// One file, one gateway (it holds the file's lock).
    File(PathBuf),
    /// A PostgreSQL table shared by the gateways.
    Postgres(PostgresSettings),
}

/// How to reach the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresSettings {
    /// A libpq connection string without a password (`host=… port=… dbname=… user=…`).
    pub conninfo: String,
    /// A file (mode 0600) holding the password, when the database asks for one.
    pub password_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    #[serde(default)]
    path: Option<Spanned<String>>,
    #[serde(default)]
    postgres: Option<Spanned<String>>,
    #[serde(default)]
    postgres_password_file: Option<Spanned<String>>,
}

/// `[audit]`, checked.
pub(super) fn parse(
    errors: &mut Errors<'_>,
    value: Spanned<DeValue<'_>>,
    base_dir: &Path,
    probe: &dyn Fn(&Path) -> PathKind,
) -> Option<AuditSettings> {
    let span = value.span();
    let raw = deserialize::<RawAudit>(errors, value)?;
    match (&raw.path, &raw.postgres) {
        (Some(path), None) => {
            if let Some(extra) = &raw.postgres_password_file {
                errors.at(
                    extra.span(),
                    "`postgres_password_file` hører bare til `postgres`; fjern den, eller \
                     skriv `postgres` i stedet for `path`",
                );
            }
            let path = log_file(errors, base_dir, probe, path);
            let lockout_state = super::super::lockout_file::path_for(&path);
            Some(AuditSettings {
                store: AuditStore::File(path),
                lockout_state,
            })
        }
        (None, Some(conninfo)) => {
            let password_file = raw
                .postgres_password_file
                .as_ref()
                .map(|f| file(errors, base_dir, probe, "postgres_password_file", f));
            check_conninfo(errors, conninfo);
            Some(AuditSettings {
                store: AuditStore::Postgres(PostgresSettings {
                    conninfo: conninfo.get_ref().clone(),
                    password_file,
                }),
                lockout_state: base_dir.join("lockout.state"),
            })
        }
        (Some(path), Some(_)) => {
            errors.at(
                path.span(),
                "skriv enten `path` (revisjonslogg i en fil) eller `postgres` (felles \
                 revisjonslogg i PostgreSQL), ikke begge",
            );
            None
        }
        (None, None) => {
            errors.at(
                span,
                "[audit] mangler `path` (revisjonslogg i en fil) eller `postgres` (felles \
                 revisjonslogg i PostgreSQL)",
            );
            None
        }
    }
}

/// The log file's path; its directory must exist.
fn log_file(
    errors: &mut Errors<'_>,
    base_dir: &Path,
    probe: &dyn Fn(&Path) -> PathKind,
    written: &Spanned<String>,
) -> PathBuf {
    let path = resolve(base_dir, written.get_ref());
    if written.get_ref().trim().is_empty() {
        errors.at(
            written.span(),
            "`path` er tom; skriv hvor revisjonsloggen skal ligge",
        );
    } else if probe(&path) == PathKind::Missing {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if probe(parent) != PathKind::Directory {
            errors.at(
                written.span(),
                format!(
                    "`path`: mappen {} finnes ikke; opprett den før gatewayen startes",
                    parent.display()
                ),
            );
        }
    }
    path
}

/// A connection string libpq and tokio-postgres read alike, without a password in it.
fn check_conninfo(errors: &mut Errors<'_>, conninfo: &Spanned<String>) {
    match conninfo.get_ref().parse::<tokio_postgres::Config>() {
        Err(e) => errors.at(
            conninfo.span(),
            format!(
                "`postgres` er ikke en tilkoblingsstreng ({e}); skriv f.eks. \
                 \"host=10.0.0.20 port=5432 dbname=hjemmekontor user=hjemmekontor_gateway\""
            ),
        ),
        Ok(config) if config.get_password().is_some() => errors.at(
            conninfo.span(),
            "`postgres` inneholder et passord; legg det i en fil med rettigheter 0600 og \
             skriv filen i `postgres_password_file`",
        ),
        Ok(config) if config.get_hosts().is_empty() => errors.at(
            conninfo.span(),
            "`postgres` nevner ingen vert; skriv host=…",
        ),
        Ok(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Config, ConfigError};
    use super::*;
    use crate::gateway::testutil::{self, base, probe};

    fn with_audit(section: &str) -> Result<Config, Vec<ConfigError>> {
        let text = testutil::text().replace(
            "[audit]\npath = \"audit.log\"\n",
            &format!("[audit]\n{section}\n"),
        );
        parse(&text, &base(), &probe)
    }

    #[test]
    fn a_file_or_a_database() {
        let file = with_audit("path = \"audit.log\"").unwrap();
        assert_eq!(file.audit.store, AuditStore::File(base().join("audit.log")));
        assert_eq!(file.audit.lockout_state, base().join("audit.log.lockout"));

        let db = with_audit(
            "postgres = \"host=127.0.0.1 port=5432 dbname=hk user=gw\"\n\
             postgres_password_file = \"pg.pass\"",
        )
        .unwrap();
        assert_eq!(
            db.audit.store,
            AuditStore::Postgres(PostgresSettings {
                conninfo: "host=127.0.0.1 port=5432 dbname=hk user=gw".into(),
                password_file: Some(base().join("pg.pass")),
            })
        );
        assert_eq!(db.audit.file(), None);
    }

    #[test]
    fn passwords_both_stores_and_nonsense_are_refused() {
        let both = with_audit("path = \"audit.log\"\npostgres = \"host=a\"").unwrap_err();
        assert!(both[0].message.contains("ikke begge"), "{both:?}");
        let neither = with_audit("").unwrap_err();
        assert!(neither[0].message.contains("mangler"), "{neither:?}");
        let secret = with_audit("postgres = \"host=a user=gw password=hemmelig\"").unwrap_err();
        assert!(
            secret[0].message.contains("postgres_password_file"),
            "{secret:?}"
        );
        assert!(!secret[0].message.contains("hemmelig"), "{secret:?}");
        let broken = with_audit("postgres = \"host='a\"").unwrap_err();
        assert!(
            broken[0].message.contains("tilkoblingsstreng"),
            "{broken:?}"
        );
        let stray =
            with_audit("path = \"audit.log\"\npostgres_password_file = \"p.pass\"").unwrap_err();
        assert!(stray[0].message.contains("hører bare til"), "{stray:?}");
    }
}
