//! The PIV driver against the virtual card in-process (no PC/SC): every driver operation on
//! real card bytes, signatures checked with independent RSA/ECDSA implementations.

mod support;

use hjemmekontor::card::emulated::InProcessTransport;
use hjemmekontor::card::padding::{self, HashAlg};
use hjemmekontor::card::piv::{KeyAlgorithm, PinStatus, Piv, PivError, Slot, Unverified};
use hjemmekontor::secret::Pin;
use hjemmekontor::vcard::{PivConfig, SlotKey, VirtualPiv};
use rsa::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

fn card(variant: &str, gzip: bool) -> InProcessTransport<VirtualPiv> {
    let issued = support::pki::variant(variant);
    let key = SlotKey::from_pem(&issued.cert_pem, &issued.key_pem).unwrap();
    let mut config = PivConfig::new(key);
    config.gzip_certificates = gzip;
    InProcessTransport::new(VirtualPiv::new(config).unwrap())
}

fn open(t: &InProcessTransport<VirtualPiv>) -> Piv<Unverified> {
    Piv::open(Box::new(t.clone())).unwrap()
}

fn pin(s: &str) -> Pin {
    Pin::from_input(s.into()).unwrap()
}

fn spki(der: &[u8]) -> Vec<u8> {
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    cert.public_key().raw.to_vec()
}

#[test]
fn reads_the_certificate_plain_and_gzip() {
    let expected = &support::pki::variant("person-high").cert_der;
    for gzip in [false, true] {
        let t = card("person-high", gzip);
        let mut piv = open(&t);
        assert_eq!(
            piv.read_certificate(Slot::Authentication).unwrap().as_ref(),
            Some(expected)
        );
        assert_eq!(piv.read_certificate(Slot::Signature).unwrap(), None);
        assert!(piv.read_chuid().unwrap().unwrap().guid.is_some());
    }
}

#[test]
fn pin_status_costs_nothing_and_wrong_pins_block() {
    let t = card("person-high", false);
    let mut piv = open(&t);
    for _ in 0..3 {
        assert_eq!(piv.pin_status().unwrap(), PinStatus::TriesLeft(3));
    }
    let (piv, e) = piv.verify_pin(&pin("000000")).unwrap_err();
    assert_eq!(e, PivError::WrongPin { tries_left: 2 });
    let (piv, e) = piv.verify_pin(&pin("000000")).unwrap_err();
    assert_eq!(e, PivError::WrongPin { tries_left: 1 });
    let (mut piv, e) = piv.verify_pin(&pin("000000")).unwrap_err();
    assert_eq!(e, PivError::PinBlocked);
    assert_eq!(piv.pin_status().unwrap(), PinStatus::Blocked);
    // Even the right PIN no longer opens it.
    let (_, e) = piv.verify_pin(&pin("123456")).unwrap_err();
    assert_eq!(e, PivError::PinBlocked);
    assert_eq!(t.with_card(|c| c.pin_tries_left()), 0);
}

#[test]
fn a_right_pin_resets_the_counter() {
    let t = card("person-high", false);
    let (piv, _) = open(&t).verify_pin(&pin("654321")).unwrap_err();
    let mut piv = piv.verify_pin(&pin("123456")).unwrap().relock();
    assert_eq!(piv.pin_status().unwrap(), PinStatus::Verified);
    assert_eq!(t.with_card(|c| c.pin_tries_left()), 3);
}

#[test]
fn rsa_pss_and_pkcs1_signatures_verify() {
    let t = card("person-high", false);
    let der = support::pki::variant("person-high").cert_der.clone();
    let public = rsa::RsaPublicKey::from_public_key_der(&spki_der_full(&der)).unwrap();
    let mut piv = open(&t).verify_pin(&pin("123456")).unwrap();
    let digest = Sha256::digest(b"TLS 1.3 CertificateVerify content").to_vec();

    let block = padding::pss(HashAlg::Sha256, &digest, &[7; 32], 2048).unwrap();
    let sig = piv
        .sign(Slot::Authentication, KeyAlgorithm::Rsa2048, &block)
        .unwrap();
    public
        .verify(rsa::Pss::new::<Sha256>(), &digest, &sig)
        .unwrap();

    let block = padding::pkcs1v15(HashAlg::Sha256, &digest, 2048).unwrap();
    let sig = piv
        .sign(Slot::Authentication, KeyAlgorithm::Rsa2048, &block)
        .unwrap();
    public
        .verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest, &sig)
        .unwrap();
    assert_eq!(t.with_card(|c| c.signature_count()), 2);
}

/// The SubjectPublicKeyInfo of a certificate, as DER.
fn spki_der_full(der: &[u8]) -> Vec<u8> {
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    cert.tbs_certificate.subject_pki.raw.to_vec()
}

#[test]
fn ecdsa_p256_signature_verifies() {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let t = card("person-high-ec", false);
    let der = support::pki::variant("person-high-ec").cert_der.clone();
    let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der_full(&der)).unwrap();
    let mut piv = open(&t).verify_pin(&pin("123456")).unwrap();
    let digest = Sha256::digest(b"hello gateway");
    let sig = piv
        .sign(Slot::Authentication, KeyAlgorithm::EccP256, &digest)
        .unwrap();
    let sig = p256::ecdsa::Signature::from_der(&sig).unwrap();
    key.verify_prehash(&digest, &sig).unwrap();
    assert!(!spki(&der).is_empty());
}

#[test]
fn signing_before_verify_is_impossible_and_a_reset_loses_the_pin() {
    // `Piv<Unverified>` has no `sign`: that is checked by the compiler. What we check here is
    // that a card reset while verified is noticed and never papered over.
    let t = card("person-high", false);
    let mut piv = open(&t).verify_pin(&pin("123456")).unwrap();
    t.set_inserted(false);
    assert!(piv
        .sign(Slot::Authentication, KeyAlgorithm::Rsa2048, &[0; 256])
        .unwrap_err()
        .is_card_removed());
    t.set_inserted(true); // a re-inserted card is a reset card
    let block = padding::pkcs1v15(HashAlg::Sha256, &[1; 32], 2048).unwrap();
    assert_eq!(
        piv.sign(Slot::Authentication, KeyAlgorithm::Rsa2048, &block),
        Err(PivError::PinStateLost)
    );
    // It stays lost: no command is even sent.
    let sent = t.with_card(|c| c.apdu_count());
    assert_eq!(
        piv.sign(Slot::Authentication, KeyAlgorithm::Rsa2048, &block),
        Err(PivError::PinStateLost)
    );
    assert_eq!(t.with_card(|c| c.apdu_count()), sent);
    // Back to unverified: the application is selected again and the PIN is needed again.
    let mut piv = piv.relock();
    assert_eq!(piv.pin_status().unwrap(), PinStatus::TriesLeft(3));
    assert_eq!(t.with_card(|c| c.signature_count()), 0);
    let mut piv = piv.verify_pin(&pin("123456")).unwrap();
    piv.sign(Slot::Authentication, KeyAlgorithm::Rsa2048, &block)
        .unwrap();
}

#[test]
fn a_badly_formed_pin_never_reaches_the_card() {
    let t = card("person-high", false);
    let before = t.with_card(|c| c.apdu_count());
    let (_, e) = open(&t).verify_pin(&pin("12345")).unwrap_err();
    assert!(matches!(e, PivError::PinFormat(_)));
    // Only the SELECT from `open` was sent.
    assert_eq!(t.with_card(|c| c.apdu_count()), before + 1);
    assert_eq!(t.with_card(|c| c.pin_tries_left()), 3);
}
