//! The TEST PKI: a certificate hierarchy shaped like Buypass's SEID 2 Person-High one, with
//! "TEST" in every name, so the virtual card, the gateway tests and the demo have realistic
//! certificates that nobody can mistake for real ones.
//!
//! ```text
//! hjemmekontor TEST Class 3 Root CA G2 HT          root-ca.pem (RSA, signs with SHA-512)
//! └── hjemmekontor TEST Class 3 CA G2 HT Person    person-ca.pem (RSA, signs with SHA-256), crl.pem
//!     ├── person-high, person-high-ec, person-standard, person-hsm, enterprise,
//!     │   expired, not-yet-valid, revoked, wrong-usage
//!     └── gateway                                  TLS server: localhost, 127.0.0.1
//! hjemmekontor TEST Untrusted Root CA              untrusted-root-ca.pem
//! └── untrusted
//! ```
//!
//! The gateway's certificate comes from the person CA, not from a server CA of its own, so the
//! whole TEST PKI has one trust anchor (`root-ca.pem`) and one intermediate (`person-ca.pem`):
//! a TLS server serves `gateway.pem` followed by `person-ca.pem`. Person certificates cannot
//! pass for the server: they carry no subject alternative names.
//!
//! Every person certificate carries the same personal identifier
//! (`UN:NO-9578-4050-<person_id>`), so a test that logs in one user with each variant fails for
//! the certificate's own reason, never for an unknown user.
//!
//! Where a TEST certificate differs from a real one, on purpose or because of `rcgen`:
//! - basicConstraints `CA:FALSE` is critical (rcgen always marks it so; Buypass does not);
//! - there is no authorityInfoAccess: there is no TEST OCSP responder or CA-issuers URL;
//! - the P-256 variant has key usage digitalSignature only, since an EC key cannot encipher
//!   (RFC 5480);
//! - CA keys are RSA-2048 (Buypass's are RSA-4096), to keep generation fast.
//!
//! RSA keys are generated with the `rsa` crate (ring cannot generate them) and handed to rcgen
//! as PKCS#8; certificatePolicies and qcStatements, which rcgen does not know, are encoded by
//! the small DER writer at the end of this file.

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore as _};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CustomExtension, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SanType,
    SerialNumber, SignatureAlgorithm, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, PKCS_RSA_SHA512,
};
use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
use time::{Duration, OffsetDateTime, UtcOffset};

/// Every certificate variant the TEST PKI issues, so tools can list them and tests can loop.
pub const VARIANTS: &[&str] = &[
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
];

/// The `<id>` used when the caller names no person, so fixtures agree without coordination.
pub const DEFAULT_PERSON_ID: &str = "12345678";

/// Organisation number in the `enterprise` certificate; it passes the mod-11 check digit test.
pub const ENTERPRISE_ORG_NUMBER: &str = "123456785";

/// Where person certificates say their CRL lives; a TEST name that never resolves.
pub const CRL_URL: &str = "http://crl.test.invalid/hjemmekontor-test-person.crl";

/// Registration authority named in the qcStatements, as Buypass names the Norwegian regulator.
pub const QC_REGISTRATION_URL: &str = "http://registration.test.invalid/hjemmekontor-test";

/// Longest personal id accepted; real ones have 9 digits.
const PERSON_ID_MAX: usize = 20;
/// Clock years for which every derived date stays well inside what X.509 can encode.
const YEAR_MIN: i32 = 1960;
const YEAR_MAX: i32 = 9000;
/// RSA modulus size for every RSA key: what SEID 2 cards hold.
const RSA_BITS: usize = 2048;
/// Validity of end-entity certificates, like a Buypass card's three years.
const LEAF_DAYS: i64 = 3 * 365;
/// How long the CRL stays current: long enough that a generated tree lasts a development cycle.
const CRL_DAYS: i64 = 90;

const ORG: &str = "hjemmekontor TEST";
const ROOT_CN: &str = "hjemmekontor TEST Class 3 Root CA G2 HT";
const PERSON_CA_CN: &str = "hjemmekontor TEST Class 3 CA G2 HT Person";
const UNTRUSTED_ORG: &str = "hjemmekontor TEST Untrusted";
const UNTRUSTED_ROOT_CN: &str = "hjemmekontor TEST Untrusted Root CA";
const GIVEN_NAME: &str = "ÅSE TEST";
const SURNAME: &str = "NORDMANN";
const ENTERPRISE_NAME: &str = "hjemmekontor TEST Legekontor AS";
const GATEWAY_CN: &str = "hjemmekontor TEST gateway";

