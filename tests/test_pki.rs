//! The TEST PKI: every variant has exactly the shape its name promises, read back with an
//! independent parser.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use hjemmekontor::vcard::pki::{self, Issued, PkiOptions, TestPki, VARIANTS};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use x509_parser::asn1_rs::{Class, Oid, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::pem::parse_x509_pem;
use x509_parser::public_key::PublicKey;
use x509_parser::time::ASN1Time;
use x509_parser::x509::X509Name;
use x509_parser::{parse_x509_certificate, parse_x509_crl};

const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);
/// Not the default, so the test sees the option is used.
const PERSON_ID: &str = "31415926";
const PERSONAL_ID: &str = "UN:NO-9578-4050-31415926";

const ROOT_CN: &str = "hjemmekontor TEST Class 3 Root CA G2 HT";
const PERSON_CA_CN: &str = "hjemmekontor TEST Class 3 CA G2 HT Person";
const CRL_URL: &str = "http://crl.test.invalid/hjemmekontor-test-person.crl";
const QC_URL: &str = "http://registration.test.invalid/hjemmekontor-test";

const PERSON_HIGH: &str = "2.16.578.1.26.1.3.1";
const NCP_PLUS: &str = "0.4.0.2042.1.2";
const QCS_SYNTAX_V2: &str = "1.3.6.1.5.5.7.11.2";
const SEMANTICS_NATURAL: &str = "0.4.0.194121.1.1";
const SEMANTICS_LEGAL: &str = "0.4.0.194121.1.2";

// Key usage bits as x509-parser numbers them (bit 0 = digitalSignature).
const KU_DIGITAL_SIGNATURE: u16 = 1;
const KU_NON_REPUDIATION: u16 = 1 << 1;
const KU_KEY_ENCIPHERMENT: u16 = 1 << 2;
const KU_KEY_CERT_SIGN: u16 = 1 << 5;
const KU_CRL_SIGN: u16 = 1 << 6;

const SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";
const SHA512_WITH_RSA: &str = "1.2.840.113549.1.1.13";

// Extension OIDs.
const AKI: &str = "2.5.29.35";
const SKI: &str = "2.5.29.14";
const KEY_USAGE: &str = "2.5.29.15";
const SAN: &str = "2.5.29.17";
const BASIC_CONSTRAINTS: &str = "2.5.29.19";
const CRL_DP: &str = "2.5.29.31";
const POLICIES: &str = "2.5.29.32";
const EKU: &str = "2.5.29.37";
const QC_STATEMENTS: &str = "1.3.6.1.5.5.7.1.3";

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let opts = PkiOptions {
            now: NOW,
            person_id: PERSON_ID.to_owned(),
        };
        pki::generate(&opts).expect("the TEST PKI generates")
    })
}

fn der_of(pem: &str) -> Vec<u8> {
    let (rest, pem) = parse_x509_pem(pem.as_bytes()).expect("PEM");
    assert!(
        rest.iter().all(u8::is_ascii_whitespace),
        "one PEM block only"
    );
    pem.contents
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = parse_x509_certificate(der).expect("DER certificate");
    assert!(rest.is_empty(), "trailing bytes after the certificate");
    cert
}

fn issued(name: &str) -> &'static Issued {
    pki()
        .get(name)
        .unwrap_or_else(|| panic!("no variant {name}"))
}

fn oid(text: &str) -> Oid<'static> {
    text.parse().expect("OID")
}

/// (attribute OID, tag, value) per RDN, in order; each RDN must hold one attribute.
fn name_attributes(name: &X509Name<'_>) -> Vec<(String, Tag, String)> {
    name.iter_rdn()
        .map(|rdn| {
            let attrs: Vec<_> = rdn.iter().collect();
            assert_eq!(attrs.len(), 1, "one attribute per RDN");
            let attr = attrs[0];
            (
                attr.attr_type().to_id_string(),
                attr.attr_value().tag(),
                attr.as_str().expect("string attribute").to_owned(),
            )
        })
        .collect()
}

fn attr(oid: &str, tag: Tag, value: &str) -> (String, Tag, String) {
    (oid.to_owned(), tag, value.to_owned())
}

