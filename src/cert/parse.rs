//! The facts a certificate states, read with x509-parser into plain owned values: who it
//! names (and their Norwegian personal identifier), who issued it, its policies, key usage,
//! qcStatements and validity. No judgement here; that is [`super::verdict`].

use super::qc::{self, QcStatements};
use super::CertError;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::X509Name;

/// OID of the qcStatements extension (RFC 3739), which x509-parser does not decode.
pub const OID_QC_STATEMENTS: &str = "1.3.6.1.5.5.7.1.3";
const OID_OCSP: &str = "1.3.6.1.5.5.7.48.1";

/// What one certificate says, as owned values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertFacts {
    /// Subject name, e.g. `C=NO, SN=WATN, GN=MAGNUS, CN=MAGNUS WATN, serialNumber=UN:NO-…`.
    pub subject: String,
    /// Subject common name.
    pub common_name: Option<String>,
    /// Subject given name (GN).
    pub given_name: Option<String>,
    /// Subject surname (SN).
    pub surname: Option<String>,
    /// The subject's serialNumber attribute exactly as written.
    pub subject_serial_number: Option<String>,
    /// The Norwegian personal identifier read from the serialNumber attribute.
    pub personal_id: Option<PersonalId>,
    /// Issuer name.
    pub issuer: String,
    /// Issuer common name (what people call the CA).
    pub issuer_common_name: Option<String>,
    /// Certificate serial number, hexadecimal.
    pub serial: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// basicConstraints says CA: a certificate authority, not a person.
    pub is_ca: bool,
    /// Issuer and subject are the same name (a root).
    pub self_issued: bool,
    /// Key type and size, e.g. `RSA 2048`, `EC P-256`.
    pub public_key: String,
    /// Certificate policy OIDs, dotted, in the certificate's order.
    pub policies: Vec<String>,
    /// Key usage bits by RFC 5280 name; `None` when the extension is absent.
    pub key_usage: Option<Vec<String>>,
    /// Extended key usages by name (or dotted OID); `None` when the extension is absent.
    pub extended_key_usage: Option<Vec<String>>,
    /// The decoded qcStatements extension, when present and readable.
    pub qc_statements: Option<QcStatements>,
    /// CRL distribution point URLs.
    pub crl_urls: Vec<String>,
    /// OCSP responder URLs.
    pub ocsp_urls: Vec<String>,
    /// Extensions present but unreadable, as `OID: what was wrong`.
    pub unreadable_extensions: Vec<String>,
    /// SHA-256 of the DER certificate, hexadecimal: the name to look a certificate up by.
    pub sha256: String,
}

impl CertFacts {
    /// Whether the key usage allows digitalSignature (an absent extension allows everything).
    pub fn allows_digital_signature(&self) -> bool {
        self.key_usage
            .as_ref()
            .is_none_or(|ku| ku.iter().any(|u| u == "digitalSignature"))
    }

    /// Whether the extended key usage allows TLS client authentication (absent allows all).
    pub fn allows_client_auth(&self) -> bool {
        self.extended_key_usage
            .as_ref()
            .is_none_or(|eku| eku.iter().any(|u| u == "clientAuth"))
    }

    /// The CA's brand, for telling a person where to order a new card.
    pub fn provider(&self) -> Option<&'static str> {
        if let Some(p) = self.personal_id.as_ref().and_then(|id| id.provider) {
            return Some(p);
        }
        let issuer = self.issuer.to_ascii_lowercase();
        if issuer.contains("buypass") {
            Some("Buypass")
        } else if issuer.contains("commfides") {
            Some("Commfides")
        } else {
            None
        }
    }
}

/// A Norwegian personal identifier (the PID in the subject serialNumber), e.g.
/// `UN:NO-9578-4050-127091783`: scheme 9578, issuer code 4050 (Buypass), then the id.
/// Some certificates write it without the `UN:NO-` prefix; both forms are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonalId {
    /// The full form with the prefix, the one to compare and store.
    pub normalized: String,
    /// The issuer code (4050 = Buypass, 4500–4510 = Commfides).
    pub issuer_code: String,
    /// The holder's id at that issuer.
    pub id: String,
    /// Whether the certificate wrote the `UN:NO-` prefix.
    pub had_prefix: bool,
    /// The CA brand the issuer code belongs to, when known.
    pub provider: Option<&'static str>,
}

