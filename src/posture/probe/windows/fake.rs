//! A Windows made of fixtures, for tests of the probes on every platform: WMI rows as
//! `Get-CimInstance … | ConvertTo-Json` prints them, registry values, and what is missing.

use super::access::{wmi_reason, Hive, RegData, System, WBEM_E_INVALID_CLASS};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};

/// Canned WMI classes and registry values; anything not given is missing.
#[derive(Default)]
pub struct FakeSystem {
    /// (namespace, class) → the JSON of its rows, or the HRESULT its query fails with.
    wmi: BTreeMap<(String, String), Result<String, u32>>,
    /// (hive, key, name) → value.
    values: BTreeMap<(Hive, String, String), RegData>,
    /// Keys that exist (every key of a value exists too).
    keys: BTreeSet<(Hive, String)>,
}

/// A fixture's text (`tests/fixtures/posture/windows/NAME`), built into the test binary so the
/// Windows tests find it under wine too.
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/posture/windows/",
            $name
        ))
    };
}
pub(crate) use fixture;

impl FakeSystem {
    /// Class `class` in `namespace` answers with these rows (JSON: one object or an array).
    pub fn rows(&mut self, namespace: &str, class: &str, json: &str) -> &mut Self {
        self.wmi
            .insert((namespace.into(), class.into()), Ok(json.into()));
        self
    }

    /// Class `class` in `namespace` fails with `hresult`.
    pub fn fails(&mut self, namespace: &str, class: &str, hresult: u32) -> &mut Self {
        self.wmi
            .insert((namespace.into(), class.into()), Err(hresult));
        self
    }

    /// A registry value.
    pub fn set(&mut self, hive: Hive, key: &str, name: &str, data: RegData) -> &mut Self {
        self.values.insert((hive, key.into(), name.into()), data);
        self.keys.insert((hive, key.into()));
        self
    }

    /// A registry key without values.
    pub fn key(&mut self, hive: Hive, key: &str) -> &mut Self {
        self.keys.insert((hive, key.into()));
        self
    }
}

impl System for FakeSystem {
    fn query<T: DeserializeOwned>(&self, namespace: &str, class: &str) -> Result<Vec<T>, String> {
        let answer = self
            .wmi
            .get(&(namespace.to_string(), class.to_string()))
            .cloned()
            .unwrap_or(Err(WBEM_E_INVALID_CLASS));
        let json = answer.map_err(|hres| wmi_reason(namespace, class, hres))?;
        let value: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| format!("fixture of {class}: {e}"))?;
        let rows = match value {
            serde_json::Value::Array(rows) => rows,
            serde_json::Value::Null => Vec::new(),
            one => vec![one],
        };
        rows.into_iter()
            .map(|row| {
                serde_json::from_value(row)
                    .map_err(|e| format!("WMI class {class} in {namespace} could not be read: {e}"))
            })
            .collect()
    }

    fn value(&self, hive: Hive, key: &str, name: &str) -> Result<Option<RegData>, String> {
        Ok(self
            .values
            .get(&(hive, key.to_string(), name.to_string()))
            .cloned())
    }

    fn key_exists(&self, hive: Hive, key: &str) -> bool {
        self.keys.contains(&(hive, key.to_string()))
    }
}