fn extension_oids(cert: &X509Certificate<'_>) -> BTreeSet<String> {
    let oids: Vec<String> = cert
        .extensions()
        .iter()
        .map(|ext| ext.oid.to_id_string())
        .collect();
    let set: BTreeSet<String> = oids.iter().cloned().collect();
    assert_eq!(set.len(), oids.len(), "an extension appears twice");
    set
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn key_usage(cert: &X509Certificate<'_>) -> (bool, u16) {
    let ku = cert
        .key_usage()
        .expect("key usage parses")
        .expect("key usage present");
    (ku.critical, ku.value.flags)
}

fn policies(cert: &X509Certificate<'_>) -> Vec<String> {
    let ext = cert
        .get_extension_unique(&oid(POLICIES))
        .expect("unique")
        .expect("certificatePolicies present");
    assert!(!ext.critical, "certificatePolicies is not critical");
    match ext.parsed_extension() {
        ParsedExtension::CertificatePolicies(policies) => policies
            .iter()
            .map(|p| {
                assert!(p.policy_qualifiers.is_none(), "no policy qualifiers");
                p.policy_id.to_id_string()
            })
            .collect(),
        other => panic!("certificatePolicies did not parse: {other:?}"),
    }
}

/// One qcStatement: its id, and for pkixQCSyntax-v2 the semantics id and registration URIs.
#[derive(Debug, PartialEq)]
struct QcStatement {
    id: String,
    semantics: Option<(String, Vec<String>)>,
}

fn qc(id: &str) -> QcStatement {
    QcStatement {
        id: id.to_owned(),
        semantics: None,
    }
}

fn qc_syntax_v2(semantics: &str) -> QcStatement {
    QcStatement {
        id: QCS_SYNTAX_V2.to_owned(),
        semantics: Some((semantics.to_owned(), vec![QC_URL.to_owned()])),
    }
}

fn qc_statements(cert: &X509Certificate<'_>) -> Vec<QcStatement> {
    let ext = cert
        .get_extension_unique(&oid(QC_STATEMENTS))
        .expect("unique")
        .expect("qcStatements present");
    assert!(!ext.critical, "qcStatements is not critical");
    let (rest, statements) = der_parser::parse_der(ext.value).expect("qcStatements DER");
    assert!(rest.is_empty());
    statements
        .as_sequence()
        .expect("SEQUENCE OF QCStatement")
        .iter()
        .map(|statement| {
            let parts = statement.as_sequence().expect("QCStatement SEQUENCE");
            assert!(parts.len() <= 2);
            let id = parts[0].as_oid().expect("statementId").to_id_string();
            let semantics = parts.get(1).map(|info| {
                let info = info.as_sequence().expect("SemanticsInformation");
                assert_eq!(info.len(), 2);
                let semantics_id = info[0].as_oid().expect("semanticsIdentifier");
                let uris = info[1]
                    .as_sequence()
                    .expect("nameRegistrationAuthorities")
                    .iter()
                    .map(|name| {
                        assert_eq!(name.header.class(), Class::ContextSpecific);
                        assert_eq!(name.header.tag(), Tag(6), "uniformResourceIdentifier");
                        String::from_utf8(name.as_slice().expect("URI").to_vec()).expect("ASCII")
                    })
                    .collect();
                (semantics_id.to_id_string(), uris)
            });
            QcStatement { id, semantics }
        })
        .collect()
}

fn crl_distribution_points(cert: &X509Certificate<'_>) -> Vec<String> {
    let ext = cert
        .get_extension_unique(&oid(CRL_DP))
        .expect("unique")
        .expect("CRL distribution points present");
    assert!(!ext.critical);
    match ext.parsed_extension() {
        ParsedExtension::CRLDistributionPoints(points) => points
            .iter()
            .flat_map(|point| {
                assert!(point.reasons.is_none() && point.crl_issuer.is_none());
                match &point.distribution_point {
                    Some(DistributionPointName::FullName(names)) => names
                        .iter()
                        .map(|name| match name {
                            GeneralName::URI(uri) => (*uri).to_owned(),
                            other => panic!("not a URI: {other:?}"),
                        })
                        .collect::<Vec<_>>(),
                    other => panic!("unexpected distribution point {other:?}"),
                }
            })
            .collect(),
        other => panic!("CRL DP did not parse: {other:?}"),
    }
}

fn validity(cert: &X509Certificate<'_>) -> (OffsetDateTime, OffsetDateTime) {
    (
        cert.validity().not_before.to_datetime(),
        cert.validity().not_after.to_datetime(),
    )
}

fn serial(cert: &X509Certificate<'_>) -> Vec<u8> {
    cert.raw_serial().to_vec()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Key {
    Rsa2048,
    P256,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum When {
    Valid,
    Expired,
    NotYetValid,
}

/// What a person-shaped variant must look like.
struct PersonExpect {
    name: &'static str,
    key: Key,
    policies: &'static [&'static str],
    key_usage: u16,
    qc: &'static [&'static str],
    when: When,
    untrusted: bool,
}

const AUTH: u16 = KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT;

const PERSON_HIGH_EXPECT: PersonExpect = PersonExpect {
    name: "person-high",
    key: Key::Rsa2048,
    policies: &[PERSON_HIGH, NCP_PLUS],
    key_usage: AUTH,
    qc: &[QCS_SYNTAX_V2],
    when: When::Valid,
    untrusted: false,
};

const PERSONS: &[PersonExpect] = &[
    PERSON_HIGH_EXPECT,
    PersonExpect {
        name: "person-high-ec",
        key: Key::P256,
        key_usage: KU_DIGITAL_SIGNATURE,
        ..PERSON_HIGH_EXPECT
    },
    PersonExpect {
        name: "person-standard",
        policies: &["2.16.578.1.26.1.3.2", NCP_PLUS],
        ..PERSON_HIGH_EXPECT
    },
    PersonExpect {
        name: "person-hsm",
        policies: &["2.16.578.1.26.1.3.6", NCP_PLUS],
        ..PERSON_HIGH_EXPECT
    },
    PersonExpect {
        name: "expired",
        when: When::Expired,
        ..PERSON_HIGH_EXPECT
    },
    PersonExpect {
        name: "not-yet-valid",
        when: When::NotYetValid,
        ..PERSON_HIGH_EXPECT
    },
    PersonExpect {
        name: "revoked",
        ..PERSON_HIGH_EXPECT
    },
    PersonExpect {
        name: "wrong-usage",
        policies: &[PERSON_HIGH, "0.4.0.194112.1.0"],
        key_usage: KU_NON_REPUDIATION,
        qc: &[QCS_SYNTAX_V2, "0.4.0.1862.1.1", "0.4.0.1862.1.4"],
        ..PERSON_HIGH_EXPECT
    },
    PersonExpect {
        name: "untrusted",
        untrusted: true,
        ..PERSON_HIGH_EXPECT
    },
];

fn check_key(cert: &X509Certificate<'_>, issued: &Issued, key: Key) {
    use p256::pkcs8::DecodePrivateKey as _;
    use rsa::traits::PublicKeyParts as _;

    assert!(issued.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let spki = cert.public_key();
    match (key, spki.parsed().expect("public key parses")) {
        (Key::Rsa2048, PublicKey::RSA(public)) => {
            assert_eq!(public.key_size(), 2048, "{}", issued.name);
            let private =
                rsa::RsaPrivateKey::from_pkcs8_pem(&issued.key_pem).expect("RSA PKCS#8 key");
            let modulus = private.n().to_bytes_be();
            let cert_modulus: Vec<u8> = public
                .modulus
                .iter()
                .copied()
                .skip_while(|b| *b == 0)
                .collect();
            assert_eq!(modulus, cert_modulus, "{}: key matches", issued.name);
        }
        (Key::P256, PublicKey::EC(point)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .expect("named curve");
            assert_eq!(curve.to_id_string(), "1.2.840.10045.3.1.7", "P-256");
            let private = p256::SecretKey::from_pkcs8_pem(&issued.key_pem).expect("EC PKCS#8");
            let public = private.public_key().to_sec1_bytes();
            assert_eq!(&public[..], point.data(), "{}: key matches", issued.name);
        }
        (want, got) => panic!("{}: wanted {want:?}, got {got:?}", issued.name),
    }
}

fn person_ca_der() -> Vec<u8> {
    der_of(&pki().person_ca_pem)
}

fn root_der() -> Vec<u8> {
    der_of(&pki().root_ca_pem)
}

fn other_root_der() -> Vec<u8> {
    der_of(&pki().other_root_pem)
}

#[test]
fn variants_are_the_documented_list_in_order() {
    assert_eq!(
        VARIANTS,
        [
            "person-high",
            "person-high-ec",
            "person-standard",
            "person-hsm",
            "enterprise",
            "expired",
            "not-yet-valid",
            "revoked",
            "wrong-usage",
            "untrusted",
            "gateway",
        ]
    );
    let names: Vec<&str> = pki().issued.iter().map(|i| i.name).collect();
    assert_eq!(names, VARIANTS);
    assert!(pki().get("no-such-variant").is_none());
    assert_eq!(PkiOptions::new(NOW).person_id, pki::DEFAULT_PERSON_ID);
}

#[test]
fn pem_and_der_agree() {
    for issued in &pki().issued {
        assert_eq!(der_of(&issued.cert_pem), issued.cert_der, "{}", issued.name);
        parse(&issued.cert_der);
    }
}

#[test]
fn person_variants_have_the_buypass_shape() {
    let ca_der = person_ca_der();
    let person_ca = parse(&ca_der);
    let other_der = other_root_der();
    let other_root = parse(&other_der);

    for expect in PERSONS {
        let issued = issued(expect.name);
        let cert = parse(&issued.cert_der);
        let name = expect.name;

        assert_eq!(issued.personal_id.as_deref(), Some(PERSONAL_ID), "{name}");
        assert_eq!(
            name_attributes(cert.subject()),
            [
                attr("2.5.4.6", Tag::PrintableString, "NO"),
                attr("2.5.4.4", Tag::Utf8String, "NORDMANN"),
                attr("2.5.4.42", Tag::Utf8String, "ÅSE TEST"),
                attr("2.5.4.3", Tag::Utf8String, "ÅSE TEST NORDMANN"),
                attr("2.5.4.5", Tag::PrintableString, PERSONAL_ID),
            ],
            "{name}: subject"
        );
        assert_eq!(
            extension_oids(&cert),
            set(&[
                AKI,
                SKI,
                KEY_USAGE,
                BASIC_CONSTRAINTS,
                CRL_DP,
                POLICIES,
                QC_STATEMENTS
            ]),
            "{name}: no extended key usage, no SAN, nothing unexpected"
        );
        assert!(!cert.is_ca(), "{name}");
        assert_eq!(
            key_usage(&cert),
            (true, expect.key_usage),
            "{name}: key usage"
        );
        assert_eq!(policies(&cert), expect.policies, "{name}: policies");
        let statements = qc_statements(&cert);
        let ids: Vec<&str> = statements.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, expect.qc, "{name}: qcStatements");
        assert_eq!(statements[0], qc_syntax_v2(SEMANTICS_NATURAL), "{name}");
        for statement in &statements[1..] {
            assert_eq!(statement, &qc(&statement.id), "{name}: no statement info");
        }
        assert_eq!(crl_distribution_points(&cert), [CRL_URL], "{name}");
        assert_eq!(
            cert.signature_algorithm.algorithm.to_id_string(),
            SHA256_WITH_RSA
        );
        check_key(&cert, issued, expect.key);

        let (not_before, not_after) = validity(&cert);
        match expect.when {
            When::Valid => {
                assert_eq!(not_before, NOW - Duration::days(1), "{name}");
                assert_eq!(not_after - not_before, Duration::days(3 * 365), "{name}");
                assert!(cert.validity().is_valid_at(ASN1Time::from(NOW)));
            }
            When::Expired => {
                assert!(not_after < NOW, "{name}");
                assert_eq!(not_after, NOW - Duration::days(1), "{name}");
                assert!(!cert.validity().is_valid_at(ASN1Time::from(NOW)));
            }
            When::NotYetValid => {
                assert!(not_before > NOW, "{name}");
                assert_eq!(not_before, NOW + Duration::days(1), "{name}");
                assert!(!cert.validity().is_valid_at(ASN1Time::from(NOW)));
            }
        }

        let issuer = if expect.untrusted {
            &other_root
        } else {
            &person_ca
        };
        let wrong = if expect.untrusted {
            &person_ca
        } else {
            &other_root
        };
        assert_eq!(cert.issuer().as_raw(), issuer.subject().as_raw(), "{name}");
        assert_eq!(
            cert.verify_signature(Some(issuer.public_key())),
            Ok(()),
            "{name}: signed by its issuer"
        );
        assert!(
            cert.verify_signature(Some(wrong.public_key())).is_err(),
            "{name}: not signed by the other CA"
        );
        let (not_before, not_after) = validity(&cert);
        let (ca_from, ca_until) = validity(issuer);
        assert!(ca_from <= not_before && not_after <= ca_until, "{name}");
    }
}

#[test]
fn enterprise_is_an_organisation() {
    let issued = issued("enterprise");
    let cert = parse(&issued.cert_der);
    assert_eq!(issued.personal_id, None);
    assert_eq!(
        name_attributes(cert.subject()),
        [
            attr("2.5.4.6", Tag::PrintableString, "NO"),
            attr(
                "2.5.4.10",
                Tag::Utf8String,
                "hjemmekontor TEST Legekontor AS"
            ),
            attr("2.5.4.97", Tag::Utf8String, "NTRNO-123456785"),
            attr("2.5.4.5", Tag::PrintableString, "123456785"),
            attr(
                "2.5.4.3",
                Tag::Utf8String,
                "hjemmekontor TEST Legekontor AS"
            ),
        ]
    );
    assert_eq!(pki::ENTERPRISE_ORG_NUMBER, "123456785");
    assert_eq!(policies(&cert), ["2.16.578.1.26.1.3.5"]);
    assert_eq!(qc_statements(&cert), [qc_syntax_v2(SEMANTICS_LEGAL)]);
    assert_eq!(key_usage(&cert), (true, AUTH));
    assert_eq!(crl_distribution_points(&cert), [CRL_URL]);
    assert_eq!(
        extension_oids(&cert),
        set(&[
            AKI,
            SKI,
            KEY_USAGE,
            BASIC_CONSTRAINTS,
            CRL_DP,
            POLICIES,
            QC_STATEMENTS
        ])
    );
    check_key(&cert, issued, Key::Rsa2048);
    let ca_der = person_ca_der();
    let person_ca = parse(&ca_der);
    assert_eq!(cert.issuer().as_raw(), person_ca.subject().as_raw());
    assert_eq!(cert.verify_signature(Some(person_ca.public_key())), Ok(()));
    assert_eq!(validity(&cert).0, NOW - Duration::days(1));
}

#[test]
fn gateway_is_a_tls_server_for_localhost() {
    let issued = issued("gateway");
    let cert = parse(&issued.cert_der);
    assert_eq!(issued.personal_id, None);
    assert_eq!(
        extension_oids(&cert),
        set(&[AKI, SKI, KEY_USAGE, BASIC_CONSTRAINTS, SAN, EKU]),
        "no policies, qcStatements or CRL DP"
    );
    let san = cert
        .subject_alternative_name()
        .expect("SAN parses")
        .expect("SAN present");
    assert!(!san.critical, "the subject is not empty");
    let names: Vec<String> = san
        .value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => format!("dns:{dns}"),
            GeneralName::IPAddress(ip) => format!("ip:{ip:?}"),
            other => panic!("unexpected SAN {other:?}"),
        })
        .collect();
    assert_eq!(names, ["dns:localhost", "ip:[127, 0, 0, 1]"]);
    let eku = cert
        .extended_key_usage()
        .expect("EKU parses")
        .expect("EKU present");
    assert!(eku.value.server_auth);
    assert!(
        !eku.value.client_auth && !eku.value.any && eku.value.other.is_empty(),
        "serverAuth only"
    );
    assert_eq!(key_usage(&cert), (true, KU_DIGITAL_SIGNATURE));
    assert!(!cert.is_ca());
    check_key(&cert, issued, Key::P256);
    let cn: Vec<_> = cert
        .subject()
        .iter_common_name()
        .map(|cn| cn.as_str().unwrap())
        .collect();
    assert_eq!(cn, ["hjemmekontor TEST gateway"]);
    let ca_der = person_ca_der();
    let person_ca = parse(&ca_der);
    assert_eq!(cert.issuer().as_raw(), person_ca.subject().as_raw());
    assert_eq!(cert.verify_signature(Some(person_ca.public_key())), Ok(()));
    assert!(cert.validity().is_valid_at(ASN1Time::from(NOW)));
}

