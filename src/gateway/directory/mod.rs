//! Users from LDAP or Active Directory (`[directory]`): who a username is, which card is
//! theirs, whether the password is right, and which groups they are in.
//!
//! - A user is looked up by a service account over a small pool of connections kept open.
//! - The password is checked by a bind as the user on a connection of its own, never a pooled
//!   one, and then closed, so no password hash is kept in the gateway. An empty password never
//!   reaches the directory: an LDAP bind with no password is an anonymous bind, and would
//!   "succeed".
//! - Every connection is TLS (LDAPS or StartTLS) trusting only the directory's CA, and every
//!   operation is bounded by the configured timeout; a connection that failed is dropped and
//!   the next one is made anew.
//!
//! The pure parts (filters, entries) are in [`entry`].

pub mod entry;
pub mod login;

use std::sync::Arc;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope};
use rustls::{ClientConfig, RootCertStore};
use tokio::sync::{Mutex, Semaphore};

use super::config::DirectorySettings;
use crate::secret::Password;
pub use entry::DirectoryUser;

/// LDAP's result code for a wrong password (or an unknown DN) at a bind.
const INVALID_CREDENTIALS: u32 = 49;

/// What failed, and where; never a password.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DirectoryError {
    /// The CA file or the service account's password file cannot be used.
    #[error("the directory's {what} cannot be read: {detail}")]
    Setup {
        /// Which file.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// No connection (refused, no route, no answer in time).
    #[error("the directory {url} cannot be reached: {detail}")]
    Unreachable {
        /// The directory.
        url: String,
        /// What the system or the clock said.
        detail: String,
    },
    /// The TLS handshake failed: most often a certificate the configured CA did not issue.
    #[error("the directory {url} failed the TLS handshake: {detail}")]
    Tls {
        /// The directory.
        url: String,
        /// What TLS said.
        detail: String,
    },
    /// The service account's bind was refused.
    #[error("the directory refused the service account {bind_dn}: {detail}")]
    ServiceLogin {
        /// The account.
        bind_dn: String,
        /// The directory's words.
        detail: String,
    },
    /// A search failed.
    #[error("a search in the directory failed: {detail}")]
    Search {
        /// The directory's words.
        detail: String,
    },
    /// The user filter matched more than one entry.
    #[error("the user filter matches {count} entries for one username")]
    Ambiguous {
        /// How many.
        count: usize,
    },
    /// The bind as the user failed for another reason than a wrong password.
    #[error("the directory could not check a password: {detail}")]
    UserLogin {
        /// The directory's words.
        detail: String,
    },
}

impl DirectoryError {
    /// What an operator should check, in Norwegian.
    pub fn advice(&self) -> &'static str {
        match self {
            DirectoryError::Setup { .. } => {
                "sjekk `ca_file` og `bind_password_file` i [directory]: filene må finnes og kunne \
                 leses av gatewayen"
            }
            DirectoryError::Unreachable { .. } => {
                "sjekk at katalogtjeneren kjører og kan nås fra gatewayen (adresse, port, \
                 brannmur)"
            }
            DirectoryError::Tls { .. } => {
                "sjekk at `ca_file` er CA-en som utstedte katalogens sertifikat, og at \
                 sertifikatet gjelder navnet i `url`"
            }
            DirectoryError::ServiceLogin { .. } => {
                "sjekk `bind_dn` og passordet i `bind_password_file`"
            }
            DirectoryError::Search { .. } | DirectoryError::Ambiguous { .. } => {
                "sjekk `user_base`, `user_filter`, `group_base` og `group_filter` i [directory]"
            }
            DirectoryError::UserLogin { .. } => "se katalogtjenerens logg",
        }
    }
}

