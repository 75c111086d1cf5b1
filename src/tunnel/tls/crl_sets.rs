//! Revocation lists matched to the CA that signed them by key, not only by name.
//!
//! webpki picks the CRL for a certificate by the issuer's *name*. Two CAs that share a name
//! (a CA renewed with a new key, or two test CAs) would then be checked against each other's
//! list, whose signature fails, and every card of one of them is refused. So the CRLs are
//! grouped by their authority key identifier, and a certificate is checked with the group of
//! its own authority key identifier (plus the lists that name no key). A certificate that
//! names no key is checked against every list, as webpki alone would.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::pki_types::CertificateRevocationListDer;
use x509_parser::extensions::{ParsedExtension, X509Extension};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

/// The key identifier of the CA that signed `crl`, if the list names one.
pub fn crl_signer_key(crl: &[u8]) -> Option<Vec<u8>> {
    let (_, parsed) = CertificateRevocationList::from_der(crl).ok()?;
    authority_key(parsed.extensions())
}

/// The key identifier of the CA that issued `cert`, if the certificate names one.
pub fn cert_issuer_key(cert: &[u8]) -> Option<Vec<u8>> {
    let (_, parsed) = X509Certificate::from_der(cert).ok()?;
    authority_key(parsed.extensions())
}

/// The authority key identifier among `extensions`, where there is one.
fn authority_key(extensions: &[X509Extension<'_>]) -> Option<Vec<u8>> {
    extensions
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
}

/// CRLs grouped by signer key: each group holds that key's lists and the lists naming none.
#[derive(Debug, Default)]
pub struct CrlGroups {
    /// Per signer key.
    pub by_key: HashMap<Vec<u8>, Vec<CertificateRevocationListDer<'static>>>,
}

/// Groups `crls` by the key that signed them.
pub fn group(crls: &[CertificateRevocationListDer<'static>]) -> CrlGroups {
    let mut keyed: HashMap<Vec<u8>, Vec<CertificateRevocationListDer<'static>>> = HashMap::new();
    let mut unkeyed = Vec::new();
    for crl in crls {
        match crl_signer_key(crl) {
            Some(key) => keyed.entry(key).or_default().push(crl.clone()),
            None => unkeyed.push(crl.clone()),
        }
    }
    for lists in keyed.values_mut() {
        lists.extend(unkeyed.iter().cloned());
    }
    CrlGroups { by_key: keyed }
}

/// One verifier per signer key and one with every list, chosen per certificate.
#[derive(Debug)]
pub struct PerIssuer<V: ?Sized> {
    by_key: HashMap<Vec<u8>, Arc<V>>,
    all: Arc<V>,
}

impl<V: ?Sized> PerIssuer<V> {
    /// `build` makes a verifier from a set of lists; it is called once per signer key and once
    /// with every list.
    pub fn new<E>(
        crls: &[CertificateRevocationListDer<'static>],
        mut build: impl FnMut(&[CertificateRevocationListDer<'static>]) -> Result<Arc<V>, E>,
    ) -> Result<Self, E> {
        let all = build(crls)?;
        let by_key = if crls.is_empty() {
            HashMap::new()
        } else {
            group(crls)
                .by_key
                .into_iter()
                .map(|(key, lists)| build(&lists).map(|v| (key, v)))
                .collect::<Result<_, E>>()?
        };
        Ok(PerIssuer { by_key, all })
    }

    /// The verifier for `end_entity` (DER).
    pub fn for_cert(&self, end_entity: &[u8]) -> &Arc<V> {
        cert_issuer_key(end_entity)
            .and_then(|key| self.by_key.get(&key))
            .unwrap_or(&self.all)
    }

    /// The verifier with every list (for what does not depend on the certificate).
    pub fn any(&self) -> &Arc<V> {
        &self.all
    }
}
