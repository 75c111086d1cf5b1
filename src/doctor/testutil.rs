//! Test helpers: a gateway stand-in on 127.0.0.1 that answers the policy ALPN with a policy
//! frame, under a certificate for whatever names a test wants, and resolvers that answer as
//! told or never.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

use super::network::Resolver;
use crate::posture::policy::Policy;
use crate::tunnel::protocol::{self, GatewayMessage, PublishedPolicy, DEFAULT_MAX_FRAME_LEN};

/// A resolver with a fixed answer.
pub struct Answers(pub Vec<IpAddr>);

impl Resolver for Answers {
    fn lookup(&self, _: &str, _: u16) -> impl Future<Output = io::Result<Vec<IpAddr>>> + Send {
        let answer = self.0.clone();
        async move { Ok(answer) }
    }
}

/// A resolver whose DNS server never answers.
pub struct NeverAnswers;

impl Resolver for NeverAnswers {
    fn lookup(&self, _: &str, _: u16) -> impl Future<Output = io::Result<Vec<IpAddr>>> + Send {
        std::future::pending()
    }
}

/// A CA and a server certificate it issued for `names`, valid from `from` to `until`.
pub fn server_pki(
    names: &[&str],
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> (
    CertificateDer<'static>,
    CertificateDer<'static>,
    PrivateKeyDer<'static>,
) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "doctor TEST CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut leaf = CertificateParams::new(names).unwrap();
    leaf.not_before = from;
    leaf.not_after = until;
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "doctor TEST gateway");
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    (ca_cert.der().clone(), leaf_cert.der().clone(), key)
}

/// A gateway stand-in: every connection gets the handshake under a certificate for `names`
/// and one policy frame with `gateway_time`. Returns its address and the CA to trust.
pub async fn policy_gateway(
    names: &[&str],
    from: OffsetDateTime,
    until: OffsetDateTime,
    gateway_time: Option<i64>,
) -> (SocketAddr, CertificateDer<'static>) {
    let (ca, leaf, key) = server_pki(names, from, until);
    let mut config = rustls::ServerConfig::builder_with_provider(crate::tunnel::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf], key)
        .unwrap();
    config.alpn_protocols = vec![protocol::POLICY_ALPN.to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let frame = GatewayMessage::Policy(PublishedPolicy {
                    policy: Policy::default(),
                    recheck_secs: 0,
                    gateway_time,
                });
                let _ = protocol::write_message(&mut tls, &frame, DEFAULT_MAX_FRAME_LEN).await;
                let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
            });
        }
    });
    (addr, ca)
}
