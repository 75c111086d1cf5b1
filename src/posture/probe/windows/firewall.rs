//! Firewall: the Windows firewall's three profiles (Domain, Private, Public) and the
//! third-party firewalls Windows Security Center knows; one entry each.
//!
//! Profiles: WMI `root\StandardCimv2` `MSFT_NetFirewallProfile` (`Enabled`, readable without
//! admin rights), falling back to the registry, `HKLM\SYSTEM\CurrentControlSet\Services\
//! SharedAccess\Parameters\FirewallPolicy\{DomainProfile,StandardProfile,PublicProfile}`
//! `EnableFirewall` (`StandardProfile` is the Private profile). Both hold the local setting;
//! Group Policy's `HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall\{DomainProfile,
//! PrivateProfile,PublicProfile}` `EnableFirewall` overrides it where set (`StandardProfile`
//! there too, from the older policy templates, for Private).
//!
//! Third-party firewalls: `root\SecurityCenter2` `FirewallProduct`, on when its
//! `productState` says so (the layout in [`ProductState`]).

use super::access::{Hive, System};
use super::antivirus::{ProductState, State, SECURITY_CENTER};
use crate::posture::probe::Host;
use crate::posture::report::{Fact, Firewall};
use serde::Deserialize;

const STANDARD_CIMV2: &str = r"root\StandardCimv2";
/// The local firewall settings.
pub const LOCAL_POLICY: &str =
    r"SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy";
/// The Group Policy firewall settings.
pub const GROUP_POLICY: &str = r"SOFTWARE\Policies\Microsoft\WindowsFirewall";

/// The profiles: (WMI `Name`, local registry key, Group Policy keys).
const PROFILES: [(&str, &str, &[&str]); 3] = [
    ("Domain", "DomainProfile", &["DomainProfile"]),
    (
        "Private",
        "StandardProfile",
        &["PrivateProfile", "StandardProfile"],
    ),
    ("Public", "PublicProfile", &["PublicProfile"]),
];

/// A number or flag as WMI or PowerShell may give it (`1`, `true`, `"True"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Flag {
    /// `GpoBoolean`: 0 False, 1 True, 2 NotConfigured.
    Number(u64),
    /// A boolean.
    Bool(bool),
    /// "True", "False", "NotConfigured".
    Text(String),
}

impl Flag {
    /// On, off, or not configured (`None`).
    pub fn enabled(&self) -> Option<bool> {
        match self {
            Flag::Number(0) | Flag::Bool(false) => Some(false),
            Flag::Number(1) | Flag::Bool(true) => Some(true),
            Flag::Text(t) if t.eq_ignore_ascii_case("true") || t == "1" => Some(true),
            Flag::Text(t) if t.eq_ignore_ascii_case("false") || t == "0" => Some(false),
            _ => None,
        }
    }
}

/// A row of `MSFT_NetFirewallProfile` (the properties used).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NetFirewallProfile {
    /// "Domain", "Private", "Public".
    #[serde(rename = "Name")]
    pub name: Option<String>,
    /// `GpoBoolean` (uint16): 0 False, 1 True, 2 NotConfigured.
    #[serde(rename = "Enabled")]
    pub enabled: Option<Flag>,
}

/// A row of `FirewallProduct` in `root\SecurityCenter2` (the properties used).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirewallProduct {
    /// The product.
    pub display_name: Option<String>,
    /// See [`ProductState`].
    pub product_state: Option<u32>,
}

/// `EnableFirewall` of one profile in the registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProfileRegistry {
    /// The local setting.
    pub local: Option<u64>,
    /// Group Policy's, which wins.
    pub policy: Option<u64>,
}

fn registry_flag(v: Option<u64>) -> Option<bool> {
    match v {
        Some(0) => Some(false),
        Some(1) => Some(true),
        _ => None,
    }
}

