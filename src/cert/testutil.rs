//! Certificates for the unit tests, built with rcgen in the shape of real Norwegian person
//! certificates (subject with SN/GN/CN/serialNumber, Buypass policies, qcStatements).

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CustomExtension, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber,
};
use time::macros::datetime;
use time::OffsetDateTime;

/// Small DER encoders for hand-made extension values.
pub mod der {
    /// One element.
    pub fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = value.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len <= 0xFF {
            out.extend([0x81, len as u8]);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(value);
        out
    }

    /// A SEQUENCE of already-encoded elements.
    pub fn seq(items: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &items.concat())
    }

    /// The arcs of a dotted OID.
    pub fn arcs(dotted: &str) -> Vec<u64> {
        dotted.split('.').map(|a| a.parse().unwrap()).collect()
    }

    /// An OBJECT IDENTIFIER.
    pub fn oid(dotted: &str) -> Vec<u8> {
        let arcs = arcs(dotted);
        let mut body = Vec::new();
        let mut push = |mut v: u64| {
            let mut tmp = vec![(v & 0x7F) as u8];
            v >>= 7;
            while v > 0 {
                tmp.push(((v & 0x7F) as u8) | 0x80);
                v >>= 7;
            }
            tmp.reverse();
            body.extend(tmp);
        };
        push(arcs[0] * 40 + arcs[1]);
        for &a in &arcs[2..] {
            push(a);
        }
        tlv(0x06, &body)
    }
}

/// An encoded certificate.
pub struct Built {
    /// DER.
    pub der: Vec<u8>,
    /// PEM.
    pub pem: String,
}

/// A CA that can issue certificates and CRLs.
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    /// Its certificate, DER.
    pub der: Vec<u8>,
}

fn ca_params(cn: &str) -> CertificateParams {
    ca_params_with(
        cn,
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign],
    )
}

/// A CA's parameters (NO, "Eksempel AS", valid 2020–2040) with the key usages given.
pub(crate) fn ca_params_with(cn: &str, usages: Vec<KeyUsagePurpose>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CountryName, "NO");
    p.distinguished_name
        .push(DnType::OrganizationName, "Eksempel AS");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = usages;
    p.not_before = datetime!(2020-01-01 00:00 UTC);
    p.not_after = datetime!(2040-01-01 00:00 UTC);
    p
}

impl Ca {
    /// A self-signed root.
    pub fn new(cn: &str) -> Ca {
        let params = ca_params(cn);
        let key = KeyPair::generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Ca { params, key, der }
    }

