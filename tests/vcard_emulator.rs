//! The virtual PIV card in-process: driven through the same transport seam and `exchange`
//! (chaining, `61xx`) as a real card, checked against SP 800-73-4 behaviour.

mod support;

use hjemmekontor::card::apdu::{Command, Response, StatusWord};
use hjemmekontor::card::emulated::{InProcessTransport, SimulatedCard};
use hjemmekontor::card::tlv;
use hjemmekontor::card::transport::{exchange, CardTransport};
use hjemmekontor::secret::Pin;
use hjemmekontor::vcard::piv::{PIV_AID, PIV_AID_SHORT_LEN};
use hjemmekontor::vcard::{PivConfig, Slot, VirtualPiv};
use sha2::{Digest, Sha256};
use support::certs::{self, TestIdentity};
use zeroize::Zeroizing;

type Card = InProcessTransport<VirtualPiv>;

fn card(config: PivConfig) -> Card {
    InProcessTransport::new(VirtualPiv::new(config).expect("valid card config"))
}

fn rsa_card() -> (Card, TestIdentity) {
    let id = certs::rsa_identity("Test Person RSA");
    (card(PivConfig::new(id.slot_key())), id)
}

/// One logical command through `exchange`, short APDUs with chaining and GET RESPONSE.
fn send(card: &mut Card, cmd: &Command) -> Response {
    let mut tx = card.transaction().expect("card inserted");
    exchange(&mut *tx, cmd, false).expect("exchange")
}

/// Raw bytes straight to the card, no help from `exchange`.
fn raw(card: &Card, bytes: &[u8]) -> Vec<u8> {
    card.with_card(|c| c.process(bytes))
}

fn sw_of(bytes: &[u8]) -> StatusWord {
    Response::parse(bytes).expect("at least SW1 SW2").sw
}

fn select(card: &mut Card) -> Response {
    let cmd = Command::new(0, 0xA4, 0x04, 0x00)
        .with_data(PIV_AID[..PIV_AID_SHORT_LEN].to_vec())
        .with_le(256);
    send(card, &cmd)
}

fn get_data(card: &mut Card, tag: &[u8]) -> Response {
    let mut data = vec![0x5C, tag.len() as u8];
    data.extend_from_slice(tag);
    send(
        card,
        &Command::new(0, 0xCB, 0x3F, 0xFF)
            .with_data(data)
            .with_le(256),
    )
}

fn verify(card: &mut Card, pin: &str) -> StatusWord {
    let mut padded = pin.as_bytes().to_vec();
    padded.resize(8, 0xFF);
    let cmd = Command::new(0, 0x20, 0x00, 0x80).with_secret_data(Zeroizing::new(padded));
    send(card, &cmd).sw
}

fn pin_status(card: &mut Card) -> StatusWord {
    send(card, &Command::new(0, 0x20, 0x00, 0x80)).sw
}

fn general_authenticate(card: &mut Card, alg: u8, key: u8, input: &[u8]) -> Response {
    let mut inner = tlv::encode(0x82, &[]);
    inner.extend(tlv::encode(0x81, input));
    let cmd = Command::new(0, 0x87, alg, key)
        .with_data(tlv::encode(0x7C, &inner))
        .with_le(256);
    send(card, &cmd)
}

/// The signature inside `7C { 82 sig }`.
fn signature_of(resp: &Response) -> Vec<u8> {
    assert!(resp.is_ok(), "signing failed: {resp}");
    let outer = tlv::find(&resp.data, 0x7C).unwrap().expect("7C template");
    tlv::find(outer, 0x82)
        .unwrap()
        .expect("82 response")
        .to_vec()
}

/// EMSA-PKCS1-v1_5 for SHA-256 over a 2048-bit modulus, built by hand as a host does.
fn pkcs1_sha256_block(message: &[u8]) -> Vec<u8> {
    const DIGEST_INFO: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let hash = Sha256::digest(message);
    let t_len = DIGEST_INFO.len() + hash.len();
    let mut block = vec![0x00, 0x01];
    block.extend(std::iter::repeat_n(0xFF, 256 - 3 - t_len));
    block.push(0x00);
    block.extend_from_slice(&DIGEST_INFO);
    block.extend_from_slice(&hash);
    assert_eq!(block.len(), 256);
    block
}

