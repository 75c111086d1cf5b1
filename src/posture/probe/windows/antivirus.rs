//! Antivirus: the products Windows Security Center knows (WMI `root\SecurityCenter2`
//! `AntiVirusProduct`, readable without admin rights on client editions), and Microsoft
//! Defender's own status (`root\Microsoft\Windows\Defender` `MSFT_MpComputerStatus`).
//!
//! One entry per Security Center product. Real-time protection is the product's state in
//! `productState` ([`ProductState`]); for Defender, its own status overrides it when readable
//! (antivirus on, real-time protection on, not in passive mode). Definitions:
//! - Defender: `AntivirusSignatureLastUpdated`, when the definitions were last updated;
//! - any product (Defender too when its status cannot be read): the Security Center
//!   `timestamp`, the time the product last reported its state, but only while that state says
//!   the definitions are up to date. Vendors do not report when their definitions were
//!   published; "the product said its definitions were current at this time" is the nearest
//!   fact there is. A product that says they are out of date has definitions of unknown age.

use super::access::{parse_time, System};
use crate::posture::probe::Host;
use crate::posture::report::{Antivirus, Fact};
use serde::Deserialize;

/// Windows Security Center's namespace.
pub const SECURITY_CENTER: &str = r"root\SecurityCenter2";
/// Microsoft Defender's namespace.
const DEFENDER: &str = r"root\Microsoft\Windows\Defender";

/// The state of a Security Center product, decoded from `productState`.
///
/// `productState` is not documented by Microsoft; its layout is the one established by
/// inspection and used widely (three bytes, `0xPPSSDD`):
/// - bits 16–23: the security provider types (`WSC_SECURITY_PROVIDER` flags: 0x01 firewall,
///   0x02 automatic updates, 0x04 antivirus, 0x08 antispyware, …);
/// - bits 12–15: the product state: 0 off, 1 on, 2 snoozed, 3 expired;
/// - bits 8–11: the owner: 1 Microsoft (Windows' own product), 0 another vendor;
/// - bits 4–7: the definitions: 0 up to date, 1 out of date.
///
/// Values relied on, as seen from Defender: 397568 = 0x061100 (on, Microsoft, up to date),
/// 397584 = 0x061110 (on, out of date), 393472 = 0x060100 (off: another antivirus is active);
/// a third-party product on and up to date: 266240 = 0x041000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductState {
    /// The product state nibble.
    pub state: State,
    /// Windows' own product.
    pub microsoft: bool,
    /// The definitions are up to date.
    pub up_to_date: bool,
}

/// A product's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Off.
    Off,
    /// On: protecting now.
    On,
    /// Snoozed: turned off for a while.
    Snoozed,
    /// Expired: its licence ran out.
    Expired,
    /// A value the layout does not name.
    Other(u8),
}

impl ProductState {
    /// Decodes `productState`.
    pub fn decode(value: u32) -> ProductState {
        let nibble = |shift: u32| u8::try_from((value >> shift) & 0xF).unwrap_or(0xF);
        let state = match nibble(12) {
            0 => State::Off,
            1 => State::On,
            2 => State::Snoozed,
            3 => State::Expired,
            other => State::Other(other),
        };
        ProductState {
            state,
            microsoft: nibble(8) == 1,
            up_to_date: nibble(4) == 0,
        }
    }
}

/// A row of `AntiVirusProduct` in `root\SecurityCenter2` (the properties used).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AntiVirusProduct {
    /// "Windows Defender", "ESET Security".
    pub display_name: Option<String>,
    /// See [`ProductState`].
    pub product_state: Option<u32>,
    /// When the product last reported its state: "Tue, 10 Dec 2024 08:32:25 GMT".
    pub timestamp: Option<String>,
}

/// A row of `MSFT_MpComputerStatus` (the properties used).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MpComputerStatus {
    /// The antivirus engine is on.
    #[serde(rename = "AntivirusEnabled")]
    pub antivirus_enabled: Option<bool>,
    /// Real-time protection is on.
    #[serde(rename = "RealTimeProtectionEnabled")]
    pub real_time_protection_enabled: Option<bool>,
    /// When the definitions were last updated (a CIM datetime).
    #[serde(rename = "AntivirusSignatureLastUpdated")]
    pub antivirus_signature_last_updated: Option<String>,
    /// "Normal", "Passive Mode", "EDR Block Mode", "SxS Passive Mode".
    #[serde(rename = "AMRunningMode")]
    pub am_running_mode: Option<String>,
}

/// The name Defender's own status is reported under when Security Center has no entry.
const DEFENDER_NAME: &str = "Microsoft Defender Antivirus";

