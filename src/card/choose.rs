//! Which certificate logs in, when a backend does not say by itself (PKCS#11 tokens and the
//! Windows store hold several): pure, so every rule is tested on every platform.
//!
//! The rules, in order:
//! 1. `--cert SHA256` names one: that one, usable or not (its verdict is then shown).
//! 2. The backend's convention (PIV slot 9A) names one: that one.
//! 3. Exactly one certificate with a key is usable by the certificate verdict: that one.
//! 4. Several are usable: the person chooses (or `--cert` in a script).
//! 5. None is usable: the best refusal is the one to explain — a certificate whose key usage
//!    allows authentication, else the first with a key.

use crate::cert::{Inspection, Reason};

/// One candidate: its SHA-256 (hex), whether the backend has its key, and its inspection
/// (`None` when it could not be read).
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: &'a str,
    /// Whether a private key goes with it.
    pub has_key: bool,
    /// The certificate core's inspection, when the certificate could be read.
    pub inspection: Option<&'a Inspection>,
}

/// The outcome of the choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// This one logs in (it may still be refused by its verdict, when named or conventional).
    One(usize),
    /// Several are usable: ask, or `--cert`.
    Several(Vec<usize>),
    /// None is usable; this one's refusal is the one to explain.
    NoneUsable(Option<usize>),
    /// `--cert` named a certificate that is not there.
    NotFound(String),
}

/// Chooses the login certificate (rules in the module's doc).
pub fn choose_login(
    candidates: &[Candidate<'_>],
    conventional: Option<usize>,
    wanted: Option<&str>,
) -> Choice {
    if let Some(wanted) = wanted {
        let wanted = wanted.trim().to_lowercase().replace(':', "");
        return match candidates.iter().position(|c| c.sha256 == wanted) {
            Some(i) => Choice::One(i),
            None => Choice::NotFound(wanted),
        };
    }
    if let Some(i) = conventional.filter(|i| *i < candidates.len()) {
        return Choice::One(i);
    }
    let usable: Vec<usize> = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.has_key && c.inspection.is_some_and(|i| i.verdict.usable))
        .map(|(i, _)| i)
        .collect();
    match usable.as_slice() {
        [one] => Choice::One(*one),
        [] => Choice::NoneUsable(best_refusal(candidates)),
        _ => Choice::Several(usable),
    }
}

/// The refused certificate most likely meant for login: one whose key usage is not the
/// problem (with a key, then without: the missing key is then the message), else the first
/// with a key, else the first readable one.
fn best_refusal(candidates: &[Candidate<'_>]) -> Option<usize> {
    let readable = |c: &Candidate<'_>| c.inspection.is_some();
    let usage_ok = |c: &Candidate<'_>| {
        c.inspection.is_some_and(|i| {
            !i.verdict.reasons.iter().any(|r| {
                matches!(
                    r,
                    Reason::KeyUsageWithoutDigitalSignature { .. }
                        | Reason::ExtendedKeyUsageWithoutClientAuth { .. }
                )
            })
        })
    };
    candidates
        .iter()
        .position(|c| c.has_key && usage_ok(c))
        .or_else(|| candidates.iter().position(usage_ok))
        .or_else(|| candidates.iter().position(|c| c.has_key && readable(c)))
        .or_else(|| candidates.iter().position(readable))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::testutil::Builder;
    use crate::cert::{inspect_der, AuthPolicy};
    use rcgen::KeyUsagePurpose;
    use time::macros::datetime;

    fn inspect(der: &[u8]) -> Inspection {
        inspect_der(
            der,
            &AuthPolicy::default(),
            datetime!(2025-06-01 00:00 UTC),
            None,
        )
        .unwrap()
    }

    fn auth() -> Inspection {
        inspect(&Builder::person().build().der)
    }

    fn signing() -> Inspection {
        let der = Builder::person()
            .key_usage(vec![KeyUsagePurpose::ContentCommitment])
            .build()
            .der;
        inspect(&der)
    }

    fn expired() -> Inspection {
        inspect_der(
            &Builder::person().build().der,
            &AuthPolicy::default(),
            datetime!(2030-01-01 00:00 UTC),
            None,
        )
        .unwrap()
    }

    fn c<'a>(sha: &'a str, has_key: bool, i: Option<&'a Inspection>) -> Candidate<'a> {
        Candidate {
            sha256: sha,
            has_key,
            inspection: i,
        }
    }

    #[test]
    fn the_one_usable_certificate_with_a_key_logs_in() {
        let (a, s) = (auth(), signing());
        let list = [c("aa", true, Some(&s)), c("bb", true, Some(&a))];
        assert_eq!(choose_login(&list, None, None), Choice::One(1));
        // Without its key on the token it cannot log in.
        let list = [c("aa", true, Some(&s)), c("bb", false, Some(&a))];
        assert_eq!(choose_login(&list, None, None), Choice::NoneUsable(Some(1)));
    }

    #[test]
    fn several_usable_need_a_choice_and_cert_names_one() {
        let (a, b) = (auth(), auth());
        let list = [c("aa", true, Some(&a)), c("bb", true, Some(&b))];
        assert_eq!(choose_login(&list, None, None), Choice::Several(vec![0, 1]));
        assert_eq!(choose_login(&list, None, Some("BB")), Choice::One(1));
        assert_eq!(choose_login(&list, None, Some("b:b")), Choice::One(1));
        assert_eq!(
            choose_login(&list, None, Some("cc")),
            Choice::NotFound("cc".into())
        );
    }

    #[test]
    fn the_backends_convention_wins_over_the_verdicts() {
        let (a, s) = (auth(), signing());
        let list = [c("aa", true, Some(&s)), c("bb", true, Some(&a))];
        assert_eq!(choose_login(&list, Some(0), None), Choice::One(0));
        assert_eq!(choose_login(&list, Some(7), None), Choice::One(1));
    }

    #[test]
    fn when_none_is_usable_the_authentication_certificate_is_explained() {
        let (e, s) = (expired(), signing());
        let list = [c("aa", true, Some(&s)), c("bb", true, Some(&e))];
        assert_eq!(choose_login(&list, None, None), Choice::NoneUsable(Some(1)));
        let list = [c("aa", true, Some(&s)), c("bb", true, None)];
        assert_eq!(choose_login(&list, None, None), Choice::NoneUsable(Some(0)));
        assert_eq!(choose_login(&[], None, None), Choice::NoneUsable(None));
    }
}