impl PersonalId {
    /// Reads `UN:NO-9578-<issuer>-<id>` or `9578-<issuer>-<id>`; anything else is `None`.
    pub fn parse(text: &str) -> Option<PersonalId> {
        let text = text.trim();
        let (rest, had_prefix) = match text.strip_prefix("UN:NO-") {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        let rest = rest.strip_prefix("9578-")?;
        let (issuer_code, id) = rest.split_once('-')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(issuer_code) || issuer_code.len() > 8 {
            return None;
        }
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let provider = match issuer_code.parse::<u32>().ok()? {
            4050 => Some("Buypass"),
            4500..=4510 => Some("Commfides"),
            _ => None,
        };
        Some(PersonalId {
            normalized: format!("UN:NO-9578-{issuer_code}-{id}"),
            issuer_code: issuer_code.to_string(),
            id: id.to_string(),
            had_prefix,
            provider,
        })
    }
}

/// Reads the facts from one DER certificate.
pub fn read(der: &[u8]) -> Result<CertFacts, CertError> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| CertError::NotACertificate {
        detail: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(CertError::NotACertificate {
            detail: format!("{} bytes after the certificate", rest.len()),
        });
    }
    let subject = cert.subject();
    let issuer = cert.issuer();
    let subject_serial_number = first_attr(subject, "2.5.4.5");

    let mut facts = CertFacts {
        subject: name_to_string(subject),
        common_name: first_attr(subject, "2.5.4.3"),
        given_name: first_attr(subject, "2.5.4.42"),
        surname: first_attr(subject, "2.5.4.4"),
        personal_id: subject_serial_number.as_deref().and_then(PersonalId::parse),
        subject_serial_number,
        issuer: name_to_string(issuer),
        issuer_common_name: first_attr(issuer, "2.5.4.3"),
        serial: hex(cert.raw_serial()),
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        is_ca: false,
        self_issued: subject.as_raw() == issuer.as_raw(),
        public_key: describe_key(&cert),
        policies: Vec::new(),
        key_usage: None,
        extended_key_usage: None,
        qc_statements: None,
        crl_urls: Vec::new(),
        ocsp_urls: Vec::new(),
        unreadable_extensions: Vec::new(),
        sha256: hex(&Sha256::digest(der)),
    };

    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => facts.is_ca = bc.ca,
            ParsedExtension::KeyUsage(ku) => facts.key_usage = Some(key_usage_names(ku)),
            ParsedExtension::ExtendedKeyUsage(eku) => {
                facts.extended_key_usage = Some(eku_names(eku))
            }
            ParsedExtension::CertificatePolicies(policies) => {
                facts.policies = policies
                    .iter()
                    .map(|p| p.policy_id.to_id_string())
                    .collect();
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point
                    {
                        facts.crl_urls.extend(uris(names));
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for desc in &aia.accessdescs {
                    if desc.access_method.to_id_string() == OID_OCSP {
                        if let GeneralName::URI(uri) = &desc.access_location {
                            facts.ocsp_urls.push((*uri).to_string());
                        }
                    }
                }
            }
            ParsedExtension::ParseError { error } => {
                facts.unreadable_extensions.push(format!("{oid}: {error}"));
                // A key usage we cannot read allows nothing; so does an unreadable EKU.
                match oid.as_str() {
                    "2.5.29.15" => facts.key_usage = Some(Vec::new()),
                    "2.5.29.37" => facts.extended_key_usage = Some(Vec::new()),
                    "2.5.29.19" => facts.is_ca = true,
                    _ => {}
                }
            }
            _ if oid == OID_QC_STATEMENTS => match qc::decode(ext.value) {
                Ok(statements) => facts.qc_statements = Some(statements),
                Err(e) => facts.unreadable_extensions.push(format!("{oid}: {e}")),
            },
            _ => {}
        }
    }
    Ok(facts)
}