/// The Security Center `timestamp` (RFC 1123: "Tue, 10 Dec 2024 08:32:25 GMT"), as Unix
/// seconds; other forms `parse_time` knows are taken too.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if let [_, day, month, year, clock, zone] = words.as_slice() {
        if !matches!(*zone, "GMT" | "UTC" | "Z" | "+0000") {
            return None;
        }
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))?;
        let month = time::Month::try_from(u8::try_from(month + 1).ok()?).ok()?;
        let date =
            time::Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()?;
        let mut hms = clock.split(':').map(|p| p.parse::<u8>().ok());
        let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
        let clock = time::Time::from_hms(h, m, s).ok()?;
        return Some(
            time::PrimitiveDateTime::new(date, clock)
                .assume_utc()
                .unix_timestamp(),
        );
    }
    parse_time(text)
}

fn is_defender(name: &str, state: Option<ProductState>) -> bool {
    name.to_ascii_lowercase().contains("defender") && state.is_none_or(|s| s.microsoft)
}

/// Defender's real-time protection from its own status, if it says.
fn defender_real_time(status: &MpComputerStatus) -> Option<bool> {
    let passive = status
        .am_running_mode
        .as_deref()
        .is_some_and(|m| m.to_ascii_lowercase().contains("passive"));
    match (
        status.antivirus_enabled,
        status.real_time_protection_enabled,
    ) {
        (Some(av), Some(rtp)) => Some(av && rtp && !passive),
        (None, Some(rtp)) => Some(rtp && !passive),
        _ => None,
    }
}

/// The products from Security Center's rows (or why there are none) and Defender's status.
pub fn decide(
    products: Result<Vec<AntiVirusProduct>, String>,
    defender: Result<Option<MpComputerStatus>, String>,
) -> Fact<Vec<Antivirus>> {
    let defender_status = defender.as_ref().ok().and_then(Option::as_ref);
    let products = match products {
        Ok(products) => products,
        Err(reason) => {
            return match &defender {
                Ok(Some(status)) => Fact::known(vec![from_defender_status(status)]),
                Err(defender_reason) => Fact::unknown(format!("{reason}; {defender_reason}")),
                Ok(None) => Fact::unknown(format!(
                    "{reason}; MSFT_MpComputerStatus in {DEFENDER} has no row"
                )),
            };
        }
    };
    let mut found: Vec<Antivirus> = products
        .iter()
        .map(|p| {
            let name = p
                .display_name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .unwrap_or("unnamed antivirus")
                .to_string();
            let state = p.product_state.map(ProductState::decode);
            let reported = p.timestamp.as_deref().and_then(parse_timestamp);
            let sc_definitions = state.filter(|s| s.up_to_date).and(reported);
            let sc_real_time = state.is_some_and(|s| s.state == State::On);
            match defender_status.filter(|_| is_defender(&name, state)) {
                Some(status) => Antivirus {
                    name,
                    real_time: defender_real_time(status).unwrap_or(sc_real_time),
                    definitions_at: status
                        .antivirus_signature_last_updated
                        .as_deref()
                        .and_then(parse_time)
                        .or(sc_definitions),
                },
                None => Antivirus {
                    name,
                    real_time: sc_real_time,
                    definitions_at: sc_definitions,
                },
            }
        })
        .collect();
    let listed = products.iter().any(|p| {
        let state = p.product_state.map(ProductState::decode);
        is_defender(p.display_name.as_deref().unwrap_or(""), state)
    });
    if let Some(status) = defender_status.filter(|s| !listed && defender_real_time(s) == Some(true))
    {
        found.push(from_defender_status(status));
    }
    Fact::known(found)
}

fn from_defender_status(status: &MpComputerStatus) -> Antivirus {
    Antivirus {
        name: DEFENDER_NAME.into(),
        real_time: defender_real_time(status).unwrap_or(false),
        definitions_at: status
            .antivirus_signature_last_updated
            .as_deref()
            .and_then(parse_time),
    }
}

/// The probe.
pub fn probe(_host: &dyn Host, sys: &impl System) -> Fact<Vec<Antivirus>> {
    let products = sys.query::<AntiVirusProduct>(SECURITY_CENTER, "AntiVirusProduct");
    let defender = sys
        .query::<MpComputerStatus>(DEFENDER, "MSFT_MpComputerStatus")
        .map(|rows| rows.into_iter().next());
    decide(products, defender)
}

#[cfg(test)]
mod tests {
    use super::super::access::WBEM_E_INVALID_NAMESPACE;
    use super::super::fake::{fixture, FakeSystem};
    use super::*;
    use crate::posture::probe::fake::FakeHost;