/// The firewalls from the profiles' rows (or why there are none), the registry (Domain,
/// Private, Public) and Security Center's products (or why there are none).
pub fn decide(
    profiles: Result<Vec<NetFirewallProfile>, String>,
    registry: &[ProfileRegistry; 3],
    products: Result<Vec<FirewallProduct>, String>,
) -> Fact<Vec<Firewall>> {
    let rows = profiles.as_deref().unwrap_or_default();
    let mut found = Vec::new();
    for ((name, _, _), reg) in PROFILES.iter().zip(registry) {
        let from_wmi = rows
            .iter()
            .find(|r| {
                r.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .and_then(|r| r.enabled.as_ref())
            .and_then(Flag::enabled);
        let enabled = registry_flag(reg.policy)
            .or(from_wmi)
            .or(registry_flag(reg.local));
        if let Some(enabled) = enabled {
            found.push(Firewall {
                name: format!("Windows Defender Firewall ({name})"),
                enabled,
            });
        }
    }
    let windows_known = !found.is_empty();
    if let Ok(products) = &products {
        found.extend(products.iter().map(|p| {
            Firewall {
                name: p
                    .display_name
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .unwrap_or("unnamed firewall")
                    .to_string(),
                enabled: p
                    .product_state
                    .map(ProductState::decode)
                    .is_some_and(|s| s.state == State::On),
            }
        }));
    }
    if windows_known || found.iter().any(|f| f.enabled) {
        return Fact::known(found);
    }
    let wmi = match profiles {
        Err(reason) => reason,
        Ok(_) => "MSFT_NetFirewallProfile gave no profile's state".into(),
    };
    let mut reason =
        format!(r"{wmi}; the registry has no EnableFirewall under HKLM\{LOCAL_POLICY}");
    if let Err(products) = products {
        reason.push_str(&format!("; {products}"));
    }
    Fact::unknown(reason)
}

/// Reads `EnableFirewall` of the three profiles.
pub fn read_registry(sys: &impl System) -> [ProfileRegistry; 3] {
    let number = |key: String| {
        sys.value(Hive::LocalMachine, &key, "EnableFirewall")
            .ok()
            .flatten()
            .and_then(|v| v.number())
    };
    PROFILES.map(|(_, local, policy)| ProfileRegistry {
        local: number(format!(r"{LOCAL_POLICY}\{local}")),
        policy: policy
            .iter()
            .find_map(|key| number(format!(r"{GROUP_POLICY}\{key}"))),
    })
}

/// The probe.
pub fn probe(_host: &dyn Host, sys: &impl System) -> Fact<Vec<Firewall>> {
    let profiles = sys.query::<NetFirewallProfile>(STANDARD_CIMV2, "MSFT_NetFirewallProfile");
    let products = sys.query::<FirewallProduct>(SECURITY_CENTER, "FirewallProduct");
    decide(profiles, &read_registry(sys), products)
}

#[cfg(test)]
mod tests {
    use super::super::access::{RegData, WBEM_E_INVALID_NAMESPACE};
    use super::super::fake::{fixture, FakeSystem};
    use super::*;
    use crate::posture::probe::fake::FakeHost;

    fn names(fact: &Fact<Vec<Firewall>>) -> Vec<(String, bool)> {
        fact.value()
            .unwrap()
            .iter()
            .map(|f| (f.name.clone(), f.enabled))
            .collect()
    }

    #[test]
    fn three_profiles_from_wmi_and_a_third_party_firewall() {
        let mut sys = FakeSystem::default();
        sys.rows(
            STANDARD_CIMV2,
            "MSFT_NetFirewallProfile",
            fixture!("msft_netfirewallprofile.json"),
        )
        .rows(
            SECURITY_CENTER,
            "FirewallProduct",
            fixture!("firewallproduct-third-party.json"),
        );
        let fact = probe(&FakeHost::default(), &sys);
        assert_eq!(
            names(&fact),
            [
                ("Windows Defender Firewall (Domain)".to_string(), true),
                ("Windows Defender Firewall (Private)".to_string(), true),
                ("Windows Defender Firewall (Public)".to_string(), false),
                ("Bitdefender Firewall".to_string(), true),
            ]
        );
    }

    #[test]
    fn group_policy_overrides_the_local_setting() {
        let mut sys = FakeSystem::default();
        sys.rows(
            STANDARD_CIMV2,
            "MSFT_NetFirewallProfile",
            fixture!("msft_netfirewallprofile.json"),
        )
        .rows(SECURITY_CENTER, "FirewallProduct", "[]")
        .set(
            Hive::LocalMachine,
            &format!(r"{GROUP_POLICY}\PublicProfile"),
            "EnableFirewall",
            RegData::Number(1),
        )
        .set(
            Hive::LocalMachine,
            &format!(r"{GROUP_POLICY}\StandardProfile"),
            "EnableFirewall",
            RegData::Number(0),
        );
        let fact = probe(&FakeHost::default(), &sys);
        assert_eq!(
            names(&fact),
            [
                ("Windows Defender Firewall (Domain)".to_string(), true),
                ("Windows Defender Firewall (Private)".to_string(), false),
                ("Windows Defender Firewall (Public)".to_string(), true),
            ]
        );
    }

    #[test]
    fn without_wmi_the_registry_tells() {
        let mut sys = FakeSystem::default();
        sys.fails(
            STANDARD_CIMV2,
            "MSFT_NetFirewallProfile",
            WBEM_E_INVALID_NAMESPACE,
        )
        .fails(SECURITY_CENTER, "FirewallProduct", WBEM_E_INVALID_NAMESPACE);
        for (key, on) in [
            ("DomainProfile", 1),
            ("StandardProfile", 1),
            ("PublicProfile", 0),
        ] {
            sys.set(
                Hive::LocalMachine,
                &format!(r"{LOCAL_POLICY}\{key}"),
                "EnableFirewall",
                RegData::Number(on),
            );
        }
        let fact = probe(&FakeHost::default(), &sys);
        assert_eq!(
            names(&fact),
            [
                ("Windows Defender Firewall (Domain)".to_string(), true),
                ("Windows Defender Firewall (Private)".to_string(), true),
                ("Windows Defender Firewall (Public)".to_string(), false),
            ]
        );
    }

    #[test]
    fn nothing_readable_is_unknown_saying_where_it_looked() {
        let mut sys = FakeSystem::default();
        sys.fails(
            STANDARD_CIMV2,
            "MSFT_NetFirewallProfile",
            WBEM_E_INVALID_NAMESPACE,
        )
        .fails(SECURITY_CENTER, "FirewallProduct", WBEM_E_INVALID_NAMESPACE);
        assert_eq!(
            probe(&FakeHost::default(), &sys),
            Fact::unknown(
                r"WMI namespace root\StandardCimv2 is not available (Windows before 8, or the firewall's WMI provider is missing?); the registry has no EnableFirewall under HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy; WMI namespace root\SecurityCenter2 is not available (not a Windows client edition?)"
            )
        );
    }

    #[test]
    fn flags_in_every_form() {
        assert_eq!(Flag::Number(2).enabled(), None);
        assert_eq!(Flag::Text("True".into()).enabled(), Some(true));
        assert_eq!(Flag::Bool(false).enabled(), Some(false));
        assert_eq!(Flag::Text("NotConfigured".into()).enabled(), None);
    }
}
