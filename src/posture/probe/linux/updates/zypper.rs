//! zypper (openSUSE, SLES).
//!
//! - Pending: `zypper --non-interactive --no-refresh --xmlout list-patches --category
//!   security` lists the needed security patches from the cached repositories (no refresh,
//!   no network) as `<update kind="patch" name=… edition=… status="needed"
//!   category="security" …>` elements. Exit status 100 and 101 mean updates (security
//!   ones) are needed: answers, not failures.
//! - Since when: zypper's XML gives no dates; the host's ledger remembers.
//! - Restart: `/run/reboot-needed`, which libzypp leaves after installing a patch or package
//!   that wants one.
//! - Last success: not read (`/var/log/zypp/history` is root's only).

use super::super::{failure, run_tool};
use super::flag_exists;
use crate::posture::probe::Host;
use crate::posture::report::Updates;

pub(super) fn probe(host: &dyn Host) -> Result<Updates, String> {
    let out = run_tool(
        host,
        "zypper",
        &[
            "--non-interactive",
            "--no-refresh",
            "--xmlout",
            "list-patches",
            "--category",
            "security",
        ],
    )?;
    if !matches!(out.status, Some(0 | 100 | 101)) {
        return Err(match needed_security_patches(&out.stdout) {
            Err(said) if said.starts_with("zypper reported") => said,
            _ => failure("zypper list-patches", &out),
        });
    }
    let pending = needed_security_patches(&out.stdout)?;
    Ok(Updates {
        pending_security: u32::try_from(pending.len()).unwrap_or(u32::MAX),
        pending_since: host.first_seen(&pending),
        last_success: None,
        reboot_pending: flag_exists(host, &["/run/reboot-needed", "/var/run/reboot-needed"]),
    })
}

/// The needed security patches in zypper's XML, as `name edition`. XML that is not zypper's
/// stream, or that carries an error message, is no answer.
pub(super) fn needed_security_patches(xml: &str) -> Result<Vec<String>, String> {
    if !xml.contains("<stream") {
        return Err("zypper printed no XML stream".into());
    }
    if let Some(error) =
        elements(xml, "message").find(|m| attribute(m, "type").as_deref() == Some("error"))
    {
        let text = xml[error.end..].split('<').next().unwrap_or_default();
        let text = text.trim().lines().next().unwrap_or_default();
        return Err(format!("zypper reported an error: {}", unescape(text)));
    }
    if !xml.contains("<update-status") {
        return Err("zypper printed no update status".into());
    }
    Ok(elements(xml, "update")
        .filter(|tag| attribute(tag, "kind").as_deref() == Some("patch"))
        .filter(|tag| attribute(tag, "category").as_deref() == Some("security"))
        .filter(|tag| attribute(tag, "status").is_none_or(|s| s == "needed"))
        .filter_map(|tag| {
            let name = attribute(&tag, "name")?;
            let edition = attribute(&tag, "edition").unwrap_or_default();
            Some(format!("{name} {edition}").trim().to_string())
        })
        .collect())
}

/// An opening tag: its text between `<name` and `>`, and where it ends.
struct Tag<'a> {
    attributes: &'a str,
    end: usize,
}

fn elements<'a>(xml: &'a str, name: &str) -> impl Iterator<Item = Tag<'a>> {
    let open = format!("<{name}");
    let tags: Vec<Tag<'a>> = xml
        .match_indices(open.as_str())
        .filter_map(|(at, _)| {
            let rest = &xml[at + open.len()..];
            // `<update-list>` is not `<update …>`.
            if !rest.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/') {
                return None;
            }
            let close = rest.find('>')?;
            Some(Tag {
                attributes: &rest[..close],
                end: at + open.len() + close + 1,
            })
        })
        .collect();
    tags.into_iter()
}

/// An attribute's value (`name="value"` or `name='value'`), entities decoded.
fn attribute(tag: &Tag, name: &str) -> Option<String> {
    let mut rest = tag.attributes;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].split_whitespace().last().unwrap_or_default();
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let value_end = after[1..].find(quote)?;
        if key == name {
            return Some(unescape(&after[1..=value_end]));
        }
        rest = &after[value_end + 2..];
    }
    None
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::probe::fake::FakeHost;
    use crate::posture::probe::linux::fixture;

    #[test]
    fn patches_in_the_xml() {
        let needed = needed_security_patches(&fixture("zypper-list-patches-security.xml")).unwrap();
        assert_eq!(
            needed,
            [
                "openSUSE-SLE-15.6-2024-3921 1",
                "openSUSE-SLE-15.6-2024-4012 1"
            ]
        );
        let none = needed_security_patches(&fixture("zypper-list-patches-none.xml")).unwrap();
        assert!(none.is_empty());
        let err = needed_security_patches(&fixture("zypper-list-patches-error.xml")).unwrap_err();
        assert_eq!(
            err,
            "zypper reported an error: System management is locked by the application with pid 1234 (zypper)."
        );
        assert!(needed_security_patches("Loading repository data...\n").is_err());
        assert!(needed_security_patches("<stream></stream>").is_err());
    }

    #[test]
    fn through_the_host() {
        let mut host = FakeHost {
            first_seen: Some(1_730_000_000),
            ..FakeHost::default()
        };
        let line =
            "zypper --non-interactive --no-refresh --xmlout list-patches --category security";
        host.file("/etc/zypp/zypp.conf", "")
            .command(line, 101, &fixture("zypper-list-patches-security.xml"))
            .file("/run/reboot-needed", "");
        assert_eq!(
            super::super::probe(&host).value().cloned(),
            Some(Updates {
                pending_security: 2,
                pending_since: Some(1_730_000_000),
                last_success: None,
                reboot_pending: true,
            })
        );
        host.command(line, 7, &fixture("zypper-list-patches-error.xml"));
        assert!(super::super::probe(&host).value().is_none());
    }
}