#[test]
fn the_cas_form_two_separate_chains() {
    let root_der = root_der();
    let root = parse(&root_der);
    let ca_der = person_ca_der();
    let person_ca = parse(&ca_der);
    let other_der = other_root_der();
    let other = parse(&other_der);

    let ca_subject = |org: &str, cn: &str| {
        vec![
            attr("2.5.4.6", Tag::PrintableString, "NO"),
            attr("2.5.4.10", Tag::Utf8String, org),
            attr("2.5.4.3", Tag::Utf8String, cn),
        ]
    };
    assert_eq!(
        name_attributes(root.subject()),
        ca_subject("hjemmekontor TEST", ROOT_CN)
    );
    assert_eq!(
        name_attributes(person_ca.subject()),
        ca_subject("hjemmekontor TEST", PERSON_CA_CN)
    );
    assert_eq!(
        name_attributes(other.subject()),
        ca_subject(
            "hjemmekontor TEST Untrusted",
            "hjemmekontor TEST Untrusted Root CA"
        )
    );

    for (ca, path_len) in [(&root, None), (&person_ca, Some(0)), (&other, None)] {
        let bc = ca.basic_constraints().unwrap().expect("basicConstraints");
        assert!(bc.critical && bc.value.ca);
        assert_eq!(bc.value.path_len_constraint, path_len);
        assert_eq!(key_usage(ca), (true, KU_KEY_CERT_SIGN | KU_CRL_SIGN));
        let (from, until) = validity(ca);
        assert!(from < NOW - Duration::days(3 * 365) && until > NOW + Duration::days(10 * 365));
    }
    assert_eq!(policies(&person_ca), ["2.5.29.32.0"], "anyPolicy");
    assert_eq!(
        extension_oids(&person_ca),
        set(&[AKI, SKI, KEY_USAGE, BASIC_CONSTRAINTS, POLICIES])
    );
    for ca in [&root, &other] {
        assert_eq!(
            extension_oids(ca),
            set(&[SKI, KEY_USAGE, BASIC_CONSTRAINTS])
        );
    }

    assert_eq!(root.issuer().as_raw(), root.subject().as_raw());
    assert_eq!(root.verify_signature(None), Ok(()));
    assert_eq!(
        root.signature_algorithm.algorithm.to_id_string(),
        SHA512_WITH_RSA
    );
    assert_eq!(person_ca.issuer().as_raw(), root.subject().as_raw());
    assert_eq!(person_ca.verify_signature(Some(root.public_key())), Ok(()));
    assert_eq!(
        person_ca.signature_algorithm.algorithm.to_id_string(),
        SHA512_WITH_RSA
    );
    assert_eq!(other.verify_signature(None), Ok(()));
    assert!(person_ca
        .verify_signature(Some(other.public_key()))
        .is_err());
    assert_ne!(root.public_key().raw, other.public_key().raw);
}

