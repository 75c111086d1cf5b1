//! `[directory]`: the users from LDAP or Active Directory instead of `[[user]]` entries.
//!
//! The gateway looks a user up by username with a service account, reads the personal
//! identifier the card must carry from a configured attribute, checks the password by binding
//! as the user (so no password hash is kept in the gateway), and reads the user's groups for
//! `[[grant]] ldap_group`. Passwords cross this connection, so it is always TLS: `ldaps://`, or
//! `ldap://` with `starttls = true`, against the directory's own CA. The service account's
//! password stands in a file of its own, never in this one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::de::DeValue;
use toml::Spanned;

use super::{deserialize, file, Errors, PathKind};

/// How to reach the directory and read people from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorySettings {
    /// `ldaps://host:port` or `ldap://host:port`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before anything is sent.
    pub starttls: bool,
    /// The CA that issued the directory's certificate (PEM); the only one trusted.
    pub ca_file: PathBuf,
    /// The service account that searches.
    pub bind_dn: String,
    /// A file (mode 0600) holding the service account's password.
    pub bind_password_file: PathBuf,
    /// Where users are searched (subtree).
    pub user_base: String,
    /// The search filter, with `{username}` where the escaped username goes.
    pub user_filter: String,
    /// The attribute holding the personal identifier the card must carry.
    pub personal_id_attribute: String,
    /// The attribute holding the name shown in the audit log and to the user.
    pub display_name_attribute: String,
    /// Where groups are searched (subtree).
    pub group_base: String,
    /// The group filter, with `{dn}` where the user's escaped DN goes.
    pub group_filter: String,
    /// Longest wait for a connection or one operation.
    pub timeout: Duration,
    /// Service-account connections kept open.
    pub pool_size: usize,
}

const DEFAULT_USER_FILTER: &str = "(uid={username})";
const DEFAULT_GROUP_FILTER: &str = "(&(objectClass=groupOfNames)(member={dn}))";
const DEFAULT_DISPLAY_NAME: &str = "cn";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectory {
    url: Spanned<String>,
    #[serde(default)]
    starttls: bool,
    ca_file: Spanned<String>,
    bind_dn: Spanned<String>,
    #[serde(default)]
    bind_password_file: Option<Spanned<String>>,
    /// Read only to refuse it with the right advice.
    #[serde(default)]
    bind_password: Option<Spanned<String>>,
    user_base: Spanned<String>,
    #[serde(default)]
    user_filter: Option<Spanned<String>>,
    personal_id_attribute: Spanned<String>,
    #[serde(default)]
    display_name_attribute: Option<Spanned<String>>,
    group_base: Spanned<String>,
    #[serde(default)]
    group_filter: Option<Spanned<String>>,
    #[serde(default)]
    timeout_secs: Option<Spanned<i64>>,
    #[serde(default)]
    pool_size: Option<Spanned<i64>>,
}

/// `[directory]`, checked.
pub(super) fn parse(
    errors: &mut Errors<'_>,
    value: Spanned<DeValue<'_>>,
    base_dir: &Path,
    probe: &dyn Fn(&Path) -> PathKind,
) -> Option<DirectorySettings> {
    let span = value.span();
    let raw = deserialize::<RawDirectory>(errors, value)?;
    check_url(errors, &raw.url, raw.starttls);
    if let Some(inline) = &raw.bind_password {
        errors.at(
            inline.span(),
            "`bind_password` hører ikke hjemme i konfigurasjonen; legg passordet i en fil med \
             rettigheter 0600 og skriv filen i `bind_password_file`",
        );
    }
    let bind_password_file = match &raw.bind_password_file {
        Some(f) => file(errors, base_dir, probe, "bind_password_file", f),
        None => {
            errors.at(
                span,
                "[directory] mangler `bind_password_file`: filen med tjenestekontoens passord",
            );
            PathBuf::new()
        }
    };
    let ca_file = file(errors, base_dir, probe, "ca_file", &raw.ca_file);
    for (key, v) in [
        ("bind_dn", &raw.bind_dn),
        ("user_base", &raw.user_base),
        ("group_base", &raw.group_base),
    ] {
        if !looks_like_dn(v.get_ref()) {
            errors.at(
                v.span(),
                format!("`{key}` er ikke et DN; skriv f.eks. \"ou=people,dc=example,dc=no\""),
            );
        }
    }
    let user_filter = filter(errors, &raw.user_filter, DEFAULT_USER_FILTER, "{username}");
    let group_filter = filter(errors, &raw.group_filter, DEFAULT_GROUP_FILTER, "{dn}");
    let attribute = |errors: &mut Errors<'_>, v: &Spanned<String>| {
        if !valid_attribute(v.get_ref()) {
            errors.at(
                v.span(),
                "et attributtnavn har bare bokstaver, sifre og -, f.eks. \"employeeNumber\"",
            );
        }
        v.get_ref().clone()
    };
    let personal_id_attribute = attribute(errors, &raw.personal_id_attribute);
    let display_name_attribute = match &raw.display_name_attribute {
        Some(v) => attribute(errors, v),
        None => DEFAULT_DISPLAY_NAME.to_string(),
    };
    let timeout_secs = bounded(errors, &raw.timeout_secs, "timeout_secs", 1..=60, 5);
    let pool_size = bounded(errors, &raw.pool_size, "pool_size", 1..=64, 4);
    Some(DirectorySettings {
        url: raw.url.get_ref().clone(),
        starttls: raw.starttls,
        ca_file,
        bind_dn: raw.bind_dn.get_ref().clone(),
        bind_password_file,
        user_base: raw.user_base.get_ref().clone(),
        user_filter,
        personal_id_attribute,
        display_name_attribute,
        group_base: raw.group_base.get_ref().clone(),
        group_filter,
        timeout: Duration::from_secs(timeout_secs),
        pool_size: pool_size as usize,
    })
}