/// Object identifiers, as arcs for rcgen and the DER writer.
mod oid {
    pub const SURNAME: &[u64] = &[2, 5, 4, 4];
    pub const SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];
    pub const GIVEN_NAME: &[u64] = &[2, 5, 4, 42];
    pub const ORGANIZATION_IDENTIFIER: &[u64] = &[2, 5, 4, 97];
    pub const CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];
    pub const ANY_POLICY: &[u64] = &[2, 5, 29, 32, 0];
    pub const QC_STATEMENTS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 3];
    /// Buypass Person-High, key on a smartcard.
    pub const BUYPASS_PERSON_HIGH: &[u64] = &[2, 16, 578, 1, 26, 1, 3, 1];
    /// Buypass soft certificate: not Person-High.
    pub const BUYPASS_SOFT: &[u64] = &[2, 16, 578, 1, 26, 1, 3, 2];
    /// Buypass enterprise (virksomhet), smartcard.
    pub const BUYPASS_ENTERPRISE: &[u64] = &[2, 16, 578, 1, 26, 1, 3, 5];
    /// Buypass Person-High, key in an HSM.
    pub const BUYPASS_PERSON_HIGH_HSM: &[u64] = &[2, 16, 578, 1, 26, 1, 3, 6];
    /// ETSI NCP+ (EN 319 411-1).
    pub const NCP_PLUS: &[u64] = &[0, 4, 0, 2042, 1, 2];
    /// ETSI QCP-n (EN 319 411-2), on the real signing certificate.
    pub const QCP_NATURAL: &[u64] = &[0, 4, 0, 194112, 1, 0];
    pub const QCS_PKIX_SYNTAX_V2: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 11, 2];
    pub const QCS_SEMANTICS_NATURAL: &[u64] = &[0, 4, 0, 194121, 1, 1];
    pub const QCS_SEMANTICS_LEGAL: &[u64] = &[0, 4, 0, 194121, 1, 2];
    pub const QCS_COMPLIANCE: &[u64] = &[0, 4, 0, 1862, 1, 1];
    pub const QCS_SSCD: &[u64] = &[0, 4, 0, 1862, 1, 4];
}

/// What to generate: the clock and the person, injected so tests run at a fixed time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiOptions {
    /// The moment validity is counted from; certificates say "valid" or not relative to it.
    pub now: OffsetDateTime,
    /// The `<id>` digits in `UN:NO-9578-4050-<id>`, the identifier the gateway binds users by.
    pub person_id: String,
}

impl PkiOptions {
    /// Options for the default person at the given time.
    pub fn new(now: OffsetDateTime) -> Self {
        PkiOptions {
            now,
            person_id: DEFAULT_PERSON_ID.to_owned(),
        }
    }
}

/// One issued end-entity certificate with its key, ready for a virtual card or a server.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    /// The variant, one of [`VARIANTS`]; also the file stem.
    pub name: &'static str,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The subject serialNumber (`UN:NO-9578-4050-<id>`) for person certificates, so tests
    /// can bind a user to it; `None` for the enterprise and gateway certificates.
    pub personal_id: Option<String>,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("name", &self.name)
            .field("personal_id", &self.personal_id)
            .field("cert_der_len", &self.cert_der.len())
            .field("key_pem", &"REDACTED")
            .finish()
    }
}

/// The whole TEST PKI in memory, so tests can use it without touching the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPki {
    /// The trust anchor everything valid chains to.
    pub root_ca_pem: String,
    /// The issuing CA of person certificates, the gateway certificate and the CRL.
    pub person_ca_pem: String,
    /// A root nobody trusts; issuer of `untrusted`.
    pub other_root_pem: String,
    /// The person CA's CRL, listing `revoked`.
    pub crl_pem: String,
    /// The end-entity certificates, in [`VARIANTS`] order.
    pub issued: Vec<Issued>,
    /// The person CA's key, so tests can issue a newer CRL ([`TestPki::revocation_list`]).
    pub person_ca_key: CaKey,
}

/// A TEST CA's private key (PKCS#8 PEM); never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct CaKey(String);

impl std::fmt::Debug for CaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaKey(..)")
    }
}

