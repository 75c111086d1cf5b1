//! The probes' access to WMI and the registry, behind one small trait ([`System`]), and the
//! pure helpers every probe shares: the reason for a failed WMI query, registry data, and the
//! time formats WMI and PowerShell write.
//!
//! The real access ([`Local`], Windows only) is thin on purpose: it runs a `SELECT *` on one
//! class through the `wmi` crate (a safe wrapper over COM, since this crate forbids `unsafe`),
//! which deserialises each row into a map of its properties; the map is turned into JSON and
//! then into the probe's serde struct, the same way a fixture (a row as
//! `Get-CimInstance … | ConvertTo-Json` prints it) is in the tests. Going through the map
//! rather than straight into the struct keeps a row whose class lacks one property on an
//! older build (that property is `None`), where the `wmi` crate would fail the whole row. The
//! registry is read one value at a time through `winreg`. Everything either returns goes to
//! pure functions that are tested on every platform, with fixtures given to a fake `System`.
//!
//! COM: a WMI connection is made on each query, in the probe's own thread (the runner gives
//! each fact a thread). `wmi` initialises COM for the process's multithreaded apartment when
//! it is not yet initialised (`CoIncrementMTAUsage`, and the default security), so every
//! probe thread may use it without setting anything up; nothing is shared between threads.
//! A WMI call has no time bound of its own: the runner's per-fact bound covers it.

use serde::de::DeserializeOwned;

/// A registry hive the probes read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hive {
    /// `HKEY_LOCAL_MACHINE`.
    LocalMachine,
    /// `HKEY_CURRENT_USER`.
    CurrentUser,
}

impl Hive {
    /// The short name, as in `HKLM\SOFTWARE\…`.
    pub fn label(self) -> &'static str {
        match self {
            Hive::LocalMachine => "HKLM",
            Hive::CurrentUser => "HKCU",
        }
    }
}

/// A registry value as the probes need it: a number (`REG_DWORD`, `REG_QWORD`) or text
/// (`REG_SZ`, `REG_EXPAND_SZ`). Windows keeps some numbers as text (`ScreenSaveTimeOut` is a
/// `REG_SZ` of seconds), so both read as either where it makes sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegData {
    /// `REG_DWORD` or `REG_QWORD`.
    Number(u64),
    /// `REG_SZ` or `REG_EXPAND_SZ`.
    Text(String),
    /// Any other type (binary, multi-string).
    Other,
}

impl RegData {
    /// The value as a number: a number, or text that is a decimal number.
    pub fn number(&self) -> Option<u64> {
        match self {
            RegData::Number(n) => Some(*n),
            RegData::Text(t) => t.trim().parse().ok(),
            RegData::Other => None,
        }
    }

    /// The value as text: text, or a number written in decimal.
    pub fn text(&self) -> Option<String> {
        match self {
            RegData::Number(n) => Some(n.to_string()),
            RegData::Text(t) => Some(t.clone()),
            RegData::Other => None,
        }
    }
}

/// What the probes ask of Windows besides the [`Host`](super::super::Host).
pub trait System {
    /// Every row of WMI class `class` in `namespace` (`root\cimv2`), each deserialised into `T`
    /// (a struct naming the properties it needs; absent or null ones are `None`). The error is
    /// a reason fit for an unknown fact.
    fn query<T: DeserializeOwned>(&self, namespace: &str, class: &str) -> Result<Vec<T>, String>;
    /// A registry value; `Ok(None)` when the key or the value does not exist.
    fn value(&self, hive: Hive, key: &str, name: &str) -> Result<Option<RegData>, String>;
    /// Whether a registry key exists (`false` too when it cannot be opened).
    fn key_exists(&self, hive: Hive, key: &str) -> bool;
}

// HRESULTs the reasons tell apart (WMI error constants, winerror.h).
const WBEM_E_FAILED: u32 = 0x8004_1001;
const WBEM_E_NOT_FOUND: u32 = 0x8004_1002;
const WBEM_E_ACCESS_DENIED: u32 = 0x8004_1003;
const WBEM_E_NOT_SUPPORTED: u32 = 0x8004_100C;
/// The namespace does not exist.
pub const WBEM_E_INVALID_NAMESPACE: u32 = 0x8004_100E;
/// The class does not exist in the namespace.
pub const WBEM_E_INVALID_CLASS: u32 = 0x8004_1010;
const WBEM_E_PROVIDER_LOAD_FAILURE: u32 = 0x8004_1013;
const WBEM_E_INVALID_QUERY: u32 = 0x8004_1017;
const E_ACCESSDENIED: u32 = 0x8007_0005;
const REGDB_E_CLASSNOTREG: u32 = 0x8004_0154;
const RPC_S_SERVER_UNAVAILABLE: u32 = 0x8007_06BA;
const E_NOTIMPL: u32 = 0x8000_4001;

/// Why a namespace may be missing, for the reason's parenthesis.
fn namespace_hint(namespace: &str) -> &'static str {
    match namespace.to_ascii_lowercase().as_str() {
        r"root\securitycenter2" => " (not a Windows client edition?)",
        r"root\microsoft\windows\defender" => " (Microsoft Defender is not installed?)",
        r"root\standardcimv2" => " (Windows before 8, or the firewall's WMI provider is missing?)",
        _ => "",
    }
}