/// The directory client.
pub struct Directory {
    settings: DirectorySettings,
    tls: Arc<ClientConfig>,
    service_password: Password,
    idle: Mutex<Vec<Ldap>>,
    slots: Semaphore,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("url", &self.settings.url)
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// Reads the CA and the service account's password; connects only when first asked.
    pub fn new(settings: &DirectorySettings) -> Result<Directory, DirectoryError> {
        let setup = |what, detail: String| DirectoryError::Setup { what, detail };
        let pem = std::fs::read(&settings.ca_file)
            .map_err(|e| setup("CA file", format!("{}: {e}", settings.ca_file.display())))?;
        let mut roots = RootCertStore::empty();
        for der in crate::cert::certificates_from_bytes(&pem)
            .map_err(|e| setup("CA file", format!("{}: {e}", settings.ca_file.display())))?
        {
            roots
                .add(rustls::pki_types::CertificateDer::from(der))
                .map_err(|e| setup("CA file", e.to_string()))?;
        }
        let tls =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| setup("TLS settings", e.to_string()))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let text = std::fs::read_to_string(&settings.bind_password_file).map_err(|e| {
            setup(
                "password file",
                format!("{}: {e}", settings.bind_password_file.display()),
            )
        })?;
        Ok(Directory {
            settings: settings.clone(),
            tls: Arc::new(tls),
            service_password: Password::from_input(text),
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(settings.pool_size),
        })
    }

    /// The user a username names, with their card's identifier and groups; `None` when the
    /// directory has nobody by that name.
    pub async fn find(&self, username: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        if !entry::plausible_username(username) {
            return Ok(None);
        }
        let s = &self.settings;
        let filter = entry::user_filter(&s.user_filter, username);
        let attributes = [
            s.personal_id_attribute.as_str(),
            s.display_name_attribute.as_str(),
        ];
        let users = self
            .with_service(|mut ldap| async move {
                let found = search(&mut ldap, &s.user_base, &filter, &attributes, s).await;
                (ldap, found)
            })
            .await?;
        let user = match users.as_slice() {
            [] => return Ok(None),
            [one] => one,
            more => return Err(DirectoryError::Ambiguous { count: more.len() }),
        };
        let filter = entry::group_filter(&s.group_filter, &user.0);
        let groups = self
            .with_service(|mut ldap| async move {
                let found = search(&mut ldap, &s.group_base, &filter, &["1.1"], s).await;
                (ldap, found)
            })
            .await?;
        Ok(Some(entry::user_of(
            username,
            user,
            s,
            groups.into_iter().map(|(dn, _)| dn),
        )))
    }

    /// Whether `password` is the user's: a bind as the user, on its own connection. An
    /// empty password is wrong without asking.
    pub async fn check_password(
        &self,
        user: &DirectoryUser,
        password: &Password,
    ) -> Result<bool, DirectoryError> {
        if password.expose().is_empty() {
            return Ok(false);
        }
        let mut ldap = self.connect().await?;
        let bound = ldap
            .with_timeout(self.settings.timeout)
            .simple_bind(&user.dn, password.expose())
            .await;
        let _ = ldap.unbind().await;
        match bound {
            Ok(r) if r.rc == 0 => Ok(true),
            Ok(r) if r.rc == INVALID_CREDENTIALS => Ok(false),
            Ok(r) => Err(DirectoryError::UserLogin {
                detail: format!("result code {}: {}", r.rc, r.text),
            }),
            Err(e) => Err(self.lost(&e)),
        }
    }

    /// Whether the directory answers the service account: for the readiness port.
    pub async fn health(&self) -> Result<(), DirectoryError> {
        let s = &self.settings;
        self.with_service(|mut ldap| async move {
            let read = ldap
                .with_timeout(s.timeout)
                .search(&s.user_base, Scope::Base, "(objectClass=*)", vec!["1.1"])
                .await
                .and_then(|r| r.success());
            let answer = match read {
                Ok(_) => Ok(()),
                Err(e) => Err(search_error(&e, s)),
            };
            (ldap, answer)
        })
        .await
    }

    /// Runs `work` on a pooled service-account connection (made and bound when none is
    /// idle); the connection goes back to the pool only when the work succeeded.
    async fn with_service<T, F, Fut>(&self, work: F) -> Result<T, DirectoryError>
    where
        F: FnOnce(Ldap) -> Fut,
        Fut: std::future::Future<Output = (Ldap, Result<T, DirectoryError>)>,
    {
        let _slot = self.slots.acquire().await.map_err(|_| self.closed())?;
        let pooled = self.idle_connection().await;
        let ldap = match pooled {
            Some(ldap) => ldap,
            None => self.service_connection().await?,
        };
        let (ldap, answer) = work(ldap).await;
        if answer.is_ok() {
            self.idle.lock().await.push(ldap);
        }
        answer
    }

    /// An idle pooled connection that is still open; closed ones are dropped.
    async fn idle_connection(&self) -> Option<Ldap> {
        let mut idle = self.idle.lock().await;
        while let Some(mut ldap) = idle.pop() {
            if !ldap.is_closed() {
                return Some(ldap);
            }
        }
        None
    }

    async fn service_connection(&self) -> Result<Ldap, DirectoryError> {
        let mut ldap = self.connect().await?;
        let s = &self.settings;
        let bound = ldap
            .with_timeout(s.timeout)
            .simple_bind(&s.bind_dn, self.service_password.expose())
            .await;
        match bound {
            Ok(r) if r.rc == 0 => Ok(ldap),
            Ok(r) => Err(DirectoryError::ServiceLogin {
                bind_dn: s.bind_dn.clone(),
                detail: format!("result code {}: {}", r.rc, r.text),
            }),
            Err(e) => Err(self.lost(&e)),
        }
    }

    /// A new TLS connection (LDAPS, or StartTLS before anything else is sent).
    async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let s = &self.settings;
        let settings = LdapConnSettings::new()
            .set_conn_timeout(s.timeout)
            .set_starttls(s.starttls)
            .set_config(Arc::clone(&self.tls));
        let made =
            tokio::time::timeout(s.timeout, LdapConnAsync::with_settings(settings, &s.url)).await;
        let (conn, ldap) = match made {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(self.lost(&e)),
            Err(_) => return Err(self.no_answer()),
        };
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!("a directory connection ended: {e}");
            }
        });
        Ok(ldap)
    }

    /// A connection-level failure: TLS if rustls said so, else unreachable.
    fn lost(&self, e: &LdapError) -> DirectoryError {
        let url = self.settings.url.clone();
        if let LdapError::Timeout { .. } = e {
            return self.no_answer();
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = source {
            if let Some(tls) = err.downcast_ref::<rustls::Error>() {
                return DirectoryError::Tls {
                    url,
                    detail: tls.to_string(),
                };
            }
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    return DirectoryError::Tls {
                        url,
                        detail: tls.to_string(),
                    };
                }
            }
            source = err.source();
        }
        DirectoryError::Unreachable {
            url,
            detail: e.to_string(),
        }
    }

    fn no_answer(&self) -> DirectoryError {
        DirectoryError::Unreachable {
            url: self.settings.url.clone(),
            detail: format!("no answer within {} s", self.settings.timeout.as_secs()),
        }
    }

    fn closed(&self) -> DirectoryError {
        DirectoryError::Unreachable {
            url: self.settings.url.clone(),
            detail: "the gateway is stopping".into(),
        }
    }
}

/// A subtree search: each entry's DN and attributes.
async fn search(
    ldap: &mut Ldap,
    base: &str,
    filter: &str,
    attributes: &[&str],
    settings: &DirectorySettings,
) -> Result<Vec<entry::Found>, DirectoryError> {
    let answer = ldap
        .with_timeout(settings.timeout)
        .search(base, Scope::Subtree, filter, attributes.to_vec())
        .await
        .and_then(|r| r.success());
    match answer {
        Ok((entries, _)) => entry::read_entries(entries),
        Err(e) => Err(search_error(&e, settings)),
    }
}

fn search_error(e: &LdapError, settings: &DirectorySettings) -> DirectoryError {
    match e {
        LdapError::Timeout { .. } => DirectoryError::Unreachable {
            url: settings.url.clone(),
            detail: format!("no answer within {} s", settings.timeout.as_secs()),
        },
        LdapError::LdapResult { result } => DirectoryError::Search {
            detail: format!("result code {}: {}", result.rc, result.text),
        },
        other => DirectoryError::Unreachable {
            url: settings.url.clone(),
            detail: other.to_string(),
        },
    }
}