#[test]
fn every_name_says_test_and_every_serial_is_unique() {
    let mut ders = vec![root_der(), person_ca_der(), other_root_der()];
    ders.extend(pki().issued.iter().map(|i| i.cert_der.clone()));
    let mut serials = BTreeSet::new();
    for der in &ders {
        let cert = parse(der);
        for name in [cert.subject(), cert.issuer()] {
            let cn: Vec<_> = name.iter_common_name().collect();
            assert_eq!(cn.len(), 1);
            assert!(cn[0].as_str().unwrap().contains("TEST"), "{name}");
        }
        let serial = serial(&cert);
        assert!(
            serial.len() >= 8 && serial[0] & 0x80 == 0,
            "random, positive"
        );
        assert!(serials.insert(serial), "serials are unique");
    }
}

#[test]
fn crl_lists_exactly_the_revoked_certificate() {
    let crl_der = der_of(&pki().crl_pem);
    assert!(pki().crl_pem.starts_with("-----BEGIN X509 CRL-----"));
    let (rest, crl) = parse_x509_crl(&crl_der).expect("CRL parses");
    assert!(rest.is_empty());
    let ca_der = person_ca_der();
    let person_ca = parse(&ca_der);
    let root_der = root_der();
    let root = parse(&root_der);

    assert_eq!(crl.issuer().as_raw(), person_ca.subject().as_raw());
    assert_eq!(crl.verify_signature(person_ca.public_key()), Ok(()));
    assert!(crl.verify_signature(root.public_key()).is_err());
    assert!(crl.last_update().to_datetime() <= NOW);
    let next = crl.next_update().expect("nextUpdate").to_datetime();
    assert!(next > NOW, "the CRL is current at NOW");

    let revoked_serial = serial(&parse(&issued("revoked").cert_der));
    let listed: Vec<Vec<u8>> = crl
        .iter_revoked_certificates()
        .map(|entry| entry.raw_serial().to_vec())
        .collect();
    assert_eq!(listed, [revoked_serial]);
    let entry = crl.iter_revoked_certificates().next().unwrap();
    let revoked_at = entry.revocation_date.to_datetime();
    assert!(revoked_at <= NOW && revoked_at >= NOW - Duration::days(1));
    for name in VARIANTS.iter().filter(|n| **n != "revoked") {
        let other = serial(&parse(&issued(name).cert_der));
        assert!(!listed.contains(&other), "{name} is not revoked");
    }
}