/// The reason for a failed WMI query of `class` in `namespace`, from its HRESULT.
pub fn wmi_reason(namespace: &str, class: &str, hresult: u32) -> String {
    match hresult {
        WBEM_E_INVALID_NAMESPACE => format!(
            "WMI namespace {namespace} is not available{}",
            namespace_hint(namespace)
        ),
        WBEM_E_INVALID_CLASS | WBEM_E_NOT_FOUND => {
            format!("WMI class {class} is not available in {namespace}")
        }
        WBEM_E_ACCESS_DENIED | E_ACCESSDENIED => {
            format!("WMI class {class} in {namespace} may not be read without admin rights")
        }
        WBEM_E_PROVIDER_LOAD_FAILURE => {
            format!("the WMI provider of {class} in {namespace} could not be loaded")
        }
        WBEM_E_INVALID_QUERY => {
            format!("WMI class {class} in {namespace} does not answer a plain query")
        }
        WBEM_E_NOT_SUPPORTED | E_NOTIMPL => {
            format!("WMI class {class} in {namespace} is not supported here")
        }
        REGDB_E_CLASSNOTREG => "WMI is not available (its COM class is not registered)".into(),
        RPC_S_SERVER_UNAVAILABLE => "the WMI service is not running".into(),
        WBEM_E_FAILED => format!("the WMI query of {class} in {namespace} failed"),
        other => format!("the WMI query of {class} in {namespace} failed (HRESULT 0x{other:08X})"),
    }
}

/// A time as WMI and PowerShell write it, as Unix seconds:
/// - a CIM datetime (DMTF), what WMI gives for datetime properties:
///   `yyyymmddHHMMSS.mmmmmm±UUU`, the last part the offset from UTC in minutes;
/// - `/Date(milliseconds)/`, Windows PowerShell 5.1's `ConvertTo-Json` of a date;
/// - RFC 3339 (`2024-12-10T08:32:25.1234567+01:00`), PowerShell 7's `ConvertTo-Json` and
///   `ToString('o')`.
///
/// `None` for anything else, and for a CIM datetime with wildcards (`*`, "not known").
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(inner) = text
        .strip_prefix("/Date(")
        .and_then(|rest| rest.strip_suffix(")/"))
    {
        // `/Date(1733819545000)/`, perhaps with an offset (`+0100`) that does not change the
        // instant: the milliseconds are since the Unix epoch in UTC.
        let digits_end = inner
            .char_indices()
            .skip(1)
            .find(|(_, c)| !c.is_ascii_digit())
            .map_or(inner.len(), |(i, _)| i);
        let millis: i64 = inner[..digits_end].parse().ok()?;
        return Some(millis.div_euclid(1000));
    }
    if let Some(t) = parse_dmtf(text) {
        return Some(t);
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

fn parse_dmtf(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 25 || b[14] != b'.' || !(b[21] == b'+' || b[21] == b'-') {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let s = text.get(from..to)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (num(0, 4)?, num(4, 6)?, num(6, 8)?);
    let (hour, minute, second) = (num(8, 10)?, num(10, 12)?, num(12, 14)?);
    let offset_minutes = num(22, 25)? * if b[21] == b'-' { -1 } else { 1 };
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?)
            .ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
    )
    .ok()?;
    let local = time::PrimitiveDateTime::new(date, clock).assume_utc();
    Some(local.unix_timestamp() - offset_minutes * 60)
}

/// The first line of what a program said, for a reason ("" when it said nothing).
pub fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// The real WMI and registry.
#[cfg(windows)]
pub use local::Local;

#[cfg(windows)]
mod local {
    use super::{wmi_reason, Hive, RegData, System};
    use serde::de::DeserializeOwned;
    use std::collections::HashMap;
    use winreg::enums::{HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE};
    use winreg::types::FromRegValue;
    use winreg::RegKey;
    use wmi::Variant;

    /// WMI through the `wmi` crate, the registry through `winreg`. Made in the probe's thread
    /// and used only there (a WMI connection may not cross threads).
    #[derive(Default)]
    pub struct Local;

    impl Local {
        /// Ready to query; connections are made per query.
        pub fn new() -> Local {
            Local
        }
    }