    /// An issuing CA under this one.
    pub fn sub(&self, cn: &str) -> Ca {
        let params = ca_params(cn);
        let key = KeyPair::generate().unwrap();
        let der = params
            .signed_by(&key, &self.issuer())
            .unwrap()
            .der()
            .to_vec();
        Ca { params, key, der }
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    /// A CRL revoking `serials`.
    pub fn crl(&self, serials: &[u64], this: OffsetDateTime, next: OffsetDateTime) -> Vec<u8> {
        let params = CertificateRevocationListParams {
            this_update: this,
            next_update: next,
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|&s| RevokedCertParams {
                    serial_number: SerialNumber::from(s),
                    revocation_time: this,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params.signed_by(&self.issuer()).unwrap().der().to_vec()
    }
}

/// Builds one end-entity certificate.
pub struct Builder {
    params: CertificateParams,
    cn: String,
    serial_number: Option<String>,
    issuer_cn: String,
    policies: Vec<String>,
    qc: Option<Vec<u8>>,
}

impl Builder {
    /// A valid-looking Buypass-shaped Person-High authentication certificate (2024–2027).
    pub fn person() -> Builder {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.not_before = datetime!(2024-01-01 00:00 UTC);
        params.not_after = datetime!(2027-01-01 00:00 UTC);
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec!["http://crl.example.no/person.crl".into()],
        }];
        let qc = der::seq(&[der::seq(&[
            der::oid("1.3.6.1.5.5.7.11.2"),
            der::seq(&[
                der::oid("0.4.0.194121.1.1"),
                der::seq(&[der::tlv(0x86, b"https://ra.example.no/seid")]),
            ]),
        ])]);
        Builder {
            params,
            cn: "KARI NORDMANN".into(),
            serial_number: Some("UN:NO-9578-4050-100000001".into()),
            issuer_cn: "Eksempel Class 3 CA G2 HT Person".into(),
            policies: vec!["2.16.578.1.26.1.3.1".into(), "0.4.0.2042.1.2".into()],
            qc: Some(qc),
        }
    }

    /// Sets the common name.
    pub fn cn(mut self, cn: &str) -> Self {
        self.cn = cn.into();
        self
    }

    /// Sets (or with `None` removes) the subject serialNumber.
    pub fn serial_number(mut self, s: Option<&str>) -> Self {
        self.serial_number = s.map(str::to_string);
        self
    }

    /// Sets the certificate serial.
    pub fn serial(mut self, serial: u64) -> Self {
        self.params.serial_number = Some(SerialNumber::from(serial));
        self
    }

    /// Sets the issuer CN used by [`Builder::build`].
    pub fn issuer_cn(mut self, cn: &str) -> Self {
        self.issuer_cn = cn.into();
        self
    }

    /// Sets the certificate policies.
    pub fn policies(mut self, policies: &[&str]) -> Self {
        self.policies = policies.iter().map(|p| p.to_string()).collect();
        self
    }

    /// Sets key usage.
    pub fn key_usage(mut self, ku: Vec<KeyUsagePurpose>) -> Self {
        self.params.key_usages = ku;
        self
    }

    /// Sets extended key usage.
    pub fn eku(mut self, eku: Vec<ExtendedKeyUsagePurpose>) -> Self {
        self.params.extended_key_usages = eku;
        self
    }

    /// Sets validity.
    pub fn validity(mut self, not_before: OffsetDateTime, not_after: OffsetDateTime) -> Self {
        self.params.not_before = not_before;
        self.params.not_after = not_after;
        self
    }

    /// Makes it a CA certificate.
    pub fn ca(mut self) -> Self {
        self.params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        self
    }

    /// Replaces the qcStatements extension value.
    pub fn qc(mut self, value: Vec<u8>) -> Self {
        self.qc = Some(value);
        self
    }

    fn finish(mut self) -> CertificateParams {
        let dn = &mut self.params.distinguished_name;
        *dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "NO");
        let (gn, sn) = self.cn.split_once(' ').unwrap_or((&self.cn, &self.cn));
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 4]), sn);
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 42]), gn);
        dn.push(DnType::CommonName, self.cn.as_str());
        if let Some(s) = &self.serial_number {
            dn.push(
                DnType::CustomDnType(vec![2, 5, 4, 5]),
                DnValue::PrintableString(s.as_str().try_into().unwrap()),
            );
        }
        if !self.policies.is_empty() {
            let infos: Vec<Vec<u8>> = self
                .policies
                .iter()
                .map(|p| der::seq(&[der::oid(p)]))
                .collect();
            self.params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &[2, 5, 29, 32],
                    der::seq(&infos),
                ));
        }
        if let Some(qc) = self.qc {
            self.params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &der::arcs("1.3.6.1.5.5.7.1.3"),
                    qc,
                ));
        }
        self.params
    }

    /// Signs it with a fresh CA named by [`Builder::issuer_cn`].
    pub fn build(self) -> Built {
        let ca = Ca::new(&self.issuer_cn);
        self.build_by(&ca)
    }

    /// Signs it with `ca`.
    pub fn build_by(self, ca: &Ca) -> Built {
        let params = self.finish();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca.issuer()).unwrap();
        Built {
            der: cert.der().to_vec(),
            pem: cert.pem(),
        }
    }
}