fn uris<'a>(names: &'a [GeneralName<'a>]) -> impl Iterator<Item = String> + 'a {
    names.iter().filter_map(|n| match n {
        GeneralName::URI(uri) => Some((*uri).to_string()),
        _ => None,
    })
}

fn first_attr(name: &X509Name<'_>, oid: &str) -> Option<String> {
    name.iter_attributes()
        .find(|a| a.attr_type().to_id_string() == oid)
        .map(|a| attr_text(a.as_str().ok(), a.attr_value().data))
}

fn attr_text(text: Option<&str>, raw: &[u8]) -> String {
    match text {
        Some(t) => t.to_string(),
        None => format!("#{}", hex(raw)),
    }
}

/// Formats a name in certificate order with the short labels Norwegian CAs' documents use.
/// A name as `C=NO, O=…, CN=…`, in the order the certificate (or CRL) writes it.
pub(crate) fn name_to_string(name: &X509Name<'_>) -> String {
    let parts: Vec<String> = name
        .iter_attributes()
        .map(|a| {
            let oid = a.attr_type().to_id_string();
            let label = match oid.as_str() {
                "2.5.4.6" => "C",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                "2.5.4.3" => "CN",
                "2.5.4.4" => "SN",
                "2.5.4.42" => "GN",
                "2.5.4.5" => "serialNumber",
                "2.5.4.97" => "organizationIdentifier",
                "2.5.4.7" => "L",
                "2.5.4.8" => "ST",
                "1.2.840.113549.1.9.1" => "emailAddress",
                other => other,
            };
            format!(
                "{label}={}",
                attr_text(a.as_str().ok(), a.attr_value().data)
            )
        })
        .collect();
    parts.join(", ")
}

fn key_usage_names(ku: &x509_parser::extensions::KeyUsage) -> Vec<String> {
    let bits: [(bool, &str); 9] = [
        (ku.digital_signature(), "digitalSignature"),
        (ku.non_repudiation(), "nonRepudiation"),
        (ku.key_encipherment(), "keyEncipherment"),
        (ku.data_encipherment(), "dataEncipherment"),
        (ku.key_agreement(), "keyAgreement"),
        (ku.key_cert_sign(), "keyCertSign"),
        (ku.crl_sign(), "cRLSign"),
        (ku.encipher_only(), "encipherOnly"),
        (ku.decipher_only(), "decipherOnly"),
    ];
    bits.iter()
        .filter(|(set, _)| *set)
        .map(|(_, name)| name.to_string())
        .collect()
}

fn eku_names(eku: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<String> {
    let known: [(bool, &str); 7] = [
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "OCSPSigning"),
        (eku.any, "anyExtendedKeyUsage"),
    ];
    let mut names: Vec<String> = known
        .iter()
        .filter(|(set, _)| *set)
        .map(|(_, n)| n.to_string())
        .collect();
    names.extend(eku.other.iter().map(|oid| oid.to_id_string()));
    names
}

fn describe_key(cert: &X509Certificate<'_>) -> String {
    match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(PublicKey::EC(ec)) => match ec.key_size() {
            256 => "EC P-256".to_string(),
            384 => "EC P-384".to_string(),
            521 => "EC P-521".to_string(),
            bits => format!("EC {bits}"),
        },
        Ok(_) | Err(_) => format!(
            "ukjent ({})",
            cert.public_key().algorithm.algorithm.to_id_string()
        ),
    }
}

