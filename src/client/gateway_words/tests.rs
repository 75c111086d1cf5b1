use super::*;
use crate::i18n::{with_lang, Lang};
use crate::posture::policy::Action;
use crate::tunnel::protocol::PostureNotice;

fn rejection(code: RejectCode) -> Rejected {
    Rejected {
        code,
        message: "Gatewayens egne ord.".into(),
        remediation: Some("Gatewayens råd.".into()),
        failed_rules: Vec::new(),
        retry_after_secs: None,
        open_sessions: None,
    }
}

#[test]
fn a_lock_is_worded_from_its_retry_after_in_both_languages() {
    let locked = Rejected {
        retry_after_secs: Some(61),
        ..rejection(RejectCode::LockedOut)
    };
    let nb = with_lang(Lang::Nb, || rejected(&locked));
    assert_eq!(nb.kind, "login-rejected");
    assert_eq!(
        nb.message,
        "Innloggingen er midlertidig sperret etter for mange mislykkede forsøk."
    );
    assert_eq!(
        nb.fix.as_deref(),
        Some("Vent 2 minutter og prøv igjen. Kontakt brukerstøtte hvis du ikke husker passordet.")
    );
    let en = with_lang(Lang::En, || rejected(&locked));
    assert_eq!(
        en.message,
        "Logging in is blocked for a while after too many failed tries."
    );
    assert_eq!(
        en.fix.as_deref(),
        Some("Wait 2 minutes and try again. Contact support if you do not remember the password.")
    );
    // Under a minute is one minute; a gateway that does not say gets "a while".
    let soon = Rejected {
        retry_after_secs: Some(1),
        ..rejection(RejectCode::LockedOut)
    };
    let fix = with_lang(Lang::En, || rejected(&soon).fix.unwrap());
    assert!(fix.starts_with("Wait 1 minute and"), "{fix}");
    let unsaid = with_lang(Lang::Nb, || {
        rejected(&rejection(RejectCode::LockedOut)).fix.unwrap()
    });
    assert!(unsaid.starts_with("Vent litt og"), "{unsaid}");
}

#[test]
fn known_codes_are_worded_here_and_unknown_ones_keep_the_gateway_s_words() {
    let bad = with_lang(Lang::En, || {
        rejected(&rejection(RejectCode::BadCredentials))
    });
    assert!(bad
        .message
        .starts_with("The username or the password is wrong"));
    let unknown = with_lang(Lang::En, || rejected(&rejection(RejectCode::Unknown)));
    assert_eq!(unknown.message, "Gatewayens egne ord.");
    assert_eq!(unknown.fix.as_deref(), Some("Gatewayens råd."));
    let busy = with_lang(Lang::En, || {
        rejected(&Rejected {
            open_sessions: Some(2),
            ..rejection(RejectCode::ServerBusy)
        })
    });
    assert_eq!(busy.kind, "server-busy");
    assert_eq!(
        busy.message,
        "You already have 2 sessions open to the gateway."
    );
    let unavailable = with_lang(Lang::Nb, || rejected(&rejection(RejectCode::Unavailable)));
    assert_eq!(unavailable.kind, "gateway-unavailable");
    assert_eq!(
        unavailable.message,
        "Gatewayen kan ikke ta imot innlogginger nå."
    );
}

#[test]
fn a_posture_refusal_names_the_rules_and_lists_them_in_the_run_s_language() {
    let refused = Rejected {
        failed_rules: vec![PostureNotice {
            rule: "firewall".into(),
            action: Action::Deny,
            nb: "Brannmuren er av.".into(),
            en: "The firewall is off.".into(),
        }],
        ..rejection(RejectCode::PostureRefused)
    };
    let en = with_lang(Lang::En, || rejected(&refused));
    assert_eq!((en.kind, en.exit_code), ("posture-refused", exit::POSTURE));
    assert_eq!(
        en.message,
        "The computer does not meet the service's security requirements (firewall).\n  • The firewall is off."
    );
}

#[test]
fn endings_and_refusals_are_worded_from_their_codes_and_facts() {
    let ending_of = |reason, limit_secs| Ending {
        reason,
        message: "Gatewayens egne ord.".into(),
        failed_rules: Vec::new(),
        limit_secs,
    };
    let idle = ending_of(GatewayEndReason::IdleTimeout, Some(90 * 60));
    assert_eq!(
        with_lang(Lang::Nb, || ending(&idle)),
        "Økten er avsluttet fordi den ikke ble brukt på 90 minutter; logg inn igjen."
    );
    let lifetime = ending_of(GatewayEndReason::MaxLifetime, Some(12 * 3_600));
    assert_eq!(
        with_lang(Lang::En, || ending(&lifetime)),
        "The session has ended after 12 hours; log in again."
    );
    let unknown = ending_of(GatewayEndReason::Unknown, None);
    assert_eq!(
        with_lang(Lang::En, || ending(&unknown)),
        "Gatewayens egne ord."
    );
    assert_eq!(
        with_lang(Lang::En, || refusal(RefuseCode::NotGranted, "x")),
        "You have no access to this machine."
    );
    assert_eq!(refusal(RefuseCode::Unknown, "Vedlikehold."), "Vedlikehold.");
}

#[test]
fn lengths_of_time_in_words() {
    let nb = |s| with_lang(Lang::Nb, || length_in_words(s));
    let en = |s| with_lang(Lang::En, || length_in_words(s));
    assert_eq!(nb(3_600), "1 time");
    assert_eq!(en(7_200), "2 hours");
    assert_eq!(nb(90 * 60), "90 minutter");
    assert_eq!(en(60), "1 minute");
    assert_eq!(nb(61), "61 sekunder");
    assert_eq!(en(1), "1 second");
}