#[test]
fn write_produces_exactly_the_documented_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pki");
    let written = pki().write(&out).expect("writes");

    let mut expected = vec![
        "root-ca.pem".to_owned(),
        "person-ca.pem".to_owned(),
        "untrusted-root-ca.pem".to_owned(),
        "crl.pem".to_owned(),
    ];
    for name in VARIANTS {
        expected.push(format!("{name}.pem"));
        expected.push(format!("{name}.key"));
    }
    let names: Vec<String> = written
        .iter()
        .map(|path| {
            assert_eq!(path.parent(), Some(out.as_path()));
            path.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    assert_eq!(names, expected);

    let on_disk: BTreeSet<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(on_disk, expected.iter().cloned().collect::<BTreeSet<_>>());

    let read = |file: &str| std::fs::read_to_string(out.join(file)).unwrap();
    assert_eq!(read("root-ca.pem"), pki().root_ca_pem);
    assert_eq!(read("person-ca.pem"), pki().person_ca_pem);
    assert_eq!(read("untrusted-root-ca.pem"), pki().other_root_pem);
    assert_eq!(read("crl.pem"), pki().crl_pem);
    for issued in &pki().issued {
        assert_eq!(read(&format!("{}.pem", issued.name)), issued.cert_pem);
        assert_eq!(read(&format!("{}.key", issued.name)), issued.key_pem);
    }

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |file: &str| {
            std::fs::metadata(out.join(file))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("person-high.key"), 0o600);
        assert_eq!(mode("gateway.key"), 0o600);
    }

    // Writing again replaces the files and still lists the same ones.
    assert_eq!(pki().write(&out).expect("rewrites"), written);
}

