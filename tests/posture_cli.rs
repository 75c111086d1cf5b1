//! `hjemmekontor posture` as a person runs it: the report of this computer, and a real
//! gateway's verdict on it before any card or PIN. The firewall cases run in network
//! namespaces of their own (so the rules touch nothing else): with no rules the firewall rule
//! refuses the computer in bokmål, as `warn` it lets it in, and with an nftables input chain
//! whose policy is drop the same `deny` rule lets it in.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::gateway::{config, user_entry};

const CLIENT: &str = env!("CARGO_BIN_EXE_hjemmekontor");
const GATEWAY: &str = env!("CARGO_BIN_EXE_hjemmekontor-gateway");
/// The gateway's port inside each namespace (a namespace has its own ports).
const PORT: u16 = 18443;

#[test]
fn the_local_report_is_coherent_and_says_why_for_what_it_cannot_know() {
    let out = Command::new(CLIENT)
        .args(["posture", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let report = &json["report"];
    assert_eq!(report["version"], 1);
    assert!(report["taken_at"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(report["os"]["state"], "known", "{report}");
    assert_eq!(report["os"]["value"]["family"], std::env::consts::OS);
    for fact in [
        "firewall",
        "antivirus",
        "updates",
        "disk_encryption",
        "screen_lock",
    ] {
        match report[fact]["state"].as_str() {
            Some("known") => assert!(!report[fact]["value"].is_null(), "{fact}"),
            Some("unknown") => {
                let reason = report[fact]["reason"].as_str().unwrap();
                assert!(reason.len() > 10, "{fact}: «{reason}»");
            }
            other => panic!("{fact}: {other:?}"),
        }
    }
    assert!(json.get("gateway").is_none());

    // The same in words, in Norwegian.
    let out = Command::new(CLIENT)
        .args(["--lang", "nb", "posture"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "Operativsystem:",
        "Brannmur:",
        "Antivirus:",
        "Oppdateringer:",
        "Diskkryptering:",
        "Skjermlås:",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}

/// Whether this machine can make network namespaces with nftables in them; with `CI` set it
/// must (the test fails, naming what is missing).
fn namespaces_with_nft() -> bool {
    let problem = if !cfg!(target_os = "linux") {
        Some("network namespaces are Linux only".to_string())
    } else {
        let probe = Command::new("unshare")
            .args(["-rn", "sh", "-c", "nft list ruleset"])
            .output();
        match probe {
            Err(e) => Some(format!("unshare could not run: {e}")),
            Ok(o) if !o.status.success() => Some(format!(
                "`unshare -rn nft list ruleset` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Ok(_) => None,
        }
    };
    match problem {
        None => true,
        Some(p) if std::env::var_os("CI").is_some() => {
            panic!("a network namespace with nftables is required when CI is set: {p} (installer/dev/setup.sh installs nftables)")
        }
        Some(p) => {
            eprintln!("skipped: {p}");
            false
        }
    }
}

/// Starts a gateway whose only posture rule is the firewall with `action`, in a new network
/// namespace where `firewall` (an nft script, or nothing) is in force, and runs
/// `posture --gateway --json` against it there. The client's exit code and its JSON.
fn verdict_in_namespace(dir: &Path, action: &str, firewall: Option<&str>) -> (i32, Value) {
    let rest = format!(
        "{}\n[posture]\n[[posture.rule]]\ncheck = \"firewall\"\naction = \"{action}\"\n",
        user_entry("ase", "UN:NO-9578-4050-12345678", "riktig-passord-TEST")
    );
    let listen = format!("127.0.0.1:{PORT}").parse().unwrap();
    std::fs::write(dir.join("gateway.toml"), config(dir, listen, &rest)).unwrap();
    let rules = dir.join("rules.nft");
    std::fs::write(&rules, firewall.unwrap_or("")).unwrap();
    let root = support::pki::dir().join("root-ca.pem");
    let script = format!(
        r#"set -u
ip link set lo up
nft -f "{rules}"
"{gateway}" run "{dir}/gateway.toml" 2>"{dir}/gateway.log" &
gw=$!
for _ in $(seq 200); do
  (exec 3<>/dev/tcp/127.0.0.1/{PORT}) 2>/dev/null && break
  sleep 0.05
done
rc=0
"{client}" posture --gateway 127.0.0.1:{PORT} --gateway-ca "{root}" --json >"{dir}/out.json" 2>"{dir}/client.log" || rc=$?
kill $gw
wait $gw 2>/dev/null
exit $rc
"#,
        rules = rules.display(),
        gateway = GATEWAY,
        client = CLIENT,
        dir = dir.display(),
        root = root.display(),
    );
    let status = Command::new("unshare")
        .args(["-rn", "bash", "-c", &script])
        .status()
        .unwrap();
    let out = std::fs::read_to_string(dir.join("out.json")).unwrap_or_default();
    let json: Value = serde_json::from_str(&out).unwrap_or_else(|e| {
        let log = std::fs::read_to_string(dir.join("client.log")).unwrap_or_default();
        let gw = std::fs::read_to_string(dir.join("gateway.log")).unwrap_or_default();
        panic!("no JSON from the client ({e}): {out}\nclient: {log}\ngateway: {gw}")
    });
    let code = status.code().unwrap_or(-1);
    if json.get("gateway").is_none() {
        let gw = std::fs::read_to_string(dir.join("gateway.log")).unwrap_or_default();
        panic!("no verdict (exit code {code}): {json}\ngateway: {gw}");
    }
    (code, json)
}

/// An input chain that drops what it is not told to accept (loopback and answers).
const DROP_POLICY: &str = "table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    iif lo accept
    ct state established,related accept
  }
}
";

#[test]
fn a_firewall_rule_refuses_this_computer_until_a_firewall_filters() {
    if !namespaces_with_nft() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();

    // No rules in force: refused, in bokmål, with the English beside it; exit code 6.
    let (code, json) = verdict_in_namespace(dir.path(), "deny", None);
    assert_eq!(code, 6, "{json}");
    let gateway = &json["gateway"];
    assert_eq!(gateway["admitted"], false, "{json}");
    assert_eq!(gateway["denied"][0]["rule"], "firewall");
    let nb = gateway["denied"][0]["nb"].as_str().unwrap();
    assert!(nb.contains("rannmur"), "{nb}");
    assert!(gateway["denied"][0]["en"]
        .as_str()
        .unwrap()
        .contains("firewall"));

    // The same rule as `warn`: let in, with the warning.
    let (code, json) = verdict_in_namespace(dir.path(), "warn", None);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["gateway"]["admitted"], true);
    assert_eq!(json["gateway"]["warned"][0]["rule"], "firewall");

    // An input chain with a drop policy: the same `deny` rule lets the computer in.
    let (code, json) = verdict_in_namespace(dir.path(), "deny", Some(DROP_POLICY));
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["gateway"]["admitted"], true, "{json}");
    let firewalls = json["report"]["firewall"]["value"].as_array().unwrap();
    assert!(
        firewalls.iter().any(|f| f["enabled"] == true),
        "{firewalls:?}"
    );
}
