use rcgen::{
    CertificateParams, CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevokedCertParams, SerialNumber, SignatureAlgorithm, PKCS_ECDSA_P256_SHA256,
    PKCS_ECDSA_P384_SHA384,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::cert::testutil::der;

const NOW: OffsetDateTime = datetime!(2025-06-01 12:00 UTC);

/// A CA for the tests: its certificate, and a key that signs CRLs in its name.
struct TestCa {
    /// The parameters CRLs are signed with (always allowed to sign CRLs: rcgen insists).
    signing: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

fn ca_params(cn: &str, usages: Vec<KeyUsagePurpose>) -> CertificateParams {
    crate::cert::testutil::ca_params_with(cn, usages)
}

impl TestCa {
    fn with(cn: &str, alg: &'static SignatureAlgorithm, crl_sign: bool) -> TestCa {
        let mut usages = vec![KeyUsagePurpose::KeyCertSign];
        if crl_sign {
            usages.push(KeyUsagePurpose::CrlSign);
        }
        let key = KeyPair::generate_for(alg).unwrap();
        let der = ca_params(cn, usages)
            .self_signed(&key)
            .unwrap()
            .der()
            .to_vec();
        let signing = ca_params(
            cn,
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign],
        );
        TestCa { signing, key, der }
    }

    fn new(cn: &str) -> TestCa {
        TestCa::with(cn, &PKCS_ECDSA_P256_SHA256, true)
    }

    /// An issuing CA under this one.
    fn sub(&self, cn: &str) -> TestCa {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(
            cn,
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign],
        );
        let issuer = Issuer::from_params(&self.signing, &self.key);
        let der = params.signed_by(&key, &issuer).unwrap().der().to_vec();
        TestCa {
            signing: params,
            key,
            der,
        }
    }

    /// A CRL with `number`, issued at `this`, due again at `next`, revoking `revoked`
    /// certificates.
    fn crl(
        &self,
        number: u64,
        this: OffsetDateTime,
        next: OffsetDateTime,
        revoked: u64,
    ) -> Vec<u8> {
        CertificateRevocationListParams {
            this_update: this,
            next_update: next,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: (1..=revoked)
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from(s),
                    revocation_time: this,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&Issuer::from_params(&self.signing, &self.key))
        .unwrap()
        .der()
        .to_vec()
    }

    /// A list issued a day before [`NOW`], due a week after.
    fn fresh(&self, number: u64) -> Vec<u8> {
        self.crl(number, NOW - Duration::days(1), NOW + Duration::days(7), 2)
    }
}

/// PEM armour around DER, as a CA's web site (or `openssl crl -outform PEM`) gives it.
fn armour(label: &str, der: &[u8]) -> Vec<u8> {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = Vec::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            let sextet = (n >> (18 - 6 * i)) & 63;
            text.push(if i <= chunk.len() {
                B64[sextet as usize]
            } else {
                b'='
            });
        }
    }
    let lines: Vec<&str> = text
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
    .into_bytes()
}

fn pem(der: &[u8]) -> Vec<u8> {
    armour("X509 CRL", der)
}

fn refusal(check: &FileCheck) -> Option<&str> {
    assert_eq!(check.problem, None, "{check:?}");
    assert_eq!(check.crls.len(), 1);
    check.crls[0].refusal.as_ref().map(Refusal::code)
}

#[test]
fn a_current_crl_of_a_configured_ca_passes_in_der_and_pem() {
    let ca = TestCa::new("Eksempel Class 3 CA");
    let crl = ca.crl(7, NOW - Duration::hours(2), NOW + Duration::days(10), 3);
    for bytes in [crl.clone(), pem(&crl)] {
        let check = check(&bytes, std::slice::from_ref(&ca.der), None, NOW);
        assert!(check.ok(), "{check:?}");
        assert_eq!(check.replaced, Replaced::None);
        let c = &check.crls[0];
        assert_eq!(
            c.facts.issuer,
            "C=NO, O=Eksempel AS, CN=Eksempel Class 3 CA"
        );
        assert_eq!(c.signer.as_deref(), Some(c.facts.issuer.as_str()));
        assert_eq!(c.facts.this_update, NOW - Duration::hours(2));
        assert_eq!(c.facts.next_update, Some(NOW + Duration::days(10)));
        assert_eq!(c.facts.revoked, 3);
        assert_eq!(c.facts.crl_number.as_deref(), Some("7"));
    }
}