#[test]
fn write_reports_an_unwritable_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    match pki().write(&file.join("pki")) {
        Err(pki::PkiError::CreateDir { path, .. }) => assert_eq!(path, file.join("pki")),
        other => panic!("expected CreateDir, got {other:?}"),
    }
}

#[test]
fn another_person_gets_a_person_high_ec_card_of_their_own_from_the_person_ca() {
    let other = pki().person_high_ec(NOW, "27182818").expect("issued");
    let same_shape = issued("person-high-ec");
    let cert = parse(&other.cert_der);
    let ca_der = person_ca_der();
    let person_ca = parse(&ca_der);

    assert_eq!(other.name, "person-high-ec");
    assert_eq!(
        other.personal_id.as_deref(),
        Some("UN:NO-9578-4050-27182818")
    );
    assert!(name_attributes(cert.subject()).contains(&attr(
        "2.5.4.5",
        Tag::PrintableString,
        "UN:NO-9578-4050-27182818"
    )));
    assert_eq!(cert.issuer().as_raw(), person_ca.subject().as_raw());
    assert_eq!(cert.verify_signature(Some(person_ca.public_key())), Ok(()));
    let shape = parse(&same_shape.cert_der);
    assert_eq!(policies(&cert), policies(&shape));
    assert_eq!(key_usage(&cert), key_usage(&shape));
    assert_eq!(validity(&cert), validity(&shape));
    assert_ne!(other.key_pem, same_shape.key_pem);
    check_key(&cert, &other, Key::P256);
    assert!(matches!(
        pki().person_high_ec(NOW, "12a"),
        Err(pki::PkiError::BadPersonId { .. })
    ));
}
