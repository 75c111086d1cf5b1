//! Firewalls: the netfilter rules themselves (nftables, iptables; readable by root only) and
//! the front ends (ufw, firewalld), each listed with whether it filters incoming traffic.
//!
//! What "filters incoming traffic" means for raw rules: a new incoming IPv4 packet that no
//! specific rule singles out is dropped or rejected. Every rule with a condition (a port, an
//! address, an interface, a connection state, a rate, a verdict map) is passed over as an
//! exception; what remains is the path a packet nobody asked for takes: unconditional verdicts,
//! unconditional jumps and gotos into other chains, and at the end the base chain's policy.
//! So `policy drop` with `iif lo accept` filters; `policy accept` with `tcp dport 23 drop` does
//! not; `policy drop` whose first rule is a bare `accept` does not; an accept policy whose
//! chain ends in a bare `reject` (firewalld's shape) does.

mod iptables;
mod nft;

use super::{denied, failure, run_tool};
use crate::posture::probe::Host;
use crate::posture::report::{Fact, Firewall};
use std::collections::BTreeMap;

pub(super) fn probe(host: &dyn Host) -> Fact<Vec<Firewall>> {
    let mut found = Vec::new();
    let mut why = Vec::new();
    let nft = nftables(host);
    match &nft {
        Ok(enabled) => found.push(firewall("nftables", *enabled)),
        Err(e) => why.push(e.clone()),
    }
    let sources = [iptables(host, nft.is_ok()), ufw(host), firewalld(host)];
    for source in sources {
        match source {
            Ok(list) => found.extend(list),
            Err(e) => why.push(e),
        }
    }
    if found.is_empty() {
        Fact::unknown(format!("no firewall could be read: {}", why.join("; ")))
    } else {
        Fact::known(found)
    }
}

fn firewall(name: &str, enabled: bool) -> Firewall {
    Firewall {
        name: name.into(),
        enabled,
    }
}

/// The whole nftables ruleset (iptables-nft's rules included), as JSON.
fn nftables(host: &dyn Host) -> Result<bool, String> {
    let out = run_tool(host, "nft", &["-j", "list", "ruleset"])?;
    if !out.success() {
        return Err(if denied(&out) {
            "the nftables rules can only be read with admin rights".into()
        } else {
            failure("nft", &out)
        });
    }
    nft::input_filtered(&out.stdout)
}

/// The iptables rules. Those of iptables-nft are nftables rules and are counted under
/// nftables when nft could read them; legacy (x_tables) rules are seen only here.
fn iptables(host: &dyn Host, nft_answered: bool) -> Result<Vec<Firewall>, String> {
    let out = run_tool(host, "iptables-save", &[])?;
    if !out.success() {
        return Err(if denied(&out) {
            "the iptables rules can only be read with admin rights".into()
        } else {
            failure("iptables-save", &out)
        });
    }
    let view = iptables::parse_save(&out.stdout)?;
    let mut list = Vec::new();
    match view.backend {
        iptables::Backend::Legacy => list.push(firewall("iptables (legacy)", view.input_filtered)),
        iptables::Backend::NfTables | iptables::Backend::None if !nft_answered => {
            list.push(firewall("iptables", view.input_filtered));
        }
        iptables::Backend::NfTables | iptables::Backend::None => {}
    }
    // iptables-nft says on stderr when legacy tables exist beside its own.
    if out.stderr.contains("iptables-legacy tables present") {
        let legacy = run_tool(host, "iptables-legacy-save", &[])?;
        if !legacy.success() {
            return Err(failure("iptables-legacy-save", &legacy));
        }
        let view = iptables::parse_save(&legacy.stdout)?;
        list.push(firewall("iptables (legacy)", view.input_filtered));
    }
    Ok(list)
}