/// Why the TEST PKI could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The personal id is not what goes after `UN:NO-9578-4050-`.
    #[error("the personal id must be 1 to {max} digits 0-9, got {id:?}")]
    BadPersonId {
        /// What was given.
        id: String,
        /// Most digits accepted.
        max: usize,
    },
    /// The injected clock is so far off that certificate dates cannot be encoded.
    #[error("the clock reads {now}; a TEST PKI can only be made for the years {min} to {max}")]
    ClockOutOfRange {
        /// The clock reading.
        now: OffsetDateTime,
        /// Earliest year accepted.
        min: i32,
        /// Latest year accepted.
        max: i32,
    },
    /// No variant of that name.
    #[error("the TEST PKI has no variant {name:?}")]
    UnknownVariant {
        /// The name asked for.
        name: String,
    },
    /// The system random number generator failed.
    #[error("the system's random number generator failed")]
    Random {
        /// What the generator reported.
        #[source]
        source: rand_core::Error,
    },
    /// RSA key generation failed.
    #[error("could not generate the RSA key for {what}")]
    RsaKeyGeneration {
        /// Whose key.
        what: &'static str,
        /// What the RSA library reported.
        #[source]
        source: rsa::Error,
    },
    /// An RSA key could not be encoded as PKCS#8.
    #[error("could not encode the key for {what} as PKCS#8")]
    KeyEncoding {
        /// Whose key.
        what: &'static str,
        /// What the encoder reported.
        #[source]
        source: rsa::pkcs8::Error,
    },
    /// A key could not be made or loaded for signing.
    #[error("could not make a signing key for {what}")]
    Key {
        /// Whose key.
        what: &'static str,
        /// What rcgen reported.
        #[source]
        source: rcgen::Error,
    },
    /// A key-generation worker died.
    #[error("the key generator for {what} stopped unexpectedly")]
    KeyWorker {
        /// Whose key.
        what: &'static str,
    },
    /// A certificate could not be built or signed.
    #[error("could not issue the {what} certificate")]
    Certificate {
        /// Which certificate.
        what: &'static str,
        /// What rcgen reported.
        #[source]
        source: rcgen::Error,
    },
    /// The CRL could not be built or signed.
    #[error("could not issue the CRL")]
    Crl {
        /// What rcgen reported.
        #[source]
        source: rcgen::Error,
    },
    /// The output directory could not be created.
    #[error("could not create the directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// What the system reported.
        #[source]
        source: io::Error,
    },
    /// A file could not be written.
    #[error("could not write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system reported.
        #[source]
        source: io::Error,
    },
}

impl TestPki {
    /// Writes the tree as PEM files into `dir` (created if missing) and returns their paths:
    /// `root-ca.pem`, `person-ca.pem`, `untrusted-root-ca.pem`, `crl.pem`, then `NAME.pem` and
    /// `NAME.key` for every variant. Existing files are replaced; keys are owner-only on Unix.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, PkiError> {
        fs::create_dir_all(dir).map_err(|source| PkiError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let mut files: Vec<(String, &str, bool)> = vec![
            ("root-ca.pem".to_owned(), &self.root_ca_pem, false),
            ("person-ca.pem".to_owned(), &self.person_ca_pem, false),
            (
                "untrusted-root-ca.pem".to_owned(),
                &self.other_root_pem,
                false,
            ),
            ("crl.pem".to_owned(), &self.crl_pem, false),
        ];
        for issued in &self.issued {
            files.push((format!("{}.pem", issued.name), &issued.cert_pem, false));
            files.push((format!("{}.key", issued.name), &issued.key_pem, true));
        }
        let mut written = Vec::with_capacity(files.len());
        for (file, contents, private) in files {
            let path = dir.join(file);
            write_file(&path, contents, private).map_err(|source| PkiError::Write {
                path: path.clone(),
                source,
            })?;
            written.push(path);
        }
        Ok(written)
    }

    /// The issued certificate of a variant, by its name in [`VARIANTS`].
    pub fn get(&self, name: &str) -> Option<&Issued> {
        self.issued.iter().find(|issued| issued.name == name)
    }
}

fn write_file(path: &Path, contents: &str, private: bool) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    if private {
        // `mode` only applies to new files; an older key file may be more open.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    file.write_all(contents.as_bytes())?;
    file.flush()
}

