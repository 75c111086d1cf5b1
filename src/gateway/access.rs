//! Access policy: which office PCs a user may reach. Pure functions of the configuration.
//!
//! A grant names machines and groups; a group stands for every machine in it. The client asks
//! for a target by id, and [`authorize`] is the only way from an id to an address, so the
//! gateway never dials anything a grant does not name.
//!
//! An id nobody has and an id the user may not reach get the same answer to the client (it
//! must not learn which machines exist), but different codes in the audit log.

use serde::Serialize;

use super::config::{Config, GrantTo, Machine};

/// A machine a user may reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The id the client asks for.
    pub id: String,
    /// Name for people.
    pub name: String,
    /// Where the gateway connects. Never serialised: the client has no use for the inside
    /// addresses of the network, so they cannot leak through a message built from a `Target`.
    #[serde(skip)]
    pub address: String,
}

impl From<&Machine> for Target {
    fn from(m: &Machine) -> Self {
        Target {
            id: m.id.clone(),
            name: m.name.clone(),
            address: m.address.clone(),
        }
    }
}

/// Why a target was refused. Both say the same to the client ([`AccessError::client_message`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// No machine has this id.
    #[error("no machine has the id the client asked for")]
    UnknownTarget,
    /// The machine exists, but no grant of this user names it or its group.
    #[error("the user has no grant for this machine")]
    NotGranted,
}

impl AccessError {
    /// Stable code for the audit log.
    pub fn audit_code(&self) -> &'static str {
        match self {
            AccessError::UnknownTarget => "unknown-target",
            AccessError::NotGranted => "not-granted",
        }
    }

    /// What the client is told, the same for both.
    pub fn client_message(&self) -> &'static str {
        "Du har ikke tilgang til den maskinen. Velg en av maskinene du fikk oppgitt ved innlogging."
    }
}

/// Who asks: a username, and the directory groups the user was found in at login (DNs as
/// [`normalize_dn`](super::config::normalize_dn) spells them; none for `[[user]]` entries).
#[derive(Debug, Clone, Copy)]
pub struct Principal<'a> {
    /// The username as configured or as the directory has it.
    pub username: &'a str,
    /// Directory groups, normalised.
    pub groups: &'a [String],
}

impl<'a> Principal<'a> {
    /// A user with no directory groups.
    pub fn user(username: &'a str) -> Principal<'a> {
        Principal {
            username,
            groups: &[],
        }
    }
}

fn grants_machine(config: &Config, who: &Principal<'_>, machine: &Machine) -> bool {
    config
        .grants
        .iter()
        .filter(|g| match &g.to {
            GrantTo::User(user) => user.eq_ignore_ascii_case(who.username),
            GrantTo::LdapGroup(dn) => who.groups.contains(dn),
        })
        .any(|g| {
            g.machines.contains(&machine.id)
                || machine
                    .group
                    .as_ref()
                    .is_some_and(|group| g.groups.contains(group))
        })
}

/// Every machine the user may reach, in the order of the `[[machine]]` entries, each once.
pub fn targets(config: &Config, username: &str) -> Vec<Target> {
    targets_for(config, &Principal::user(username))
}

/// [`targets`] for a user with directory groups.
pub fn targets_for(config: &Config, who: &Principal<'_>) -> Vec<Target> {
    config
        .machines
        .iter()
        .filter(|m| grants_machine(config, who, m))
        .map(Target::from)
        .collect()
}

/// The machine to connect to when `username` asks for `target_id`, or why not.
pub fn authorize<'c>(
    config: &'c Config,
    username: &str,
    target_id: &str,
) -> Result<&'c Machine, AccessError> {
    authorize_for(config, &Principal::user(username), target_id)
}

/// [`authorize`] for a user with directory groups.
pub fn authorize_for<'c>(
    config: &'c Config,
    who: &Principal<'_>,
    target_id: &str,
) -> Result<&'c Machine, AccessError> {
    let machine = config
        .machine(target_id)
        .ok_or(AccessError::UnknownTarget)?;
    if grants_machine(config, who, machine) {
        Ok(machine)
    } else {
        Err(AccessError::NotGranted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::testutil;

    fn ids(targets: &[Target]) -> Vec<&str> {
        targets.iter().map(|t| t.id.as_str()).collect()
    }

    #[test]
    fn machines_and_groups_expand_to_targets() {
        let c = testutil::config();
        assert_eq!(ids(&targets(&c, "kari")), ["kontor-1"]);
        // The grant says "Ola"; usernames ignore ASCII case.
        assert_eq!(ids(&targets(&c, "ola")), ["lv-1", "lv-2"]);
        assert!(targets(&c, "nils").is_empty());
        assert!(targets(&c, "nobody").is_empty());
    }

    #[test]
    fn authorize_only_what_a_grant_names() {
        let c = testutil::config();
        assert_eq!(
            authorize(&c, "kari", "kontor-1").unwrap().address,
            "10.0.0.1:3389"
        );
        assert_eq!(
            authorize(&c, "ola", "lv-2").unwrap().address,
            "lv-2.kommune.example:3389"
        );
        let not_granted = authorize(&c, "kari", "lv-1").unwrap_err();
        let unknown = authorize(&c, "kari", "lv-9").unwrap_err();
        assert_eq!(not_granted, AccessError::NotGranted);
        assert_eq!(unknown, AccessError::UnknownTarget);
        // Different for the audit, the same for the client.
        assert_ne!(not_granted.audit_code(), unknown.audit_code());
        assert_eq!(not_granted.client_message(), unknown.client_message());
        // Ids are exact: no case folding, no prefixes.
        assert!(authorize(&c, "kari", "KONTOR-1").is_err());
        assert!(authorize(&c, "kari", "kontor").is_err());
    }

    #[test]
    fn a_target_never_serialises_its_address() {
        let c = testutil::config();
        let json = serde_json::to_string(&targets(&c, "ola")).unwrap();
        assert!(!json.contains("10.0.1.1"), "{json}");
        assert!(json.contains("\"lv-1\""));
    }
}
