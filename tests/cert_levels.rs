//! Every TEST PKI variant through the certificate core, with its exact level and reasons, in
//! production mode and in a test environment; and fixed-clock checks around the validity edges
//! and the expiry warning.

use hjemmekontor::cert::{
    inspect_der, AuthPolicy, ChainConfig, Inspection, Level, Reason, Warning,
};
use hjemmekontor::vcard::pki::{generate, PkiOptions, TestPki, VARIANTS};
use std::sync::OnceLock;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| generate(&PkiOptions::new(NOW)).expect("TEST PKI"))
}

fn der_of_pem(pem: &str) -> Vec<u8> {
    let mut ders = hjemmekontor::cert::certificates_from_bytes(pem.as_bytes()).unwrap();
    assert_eq!(ders.len(), 1);
    ders.remove(0)
}

fn chain(with_crl: bool) -> ChainConfig {
    let p = pki();
    ChainConfig {
        anchors: vec![der_of_pem(&p.root_ca_pem)],
        intermediates: vec![der_of_pem(&p.person_ca_pem)],
        crls: if with_crl {
            hjemmekontor::cert::crls_from_bytes(p.crl_pem.as_bytes()).unwrap()
        } else {
            vec![]
        },
    }
}

fn test_env() -> AuthPolicy {
    AuthPolicy {
        test_environment: true,
        ..AuthPolicy::default()
    }
}

fn inspect(
    variant: &str,
    policy: &AuthPolicy,
    at: OffsetDateTime,
    chain: Option<&ChainConfig>,
) -> Inspection {
    let issued = pki().get(variant).unwrap_or_else(|| panic!("{variant}"));
    inspect_der(&issued.cert_der, policy, at, chain).unwrap()
}

fn not_after(variant: &str) -> OffsetDateTime {
    inspect(variant, &AuthPolicy::default(), NOW, None)
        .facts
        .not_after
}

fn not_before(variant: &str) -> OffsetDateTime {
    inspect(variant, &AuthPolicy::default(), NOW, None)
        .facts
        .not_before
}

fn too_low(found: Level) -> Reason {
    Reason::LevelTooLow {
        found,
        required: Level::PersonHigh,
    }
}

fn no_digital_signature() -> Reason {
    Reason::KeyUsageWithoutDigitalSignature {
        key_usage: vec!["nonRepudiation".into()],
    }
}

fn server_only() -> Reason {
    Reason::ExtendedKeyUsageWithoutClientAuth {
        extended_key_usage: vec!["serverAuth".into()],
    }
}

/// In a test environment a TEST certificate is judged by its policy as if production.
#[test]
fn every_variant_in_a_test_environment() {
    let expired = Reason::Expired {
        not_after: not_after("expired"),
    };
    let future = Reason::NotYetValid {
        not_before: not_before("not-yet-valid"),
    };
    let table: Vec<(&str, Level, Vec<Reason>)> = vec![
        ("person-high", Level::PersonHigh, vec![]),
        ("person-high-ec", Level::PersonHigh, vec![]),
        // Buypass `.3.2` is the soft enterprise policy in the level table.
        (
            "person-standard",
            Level::Enterprise,
            vec![too_low(Level::Enterprise)],
        ),
        (
            "person-hsm",
            Level::PersonHighHsm,
            vec![too_low(Level::PersonHighHsm)],
        ),
        (
            "enterprise",
            Level::Enterprise,
            vec![too_low(Level::Enterprise), Reason::MissingPersonalId],
        ),
        ("expired", Level::PersonHigh, vec![expired]),
        ("not-yet-valid", Level::PersonHigh, vec![future]),
        ("revoked", Level::PersonHigh, vec![Reason::Revoked]),
        (
            "wrong-usage",
            Level::PersonHigh,
            vec![no_digital_signature()],
        ),
        ("untrusted", Level::PersonHigh, vec![Reason::UnknownIssuer]),
        (
            "gateway",
            Level::Unknown,
            vec![
                too_low(Level::Unknown),
                server_only(),
                Reason::MissingPersonalId,
            ],
        ),
    ];
    assert_eq!(
        table.iter().map(|t| t.0).collect::<Vec<_>>(),
        VARIANTS.to_vec(),
        "the table covers every variant"
    );
    let chain = chain(true);
    for (variant, level, reasons) in table {
        let i = inspect(variant, &test_env(), NOW, Some(&chain));
        assert_eq!(i.verdict.level, level, "{variant}");
        assert_eq!(i.verdict.reasons, reasons, "{variant}");
        assert_eq!(i.verdict.usable, reasons.is_empty(), "{variant}");
        assert!(i.verdict.test_certificate, "{variant}");
        assert_eq!(
            i.verdict.warnings,
            vec![Warning::TestCertificate],
            "{variant}"
        );
        let c = i.chain.as_ref().unwrap();
        assert!(c.revocation_checked);
        let chain_ok = !matches!(
            variant,
            "revoked" | "untrusted" | "expired" | "not-yet-valid"
        );
        assert_eq!(c.trusted, chain_ok, "{variant}: {c:?}");
        if chain_ok {
            assert_eq!(
                c.anchor.as_deref(),
                Some("hjemmekontor TEST Class 3 Root CA G2 HT")
            );
        }
        let issued = pki().get(variant).unwrap();
        assert_eq!(
            i.facts.personal_id.as_ref().map(|p| p.normalized.clone()),
            issued.personal_id,
            "{variant}"
        );
    }
}