fn certificate_from_object(object: &[u8]) -> Vec<u8> {
    let inner = tlv::find(object, 0x53).unwrap().expect("53 wrapper");
    let cert = tlv::find(inner, 0x70).unwrap().expect("70 certificate");
    let info = tlv::find(inner, 0x71).unwrap().expect("71 CertInfo");
    assert!(
        tlv::find(inner, 0xFE).unwrap().is_some(),
        "FE error detection code"
    );
    match info {
        [0x00] => cert.to_vec(),
        [0x01] => {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(cert)
                .read_to_end(&mut out)
                .expect("gzip certificate");
            out
        }
        other => panic!("unexpected CertInfo {other:?}"),
    }
}

#[test]
fn select_answers_the_application_property_template() {
    let (mut card, _) = rsa_card();
    for aid in [&PIV_AID[..], &PIV_AID[..PIV_AID_SHORT_LEN]] {
        let resp = send(
            &mut card,
            &Command::new(0, 0xA4, 0x04, 0x00)
                .with_data(aid.to_vec())
                .with_le(256),
        );
        assert!(resp.is_ok(), "{resp}");
        let apt = tlv::find(&resp.data, 0x61).unwrap().expect("61 template");
        assert_eq!(tlv::find(apt, 0x4F).unwrap(), Some(&PIV_AID[5..]));
        let authority = tlv::find(apt, 0x79).unwrap().expect("79");
        assert_eq!(tlv::find(authority, 0x4F).unwrap(), Some(&PIV_AID[..5]));
        assert!(tlv::find(apt, 0x50).unwrap().is_some(), "label");
        let algs = tlv::find(apt, 0xAC).unwrap().expect("AC");
        let ids: Vec<_> = tlv::parse_all(algs)
            .unwrap()
            .into_iter()
            .filter(|t| t.tag == 0x80)
            .map(|t| t.value.to_vec())
            .collect();
        assert_eq!(ids, vec![vec![0x07], vec![0x11], vec![0x14]]);
    }
    assert!(card.with_card(|c| c.is_selected()));
    // Unknown application, truncated too far, wrong P1/P2.
    let sw = sw_of(&raw(&card, &[0, 0xA4, 4, 0, 5, 0xA0, 0, 0, 0, 0x62, 0]));
    assert_eq!(sw, StatusWord::NOT_FOUND);
    let sw = sw_of(&raw(&card, &[0, 0xA4, 4, 0, 5, 0xA0, 0, 0, 3, 8]));
    assert_eq!(sw, StatusWord::NOT_FOUND);
    let sw = sw_of(&raw(&card, &[0, 0xA4, 0, 0, 2, 0x3F, 0]));
    assert_eq!(sw, StatusWord::WRONG_P1P2);
    // A failed selection leaves PIV selected.
    assert!(card.with_card(|c| c.is_selected()));
}

#[test]
fn reads_the_certificate_plain_and_gzip() {
    let id = certs::rsa_identity("Test Person RSA");
    for gzip in [false, true] {
        let mut config = PivConfig::new(id.slot_key());
        config.gzip_certificates = gzip;
        let mut card = card(config);
        assert!(select(&mut card).is_ok());
        let before = card.with_card(|c| c.apdu_count());
        let resp = get_data(&mut card, &[0x5F, 0xC1, 0x05]);
        assert!(resp.is_ok(), "{resp}");
        assert_eq!(
            certificate_from_object(&resp.data),
            id.cert_der,
            "gzip={gzip}"
        );
        let used = card.with_card(|c| c.apdu_count()) - before;
        if !gzip {
            assert!(
                used > 1,
                "a certificate needs GET RESPONSE, took {used} APDU"
            );
        }
        // Slots without a key have no certificate object.
        assert_eq!(
            get_data(&mut card, &[0x5F, 0xC1, 0x0A]).sw,
            StatusWord::NOT_FOUND
        );
    }
}