/// Makes the whole TEST PKI at `opts.now`.
///
/// Takes a second or two: thirteen RSA keys are generated, in parallel.
pub fn generate(opts: &PkiOptions) -> Result<TestPki, PkiError> {
    check_person_id(&opts.person_id)?;
    let dates = Dates::new(opts.now)?;
    let personal_id = format!("UN:NO-9578-4050-{}", opts.person_id);

    let mut wanted: Vec<(&'static str, KeyKind)> = vec![
        ("root-ca", KeyKind::Rsa(&PKCS_RSA_SHA512)),
        ("person-ca", KeyKind::Rsa(&PKCS_RSA_SHA256)),
        ("untrusted-root-ca", KeyKind::Rsa(&PKCS_RSA_SHA256)),
    ];
    wanted.extend(LEAVES.iter().map(|leaf| (leaf.name, leaf.key)));
    let mut keys = make_keys(&wanted)?.into_iter();
    let mut next_key = |what: &'static str| keys.next().ok_or(PkiError::KeyWorker { what });

    let root_params = ca_params("root-ca", ROOT_CN, ORG, None, &dates, random_serial()?)?;
    let root_key = next_key("root-ca")?;
    let root_cert = root_params
        .self_signed(&root_key)
        .map_err(|source| PkiError::Certificate {
            what: "root-ca",
            source,
        })?;
    let root = Issuer::new(root_params, root_key);

    let person_ca_params = ca_params(
        "person-ca",
        PERSON_CA_CN,
        ORG,
        Some(0),
        &dates,
        random_serial()?,
    )?;
    let person_ca_key = next_key("person-ca")?;
    let person_ca_cert = person_ca_params
        .signed_by(&person_ca_key, &root)
        .map_err(|source| PkiError::Certificate {
            what: "person-ca",
            source,
        })?;
    let person_ca = Issuer::new(person_ca_params, person_ca_key);

    let other_params = ca_params(
        "untrusted-root-ca",
        UNTRUSTED_ROOT_CN,
        UNTRUSTED_ORG,
        None,
        &dates,
        random_serial()?,
    )?;
    let other_key = next_key("untrusted-root-ca")?;
    let other_cert =
        other_params
            .self_signed(&other_key)
            .map_err(|source| PkiError::Certificate {
                what: "untrusted-root-ca",
                source,
            })?;
    let other_root = Issuer::new(other_params, other_key);

    let mut issued = Vec::with_capacity(LEAVES.len());
    let mut revoked = Vec::new();
    for leaf in LEAVES {
        let key = next_key(leaf.name)?;
        let serial = random_serial()?;
        let params = leaf_params(leaf, &personal_id, &dates, serial.clone())?;
        let issuer = match leaf.issuer {
            IssuedBy::PersonCa => &person_ca,
            IssuedBy::UntrustedRoot => &other_root,
        };
        let cert = params
            .signed_by(&key, issuer)
            .map_err(|source| PkiError::Certificate {
                what: leaf.name,
                source,
            })?;
        if leaf.revoked {
            revoked.push(RevokedCertParams {
                serial_number: serial,
                revocation_time: dates.revoked_at,
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            });
        }
        issued.push(Issued {
            name: leaf.name,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
            personal_id: matches!(leaf.subject, Subject::Person).then(|| personal_id.clone()),
        });
    }

    let crl = CertificateRevocationListParams {
        this_update: dates.crl_this_update,
        next_update: dates.crl_next_update,
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: revoked,
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&person_ca)
    .map_err(|source| PkiError::Crl { source })?;

    Ok(TestPki {
        root_ca_pem: root_cert.pem(),
        person_ca_pem: person_ca_cert.pem(),
        other_root_pem: other_cert.pem(),
        crl_pem: crl.pem().map_err(|source| PkiError::Crl { source })?,
        issued,
        person_ca_key: CaKey(person_ca.key().serialize_pem()),
    })
}

impl TestPki {
    /// A newer CRL of the person CA (number `number`, issued at `now`) listing the variants
    /// `revoked`: what a CA publishes when a card is revoked while its holder is logged in.
    pub fn revocation_list(
        &self,
        now: OffsetDateTime,
        number: u64,
        revoked: &[&str],
    ) -> Result<String, PkiError> {
        let dates = Dates::new(now)?;
        let ca = self.person_ca(&dates)?;
        let mut listed = Vec::with_capacity(revoked.len());
        for name in revoked {
            let issued = self.get(name).ok_or(PkiError::UnknownVariant {
                name: (*name).to_owned(),
            })?;
            let serial = x509_parser::parse_x509_certificate(&issued.cert_der)
                .map(|(_, cert)| cert.raw_serial().to_vec())
                .map_err(|_| PkiError::UnknownVariant {
                    name: (*name).to_owned(),
                })?;
            listed.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&serial),
                revocation_time: dates.revoked_at,
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            });
        }
        CertificateRevocationListParams {
            this_update: dates.crl_this_update,
            next_update: dates.crl_next_update,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: listed,
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&ca)
        .and_then(|crl| crl.pem())
        .map_err(|source| PkiError::Crl { source })
    }

    /// Another `person-high-ec` card (a fresh P-256 key) from the person CA, for the personal
    /// id `person_id`: a benchmark that logs in as many people needs a card for each, and a
    /// whole TEST PKI per person would cost a second or two of RSA key generation each.
    pub fn person_high_ec(&self, now: OffsetDateTime, person_id: &str) -> Result<Issued, PkiError> {
        check_person_id(person_id)?;
        let dates = Dates::new(now)?;
        let ca = self.person_ca(&dates)?;
        let leaf = LEAVES
            .iter()
            .find(|leaf| leaf.name == "person-high-ec")
            .ok_or(PkiError::UnknownVariant {
                name: "person-high-ec".to_owned(),
            })?;
        let key = make_key(leaf.name, leaf.key)?;
        let personal_id = format!("UN:NO-9578-4050-{person_id}");
        let cert = leaf_params(leaf, &personal_id, &dates, random_serial()?)?
            .signed_by(&key, &ca)
            .map_err(|source| PkiError::Certificate {
                what: leaf.name,
                source,
            })?;
        Ok(Issued {
            name: leaf.name,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
            personal_id: Some(personal_id),
        })
    }

    /// The person CA as an issuer, its dates counted from `dates`.
    fn person_ca(&self, dates: &Dates) -> Result<Issuer<'static, KeyPair>, PkiError> {
        let key = KeyPair::from_pem(&self.person_ca_key.0).map_err(|source| PkiError::Key {
            what: "person-ca",
            source,
        })?;
        let params = ca_params(
            "person-ca",
            PERSON_CA_CN,
            ORG,
            Some(0),
            dates,
            random_serial()?,
        )?;
        Ok(Issuer::new(params, key))
    }
}

