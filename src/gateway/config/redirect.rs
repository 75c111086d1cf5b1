//! `[[group]] redirect_*`: what the remote-desktop program at home may share with a group's
//! office PCs. The service lets people print on their own printer but forbids storing patient
//! data at home, so printers are shared and drives and the clipboard are not, unless a group
//! says otherwise. A machine without a group gets that default.
//!
//! The keys are plain booleans: serde and the shared translation report a wrong type or a
//! misspelt key in Norwegian at its line, like every other key.

use super::{Config, RawGroup};
use crate::tunnel::protocol::Redirect;

/// The group's settings, each key not written taking the service's default.
pub(super) fn of_group(raw: &RawGroup) -> Redirect {
    let default = Redirect::default();
    Redirect {
        printers: raw.redirect_printers.unwrap_or(default.printers),
        clipboard: raw.redirect_clipboard.unwrap_or(default.clipboard),
        drives: raw.redirect_drives.unwrap_or(default.drives),
    }
}

impl Config {
    /// What a session to the machine `machine_id` may share: its group's settings, or the
    /// service's default for a machine without a group (or an id no machine has).
    pub fn redirect_for(&self, machine_id: &str) -> Redirect {
        self.machine(machine_id)
            .and_then(|m| m.group.as_deref())
            .and_then(|g| self.group(g))
            .map_or_else(Redirect::default, |g| g.redirect)
    }
}

/// Groups that let data be stored at home, for the list of dangerous options.
pub(super) fn dangerous(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for g in &config.groups {
        let mut shared = Vec::new();
        if g.redirect.drives {
            shared.push("redirect_drives = true (diskene)");
        }
        if g.redirect.clipboard {
            shared.push("redirect_clipboard = true (utklippstavlen)");
        }
        if !shared.is_empty() {
            out.push(format!(
                "gruppen `{}` deler {} med hjemmemaskinen: pasientdata kan havne der.",
                g.id,
                shared.join(" og ")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{dangerous_options, parse, ConfigError};
    use super::*;
    use crate::gateway::testutil::{self, base, probe};

    /// The test configuration with `keys` added to the `legevakt` group.
    fn with_group_keys(keys: &str) -> String {
        let text = testutil::text();
        let kind = "kind = \"legevakt\"\n";
        assert!(text.contains(kind));
        text.replacen(kind, &format!("{kind}{keys}\n"), 1)
    }

    fn errors_of(text: &str) -> Vec<ConfigError> {
        parse(text, &base(), &probe).unwrap_err()
    }

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    #[test]
    fn without_keys_printers_are_shared_and_drives_and_the_clipboard_are_not() {
        let c = testutil::config();
        let default = Redirect {
            printers: true,
            clipboard: false,
            drives: false,
        };
        assert_eq!(c.groups[0].redirect, default);
        // In the group, outside any group, and an id nobody has.
        assert_eq!(c.redirect_for("lv-1"), default);
        assert_eq!(c.redirect_for("kontor-1"), default);
        assert_eq!(c.redirect_for("finnes-ikke"), default);
        assert!(!dangerous_options(&c).iter().any(|d| d.contains("gruppen")));
    }

    #[test]
    fn a_group_sets_what_its_machines_share() {
        let text = with_group_keys("redirect_printers = false\nredirect_clipboard = true");
        let c = parse(&text, &base(), &probe).unwrap();
        let strict = Redirect {
            printers: false,
            clipboard: true,
            drives: false,
        };
        assert_eq!(c.redirect_for("lv-1"), strict);
        assert_eq!(c.redirect_for("lv-2"), strict);
        // A machine outside the group keeps the default.
        assert_eq!(c.redirect_for("kontor-1"), Redirect::default());
        let dangerous = dangerous_options(&c);
        assert!(
            dangerous.iter().any(|d| d.contains("gruppen `legevakt`")
                && d.contains("utklippstavlen")
                && !d.contains("diskene")),
            "{dangerous:?}"
        );
    }

    #[test]
    fn sharing_drives_is_listed_as_dangerous() {
        let text = with_group_keys("redirect_drives = true");
        let c = parse(&text, &base(), &probe).unwrap();
        assert!(c.redirect_for("lv-1").drives);
        assert!(dangerous_options(&c)
            .iter()
            .any(|d| d.contains("redirect_drives = true") && d.contains("pasientdata")));
    }

    #[test]
    fn a_value_that_is_not_true_or_false_is_named_at_its_line() {
        let text = with_group_keys("redirect_printers = \"ja\"\nredirect_drives = 0");
        let errors = errors_of(&text);
        let at = |needle: &str| {
            let line = line_of(&text, needle);
            assert!(
                errors
                    .iter()
                    .any(|e| e.line == line && e.message.contains("true eller false")),
                "{needle}: {errors:#?}"
            );
        };
        at("redirect_printers");
        at("redirect_drives");
        assert_eq!(errors.len(), 2, "{errors:#?}");
    }

    #[test]
    fn a_misspelt_key_is_named_with_the_keys_allowed() {
        let text = with_group_keys("redirect_printer = false");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_eq!(errors[0].line, line_of(&text, "redirect_printer ="));
        assert!(
            errors[0]
                .message
                .contains("ukjent nøkkel `redirect_printer`")
                && errors[0].message.contains("`redirect_printers`"),
            "{}",
            errors[0].message
        );
    }
}