#[test]
fn a_crl_of_an_intermediate_passes_only_when_the_intermediate_is_configured() {
    let root = TestCa::new("Eksempel Root CA");
    let issuing = root.sub("Eksempel Person CA");
    let crl = issuing.fresh(1);
    let both = [root.der.clone(), issuing.der.clone()];
    assert_eq!(refusal(&check(&crl, &both, None, NOW)), None);
    let root_only = std::slice::from_ref(&root.der);
    assert_eq!(
        refusal(&check(&crl, root_only, None, NOW)),
        Some("unknown-issuer")
    );
}

#[test]
fn p384_crls_verify_too() {
    let ca = TestCa::with("Eksempel P-384 CA", &PKCS_ECDSA_P384_SHA384, true);
    let check = check(&ca.fresh(1), std::slice::from_ref(&ca.der), None, NOW);
    assert!(check.ok(), "{check:?}");
}

#[test]
fn a_ca_with_the_right_name_but_another_key_is_a_bad_signature() {
    let real = TestCa::new("Eksempel Class 3 CA");
    let impostor = TestCa::new("Eksempel Class 3 CA");
    let crl = impostor.fresh(1);
    let check = check(&crl, std::slice::from_ref(&real.der), None, NOW);
    assert_eq!(refusal(&check), Some("bad-signature"));
    assert_eq!(check.crls[0].signer, None);
}

#[test]
fn a_tampered_list_is_a_bad_signature() {
    let ca = TestCa::new("Eksempel Class 3 CA");
    let mut crl = ca.fresh(1);
    // The last byte is the signature's.
    *crl.last_mut().unwrap() ^= 0x01;
    let check = check(&crl, std::slice::from_ref(&ca.der), None, NOW);
    assert_eq!(refusal(&check), Some("bad-signature"));
}

#[test]
fn a_ca_whose_key_may_not_sign_crls_is_refused() {
    let ca = TestCa::with("Eksempel Class 3 CA", &PKCS_ECDSA_P256_SHA256, false);
    let check = check(&ca.fresh(1), std::slice::from_ref(&ca.der), None, NOW);
    assert_eq!(refusal(&check), Some("signer-may-not-sign-crls"));
}

#[test]
fn a_list_is_expired_from_its_next_update_on() {
    let ca = TestCa::new("Eksempel Class 3 CA");
    let crl = ca.crl(1, NOW - Duration::days(8), NOW, 0);
    let signers = std::slice::from_ref(&ca.der);
    assert_eq!(refusal(&check(&crl, signers, None, NOW)), Some("expired"));
    let before = NOW - Duration::seconds(1);
    assert_eq!(refusal(&check(&crl, signers, None, before)), None);
}

#[test]
fn a_list_replaces_an_older_or_equal_one_of_its_ca_and_never_a_newer_one() {
    let ca = TestCa::new("Eksempel Class 3 CA");
    let signers = std::slice::from_ref(&ca.der);
    let old = ca.crl(4, NOW - Duration::days(2), NOW + Duration::days(5), 1);
    let new = ca.fresh(5);

    let check_new = check(&new, signers, Some(&old), NOW);
    assert!(check_new.ok(), "{check_new:?}");
    assert_eq!(check_new.replaced, Replaced::Compared);
    assert_eq!(
        check_new.crls[0].replaced_this_update,
        Some(NOW - Duration::days(2))
    );
    // The same list again (nothing new published) is fine.
    assert_eq!(refusal(&check(&new, signers, Some(&new), NOW)), None);
    // A replayed older list is not.
    let check_old = check(&old, signers, Some(&new), NOW);
    assert_eq!(refusal(&check_old), Some("older"));
    assert_eq!(
        check_old.crls[0].refusal,
        Some(Refusal::Older {
            replaced_this_update: NOW - Duration::days(1)
        })
    );
    // Nor a list with the same date and a lower number.
    let lower = ca.crl(3, NOW - Duration::days(1), NOW + Duration::days(7), 0);
    assert_eq!(
        refusal(&check(&lower, signers, Some(&new), NOW)),
        Some("older")
    );
}

#[test]
fn a_list_of_another_ca_does_not_replace_a_file_it_does_not_belong_in() {
    let buypass = TestCa::new("Eksempel Buypass CA");
    let commfides = TestCa::new("Eksempel Commfides CA");
    let signers = [buypass.der.clone(), commfides.der.clone()];
    let check = check(&commfides.fresh(2), &signers, Some(&buypass.fresh(1)), NOW);
    assert_eq!(refusal(&check), Some("other-issuer"));
    assert_eq!(
        check.crls[0].refusal,
        Some(Refusal::OtherIssuer {
            replaced_issuers: vec!["C=NO, O=Eksempel AS, CN=Eksempel Buypass CA".into()]
        })
    );
}