/// TLS always: `ldaps://`, or `ldap://` with StartTLS.
fn check_url(errors: &mut Errors<'_>, url: &Spanned<String>, starttls: bool) {
    let text = url.get_ref();
    let (scheme, rest) = text.split_once("://").unwrap_or(("", ""));
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let message = match scheme {
        _ if host.is_empty() => Some(
            "`url` må være ldaps://vert:port eller ldap://vert:port, f.eks. \
             \"ldaps://ldap.example.no:636\""
                .to_string(),
        ),
        "ldaps" if starttls => {
            Some("`starttls = true` hører til ldap://; ldaps:// er kryptert fra start".to_string())
        }
        "ldaps" => None,
        "ldap" if starttls => None,
        "ldap" => Some(
            "passord sendes til katalogen, så forbindelsen må være kryptert: skriv ldaps://, \
             eller legg til `starttls = true`"
                .to_string(),
        ),
        other => Some(format!(
            "ukjent skjema `{other}`; skriv ldaps://vert:port eller ldap://vert:port"
        )),
    };
    if let Some(message) = message {
        errors.at(url.span(), message);
    }
}

fn filter(
    errors: &mut Errors<'_>,
    written: &Option<Spanned<String>>,
    default: &str,
    placeholder: &str,
) -> String {
    let Some(written) = written else {
        return default.to_string();
    };
    let text = written.get_ref();
    if !text.contains(placeholder) {
        errors.at(
            written.span(),
            format!("filteret må inneholde {placeholder}, f.eks. \"{default}\""),
        );
    } else if !(text.starts_with('(') && text.ends_with(')')) {
        errors.at(
            written.span(),
            format!("et LDAP-filter står i parentes, f.eks. \"{default}\""),
        );
    }
    text.clone()
}

fn bounded(
    errors: &mut Errors<'_>,
    written: &Option<Spanned<i64>>,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
    default: u64,
) -> u64 {
    match written {
        None => default,
        Some(v) if range.contains(v.get_ref()) => *v.get_ref() as u64,
        Some(v) => {
            errors.at(
                v.span(),
                format!(
                    "`{key}` må være mellom {} og {}",
                    range.start(),
                    range.end()
                ),
            );
            default
        }
    }
}

pub(super) fn looks_like_dn(text: &str) -> bool {
    !text.trim().is_empty() && text.split(',').all(|rdn| rdn.contains('='))
}