    /// A property's value as JSON, as PowerShell's `ConvertTo-Json` would write it (embedded
    /// objects, which no probe reads, as null).
    fn json(value: Variant) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Variant::Empty | Variant::Null | Variant::Unknown(_) | Variant::Object(_) => {
                Value::Null
            }
            Variant::String(s) => Value::String(s),
            Variant::Bool(b) => Value::Bool(b),
            Variant::I1(n) => n.into(),
            Variant::I2(n) => n.into(),
            Variant::I4(n) => n.into(),
            Variant::I8(n) => n.into(),
            Variant::UI1(n) => n.into(),
            Variant::UI2(n) => n.into(),
            Variant::UI4(n) => n.into(),
            Variant::UI8(n) => n.into(),
            Variant::R4(f) => {
                serde_json::Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number)
            }
            Variant::R8(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            Variant::Array(items) => Value::Array(items.into_iter().map(json).collect()),
        }
    }

    fn reason(namespace: &str, class: &str, e: &wmi::WMIError) -> String {
        match e {
            // An HRESULT is an i32; its bits are the unsigned code the constants name.
            wmi::WMIError::HResultError { hres } => {
                wmi_reason(namespace, class, u32::from_ne_bytes(hres.to_ne_bytes()))
            }
            other => format!("WMI class {class} in {namespace} could not be read: {other}"),
        }
    }

    impl System for Local {
        fn query<T: DeserializeOwned>(
            &self,
            namespace: &str,
            class: &str,
        ) -> Result<Vec<T>, String> {
            let connection = wmi::WMIConnection::with_namespace_path(namespace)
                .map_err(|e| reason(namespace, class, &e))?;
            let rows: Vec<HashMap<String, Variant>> = connection
                .raw_query(format!("SELECT * FROM {class}"))
                .map_err(|e| reason(namespace, class, &e))?;
            rows.into_iter()
                .map(|row| {
                    let row = serde_json::Value::Object(
                        row.into_iter().map(|(k, v)| (k, json(v))).collect(),
                    );
                    serde_json::from_value(row).map_err(|e| {
                        format!("WMI class {class} in {namespace} could not be read: {e}")
                    })
                })
                .collect()
        }

        fn value(&self, hive: Hive, key: &str, name: &str) -> Result<Option<RegData>, String> {
            let open = |k: &str| match hive {
                Hive::LocalMachine => RegKey::predef(HKEY_LOCAL_MACHINE).open_subkey(k),
                Hive::CurrentUser => RegKey::predef(HKEY_CURRENT_USER).open_subkey(k),
            };
            let where_ = || format!(r"{}\{key}\{name}", hive.label());
            let subkey = match open(key) {
                Ok(subkey) => subkey,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(format!("{} could not be read: {e}", where_())),
            };
            let raw = match subkey.get_raw_value(name) {
                Ok(raw) => raw,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(format!("{} could not be read: {e}", where_())),
            };
            let data = if let Ok(n) = u32::from_reg_value(&raw) {
                RegData::Number(u64::from(n))
            } else if let Ok(n) = u64::from_reg_value(&raw) {
                RegData::Number(n)
            } else if let Ok(s) = String::from_reg_value(&raw) {
                RegData::Text(s)
            } else {
                RegData::Other
            };
            Ok(Some(data))
        }

        fn key_exists(&self, hive: Hive, key: &str) -> bool {
            let root = match hive {
                Hive::LocalMachine => RegKey::predef(HKEY_LOCAL_MACHINE),
                Hive::CurrentUser => RegKey::predef(HKEY_CURRENT_USER),
            };
            root.open_subkey(key).is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_form_windows_writes_them() {
        // 2024-12-10 08:32:25 UTC.
        let t = 1_733_819_545;
        assert_eq!(parse_time("20241210093225.000000+060"), Some(t));
        assert_eq!(parse_time("20241210083225.123456+000"), Some(t));
        assert_eq!(parse_time("20241210033225.000000-300"), Some(t));
        assert_eq!(parse_time("/Date(1733819545000)/"), Some(t));
        assert_eq!(parse_time("/Date(1733819545999+0100)/"), Some(t));
        assert_eq!(parse_time("2024-12-10T09:32:25.1234567+01:00"), Some(t));
        assert_eq!(parse_time("2024-12-10T08:32:25.0000000Z"), Some(t));
        for bad in [
            "",
            "yesterday",
            "2024121008****.******+000",
            "20241310083225.000000+000",
        ] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn wmi_failures_say_what_is_missing() {
        assert_eq!(
            wmi_reason(
                r"root\SecurityCenter2",
                "AntiVirusProduct",
                WBEM_E_INVALID_NAMESPACE
            ),
            r"WMI namespace root\SecurityCenter2 is not available (not a Windows client edition?)"
        );
        assert_eq!(
            wmi_reason(
                r"root\cimv2",
                "Win32_QuickFixEngineering",
                WBEM_E_INVALID_CLASS
            ),
            r"WMI class Win32_QuickFixEngineering is not available in root\cimv2"
        );
        assert_eq!(
            wmi_reason(r"root\cimv2", "Win32_Foo", E_ACCESSDENIED),
            r"WMI class Win32_Foo in root\cimv2 may not be read without admin rights"
        );
        assert_eq!(
            wmi_reason(r"root\cimv2", "Win32_Foo", 0x8000_FFFF),
            r"the WMI query of Win32_Foo in root\cimv2 failed (HRESULT 0x8000FFFF)"
        );
    }

    #[test]
    fn registry_numbers_kept_as_text_read_as_numbers() {
        assert_eq!(RegData::Text(" 600 ".into()).number(), Some(600));
        assert_eq!(RegData::Number(1).text().as_deref(), Some("1"));
        assert_eq!(RegData::Text("x".into()).number(), None);
        assert_eq!(RegData::Other.text(), None);
    }
}