#[test]
fn a_broken_file_is_replaced_without_comparison() {
    let ca = TestCa::new("Eksempel Class 3 CA");
    let check = check(
        &ca.fresh(1),
        std::slice::from_ref(&ca.der),
        Some(b"<html>502 Bad Gateway</html>"),
        NOW,
    );
    assert!(check.ok(), "{check:?}");
    assert!(matches!(check.replaced, Replaced::Unreadable { .. }));
}

#[test]
fn a_file_of_several_lists_must_keep_every_ca_it_had() {
    let a = TestCa::new("Eksempel A CA");
    let b = TestCa::new("Eksempel B CA");
    let signers = [a.der.clone(), b.der.clone()];
    let old = [
        pem(&a.crl(1, NOW - Duration::days(3), NOW + Duration::days(3), 0)),
        pem(&b.fresh(1)),
    ]
    .concat();
    let both = [pem(&a.fresh(2)), pem(&b.fresh(2))].concat();
    let check_both = check(&both, &signers, Some(&old), NOW);
    assert!(check_both.ok(), "{check_both:?}");
    assert_eq!(check_both.crls.len(), 2);

    let only_a = pem(&a.fresh(2));
    let check_a = check(&only_a, &signers, Some(&old), NOW);
    assert!(!check_a.ok());
    assert_eq!(check_a.crls[0].refusal, None);
    assert_eq!(
        check_a.problem.as_ref().map(FileProblem::code),
        Some("drops-issuer")
    );
}

fn problem(bytes: &[u8], signers: &[Vec<u8>]) -> Option<&'static str> {
    let check = check(bytes, signers, None, NOW);
    assert!(check.crls.is_empty() || check.problem.is_none());
    check.problem.as_ref().map(FileProblem::code)
}

#[test]
fn what_is_not_a_crl_is_named_and_never_panics() {
    let ca = TestCa::new("Eksempel Class 3 CA");
    let signers = std::slice::from_ref(&ca.der);
    assert_eq!(problem(b"", signers), Some("empty"));
    assert_eq!(problem(b" \n\t\n", signers), Some("empty"));
    assert_eq!(problem(b"<html>404</html>", signers), Some("not-a-crl"));
    assert_eq!(problem(&[0x30, 0x82, 0xff], signers), Some("not-a-crl"));
    let bad_b64 = b"-----BEGIN X509 CRL-----\n!!!!\n-----END X509 CRL-----\n";
    assert_eq!(problem(bad_b64, signers), Some("not-a-crl"));
    // The CA's certificate, in DER and in PEM, downloaded where its CRL was meant to be.
    assert_eq!(problem(&ca.der, signers), Some("certificate"));
    let cert_pem = armour("CERTIFICATE", &ca.der);
    assert_eq!(problem(&cert_pem, signers), Some("certificate"));
    let huge = vec![0x30; MAX_CRL_BYTES as usize + 1];
    assert_eq!(problem(&huge, signers), Some("too-large"));
    // Every cut of a real list, and trailing bytes after one.
    let crl = ca.fresh(1);
    for len in 0..crl.len() {
        let check = check(&crl[..len], signers, None, NOW);
        assert!(!check.ok(), "a list cut at {len} bytes passed");
    }
    let mut longer = crl.clone();
    longer.push(0);
    assert_eq!(problem(&longer, signers), Some("not-a-crl"));
}

#[test]
fn a_list_the_gateway_cannot_read_is_unsupported() {
    // A version 1 list (no version field), which webpki does not take.
    let ca = TestCa::new("Eksempel Class 3 CA");
    let (_, cert) = X509Certificate::from_der(&ca.der).unwrap();
    let ecdsa_sha256 = der::seq(&[der::oid("1.2.840.10045.4.3.2")]);
    let tbs = der::seq(&[
        ecdsa_sha256.clone(),
        cert.subject().as_raw().to_vec(),
        der::tlv(0x17, b"250501000000Z"),
        der::tlv(0x17, b"250701000000Z"),
    ]);
    let crl = der::seq(&[tbs, ecdsa_sha256, der::tlv(0x03, &[0, 1, 2, 3])]);
    let check = check(&crl, std::slice::from_ref(&ca.der), None, NOW);
    assert_eq!(refusal(&check), Some("unsupported"));
    assert_eq!(
        check.crls[0].facts.next_update,
        Some(datetime!(2025-07-01 00:00 UTC))
    );
}