fn check_person_id(id: &str) -> Result<(), PkiError> {
    if id.is_empty() || id.len() > PERSON_ID_MAX || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PkiError::BadPersonId {
            id: id.to_owned(),
            max: PERSON_ID_MAX,
        });
    }
    Ok(())
}

/// Every date the tree uses, derived once from the clock.
struct Dates {
    ca_not_before: OffsetDateTime,
    ca_not_after: OffsetDateTime,
    valid_not_before: OffsetDateTime,
    valid_not_after: OffsetDateTime,
    expired_not_before: OffsetDateTime,
    expired_not_after: OffsetDateTime,
    future_not_before: OffsetDateTime,
    future_not_after: OffsetDateTime,
    revoked_at: OffsetDateTime,
    crl_this_update: OffsetDateTime,
    crl_next_update: OffsetDateTime,
}

impl Dates {
    fn new(now: OffsetDateTime) -> Result<Self, PkiError> {
        let out_of_range = || PkiError::ClockOutOfRange {
            now,
            min: YEAR_MIN,
            max: YEAR_MAX,
        };
        // Certificates count whole seconds in UTC.
        let now = now
            .checked_to_offset(UtcOffset::UTC)
            .and_then(|utc| utc.checked_sub(Duration::nanoseconds(i64::from(utc.nanosecond()))))
            .ok_or_else(out_of_range)?;
        if !(YEAR_MIN..=YEAR_MAX).contains(&now.year()) {
            return Err(out_of_range());
        }
        let at = |offset: Duration| now.checked_add(offset).ok_or_else(out_of_range);
        let valid_not_before = at(Duration::days(-1))?;
        let expired_not_after = at(Duration::days(-1))?;
        let future_not_before = at(Duration::days(1))?;
        Ok(Dates {
            ca_not_before: at(Duration::days(-5 * 365))?,
            ca_not_after: at(Duration::days(15 * 365))?,
            valid_not_before,
            valid_not_after: at(Duration::days(LEAF_DAYS - 1))?,
            expired_not_before: at(Duration::days(-LEAF_DAYS - 1))?,
            expired_not_after,
            future_not_before,
            future_not_after: at(Duration::days(LEAF_DAYS + 1))?,
            revoked_at: at(Duration::hours(-1))?,
            crl_this_update: at(Duration::hours(-1))?,
            crl_next_update: at(Duration::days(CRL_DAYS))?,
        })
    }
}

/// Which key a certificate gets.
#[derive(Clone, Copy)]
enum KeyKind {
    /// RSA-2048, signing certificates with the given algorithm when it is an issuer.
    Rsa(&'static SignatureAlgorithm),
    /// ECDSA P-256.
    P256,
}

/// Generates the keys in parallel, in the order asked.
fn make_keys(wanted: &[(&'static str, KeyKind)]) -> Result<Vec<KeyPair>, PkiError> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = wanted
            .iter()
            .map(|&(what, kind)| (what, scope.spawn(move || make_key(what, kind))))
            .collect();
        workers
            .into_iter()
            .map(|(what, worker)| {
                worker
                    .join()
                    .map_err(|_| PkiError::KeyWorker { what })
                    .and_then(|key| key)
            })
            .collect()
    })
}

fn make_key(what: &'static str, kind: KeyKind) -> Result<KeyPair, PkiError> {
    match kind {
        KeyKind::Rsa(alg) => {
            let key = rsa::RsaPrivateKey::new(&mut OsRng, RSA_BITS)
                .map_err(|source| PkiError::RsaKeyGeneration { what, source })?;
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|source| PkiError::KeyEncoding { what, source })?;
            KeyPair::from_pkcs8_pem_and_sign_algo(&pem, alg)
                .map_err(|source| PkiError::Key { what, source })
        }
        KeyKind::P256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(|source| PkiError::Key { what, source }),
    }
}

/// A positive 16-byte serial number from the system generator.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|source| PkiError::Random { source })?;
    // High bit clear keeps it positive; the next bit set keeps all 16 bytes significant.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// A CA certificate's parameters; `path_len` is `None` for a root.