/// Outside a test environment, every TEST certificate has level `test` and is refused,
/// with its other reasons still listed.
#[test]
fn every_variant_in_production() {
    let t = too_low(Level::Test);
    let table: Vec<(&str, Vec<Reason>)> = vec![
        ("person-high", vec![t.clone()]),
        ("person-high-ec", vec![t.clone()]),
        ("person-standard", vec![t.clone()]),
        ("person-hsm", vec![t.clone()]),
        ("enterprise", vec![t.clone(), Reason::MissingPersonalId]),
        (
            "expired",
            vec![
                Reason::Expired {
                    not_after: not_after("expired"),
                },
                t.clone(),
            ],
        ),
        (
            "not-yet-valid",
            vec![
                Reason::NotYetValid {
                    not_before: not_before("not-yet-valid"),
                },
                t.clone(),
            ],
        ),
        ("revoked", vec![t.clone(), Reason::Revoked]),
        ("wrong-usage", vec![t.clone(), no_digital_signature()]),
        ("untrusted", vec![t.clone(), Reason::UnknownIssuer]),
        (
            "gateway",
            vec![t.clone(), server_only(), Reason::MissingPersonalId],
        ),
    ];
    assert_eq!(table.len(), VARIANTS.len());
    let chain = chain(true);
    for (variant, reasons) in table {
        let i = inspect(variant, &AuthPolicy::default(), NOW, Some(&chain));
        assert_eq!(i.verdict.level, Level::Test, "{variant}");
        assert_eq!(i.verdict.reasons, reasons, "{variant}");
        assert!(!i.verdict.usable);
        assert_eq!(i.verdict.warnings, vec![], "{variant}");
    }
}

#[test]
fn the_ca_certificates_are_not_personal() {
    let p = pki();
    for pem in [&p.root_ca_pem, &p.person_ca_pem, &p.other_root_pem] {
        let i = inspect_der(&der_of_pem(pem), &test_env(), NOW, Some(&chain(true))).unwrap();
        assert_eq!(i.verdict.reasons, vec![Reason::NotAPersonalCertificate]);
        assert!(i.facts.is_ca);
    }
}

#[test]
fn without_crl_revocation_is_unknown_and_said() {
    let i = inspect("revoked", &test_env(), NOW, Some(&chain(false)));
    assert!(i.verdict.usable);
    assert_eq!(
        i.verdict.warnings,
        vec![Warning::TestCertificate, Warning::RevocationNotChecked]
    );
}

#[test]
fn an_old_crl_is_its_own_reason() {
    let crl_next_update = NOW + Duration::days(90);
    let later = crl_next_update + Duration::days(1);
    let i = inspect("person-high", &test_env(), later, Some(&chain(true)));
    assert_eq!(
        i.verdict.reasons,
        vec![Reason::CrlExpired {
            next_update: crl_next_update
        }]
    );
}

#[test]
fn validity_edges_on_a_fixed_clock() {
    let nb = not_before("person-high");
    let na = not_after("person-high");
    let judge = |at| inspect("person-high", &test_env(), at, None).verdict;

    assert_eq!(
        judge(nb - Duration::seconds(1)).reasons,
        vec![Reason::NotYetValid { not_before: nb }]
    );
    assert!(judge(nb).usable);
    assert!(judge(na).usable);
    assert_eq!(
        judge(na + Duration::seconds(1)).reasons,
        vec![Reason::Expired { not_after: na }]
    );
}

#[test]
fn expiry_warning_sixty_days_ahead() {
    let na = not_after("person-high");
    let judge = |at| inspect("person-high", &test_env(), at, None).verdict;

    let early = judge(na - Duration::days(60) - Duration::seconds(1));
    assert_eq!(early.warnings, vec![Warning::TestCertificate]);
    let on_the_day = judge(na - Duration::days(60));
    assert!(on_the_day.usable);
    assert_eq!(
        on_the_day.warnings,
        vec![
            Warning::ExpiresSoon {
                not_after: na,
                days_left: 60
            },
            Warning::TestCertificate
        ]
    );
    let late = judge(na - Duration::days(3));
    assert!(matches!(
        late.warnings[0],
        Warning::ExpiresSoon { days_left: 3, .. }
    ));
    let policy = AuthPolicy {
        expiry_warning_days: 2,
        ..test_env()
    };
    let quiet = inspect("person-high", &policy, na - Duration::days(3), None).verdict;
    assert_eq!(quiet.warnings, vec![Warning::TestCertificate]);
}