/// Lower-case hexadecimal, no separators.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::testutil::Builder;

    #[test]
    fn personal_id_both_forms() {
        let with = PersonalId::parse("UN:NO-9578-4050-127091783").unwrap();
        assert_eq!(with.normalized, "UN:NO-9578-4050-127091783");
        assert_eq!(with.issuer_code, "4050");
        assert_eq!(with.id, "127091783");
        assert!(with.had_prefix);
        assert_eq!(with.provider, Some("Buypass"));

        let without = PersonalId::parse("9578-4505-00001pdEkL").unwrap();
        assert_eq!(without.normalized, "UN:NO-9578-4505-00001pdEkL");
        assert!(!without.had_prefix);
        assert_eq!(without.provider, Some("Commfides"));

        for bad in [
            "",
            "UN:NO-",
            "9578",
            "9578-4050",
            "9578-4050-",
            "1234-4050-1",
            "9578-40x0-1",
            "9578-4050-12 34",
            "UN:SE-9578-4050-1",
            "NTRNO-983163327",
        ] {
            assert_eq!(PersonalId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_a_person_certificate() {
        let c = Builder::person().build();
        let f = read(&c.der).unwrap();
        assert_eq!(f.common_name.as_deref(), Some("KARI NORDMANN"));
        assert_eq!(f.given_name.as_deref(), Some("KARI"));
        assert_eq!(f.surname.as_deref(), Some("NORDMANN"));
        assert_eq!(
            f.subject,
            "C=NO, SN=NORDMANN, GN=KARI, CN=KARI NORDMANN, serialNumber=UN:NO-9578-4050-100000001"
        );
        assert_eq!(
            f.personal_id.as_ref().map(|p| p.normalized.as_str()),
            Some("UN:NO-9578-4050-100000001")
        );
        assert_eq!(
            f.issuer_common_name.as_deref(),
            Some("Eksempel Class 3 CA G2 HT Person")
        );
        assert_eq!(f.policies, vec!["2.16.578.1.26.1.3.1", "0.4.0.2042.1.2"]);
        assert_eq!(
            f.key_usage,
            Some(vec![
                "digitalSignature".to_string(),
                "keyEncipherment".to_string()
            ])
        );
        assert_eq!(f.extended_key_usage, None);
        assert!(!f.is_ca);
        assert!(!f.self_issued);
        assert_eq!(f.public_key, "EC P-256");
        assert_eq!(f.crl_urls, vec!["http://crl.example.no/person.crl"]);
        assert!(f.allows_digital_signature());
        assert!(f.allows_client_auth());
        assert_eq!(f.provider(), Some("Buypass"));
        assert_eq!(f.sha256.len(), 64);
        let qc = f.qc_statements.unwrap();
        assert_eq!(
            qc.semantics.unwrap().identifier.as_deref(),
            Some("0.4.0.194121.1.1")
        );
    }

    #[test]
    fn reads_a_ca_certificate() {
        let ca = crate::cert::testutil::Ca::new("Eksempel Root CA");
        let f = read(&ca.der).unwrap();
        assert!(f.is_ca);
        assert!(f.self_issued);
        assert_eq!(f.personal_id, None);
        assert_eq!(
            f.key_usage,
            Some(vec!["keyCertSign".to_string(), "cRLSign".to_string()])
        );
    }

    #[test]
    fn serial_number_without_prefix_and_eku() {
        let c = Builder::person()
            .serial_number(Some("9578-4050-55"))
            .eku(vec![rcgen::ExtendedKeyUsagePurpose::EmailProtection])
            .build();
        let f = read(&c.der).unwrap();
        let id = f.personal_id.clone().unwrap();
        assert!(!id.had_prefix);
        assert_eq!(id.normalized, "UN:NO-9578-4050-55");
        assert_eq!(
            f.extended_key_usage,
            Some(vec!["emailProtection".to_string()])
        );
        assert!(!f.allows_client_auth());
    }

    #[test]
    fn trailing_bytes_and_truncation_are_errors() {
        let c = Builder::person().build();
        let mut long = c.der.clone();
        long.push(0);
        assert!(matches!(
            read(&long),
            Err(CertError::NotACertificate { .. })
        ));
        for cut in [1, 10, c.der.len() / 2, c.der.len() - 1] {
            assert!(read(&c.der[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn weird_qc_statements_do_not_stop_the_reading() {
        let c = Builder::person()
            .qc(vec![0x30, 0x05, 0x30, 0x03, 0x06])
            .build();
        let f = read(&c.der).unwrap();
        assert_eq!(f.qc_statements, None);
        assert_eq!(f.unreadable_extensions.len(), 1);
        assert!(f.unreadable_extensions[0].starts_with(OID_QC_STATEMENTS));
    }
}
