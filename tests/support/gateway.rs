//! A gateway configuration over the TEST PKI for tests: the `[gateway]` and `[trust]` sections
//! with the server's chain, and the caller's users, machines and grants after them.

use std::net::SocketAddr;
use std::path::Path;

/// Writes `gateway-chain.pem` (the gateway's certificate, then its issuing CA: clients hold
/// only the root) into `dir` and returns the configuration text: `listen`, test environment on,
/// the TEST PKI's trust and CRL, `audit.jsonl` in the configuration's directory, then `rest`.
pub fn config(dir: &Path, listen: SocketAddr, rest: &str) -> String {
    config_with_audit(dir, listen, "[audit]\npath = \"audit.jsonl\"\n", rest)
}

/// [`config`] with the `[audit]` section `audit` (a shared database, say).
pub fn config_with_audit(dir: &Path, listen: SocketAddr, audit: &str, rest: &str) -> String {
    let pki = super::pki::dir();
    let p = |name: &str| pki.join(name).display().to_string();
    let chain = dir.join("gateway-chain.pem");
    let mut pem = std::fs::read_to_string(pki.join("gateway.pem")).unwrap();
    pem.push_str(&std::fs::read_to_string(pki.join("person-ca.pem")).unwrap());
    std::fs::write(&chain, pem).unwrap();
    format!(
        r#"[gateway]
listen = "{listen}"
server_cert = "{chain}"
server_key = "{key}"
test_environment = true

[trust]
anchors = ["{root}"]
intermediates = ["{ca}"]
crls = ["{crl}"]

{audit}
{rest}"#,
        chain = chain.display(),
        key = p("gateway.key"),
        root = p("root-ca.pem"),
        ca = p("person-ca.pem"),
        crl = p("crl.pem"),
    )
}

/// A `[[user]]` entry whose password hash is made with the fast test parameters.
pub fn user_entry(username: &str, personal_id: &str, password: &str) -> String {
    let hash = hjemmekontor::gateway::auth::hash_password_with(
        &hjemmekontor::secret::Password::from_input(password.into()),
        hjemmekontor::gateway::auth::HashParams::TEST_ONLY,
    )
    .unwrap();
    format!("[[user]]\nusername = \"{username}\"\npersonal_id = \"{personal_id}\"\npassword_hash = \"{hash}\"\n")
}
