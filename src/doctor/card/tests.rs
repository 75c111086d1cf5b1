use super::*;
use crate::card::credential::TokenInfo;
use crate::cert::testutil::Builder;
use crate::cert::AuthPolicy;
use crate::doctor::report::line;
use crate::doctor::Status;
use time::macros::datetime;
use time::OffsetDateTime;

fn reader(name: &str, present: bool) -> ReaderInfo {
    ReaderInfo {
        name: name.into(),
        card_present: present,
        card_mute: false,
        exclusive: false,
        atr: present.then(|| vec![0x3B, 0x87]),
        pin_pad: Some(false),
    }
}

#[test]
fn a_stopped_service_is_told_with_how_to_start_it() {
    let r = service_check(Err(&TransportError::NoService));
    assert_eq!(r.status, Status::Fail);
    assert_eq!(
        r.summary,
        "Smartkorttjenesten kjører ikke, så kortleseren kan ikke brukes."
    );
    let fix = r.fix.unwrap();
    assert!(
        fix.contains(if cfg!(windows) { "Smart Card" } else { "pcscd" }),
        "{fix}"
    );
    assert_eq!(r.details["kind"], "no-smartcard-service");
    assert_eq!(service_check(Ok(())).status, Status::Ok);
}

#[test]
fn readers_are_listed_with_their_pin_pads_and_none_fails() {
    let mut pad = reader("Cherry ST-2100", false);
    pad.pin_pad = Some(true);
    let listed = [reader("Virtual PCD 00 00", true), pad];
    let r = readers_check(Ok(&listed));
    assert_eq!(
        r.summary,
        "2 kortlesere: «Virtual PCD 00 00», «Cherry ST-2100» (med PIN-tastatur)."
    );
    assert_eq!(r.details["readers"][1]["pin_pad"], true);
    let none = readers_check(Ok(&[]));
    assert_eq!(none.status, Status::Fail);
    assert_eq!(none.summary, "Fant ingen kortleser.");
}

#[test]
fn a_missing_mute_or_busy_card_fails() {
    let empty = [reader("R", false)];
    assert_eq!(
        line(&card_check(&empty, None)),
        "FEIL      Det er ikke noe kort i kortleseren «R».\n          Gjør dette: Sett inn smartkortet (brikken inn og opp) og prøv igjen."
    );
    let two = [reader("A", false), reader("B", false)];
    assert!(card_check(&two, None).summary.contains("«A», «B»"));
    let mut mute = reader("R", true);
    mute.card_mute = true;
    assert_eq!(card_check(&[mute], None).details["kind"], "card-mute");
    let mut busy = reader("R", true);
    busy.exclusive = true;
    assert_eq!(card_check(&[busy], None).status, Status::Fail);
    let present = [reader("A", false), reader("B", true)];
    let found = card_check(&present, None);
    assert_eq!(found.status, Status::Ok);
    assert_eq!(found.summary, "Kort i «B» (ATR 3B 87).");
    assert_eq!(card_check(&present, Some("A")).status, Status::Fail);
    assert_eq!(
        card_check(&present, Some("C")).details["kind"],
        "unknown-reader"
    );
}

#[test]
fn the_application_names_the_backend_that_signs() {
    let piv = CredentialInfo {
        backend: Backend::Piv,
        reader: Some("R".into()),
        atr: None,
        application: "piv".into(),
        card_id: None,
        token: None,
    };
    assert_eq!(
        application_check(Ok(&piv)).summary,
        "PIV-kort i «R»; hjemmekontor signerer selv med kortet (PIV over PC/SC)."
    );
    let token = CredentialInfo {
        backend: Backend::Pkcs11,
        token: Some(TokenInfo {
            module: "/usr/lib/libiidp11.so".into(),
            slot: "R".into(),
            label: "BUYPASS".into(),
            manufacturer: "Buypass".into(),
            model: "BEID".into(),
            serial: "1".into(),
            others: Vec::new(),
        }),
        ..piv
    };
    let r = application_check(Ok(&token));
    assert!(
        r.summary
            .contains("/usr/lib/libiidp11.so; modulen signerer"),
        "{}",
        r.summary
    );
    assert_eq!(r.details["backend"], "pkcs11");
    let refused = crate::cli::card_words::unknown_application(None);
    assert_eq!(application_check(Err(&refused)).status, Status::Fail);
}