/// ufw: `ufw status` (root only) says whether it runs now; without root, `ufw.conf`'s
/// `ENABLED=` says whether it is switched on (ufw starts at boot and `ufw enable` and
/// `ufw disable` write it). A left-over `ufw.conf` of a removed ufw counts for nothing.
fn ufw(host: &dyn Host) -> Result<Vec<Firewall>, String> {
    let said = match run_tool(host, "ufw", &["status"]) {
        Err(e) if e.ends_with("is not installed") => return Err(e),
        Err(e) => e,
        Ok(out) => match parse_ufw_status(&out.stdout) {
            Some(active) if out.success() => return Ok(vec![firewall("ufw", active)]),
            _ => failure("ufw status", &out),
        },
    };
    let conf = host
        .read_to_string("/etc/ufw/ufw.conf")
        .map_err(|e| format!("{said}, and {e}"))?;
    match parse_ufw_conf(&conf) {
        Some(enabled) => Ok(vec![firewall("ufw", enabled)]),
        None => Err("/etc/ufw/ufw.conf says neither ENABLED=yes nor ENABLED=no".into()),
    }
}

/// `Status: active` or `Status: inactive`, the first line of `ufw status`.
fn parse_ufw_status(text: &str) -> Option<bool> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Status:"))
        .map(str::trim)
        .find_map(|s| match s {
            "active" => Some(true),
            "inactive" => Some(false),
            _ => None,
        })
}

/// `ENABLED=yes` or `ENABLED=no` in `/etc/ufw/ufw.conf`.
fn parse_ufw_conf(text: &str) -> Option<bool> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.trim().strip_prefix("ENABLED="))
        .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''))
        .filter_map(|v| match v.to_ascii_lowercase().as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        })
        .next_back()
}

/// firewalld: `firewall-cmd --state` (any user), else systemd's word on the service. Running
/// counts as filtering unless its default zone is `trusted` (which accepts everything).
fn firewalld(host: &dyn Host) -> Result<Vec<Firewall>, String> {
    let state = run_tool(host, "firewall-cmd", &["--state"])?;
    let running = match parse_firewalld_state(&state.stdout) {
        Some(running) => running,
        None => {
            let systemd = run_tool(host, "systemctl", &["is-active", "firewalld"])
                .ok()
                .and_then(|out| parse_systemd_active(&out.stdout));
            systemd.ok_or_else(|| failure("firewall-cmd --state", &state))?
        }
    };
    let trusted = running
        && run_tool(host, "firewall-cmd", &["--get-default-zone"])
            .is_ok_and(|out| out.success() && out.stdout.trim() == "trusted");
    Ok(vec![firewall("firewalld", running && !trusted)])
}

/// `running`, `not running`, or `failed` (it could not load its configuration).
fn parse_firewalld_state(text: &str) -> Option<bool> {
    match text.trim() {
        "running" => Some(true),
        "not running" | "failed" => Some(false),
        _ => None,
    }
}

/// `systemctl is-active`: `active` or one of the states that are not.
fn parse_systemd_active(text: &str) -> Option<bool> {
    match text.trim() {
        "active" | "reloading" => Some(true),
        "inactive" | "failed" | "deactivating" => Some(false),
        _ => None,
    }
}

/// What one rule does to a packet that no condition singles out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Nothing: a rule with a condition (an exception), or one with no verdict (a counter).
    Pass,
    Accept,
    /// Drop or reject.
    Drop,
    Return,
    Jump(String),
    Goto(String),
}

/// Where a packet ends in a chain.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    Accept,
    Drop,
    /// Off the end of the chain, or returned from it.
    Through,
}

/// Whether a base chain drops the packet nobody asked for: its path through unconditional
/// rules, jumps and gotos, and else its policy.
fn base_chain_drops(chains: &BTreeMap<String, Vec<Step>>, chain: &str, policy_drop: bool) -> bool {
    match fate(chains, chain, 0) {
        Fate::Drop => true,
        Fate::Accept => false,
        Fate::Through => policy_drop,
    }
}

fn fate(chains: &BTreeMap<String, Vec<Step>>, chain: &str, depth: usize) -> Fate {
    // netfilter refuses loops; a bound all the same, for rules read from text.
    if depth > 64 {
        return Fate::Through;
    }
    for step in chains.get(chain).map(Vec::as_slice).unwrap_or_default() {
        match step {
            Step::Pass => {}
            Step::Accept => return Fate::Accept,
            Step::Drop => return Fate::Drop,
            Step::Return => return Fate::Through,
            Step::Jump(to) => match fate(chains, to, depth + 1) {
                Fate::Through => {}
                decided => return decided,
            },
            // A goto does not come back here: what falls through there falls through here.
            Step::Goto(to) => return fate(chains, to, depth + 1),
        }
    }
    Fate::Through
}

#[cfg(test)]
mod tests;