#[test]
fn extended_le_gets_the_whole_answer_at_once() {
    let (card, id) = rsa_card();
    let _ = raw(&card, &[0, 0xA4, 4, 0, 9, 0xA0, 0, 0, 3, 8, 0, 0, 0x10, 0]);
    // Case 4E: 00 Lc(2) data Le(2) = 0000 (65 536).
    let answer = raw(
        &card,
        &[
            0, 0xCB, 0x3F, 0xFF, 0, 0, 5, 0x5C, 3, 0x5F, 0xC1, 0x05, 0, 0,
        ],
    );
    let resp = Response::parse(&answer).unwrap();
    assert!(resp.is_ok(), "{resp}");
    assert_eq!(certificate_from_object(&resp.data), id.cert_der);
}

#[test]
fn answers_longer_than_le_come_in_61xx_pieces() {
    let (card, id) = rsa_card();
    let _ = raw(&card, &[0, 0xA4, 4, 0, 9, 0xA0, 0, 0, 3, 8, 0, 0, 0x10, 0]);
    // Le = 8, the way OpenSC asks for the length first.
    let first = raw(&card, &[0, 0xCB, 0x3F, 0xFF, 3, 0x5C, 1, 0x7E, 8]);
    assert_eq!(first.len(), 10);
    assert_eq!(first[8], 0x61);
    let rest = raw(&card, &[0, 0xC0, 0, 0, first[9]]);
    assert_eq!(sw_of(&rest), StatusWord::OK);
    let mut object = first[..8].to_vec();
    object.extend_from_slice(&rest[..rest.len() - 2]);
    let discovery = tlv::find(&object, 0x7E).unwrap().expect("7E");
    assert_eq!(tlv::find(discovery, 0x4F).unwrap(), Some(&PIV_AID[..]));
    assert_eq!(
        tlv::find(discovery, 0x5F2F).unwrap(),
        Some(&[0x40, 0x00][..])
    );
    // GET RESPONSE with nothing pending, and after another command dropped the rest.
    assert_eq!(
        sw_of(&raw(&card, &[0, 0xC0, 0, 0, 0])),
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
    let _ = raw(&card, &[0, 0xCB, 0x3F, 0xFF, 3, 0x5C, 1, 0x7E, 8]);
    let _ = raw(&card, &[0, 0x20, 0, 0x80]);
    assert_eq!(
        sw_of(&raw(&card, &[0, 0xC0, 0, 0, 0])),
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
    drop(id);
}

#[test]
fn chuid_ccc_and_absent_objects() {
    let (mut card, _) = rsa_card();
    assert!(select(&mut card).is_ok());
    let chuid = get_data(&mut card, &[0x5F, 0xC1, 0x02]);
    assert!(chuid.is_ok());
    let inner = tlv::find(&chuid.data, 0x53).unwrap().expect("53");
    assert_eq!(
        tlv::find(inner, 0x30).unwrap().map(<[u8]>::len),
        Some(25),
        "FASC-N"
    );
    assert_eq!(
        tlv::find(inner, 0x34).unwrap().map(<[u8]>::len),
        Some(16),
        "GUID"
    );
    let expiry = tlv::find(inner, 0x35).unwrap().expect("expiry");
    assert!(expiry.len() == 8 && expiry.iter().all(u8::is_ascii_digit));
    let ccc = get_data(&mut card, &[0x5F, 0xC1, 0x07]);
    let inner = tlv::find(&ccc.data, 0x53).unwrap().expect("53");
    assert_eq!(tlv::find(inner, 0xF0).unwrap().map(<[u8]>::len), Some(21));
    for absent in [
        &[0x5F, 0xC1, 0x0C][..],
        &[0x5F, 0xC1, 0x03],
        &[0x5F, 0xC1, 0x08],
        &[0x7F, 0x61],
    ] {
        assert_eq!(
            get_data(&mut card, absent).sw,
            StatusWord::NOT_FOUND,
            "{absent:02X?}"
        );
    }
}

#[test]
fn wrong_pin_three_times_blocks_it() {
    let (mut card, _) = rsa_card();
    assert!(select(&mut card).is_ok());
    assert_eq!(pin_status(&mut card), StatusWord(0x63C3));
    assert_eq!(verify(&mut card, "000000"), StatusWord(0x63C2));
    assert_eq!(
        pin_status(&mut card),
        StatusWord(0x63C2),
        "status spends no try"
    );
    assert_eq!(verify(&mut card, "654321"), StatusWord(0x63C1));
    assert_eq!(verify(&mut card, "1234567"), StatusWord::AUTH_BLOCKED);
    assert_eq!(pin_status(&mut card), StatusWord::AUTH_BLOCKED);
    assert_eq!(verify(&mut card, "123456"), StatusWord::AUTH_BLOCKED);
    assert_eq!(card.with_card(|c| c.pin_tries_left()), 0);
    let block = pkcs1_sha256_block(b"x");
    let resp = general_authenticate(&mut card, 0x07, 0x9A, &block);
    assert_eq!(resp.sw, StatusWord::SECURITY_NOT_SATISFIED);
    // A blocked PIN stays blocked across a reset.
    card.set_inserted(false);
    card.set_inserted(true);
    // As through PC/SC, the first use after re-insertion reports the reset once.
    assert_eq!(
        card.transaction().err(),
        Some(hjemmekontor::card::TransportError::CardReset)
    );
    assert!(select(&mut card).is_ok());
    assert_eq!(pin_status(&mut card), StatusWord::AUTH_BLOCKED);
}

#[test]
fn right_pin_resets_the_counter_and_verify_ff_logs_out() {
    let (mut card, _) = rsa_card();
    assert!(select(&mut card).is_ok());
    assert_eq!(verify(&mut card, "111111"), StatusWord(0x63C2));
    assert_eq!(verify(&mut card, "123456"), StatusWord::OK);
    assert_eq!(pin_status(&mut card), StatusWord::OK);
    assert_eq!(card.with_card(|c| c.pin_tries_left()), 3);
    assert_eq!(sw_of(&raw(&card, &[0, 0x20, 0xFF, 0x80])), StatusWord::OK);
    assert_eq!(pin_status(&mut card), StatusWord(0x63C3));
    // Wrong lengths and references.
    assert_eq!(
        sw_of(&raw(&card, &[0, 0x20, 0, 0x80, 4, 0x31, 0x32, 0x33, 0x34])),
        StatusWord::WRONG_LENGTH
    );
    assert_eq!(
        sw_of(&raw(&card, &[0, 0x20, 0, 0x81])),
        StatusWord::REFERENCED_DATA_NOT_FOUND
    );
    assert_eq!(
        sw_of(&raw(&card, &[0, 0x20, 0x01, 0x80])),
        StatusWord::WRONG_P1P2
    );
    assert_eq!(card.with_card(|c| c.pin_tries_left()), 3);
}

#[test]
fn signs_with_rsa_after_verify_and_the_signature_verifies() {
    use rsa::pkcs8::DecodePublicKey;
    let (mut card, id) = rsa_card();
    assert!(select(&mut card).is_ok());
    let message = b"hjemmekontor TLS handshake transcript";
    let block = pkcs1_sha256_block(message);
    let resp = general_authenticate(&mut card, 0x07, 0x9A, &block);
    assert_eq!(
        resp.sw,
        StatusWord::SECURITY_NOT_SATISFIED,
        "no signature before VERIFY"
    );
    assert_eq!(verify(&mut card, "123456"), StatusWord::OK);
    let before = card.with_card(|c| c.apdu_count());
    // 7C 82 01 06 { 82 00, 81 82 01 00 <256> } is 266 bytes: sent in two chained APDUs.
    let sig = signature_of(&general_authenticate(&mut card, 0x07, 0x9A, &block));
    assert!(
        card.with_card(|c| c.apdu_count()) - before >= 3,
        "chain + GET RESPONSE"
    );
    assert_eq!(sig.len(), 256);
    let public = rsa::RsaPublicKey::from_public_key_der(&id.spki_der()).unwrap();
    public
        .verify(
            rsa::Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(message),
            &sig,
        )
        .expect("RSA signature verifies against the certificate");
    // PIN once per session for 9A: a second signature needs no new VERIFY.
    let _ = signature_of(&general_authenticate(&mut card, 0x07, 0x9A, &block));
    assert_eq!(card.with_card(|c| c.signature_count()), 2);
    // Wrong block size, value above the modulus, wrong algorithm, empty slot.
    assert_eq!(
        general_authenticate(&mut card, 0x07, 0x9A, &block[1..]).sw,
        StatusWord::WRONG_DATA
    );
    assert_eq!(
        general_authenticate(&mut card, 0x07, 0x9A, &[0xFF; 256]).sw,
        StatusWord::WRONG_DATA
    );
    assert_eq!(
        general_authenticate(&mut card, 0x11, 0x9A, &[1; 32]).sw,
        StatusWord::WRONG_P1P2
    );
    assert_eq!(
        general_authenticate(&mut card, 0x07, 0x9D, &block).sw,
        StatusWord::REFERENCED_DATA_NOT_FOUND
    );
    assert_eq!(
        general_authenticate(&mut card, 0x07, 0x9B, &block).sw,
        StatusWord::WRONG_P1P2
    );
    assert_eq!(card.with_card(|c| c.signature_count()), 2);
}

#[test]
fn signs_with_ecdsa_p256_and_p384() {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use p256::pkcs8::DecodePublicKey;
    let id = certs::p256_identity("Test Person P-256");
    let mut card = card(PivConfig::new(id.slot_key()));
    assert!(select(&mut card).is_ok());
    assert_eq!(verify(&mut card, "123456"), StatusWord::OK);
    let hash = Sha256::digest(b"message");
    let der = signature_of(&general_authenticate(&mut card, 0x11, 0x9A, &hash));
    let sig = p256::ecdsa::Signature::from_der(&der).expect("DER ECDSA-Sig-Value");
    let key = p256::ecdsa::VerifyingKey::from_public_key_der(&id.spki_der()).unwrap();
    key.verify_prehash(&hash, &sig)
        .expect("P-256 signature verifies");
    assert_eq!(
        general_authenticate(&mut card, 0x07, 0x9A, &hash).sw,
        StatusWord::WRONG_P1P2
    );

    let id = certs::p384_identity("Test Person P-384");
    let mut card = card_p384(&id);
    assert!(select(&mut card).is_ok());
    assert_eq!(verify(&mut card, "123456"), StatusWord::OK);
    let hash = sha2::Sha384::digest(b"message");
    let der = signature_of(&general_authenticate(&mut card, 0x14, 0x9A, &hash));
    let sig = p384::ecdsa::Signature::from_der(&der).expect("DER ECDSA-Sig-Value");
    let key = p384::ecdsa::VerifyingKey::from_public_key_der(&id.spki_der()).unwrap();
    key.verify_prehash(&hash, &sig)
        .expect("P-384 signature verifies");
}

fn card_p384(id: &TestIdentity) -> Card {
    card(PivConfig::new(id.slot_key()))
}

#[test]
fn digital_signature_key_needs_the_pin_before_every_signature() {
    let auth = certs::rsa_identity("Test Person RSA");
    let sign = certs::p256_identity("Test Person signing");
    let config = PivConfig::new(auth.slot_key()).with_slot(Slot::Signature, sign.slot_key());
    let mut card = card(config);
    assert!(select(&mut card).is_ok());
    let object = get_data(&mut card, &[0x5F, 0xC1, 0x0A]);
    assert_eq!(certificate_from_object(&object.data), sign.cert_der);
    let hash = [0x11u8; 32];
    assert_eq!(verify(&mut card, "123456"), StatusWord::OK);
    let _ = signature_of(&general_authenticate(&mut card, 0x11, 0x9C, &hash));
    assert_eq!(
        general_authenticate(&mut card, 0x11, 0x9C, &hash).sw,
        StatusWord::SECURITY_NOT_SATISFIED,
        "9C is PIN-always"
    );
    // The session PIN still covers 9A.
    let _ = signature_of(&general_authenticate(
        &mut card,
        0x07,
        0x9A,
        &pkcs1_sha256_block(b"m"),
    ));
    assert_eq!(verify(&mut card, "123456"), StatusWord::OK);
    let _ = signature_of(&general_authenticate(&mut card, 0x11, 0x9C, &hash));
}

#[test]
fn chaining_is_remembered_and_a_different_command_aborts_it() {
    let (card, _) = rsa_card();
    let _ = raw(&card, &[0, 0xA4, 4, 0, 9, 0xA0, 0, 0, 3, 8, 0, 0, 0x10, 0]);
    let mut pin = vec![0, 0x20, 0, 0x80, 8];
    pin.extend_from_slice(b"123456\xFF\xFF");
    assert_eq!(sw_of(&raw(&card, &pin)), StatusWord::OK);
    let mut inner = tlv::encode(0x82, &[]);
    inner.extend(tlv::encode(0x81, &pkcs1_sha256_block(b"chained")));
    let data = tlv::encode(0x7C, &inner);
    let (head, tail) = data.split_at(255);
    let mut part1 = vec![0x10, 0x87, 0x07, 0x9A, 255];
    part1.extend_from_slice(head);
    let mut part2 = vec![0x00, 0x87, 0x07, 0x9A, tail.len() as u8];
    part2.extend_from_slice(tail);
    part2.push(0);
    // Whole chain: works.
    assert_eq!(sw_of(&raw(&card, &part1)), StatusWord::OK);
    let answer = raw(&card, &part2);
    assert_eq!(answer[answer.len() - 2], 0x61);
    // Interrupted chain: the last part alone is not a valid request.
    assert_eq!(sw_of(&raw(&card, &part1)), StatusWord::OK);
    assert_eq!(sw_of(&raw(&card, &[0, 0x20, 0, 0x80])), StatusWord::OK);
    assert_eq!(sw_of(&raw(&card, &part2)), StatusWord::WRONG_DATA);
    // Chaining on a command that does not take it.
    assert_eq!(
        sw_of(&raw(&card, &[0x10, 0xCB, 0x3F, 0xFF, 3, 0x5C, 1, 0x7E])),
        StatusWord::CHAINING_NOT_SUPPORTED
    );
    // A chain cannot grow without bound.
    let mut big = vec![0x10, 0x87, 0x07, 0x9A, 255];
    big.extend_from_slice(&[0xAB; 255]);
    let mut last = StatusWord::OK;
    for _ in 0..40 {
        last = sw_of(&raw(&card, &big));
        if last != StatusWord::OK {
            break;
        }
    }
    assert_eq!(last, StatusWord::WRONG_LENGTH);
    assert_eq!(card.with_card(|c| c.signature_count()), 1);
}

#[test]
fn bad_apdus_get_status_words() {
    let (card, _) = rsa_card();
    assert_eq!(
        sw_of(&raw(&card, &[0, 0xCB, 0x3F, 0xFF, 3, 0x5C, 1, 0x7E])),
        StatusWord::INS_NOT_SUPPORTED,
        "nothing selected"
    );
    let _ = raw(&card, &[0, 0xA4, 4, 0, 9, 0xA0, 0, 0, 3, 8, 0, 0, 0x10, 0]);
    let cases: &[(&[u8], StatusWord)] = &[
        (&[], StatusWord::WRONG_LENGTH),
        (&[0, 0xA4, 4], StatusWord::WRONG_LENGTH),
        (&[0, 0xA4, 4, 0, 5, 1, 2], StatusWord::WRONG_LENGTH),
        (
            &[0x80, 0xCB, 0x3F, 0xFF, 3, 0x5C, 1, 0x7E],
            StatusWord::CLA_NOT_SUPPORTED,
        ),
        (
            &[0x0C, 0xCB, 0x3F, 0xFF, 3, 0x5C, 1, 0x7E],
            StatusWord::CLA_NOT_SUPPORTED,
        ),
        (&[0, 0x00, 0, 0], StatusWord::INS_NOT_SUPPORTED),
        (&[0, 0xFD, 0, 0], StatusWord::INS_NOT_SUPPORTED),
        (
            &[0, 0xCB, 0x3F, 0xFE, 3, 0x5C, 1, 0x7E],
            StatusWord::WRONG_P1P2,
        ),
        (&[0, 0xCB, 0x3F, 0xFF], StatusWord::WRONG_LENGTH),
        (
            &[0, 0xCB, 0x3F, 0xFF, 3, 0x5D, 1, 0x7E],
            StatusWord::WRONG_DATA,
        ),
        (
            &[0, 0xCB, 0x3F, 0xFF, 4, 0x5C, 1, 0x7E, 0],
            StatusWord::WRONG_DATA,
        ),
        (
            &[0, 0xCB, 0x3F, 0xFF, 3, 0x5C, 5, 0x7E],
            StatusWord::WRONG_DATA,
        ),
        (&[0, 0xC0, 1, 0, 0], StatusWord::WRONG_P1P2),
        (&[0, 0x87, 0x07, 0x9A, 2, 0x7C, 0], StatusWord::WRONG_DATA),
        (
            &[0, 0x87, 0x07, 0x9A, 4, 0x7C, 2, 0x82, 0],
            StatusWord::WRONG_DATA,
        ),
        (
            &[0, 0x87, 0x07, 0x9A, 3, 0x7C, 5, 0x82],
            StatusWord::WRONG_DATA,
        ),
        (&[0, 0x2C, 0, 0x80, 2, 1, 2], StatusWord::WRONG_LENGTH),
        (&[0, 0x24, 0, 0x80, 2, 1, 2], StatusWord::WRONG_LENGTH),
    ];
    for (apdu, want) in cases {
        assert_eq!(sw_of(&raw(&card, apdu)), *want, "APDU {apdu:02X?}");
    }
    assert_eq!(
        card.with_card(|c| c.pin_tries_left()),
        3,
        "no try spent on malformed APDUs"
    );
}

#[test]
fn puk_unblocks_and_pins_can_change() {
    let id = certs::rsa_identity("Test Person RSA");
    let mut config = PivConfig::new(id.slot_key());
    config.puk = Some(Pin::from_input("12345678".into()).unwrap());
    let mut card = card(config);
    assert!(select(&mut card).is_ok());
    for _ in 0..3 {
        let _ = verify(&mut card, "999999");
    }
    assert_eq!(pin_status(&mut card), StatusWord::AUTH_BLOCKED);
    let rrc = |puk: &[u8; 8], new: &[u8; 8]| {
        let mut apdu = vec![0, 0x2C, 0, 0x80, 16];
        apdu.extend_from_slice(puk);
        apdu.extend_from_slice(new);
        apdu
    };
    assert_eq!(
        sw_of(&raw(&card, &rrc(b"87654321", b"654321\xFF\xFF"))),
        StatusWord(0x63C2)
    );
    assert_eq!(
        sw_of(&raw(
            &card,
            &rrc(b"12345678", b"65\xFF\xFF\xFF\xFF\xFF\xFF")
        )),
        StatusWord::WRONG_DATA
    );
    assert_eq!(
        sw_of(&raw(&card, &rrc(b"12345678", b"654321\xFF\xFF"))),
        StatusWord::OK
    );
    assert_eq!(pin_status(&mut card), StatusWord(0x63C3));
    assert_eq!(verify(&mut card, "123456"), StatusWord(0x63C2));
    assert_eq!(verify(&mut card, "654321"), StatusWord::OK);
    // CHANGE REFERENCE DATA: old PIN then new PIN.
    let mut change = vec![0, 0x24, 0, 0x80, 16];
    change.extend_from_slice(b"654321\xFF\xFF");
    change.extend_from_slice(b"24681357");
    assert_eq!(sw_of(&raw(&card, &change)), StatusWord::OK);
    assert_eq!(verify(&mut card, "24681357"), StatusWord::OK);
    // Without a PUK, the counter cannot be reset.
    let (no_puk, _) = rsa_card();
    let _ = raw(
        &no_puk,
        &[0, 0xA4, 4, 0, 9, 0xA0, 0, 0, 3, 8, 0, 0, 0x10, 0],
    );
    assert_eq!(
        sw_of(&raw(&no_puk, &rrc(b"12345678", b"654321\xFF\xFF"))),
        StatusWord::AUTH_BLOCKED
    );
}

#[test]
fn reset_drops_the_pin_and_the_selection() {
    let (mut card, _) = rsa_card();
    assert!(select(&mut card).is_ok());
    assert_eq!(verify(&mut card, "123456"), StatusWord::OK);
    card.with_card(|c| c.reset());
    assert!(!card.with_card(|c| c.is_selected() || c.is_pin_verified()));
    assert!(select(&mut card).is_ok());
    assert_eq!(pin_status(&mut card), StatusWord(0x63C3));
    let resp = general_authenticate(&mut card, 0x07, 0x9A, &pkcs1_sha256_block(b"m"));
    assert_eq!(resp.sw, StatusWord::SECURITY_NOT_SATISFIED);
}

#[test]
fn configuration_is_checked() {
    let id = certs::rsa_identity("Test Person RSA");
    let mut config = PivConfig::new(id.slot_key());
    config.pin = Pin::from_input("12345".into()).unwrap();
    assert!(VirtualPiv::new(config).is_err());
    let mut config = PivConfig::new(id.slot_key());
    config.retries = 0;
    assert!(VirtualPiv::new(config).is_err());
    let mut config = PivConfig::new(id.slot_key());
    config.atr = vec![0x00];
    assert!(VirtualPiv::new(config).is_err());
    // A certificate with someone else's key is refused.
    let other = certs::p256_identity("Someone else");
    assert!(hjemmekontor::vcard::SlotKey::from_pem(&id.cert_pem, &other.key_pem).is_err());
    // The ATR is a generic T=1 one, not a known product's.
    let card = card(PivConfig::new(id.slot_key()));
    let atr = card.atr();
    assert_eq!(atr[0], 0x3B);
    assert_eq!(atr[1..].iter().fold(0, |a, b| a ^ b), 0, "TCK");
}

/// Small deterministic generator: the same "random" APDUs on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

#[test]
fn random_and_truncated_apdus_never_panic() {
    let id = certs::rsa_identity("Test Person RSA");
    let ec = certs::p256_identity("Test Person signing");
    let mut config = PivConfig::new(id.slot_key()).with_slot(Slot::Signature, ec.slot_key());
    config.retries = 15;
    let card = card(config);
    let mut valid: Vec<Vec<u8>> = vec![
        vec![0, 0xA4, 4, 0, 9, 0xA0, 0, 0, 3, 8, 0, 0, 0x10, 0, 0],
        vec![0, 0xCB, 0x3F, 0xFF, 5, 0x5C, 3, 0x5F, 0xC1, 0x05, 0],
        vec![
            0, 0x20, 0, 0x80, 8, b'1', b'2', b'3', b'4', b'5', b'6', 0xFF, 0xFF,
        ],
        vec![0, 0xC0, 0, 0, 0],
        vec![
            0, 0x2C, 0, 0x80, 16, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
        ],
    ];
    let mut ga = vec![0x00, 0x87, 0x11, 0x9C, 38, 0x7C, 36, 0x82, 0, 0x81, 32];
    ga.extend_from_slice(&[0x5A; 32]);
    ga.push(0);
    valid.push(ga);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let check = |apdu: &[u8]| {
        let answer = raw(&card, apdu);
        assert!(
            answer.len() >= 2,
            "answer without a status word to {apdu:02X?}"
        );
    };
    for apdu in &valid {
        for cut in 0..=apdu.len() {
            check(&apdu[..cut]);
        }
    }
    for round in 0..20_000 {
        let apdu: Vec<u8> = if round % 2 == 0 {
            let len = (rng.next() % 300) as usize;
            let mut a: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
            // Bias towards interesting headers so the handlers are reached.
            if a.len() >= 2 {
                a[0] &= 0x10;
                a[1] = [0xA4, 0xCB, 0x20, 0x24, 0x2C, 0x87, 0xC0][rng.next() as usize % 7];
            }
            a
        } else {
            let mut a = valid[rng.next() as usize % valid.len()].clone();
            for _ in 0..1 + rng.next() % 3 {
                let i = rng.next() as usize % a.len();
                a[i] = rng.byte();
            }
            a
        };
        check(&apdu);
    }
    assert!(card.with_card(|c| c.apdu_count()) > 20_000);
}