fn ca_params(
    what: &'static str,
    common_name: &str,
    organization: &str,
    path_len: Option<u8>,
    dates: &Dates,
    serial: SerialNumber,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable(what, "NO")?);
    dn.push(DnType::OrganizationName, organization);
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.serial_number = Some(serial);
    params.not_before = dates.ca_not_before;
    params.not_after = dates.ca_not_after;
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    match path_len {
        None => params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained),
        Some(len) => {
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(len));
            params.use_authority_key_identifier_extension = true;
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    oid::CERTIFICATE_POLICIES,
                    policies_der(&[oid::ANY_POLICY]),
                ));
        }
    }
    Ok(params)
}

/// A PrintableString attribute value, as Buypass writes `C` and `serialNumber`.
fn printable(what: &'static str, text: &str) -> Result<DnValue, PkiError> {
    rcgen::string::PrintableString::try_from(text)
        .map(DnValue::PrintableString)
        .map_err(|source| PkiError::Certificate { what, source })
}

/// Who a certificate is for.
#[derive(Clone, Copy)]
enum Subject {
    /// A natural person: C, SN, GN, CN, serialNumber.
    Person,
    /// An organisation: C, O, organizationIdentifier, serialNumber, CN.
    Enterprise,
    /// The TLS gateway.
    Gateway,
}

/// Which issuer signs a certificate.
#[derive(Clone, Copy)]
enum IssuedBy {
    PersonCa,
    UntrustedRoot,
}

/// Where a certificate's validity lies relative to now.
#[derive(Clone, Copy)]
enum Period {
    Valid,
    Expired,
    NotYetValid,
}

/// One qcStatement.
#[derive(Clone, Copy)]
enum Qc {
    /// id-qcs-pkixQCSyntax-v2 with the given semantics identifier and the TEST registration URL.
    SyntaxV2(&'static [u64]),
    /// QcCompliance: an EU qualified certificate.
    Compliance,
    /// QcSSCD: the key is in a qualified signature creation device.
    Sscd,
}

/// One end-entity certificate to issue.
struct Leaf {
    name: &'static str,
    key: KeyKind,
    subject: Subject,
    policies: &'static [&'static [u64]],
    usages: &'static [KeyUsagePurpose],
    qc: &'static [Qc],
    period: Period,
    issuer: IssuedBy,
    revoked: bool,
}

const AUTH_USAGE: &[KeyUsagePurpose] = &[
    KeyUsagePurpose::DigitalSignature,
    KeyUsagePurpose::KeyEncipherment,
];
const EC_AUTH_USAGE: &[KeyUsagePurpose] = &[KeyUsagePurpose::DigitalSignature];
const PERSON_HIGH: &[&[u64]] = &[oid::BUYPASS_PERSON_HIGH, oid::NCP_PLUS];
const PERSON_QC: &[Qc] = &[Qc::SyntaxV2(oid::QCS_SEMANTICS_NATURAL)];

/// The Person-High authentication shape; variants change one thing each.
const PERSON_HIGH_LEAF: Leaf = Leaf {
    name: "person-high",
    key: KeyKind::Rsa(&PKCS_RSA_SHA256),
    subject: Subject::Person,
    policies: PERSON_HIGH,
    usages: AUTH_USAGE,
    qc: PERSON_QC,
    period: Period::Valid,
    issuer: IssuedBy::PersonCa,
    revoked: false,
};

/// The variants, in [`VARIANTS`] order (a unit test holds the two together).
const LEAVES: &[Leaf] = &[
    PERSON_HIGH_LEAF,
    Leaf {
        name: "person-high-ec",
        key: KeyKind::P256,
        usages: EC_AUTH_USAGE,
        ..PERSON_HIGH_LEAF
    },
    Leaf {
        name: "person-standard",
        policies: &[oid::BUYPASS_SOFT, oid::NCP_PLUS],
        ..PERSON_HIGH_LEAF
    },
    Leaf {
        name: "person-hsm",
        policies: &[oid::BUYPASS_PERSON_HIGH_HSM, oid::NCP_PLUS],
        ..PERSON_HIGH_LEAF
    },
    Leaf {
        name: "enterprise",
        subject: Subject::Enterprise,
        policies: &[oid::BUYPASS_ENTERPRISE],
        qc: &[Qc::SyntaxV2(oid::QCS_SEMANTICS_LEGAL)],
        ..PERSON_HIGH_LEAF
    },
    Leaf {
        name: "expired",
        period: Period::Expired,
        ..PERSON_HIGH_LEAF
    },
    Leaf {
        name: "not-yet-valid",
        period: Period::NotYetValid,
        ..PERSON_HIGH_LEAF
    },
    Leaf {
        name: "revoked",
        revoked: true,
        ..PERSON_HIGH_LEAF
    },
    Leaf {
        name: "wrong-usage",
        policies: &[oid::BUYPASS_PERSON_HIGH, oid::QCP_NATURAL],
        usages: &[KeyUsagePurpose::ContentCommitment],
        qc: &[
            Qc::SyntaxV2(oid::QCS_SEMANTICS_NATURAL),
            Qc::Compliance,
            Qc::Sscd,
        ],
        ..PERSON_HIGH_LEAF
    },
    Leaf {
        name: "untrusted",
        issuer: IssuedBy::UntrustedRoot,
        ..PERSON_HIGH_LEAF
    },
    Leaf {
        name: "gateway",
        key: KeyKind::P256,
        subject: Subject::Gateway,
        policies: &[],
        usages: EC_AUTH_USAGE,
        qc: &[],
        ..PERSON_HIGH_LEAF
    },
];