fn judged(at: OffsetDateTime) -> (CardCertificate, Inspection) {
    let built = Builder::person()
        .validity(
            datetime!(2024-01-01 00:00 UTC),
            datetime!(2027-01-01 00:00 UTC),
        )
        .build();
    let policy = AuthPolicy {
        expiry_warning_days: EXPIRY_WARNING_DAYS,
        ..AuthPolicy::default()
    };
    let inspection = crate::cert::inspect_der(&built.der, &policy, at, None).unwrap();
    let card = CardCertificate {
        id: "9A".into(),
        label: "PIV Authentication".into(),
        der: built.der,
        has_key: true,
    };
    (card, inspection)
}

#[test]
fn the_certificate_warns_within_thirty_days_and_fails_when_expired() {
    let (card, fine) = judged(datetime!(2026-06-01 00:00 UTC));
    let ok = certificate_check(Ok((&card, Some(&fine))));
    assert_eq!(ok.status, Status::Ok, "{ok:?}");
    assert!(
        ok.summary
            .contains("gyldig til 01.01.2027 (214 dager igjen)"),
        "{}",
        ok.summary
    );
    assert!(
        ok.summary.contains("kjeden er ikke kontrollert"),
        "{}",
        ok.summary
    );
    assert_eq!(ok.details["level"], "person-high");
    assert!(ok.details.get("serial").is_some());

    let (card, soon) = judged(datetime!(2026-12-10 00:00 UTC));
    let warned = certificate_check(Ok((&card, Some(&soon))));
    assert_eq!(warned.status, Status::Warning, "{warned:?}");
    assert!(
        warned.summary.contains("22 dager igjen"),
        "{}",
        warned.summary
    );

    let (card, late) = judged(datetime!(2027-02-01 00:00 UTC));
    let failed = certificate_check(Ok((&card, Some(&late))));
    assert_eq!(failed.status, Status::Fail);
    assert!(
        failed.summary.contains("utløp 01.01.2027"),
        "{}",
        failed.summary
    );
    assert_eq!(failed.details["usable"], false);

    let none = certificate_check(Ok((&card, None)));
    assert_eq!(none.details["kind"], "no-login-certificate");
}

#[test]
fn pin_tries_are_told_and_a_blocked_pin_fails_with_the_puk() {
    let keyboard = PinEntry::Keyboard { min: 6, max: 8 };
    assert_eq!(
        pin_check(Ok(PinState::TriesLeft(3)), keyboard).summary,
        "PIN-koden har 3 forsøk igjen."
    );
    assert_eq!(
        pin_check(Ok(PinState::FinalTry), keyboard).status,
        Status::Warning
    );
    assert_eq!(
        pin_check(Ok(PinState::TriesLeft(1)), keyboard).status,
        Status::Warning
    );
    let blocked = pin_check(Ok(PinState::Blocked), keyboard);
    assert_eq!(blocked.status, Status::Fail);
    assert_eq!(
        blocked.summary,
        "Kortet er sperret etter for mange feil PIN-forsøk."
    );
    assert!(blocked.fix.unwrap().contains("PUK"));
    assert_eq!(blocked.details["tries_left"], 0);
    let pad = pin_check(Ok(PinState::TriesLeft(3)), PinEntry::PinPad);
    assert_eq!(
        pad.summary,
        "PIN-koden har 3 forsøk igjen; tastes på kortleseren."
    );
    assert_eq!(pad.details["entry"]["kind"], "pin-pad");
}
