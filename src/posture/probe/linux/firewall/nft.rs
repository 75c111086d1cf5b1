//! `nft -j list ruleset`: the ruleset as JSON (libnftables-json(5)): a list of objects, each
//! one of `metainfo`, `table`, `chain`, `rule`, `set`, … Chains say their `family`, `table`,
//! `name` and, for base chains, `type`, `hook` and `policy`; rules say their chain and their
//! statements (`expr`), the verdict last.

use super::{base_chain_drops, Step};
use serde_json::Value;
use std::collections::BTreeMap;

/// Whether some base chain of type `filter` on the `input` hook, in a family that carries IPv4
/// (`ip`, `inet`), drops the packet nobody asked for (see the module above). Filtering IPv6
/// alone is not counted: IPv4 stays open.
pub(super) fn input_filtered(json: &str) -> Result<bool, String> {
    let root: Value =
        serde_json::from_str(json).map_err(|e| format!("nft printed no JSON ruleset ({e})"))?;
    let items = root
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("nft printed JSON without the \"nftables\" list")?;
    let mut chains: BTreeMap<String, Vec<Step>> = BTreeMap::new();
    let mut bases = Vec::new();
    for item in items {
        if let Some(chain) = item.get("chain") {
            let (family, table) = (text(chain, "family"), text(chain, "table"));
            let key = key(family, table, text(chain, "name"));
            chains.entry(key.clone()).or_default();
            let on_input = text(chain, "type") == "filter" && text(chain, "hook") == "input";
            if on_input && matches!(family, "ip" | "inet") {
                bases.push((key, text(chain, "policy") == "drop"));
            }
        } else if let Some(rule) = item.get("rule") {
            let (family, table) = (text(rule, "family"), text(rule, "table"));
            let step = step(rule.get("expr"), family, table);
            chains
                .entry(key(family, table, text(rule, "chain")))
                .or_default()
                .push(step);
        }
    }
    Ok(bases
        .iter()
        .any(|(chain, policy_drop)| base_chain_drops(&chains, chain, *policy_drop)))
}

fn text<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A chain's name within its table and family (jumps stay within a table).
fn key(family: &str, table: &str, chain: &str) -> String {
    format!("{family}\u{0}{table}\u{0}{chain}")
}

/// A rule as a step: its verdict if every other statement is a counter or a log (no
/// condition), else [`Step::Pass`]. Matches, verdict maps, limits, quotas, `xt` compat
/// matches and anything not known here make it conditional.
fn step(expr: Option<&Value>, family: &str, table: &str) -> Step {
    let Some(statements) = expr.and_then(Value::as_array) else {
        return Step::Pass;
    };
    let mut verdict = Step::Pass;
    for statement in statements {
        let Some((kind, body)) = statement.as_object().and_then(|o| o.iter().next()) else {
            return Step::Pass;
        };
        let target = || key(family, table, text(body, "target"));
        verdict = match kind.as_str() {
            "counter" | "log" => continue,
            "accept" => Step::Accept,
            "drop" | "reject" => Step::Drop,
            "return" => Step::Return,
            "jump" => Step::Jump(target()),
            "goto" => Step::Goto(target()),
            _ => return Step::Pass,
        };
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::probe::linux::fixture;

    fn filtered(name: &str) -> bool {
        input_filtered(&fixture(name)).unwrap()
    }

    #[test]
    fn drop_policies_and_final_drops_filter() {
        assert!(filtered("nft-inet-input-drop.json"));
        assert!(filtered("nft-firewalld-style-reject.json"));
        assert!(filtered("nft-jump-to-final-drop.json"));
        assert!(filtered("nft-ufw-via-iptables-nft.json"));
    }

    #[test]
    fn accepting_rulesets_do_not() {
        assert!(!filtered("nft-empty.json"));
        assert!(!filtered("nft-debian-default-accept.json"));
        assert!(!filtered("nft-narrow-drops-only.json"));
        assert!(!filtered("nft-drop-policy-accept-all-rule.json"));
        assert!(!filtered("nft-ip6-only-drop.json"));
        assert!(!filtered("nft-docker-style-forward-only.json"));
    }

    #[test]
    fn odd_shapes() {
        // A nat chain on the input hook is no filter; a return from a jumped-to chain goes on.
        let json = r#"{"nftables":[
            {"chain":{"family":"ip","table":"t","name":"n","type":"nat","hook":"input","policy":"drop"}},
            {"chain":{"family":"inet","table":"t","name":"in","type":"filter","hook":"input","policy":"accept"}},
            {"chain":{"family":"inet","table":"t","name":"sub"}},
            {"rule":{"family":"inet","table":"t","chain":"in","expr":[{"jump":{"target":"sub"}}]}},
            {"rule":{"family":"inet","table":"t","chain":"in","expr":[{"counter":null},{"log":{"prefix":"x"}},{"drop":null}]}},
            {"rule":{"family":"inet","table":"t","chain":"sub","expr":[{"return":null}]}},
            {"rule":{"family":"inet","table":"t","chain":"sub","expr":[{"accept":null}]}}
        ]}"#;
        assert!(input_filtered(json).unwrap());
        // An unconditional accept in the chain jumped to decides.
        let accepts = json.replace(
            r#""chain":"sub","expr":[{"return"#,
            r#""chain":"sub","expr":[{"accept"#,
        );
        assert!(!input_filtered(&accepts).unwrap());
        // The same name in another table is another chain: a jump there finds nothing.
        let elsewhere = accepts.replace(
            r#""table":"t","chain":"sub""#,
            r#""table":"u","chain":"sub""#,
        );
        assert!(input_filtered(&elsewhere).unwrap());
        // Statements not known here make a rule conditional.
        let unknown = r#"{"nftables":[
            {"chain":{"family":"ip","table":"t","name":"in","type":"filter","hook":"input","policy":"accept"}},
            {"rule":{"family":"ip","table":"t","chain":"in","expr":[{"limit":{"rate":5}},{"drop":null}]}},
            {"rule":{"family":"ip","table":"t","chain":"in","expr":[{"something-new":{}},{"drop":null}]}}
        ]}"#;
        assert!(!input_filtered(unknown).unwrap());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(input_filtered("").unwrap_err().contains("no JSON"));
        assert!(input_filtered("Error: syntax error").is_err());
        assert!(input_filtered(r#"{"rules":[]}"#)
            .unwrap_err()
            .contains("\"nftables\""));
        // Items of unknown shape are passed over.
        assert!(!input_filtered(r#"{"nftables":[1,"x",{"rule":{"expr":7}}]}"#).unwrap());
    }
}