fn leaf_params(
    leaf: &Leaf,
    personal_id: &str,
    dates: &Dates,
    serial: SerialNumber,
) -> Result<CertificateParams, PkiError> {
    let printable = |text: &str| printable(leaf.name, text);
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable("NO")?);
    match leaf.subject {
        Subject::Person => {
            dn.push(DnType::CustomDnType(oid::SURNAME.to_vec()), SURNAME);
            dn.push(DnType::CustomDnType(oid::GIVEN_NAME.to_vec()), GIVEN_NAME);
            dn.push(DnType::CommonName, format!("{GIVEN_NAME} {SURNAME}"));
            dn.push(
                DnType::CustomDnType(oid::SERIAL_NUMBER.to_vec()),
                printable(personal_id)?,
            );
        }
        Subject::Enterprise => {
            dn.push(DnType::OrganizationName, ENTERPRISE_NAME);
            dn.push(
                DnType::CustomDnType(oid::ORGANIZATION_IDENTIFIER.to_vec()),
                format!("NTRNO-{ENTERPRISE_ORG_NUMBER}"),
            );
            dn.push(
                DnType::CustomDnType(oid::SERIAL_NUMBER.to_vec()),
                printable(ENTERPRISE_ORG_NUMBER)?,
            );
            dn.push(DnType::CommonName, ENTERPRISE_NAME);
        }
        Subject::Gateway => {
            dn.push(DnType::OrganizationName, ORG);
            dn.push(DnType::CommonName, GATEWAY_CN);
            params.subject_alt_names = vec![
                SanType::DnsName(rcgen::string::Ia5String::try_from("localhost").map_err(
                    |source| PkiError::Certificate {
                        what: leaf.name,
                        source,
                    },
                )?),
                SanType::IpAddress(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
            ];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        }
    }
    params.distinguished_name = dn;
    params.serial_number = Some(serial);
    (params.not_before, params.not_after) = match leaf.period {
        Period::Valid => (dates.valid_not_before, dates.valid_not_after),
        Period::Expired => (dates.expired_not_before, dates.expired_not_after),
        Period::NotYetValid => (dates.future_not_before, dates.future_not_after),
    };
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    params.key_usages = leaf.usages.to_vec();
    if !matches!(leaf.subject, Subject::Gateway) {
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![CRL_URL.to_owned()],
        }];
    }
    if !leaf.policies.is_empty() {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                oid::CERTIFICATE_POLICIES,
                policies_der(leaf.policies),
            ));
    }
    if !leaf.qc.is_empty() {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                oid::QC_STATEMENTS,
                qc_statements_der(leaf.qc, QC_REGISTRATION_URL),
            ));
    }
    Ok(params)
}

/// certificatePolicies (RFC 5280 4.2.1.4): policy OIDs without qualifiers, as Buypass writes them.
fn policies_der(policies: &[&[u64]]) -> Vec<u8> {
    let infos: Vec<Vec<u8>> = policies
        .iter()
        .map(|policy| der::sequence(&[der::oid(policy)]))
        .collect();
    der::sequence(&infos)
}

/// qcStatements (RFC 3739 3.2.6, ETSI EN 319 412-5).
fn qc_statements_der(statements: &[Qc], registration_url: &str) -> Vec<u8> {
    let encoded: Vec<Vec<u8>> = statements
        .iter()
        .map(|statement| match statement {
            // SemanticsInformation ::= SEQUENCE { semanticsIdentifier OID,
            //     nameRegistrationAuthorities SEQUENCE OF GeneralName }
            Qc::SyntaxV2(semantics) => der::sequence(&[
                der::oid(oid::QCS_PKIX_SYNTAX_V2),
                der::sequence(&[
                    der::oid(semantics),
                    der::sequence(&[der::uri(registration_url)]),
                ]),
            ]),
            Qc::Compliance => der::sequence(&[der::oid(oid::QCS_COMPLIANCE)]),
            Qc::Sscd => der::sequence(&[der::oid(oid::QCS_SSCD)]),
        })
        .collect();
    der::sequence(&encoded)
}