    #[test]
    fn product_state_layout() {
        let on = ProductState::decode(397_568);
        assert_eq!(
            on,
            ProductState {
                state: State::On,
                microsoft: true,
                up_to_date: true
            }
        );
        assert!(!ProductState::decode(397_584).up_to_date);
        assert_eq!(ProductState::decode(393_472).state, State::Off);
        let third_party = ProductState::decode(266_240);
        assert_eq!(
            (third_party.state, third_party.microsoft),
            (State::On, false)
        );
        assert_eq!(ProductState::decode(0x06_21_00).state, State::Snoozed);
        assert_eq!(ProductState::decode(0x06_31_00).state, State::Expired);
    }

    #[test]
    fn security_center_timestamps() {
        assert_eq!(
            parse_timestamp("Tue, 10 Dec 2024 08:32:25 GMT"),
            Some(1_733_819_545)
        );
        assert_eq!(parse_timestamp("Tue, 10 Dec 2024 08:32:25 CET"), None);
        assert_eq!(parse_timestamp("garbage"), None);
    }

    #[test]
    fn defender_alone_with_its_own_signature_time() {
        let mut sys = FakeSystem::default();
        sys.rows(
            SECURITY_CENTER,
            "AntiVirusProduct",
            fixture!("antivirusproduct-defender.json"),
        )
        .rows(
            DEFENDER,
            "MSFT_MpComputerStatus",
            fixture!("msft_mpcomputerstatus.json"),
        );
        let found = probe(&FakeHost::default(), &sys);
        assert_eq!(
            found,
            Fact::known(vec![Antivirus {
                name: "Windows Defender".into(),
                real_time: true,
                // 2024-12-16 06:41:09 UTC.
                definitions_at: Some(1_734_331_269),
            }])
        );
    }

    #[test]
    fn a_third_party_product_and_defender_in_passive_mode() {
        let mut sys = FakeSystem::default();
        sys.rows(
            SECURITY_CENTER,
            "AntiVirusProduct",
            fixture!("antivirusproduct-eset-and-defender.json"),
        )
        .rows(
            DEFENDER,
            "MSFT_MpComputerStatus",
            fixture!("msft_mpcomputerstatus-passive.json"),
        );
        let found = probe(&FakeHost::default(), &sys);
        let found = found.value().unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0],
            Antivirus {
                name: "ESET Security".into(),
                real_time: true,
                // Up to date as of its last report, 2024-12-17 07:05:12 UTC.
                definitions_at: Some(1_734_419_112),
            }
        );
        assert_eq!(found[1].name, "Windows Defender");
        assert!(!found[1].real_time);
    }

    #[test]
    fn out_of_date_definitions_have_no_age_and_snoozed_is_not_real_time() {
        let products = vec![AntiVirusProduct {
            display_name: Some("Norton 360".into()),
            product_state: Some(0x06_20_10),
            timestamp: Some("Tue, 10 Dec 2024 08:32:25 GMT".into()),
        }];
        let found = decide(Ok(products), Err("no Defender".into()));
        assert_eq!(
            found,
            Fact::known(vec![Antivirus {
                name: "Norton 360".into(),
                real_time: false,
                definitions_at: None,
            }])
        );
    }

    #[test]
    fn a_server_without_security_center_reports_defender_from_its_status() {
        let mut sys = FakeSystem::default();
        sys.fails(
            SECURITY_CENTER,
            "AntiVirusProduct",
            WBEM_E_INVALID_NAMESPACE,
        )
        .rows(
            DEFENDER,
            "MSFT_MpComputerStatus",
            fixture!("msft_mpcomputerstatus.json"),
        );
        let found = probe(&FakeHost::default(), &sys);
        assert_eq!(found.value().unwrap()[0].name, DEFENDER_NAME);
        assert!(found.value().unwrap()[0].real_time);
    }

    #[test]
    fn nothing_readable_is_unknown_naming_both() {
        let mut sys = FakeSystem::default();
        sys.fails(
            SECURITY_CENTER,
            "AntiVirusProduct",
            WBEM_E_INVALID_NAMESPACE,
        )
        .fails(DEFENDER, "MSFT_MpComputerStatus", WBEM_E_INVALID_NAMESPACE);
        assert_eq!(
            probe(&FakeHost::default(), &sys),
            Fact::unknown(
                r"WMI namespace root\SecurityCenter2 is not available (not a Windows client edition?); WMI namespace root\Microsoft\Windows\Defender is not available (Microsoft Defender is not installed?)"
            )
        );
    }
}
