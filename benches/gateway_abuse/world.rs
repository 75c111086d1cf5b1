//! The people, their cards, and the files the gateway reads.

use super::*;

/// A verified virtual card on its signing thread.
pub(super) fn card(cert_pem: &str, key_pem: &str) -> CardSigner {
    let key = SlotKey::from_pem(cert_pem, key_pem).expect("card key");
    let der = CertificateDer::from(
        hjemmekontor::cert::certificates_from_bytes(cert_pem.as_bytes())
            .expect("certificate")
            .remove(0),
    );
    let transport =
        InProcessTransport::new(VirtualPiv::new(PivConfig::new(key)).expect("virtual card"));
    let piv = Piv::open(Box::new(transport))
        .expect("PIV")
        .verify_pin(&Pin::from_input("123456".into()).expect("PIN"))
        .map_err(|(_, e)| e)
        .expect("PIN verified");
    let key = PivKey::new(piv, Slot::Authentication, &der)
        .map_err(|(_, e)| e)
        .expect("card key");
    CardSigner::spawn(Box::new(key), der)
        .map_err(|(_, e)| e)
        .expect("signer")
}

/// Everything that outlives one gateway: the certificates on disk, both cards, the hashes.
pub(super) struct World {
    pub(super) dir: tempfile::TempDir,
    pub(super) roots: Vec<CertificateDer<'static>>,
    pub(super) user: CardSigner,
    pub(super) attacker: CardSigner,
    pub(super) user_hash: String,
    pub(super) attacker_hash: String,
}

impl World {
    pub(super) fn new(base: &Path) -> World {
        let dir = tempfile::tempdir_in(base).expect("temporary directory");
        // Every person in one TEST PKI carries the same personal identifier, so the attacker's
        // card comes from a second TEST PKI: its failures must not lock the user's card.
        let make = |person_id: &str, sub: &str| {
            let options = PkiOptions {
                person_id: person_id.into(),
                ..PkiOptions::new(OffsetDateTime::now_utc())
            };
            let pki = pki::generate(&options).expect("TEST PKI");
            pki.write(&dir.path().join(sub)).expect("TEST PKI files");
            pki
        };
        let user_pki = make(pki::DEFAULT_PERSON_ID, "user");
        let attacker_pki = make(ATTACKER_PERSON_ID, "attacker");
        let issued = user_pki.get("gateway").expect("gateway certificate");
        let chain = format!("{}{}", issued.cert_pem, user_pki.person_ca_pem);
        std::fs::write(dir.path().join("gateway-chain.pem"), chain).expect("chain file");
        let card_of = |pki: &pki::TestPki| {
            let person = pki.get("person-high").expect("person-high");
            card(&person.cert_pem, &person.key_pem)
        };
        let hash = |p: &str| hash_password(&Password::from_input(p.into())).expect("argon2 hash");
        World {
            roots: hjemmekontor::cert::certificates_from_bytes(user_pki.root_ca_pem.as_bytes())
                .expect("root")
                .into_iter()
                .map(Into::into)
                .collect(),
            user: card_of(&user_pki),
            attacker: card_of(&attacker_pki),
            user_hash: hash(USER_PASSWORD),
            attacker_hash: hash(ATTACKER_PASSWORD),
            dir,
        }
    }

    pub(super) fn config(&self, port: u16) -> String {
        let p = |name: &str| self.dir.path().join(name).display().to_string();
        format!(
            r#"[gateway]
listen = "127.0.0.1:{port}"
server_cert = "{chain}"
server_key = "{key}"
test_environment = true

[trust]
anchors = ["{user_pki}/root-ca.pem", "{attacker_pki}/root-ca.pem"]
intermediates = ["{user_pki}/person-ca.pem", "{attacker_pki}/person-ca.pem"]
crls = ["{user_pki}/crl.pem", "{attacker_pki}/crl.pem"]

[audit]
path = "audit.jsonl"

{LIMITS}
[[user]]
username = "{USER}"
personal_id = "UN:NO-9578-4050-{person_id}"
password_hash = "{user_hash}"

[[user]]
username = "{ATTACKER}"
personal_id = "UN:NO-9578-4050-{ATTACKER_PERSON_ID}"
password_hash = "{attacker_hash}"

[[group]]
id = "legesenter"
name = "Legesenter"
kind = "legesenter"

# Nothing listens there: no attack here opens a stream to a granted machine.
[[machine]]
id = "kontor-pc"
name = "Kontor-PC"
address = "127.0.0.1:9"
group = "legesenter"

[[grant]]
user = "{USER}"
machines = ["kontor-pc"]

[[grant]]
user = "{ATTACKER}"
machines = ["kontor-pc"]
"#,
            chain = p("gateway-chain.pem"),
            key = p("user/gateway.key"),
            user_pki = p("user"),
            attacker_pki = p("attacker"),
            person_id = pki::DEFAULT_PERSON_ID,
            user_hash = self.user_hash,
            attacker_hash = self.attacker_hash,
        )
    }
}