/// Just enough DER for the extensions rcgen does not write.
mod der {
    /// Tag, definite length, content.
    pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(content.len() + 10);
        out.push(tag);
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(content);
        out
    }

    /// SEQUENCE of already-encoded parts.
    pub fn sequence(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &parts.concat())
    }

    /// OBJECT IDENTIFIER; the first two arcs share one subidentifier (X.690 8.19).
    pub fn oid(arcs: &[u64]) -> Vec<u8> {
        let (first, rest) = match arcs {
            [a, b, rest @ ..] => (a.saturating_mul(40).saturating_add(*b), rest),
            [a] => (a.saturating_mul(40), &[][..]),
            [] => (0, &[][..]),
        };
        let mut content = Vec::new();
        for arc in std::iter::once(first).chain(rest.iter().copied()) {
            base128(&mut content, arc);
        }
        tlv(0x06, &content)
    }

    /// GeneralName uniformResourceIdentifier: `[6] IMPLICIT IA5String`.
    pub fn uri(uri: &str) -> Vec<u8> {
        tlv(0x86, uri.as_bytes())
    }

    /// Base-128, most significant group first, high bit on all but the last byte.
    fn base128(out: &mut Vec<u8>, mut value: u64) {
        let mut groups = [0u8; 10];
        let mut start = groups.len();
        loop {
            start -= 1;
            let more = if start == groups.len() - 1 { 0 } else { 0x80 };
            groups[start] = (value & 0x7f) as u8 | more;
            value >>= 7;
            if value == 0 {
                break;
            }
        }
        out.extend_from_slice(&groups[start..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn leaves_follow_variants() {
        let names: Vec<&str> = LEAVES.iter().map(|leaf| leaf.name).collect();
        assert_eq!(names, VARIANTS);
    }

    #[test]
    fn oids_encode_like_x690() {
        assert_eq!(
            der::oid(oid::BUYPASS_PERSON_HIGH),
            hex("0608608442011a010301")
        );
        assert_eq!(der::oid(oid::NCP_PLUS), hex("060604008f7a0102"));
        assert_eq!(der::oid(oid::QC_STATEMENTS), hex("06082b06010505070103"));
        assert_eq!(der::oid(&[2, 999, 0]), hex("0603883700"));
        assert_eq!(der::oid(&[1, 2, u64::MAX])[..4], hex("060b2a81"));
    }

    #[test]
    fn long_lengths_use_the_long_form() {
        assert_eq!(der::tlv(0x04, &[0; 127])[..2], [0x04, 0x7f]);
        assert_eq!(der::tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(der::tlv(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn extensions_match_buypass_byte_for_byte() {
        // The extension values of a real SEID 2 Person-High authentication certificate.
        assert_eq!(
            policies_der(PERSON_HIGH),
            hex("3016300a0608608442011a0103013008060604008f7a0102")
        );
        let nkom =
            "https://www.nkom.no/internett/elektronisk-id-og-tillitstjenester/seid-prosjektet";
        assert_eq!(
            qc_statements_der(PERSON_QC, nkom),
            hex(concat!(
                "306b306906082b06010505070b02305d060704008bec4901013052865068747470733a2f2f",
                "7777772e6e6b6f6d2e6e6f2f696e7465726e6574742f656c656b74726f6e69736b2d69642d",
                "6f672d74696c6c697473746a656e65737465722f736569642d70726f736a656b746574"
            ))
        );
    }

    #[test]
    fn bad_options_are_errors() {
        let now = time::macros::datetime!(2026-03-01 12:00 UTC);
        for id in ["", "12a45678", "123456789012345678901", "１２３"] {
            let opts = PkiOptions {
                now,
                person_id: id.to_owned(),
            };
            assert!(
                matches!(generate(&opts), Err(PkiError::BadPersonId { .. })),
                "{id:?}"
            );
        }
        for now in [
            time::macros::datetime!(1900-01-01 0:00 UTC),
            time::macros::datetime!(9999-12-31 23:59 UTC),
            OffsetDateTime::UNIX_EPOCH.replace_year(-9999).unwrap(),
        ] {
            assert!(matches!(
                generate(&PkiOptions::new(now)),
                Err(PkiError::ClockOutOfRange { .. })
            ));
        }
    }

    #[test]
    fn dates_are_whole_seconds_in_utc() {
        let now = time::macros::datetime!(2026-03-01 13:00:00.75 +01:00);
        let dates = Dates::new(now).unwrap();
        assert_eq!(
            dates.valid_not_before,
            time::macros::datetime!(2026-02-28 12:00 UTC)
        );
        assert_eq!(dates.valid_not_before.offset(), UtcOffset::UTC);
    }

    #[test]
    fn debug_hides_the_key() {
        let issued = Issued {
            name: "person-high",
            cert_pem: String::new(),
            key_pem: "-----BEGIN PRIVATE KEY-----secret".to_owned(),
            cert_der: vec![],
            personal_id: None,
        };
        assert!(!format!("{issued:?}").contains("secret"));
    }
}
