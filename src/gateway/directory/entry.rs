//! The pure side of the directory: filters with the username escaped (RFC 4515, so a
//! username like `*` or `a)(uid=*` finds nobody), entries read into a [`DirectoryUser`].

use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};

use ldap3::{ResultEntry, SearchEntry};

use super::DirectoryError;
use crate::cert::PersonalId;
use crate::gateway::config::{normalize_dn, DirectorySettings};

/// A user as the directory has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// The entry's DN, which the password is checked against.
    pub dn: String,
    /// The username as typed (the filter matched it).
    pub username: String,
    /// The personal identifier the card must carry, normalised; `None` when the entry has
    /// none that reads as one (such a user cannot log in: no card is theirs).
    pub personal_id: Option<String>,
    /// The name to show, if the entry has one.
    pub display_name: Option<String>,
    /// The groups the user is in, normalised DNs.
    pub groups: Vec<String>,
}

/// One entry of a search: its DN and its attributes (names in lower case).
pub type Found = (String, HashMap<String, Vec<String>>);

/// Longest username sent to the directory; no real one is longer.
const MAX_USERNAME: usize = 256;

/// Whether a username is worth a search at all: not empty, not huge, no control characters.
pub fn plausible_username(username: &str) -> bool {
    !username.trim().is_empty()
        && username.len() <= MAX_USERNAME
        && !username.chars().any(char::is_control)
}

/// The user filter with the escaped username in place of `{username}`.
pub fn user_filter(template: &str, username: &str) -> String {
    template.replace("{username}", &ldap3::ldap_escape(username))
}

/// The group filter with the user's escaped DN in place of `{dn}`.
pub fn group_filter(template: &str, user_dn: &str) -> String {
    template.replace("{dn}", &ldap3::ldap_escape(user_dn))
}

/// The entries of a search (referrals left out). A malformed entry from the directory is an
/// error, not a crash: the crate panics on one, so the panic is caught here.
pub fn read_entries(entries: Vec<ResultEntry>) -> Result<Vec<Found>, DirectoryError> {
    let mut out = Vec::with_capacity(entries.len());
    for e in entries
        .into_iter()
        .filter(|e| !e.is_ref() && !e.is_intermediate())
    {
        let entry =
            panic::catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(e))).map_err(|_| {
                DirectoryError::Search {
                    detail: "the directory sent an entry that cannot be read".into(),
                }
            })?;
        let attrs = entry
            .attrs
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        out.push((entry.dn, attrs));
    }
    Ok(out)
}

/// The user of an entry and its groups' DNs.
pub fn user_of(
    username: &str,
    (dn, attrs): &Found,
    settings: &DirectorySettings,
    groups: impl Iterator<Item = String>,
) -> DirectoryUser {
    let first = |name: &str| {
        attrs
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .cloned()
    };
    let personal_id = first(&settings.personal_id_attribute)
        .and_then(|text| PersonalId::parse(&text))
        .map(|p| p.normalized);
    let mut groups: Vec<String> = groups.map(|g| normalize_dn(&g)).collect();
    groups.sort();
    groups.dedup();
    DirectoryUser {
        dn: dn.clone(),
        username: username.to_string(),
        personal_id,
        display_name: first(&settings.display_name_attribute).filter(|n| !n.trim().is_empty()),
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    fn settings() -> DirectorySettings {
        DirectorySettings {
            url: "ldaps://ldap.example.no".into(),
            starttls: false,
            ca_file: PathBuf::from("ca.pem"),
            bind_dn: "cn=gw,dc=example,dc=no".into(),
            bind_password_file: PathBuf::from("pw"),
            user_base: "ou=people,dc=example,dc=no".into(),
            user_filter: "(uid={username})".into(),
            personal_id_attribute: "employeeNumber".into(),
            display_name_attribute: "cn".into(),
            group_base: "ou=groups,dc=example,dc=no".into(),
            group_filter: "(member={dn})".into(),
            timeout: Duration::from_secs(5),
            pool_size: 4,
        }
    }

    #[test]
    fn usernames_are_escaped_into_the_filter() {
        assert_eq!(user_filter("(uid={username})", "kari"), "(uid=kari)");
        assert_eq!(user_filter("(uid={username})", "*"), r"(uid=\2a)");
        assert_eq!(
            user_filter("(uid={username})", "a)(uid=*"),
            r"(uid=a\29\28uid=\2a)"
        );
        assert_eq!(
            group_filter("(member={dn})", r"cn=Berg\, Kari,ou=people"),
            r"(member=cn=Berg\5c, Kari,ou=people)"
        );
        assert!(plausible_username("kari.nordmann"));
        assert!(!plausible_username(" "));
        assert!(!plausible_username("kari\0"));
        assert!(!plausible_username(&"k".repeat(300)));
    }

    #[test]
    fn an_entry_becomes_a_user_with_normalised_identifier_and_groups() {
        let attrs = HashMap::from([
            (
                "employeenumber".to_string(),
                vec!["9578-4050-127091783".to_string()],
            ),
            ("cn".to_string(), vec!["Kari Nordmann".to_string()]),
        ]);
        let found = ("uid=kari,ou=people,dc=example,dc=no".to_string(), attrs);
        let groups = ["CN=Fastleger, ou=groups,dc=example,dc=no".to_string()];
        let user = user_of("kari", &found, &settings(), groups.into_iter());
        assert_eq!(
            user.personal_id.as_deref(),
            Some("UN:NO-9578-4050-127091783")
        );
        assert_eq!(user.display_name.as_deref(), Some("Kari Nordmann"));
        assert_eq!(user.groups, ["cn=fastleger,ou=groups,dc=example,dc=no"]);
        let bare = ("uid=x".to_string(), HashMap::new());
        let nobody = user_of("x", &bare, &settings(), std::iter::empty());
        assert_eq!(nobody.personal_id, None);
        assert_eq!(nobody.display_name, None);
    }
}
