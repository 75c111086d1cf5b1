//! Test certificates and keys, generated on the fly (never checked-in blobs).
//!
//! Until the TEST PKI generator is available to tests, these are self-signed certificates
//! shaped like a Person-High authentication certificate: RSA-2048 (or ECC), subject with a
//! personal identifier in serialNumber, key usage for authentication.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hjemmekontor::vcard::SlotKey;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, KeyUsagePurpose};

/// A certificate and its private key, as PEM and DER.
#[derive(Clone)]
pub struct TestIdentity {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
}

impl TestIdentity {
    /// The identity as a card slot.
    pub fn slot_key(&self) -> SlotKey {
        SlotKey::from_pem(&self.cert_pem, &self.key_pem).expect("test identity loads")
    }

    /// Writes `NAME.crt` and `NAME.key` into `dir`; returns (cert, key) paths.
    pub fn write_to(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &self.cert_pem).expect("write cert");
        std::fs::write(&key, &self.key_pem).expect("write key");
        (cert, key)
    }

    /// The certificate's SubjectPublicKeyInfo, DER.
    pub fn spki_der(&self) -> Vec<u8> {
        use x509_parser::prelude::FromDer;
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&self.cert_der)
            .expect("test certificate parses");
        cert.public_key().raw.to_vec()
    }
}

fn rsa_pkcs8_pem() -> &'static str {
    // RSA key generation is the slow part: one key per test binary is enough.
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).expect("RSA keygen");
        key.to_pkcs8_pem(LineEnding::LF)
            .expect("PKCS#8 encoding")
            .to_string()
    })
}

fn issue(
    key_pair: &KeyPair,
    key_pem: String,
    common_name: &str,
    usages: Vec<KeyUsagePurpose>,
) -> TestIdentity {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "NO");
    dn.push(DnType::CommonName, common_name);
    // serialNumber (2.5.4.5) carries the personal identifier on Norwegian person certificates.
    dn.push(
        DnType::CustomDnType(vec![2, 5, 4, 5]),
        "UN:NO-9578-4050-100000000001",
    );
    params.distinguished_name = dn;
    // A fresh serial per certificate: each test card gets its own CHUID GUID, so a host's
    // cache can never mix two test cards up.
    let mut serial = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut serial);
    serial[0] &= 0x7F;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    params.key_usages = usages;
    let cert = params
        .self_signed(key_pair)
        .expect("self-signed certificate");
    TestIdentity {
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem,
    }
}

/// An RSA-2048 authentication identity (the key is shared within one test binary).
pub fn rsa_identity(common_name: &str) -> TestIdentity {
    let pem = rsa_pkcs8_pem();
    let kp =
        KeyPair::from_pkcs8_pem_and_sign_algo(pem, &rcgen::PKCS_RSA_SHA256).expect("RSA key pair");
    issue(
        &kp,
        pem.to_owned(),
        common_name,
        vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ],
    )
}

/// An ECC P-256 identity.
pub fn p256_identity(common_name: &str) -> TestIdentity {
    let kp = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key");
    let pem = kp.serialize_pem();
    issue(
        &kp,
        pem,
        common_name,
        vec![KeyUsagePurpose::DigitalSignature],
    )
}

/// An ECC P-384 identity.
pub fn p384_identity(common_name: &str) -> TestIdentity {
    let kp = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("P-384 key");
    let pem = kp.serialize_pem();
    issue(
        &kp,
        pem,
        common_name,
        vec![KeyUsagePurpose::DigitalSignature],
    )
}