fn valid_attribute(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A DN in one spelling, for comparing a grant's group with the directory's: attribute types
/// and values in lower case, no spaces around `=` and `,` (LDAP compares these case-blind).
/// An escaped comma (`\,`) stays part of its value.
pub fn normalize_dn(dn: &str) -> String {
    let mut rdns = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in dn.chars() {
        if escaped {
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            current.push(c);
            escaped = true;
        } else if c == ',' {
            rdns.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    rdns.push(current);
    rdns.iter()
        .map(|rdn| match rdn.split_once('=') {
            Some((kind, value)) => format!("{}={}", kind.trim(), value.trim()),
            None => rdn.trim().to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Config, ConfigError};
    use super::*;
    use crate::gateway::testutil::{self, base, probe};

    const GOOD: &str = r#"[directory]
url = "ldaps://ldap.example.no:636"
ca_file = "ldap-ca.pem"
bind_dn = "cn=gateway,ou=services,dc=example,dc=no"
bind_password_file = "ldap.pass"
user_base = "ou=people,dc=example,dc=no"
personal_id_attribute = "employeeNumber"
group_base = "ou=groups,dc=example,dc=no"
"#;

    /// The test configuration with its users in a directory instead of `[[user]]`.
    fn with(section: &str) -> Result<Config, Vec<ConfigError>> {
        let text = testutil::text();
        let without_users: Vec<&str> = text
            .split("\n\n")
            .filter(|block| !block.starts_with("[[user]]"))
            .collect();
        let text = format!("{}\n{section}", without_users.join("\n\n"));
        parse(&text, &base(), &probe)
    }

    fn first_error(section: &str) -> String {
        with(section).unwrap_err()[0].message.clone()
    }

    #[test]
    fn a_directory_with_its_defaults() {
        let d = with(GOOD).unwrap().directory.unwrap();
        assert_eq!(d.url, "ldaps://ldap.example.no:636");
        assert!(!d.starttls);
        assert_eq!(d.ca_file, base().join("ldap-ca.pem"));
        assert_eq!(d.bind_password_file, base().join("ldap.pass"));
        assert_eq!(d.user_filter, "(uid={username})");
        assert_eq!(d.group_filter, "(&(objectClass=groupOfNames)(member={dn}))");
        assert_eq!(d.display_name_attribute, "cn");
        assert_eq!(d.timeout, Duration::from_secs(5));
        assert_eq!(d.pool_size, 4);
        assert_eq!(testutil::config().directory, None);
        let users_too = parse(&format!("{}\n{GOOD}", testutil::text()), &base(), &probe);
        assert!(users_too.unwrap_err()[0].message.contains("fjern [[user]]"));
        let starttls = GOOD.replace("ldaps://ldap.example.no:636", "ldap://ldap.example.no")
            + "starttls = true\nuser_filter = \"(sAMAccountName={username})\"\n";
        let d = with(&starttls).unwrap().directory.unwrap();
        assert!(d.starttls);
        assert_eq!(d.user_filter, "(sAMAccountName={username})");
    }

    #[test]
    fn cleartext_inline_passwords_and_nonsense_are_refused() {
        let plain = GOOD.replace("ldaps://", "ldap://");
        assert!(first_error(&plain).contains("starttls = true"));
        let both = GOOD.to_string() + "starttls = true\n";
        assert!(first_error(&both).contains("hører til ldap://"));
        let inline = GOOD.to_string() + "bind_password = \"hemmelig\"\n";
        let said = first_error(&inline);
        assert!(said.contains("bind_password_file"), "{said}");
        assert!(!said.contains("hemmelig"), "{said}");
        let no_file = GOOD.replace("bind_password_file = \"ldap.pass\"\n", "");
        assert!(first_error(&no_file).contains("mangler `bind_password_file`"));
        let filter = GOOD.to_string() + "user_filter = \"(uid=kari)\"\n";
        assert!(first_error(&filter).contains("{username}"));
        let scheme = GOOD.replace("ldaps://", "http://");
        assert!(first_error(&scheme).contains("ukjent skjema"));
        let timeout = GOOD.to_string() + "timeout_secs = 0\n";
        assert!(first_error(&timeout).contains("mellom 1 og 60"));
        let attribute = GOOD.replace("\"employeeNumber\"", "\"employee number\"");
        assert!(first_error(&attribute).contains("attributtnavn"));
        let dn = GOOD.replace("ou=people,dc=example,dc=no", "people");
        assert!(first_error(&dn).contains("ikke et DN"));
        let group =
            format!("{GOOD}\n[[grant]]\nldap_group = \"fastleger\"\nmachines = [\"kontor-1\"]\n");
        assert!(first_error(&group).contains("gruppens DN"));
        let both = format!(
            "{GOOD}\n[[grant]]\nuser = \"kari\"\nldap_group = \"cn=a,dc=b\"\nmachines = [\"kontor-1\"]\n"
        );
        assert!(first_error(&both).contains("ikke begge"));
    }

    #[test]
    fn group_grants_need_a_directory_and_are_kept_normalised() {
        let grant = "\n[[grant]]\nldap_group = \"CN=Fastleger, ou=groups,dc=example,dc=no\"\n\
                     machines = [\"kontor-1\"]\n";
        let config = with(&format!("{GOOD}{grant}")).unwrap();
        let last = config.grants.last().unwrap();
        assert_eq!(
            last.to,
            super::super::GrantTo::LdapGroup("cn=fastleger,ou=groups,dc=example,dc=no".into())
        );
        let without = parse(&format!("{}{grant}", testutil::text()), &base(), &probe);
        assert!(without.unwrap_err()[0]
            .message
            .contains("krever en katalog"));
    }

    #[test]
    fn distinguished_names_compare_in_one_spelling() {
        assert_eq!(
            normalize_dn("CN=Fastleger, OU=Groups ,DC=Example,DC=no"),
            "cn=fastleger,ou=groups,dc=example,dc=no"
        );
        assert_eq!(
            normalize_dn(r"cn=Berg\, Kari,ou=people"),
            r"cn=berg\, kari,ou=people"
        );
    }
}
