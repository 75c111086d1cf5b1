//! Is a downloaded CRL one the gateway may use in place of the one it has? The pure core of
//! `hjemmekontor-gateway check-crl` ([`super::crl_check_cli`]), with the clock injected.
//!
//! A CRL is only put in place when the gateway would load it and it tells the truth about
//! revocation: the gateway's own reader (webpki) accepts it, one of the configured anchors or
//! intermediates signed it (with a key allowed to sign CRLs), it is not past its nextUpdate, and
//! it is not older than the list it replaces. Each check guards against a failure a download
//! can bring: an error page or a truncated file, a list from the wrong CA or a forged one, a
//! mirror serving a stale copy, or a replayed old list that would forget recent revocations.

use rustls::pki_types::SignatureVerificationAlgorithm;
use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::asn1_rs::{Any, FromDer as _, Tag};
use x509_parser::num_bigint::BigUint;
use x509_parser::prelude::X509Certificate;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::cert::parse::name_to_string;
use crate::tunnel::tls::crl_sets::crl_signer_key;

/// Largest file read as a CRL: the bound the gateway itself reads trust files with.
pub const MAX_CRL_BYTES: u64 = crate::tunnel::tls::server::MAX_TRUST_FILE;

/// What a CRL says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrlFacts {
    /// The issuing CA's name, `C=NO, O=…, CN=…`.
    pub issuer: String,
    /// When it was issued.
    #[serde(with = "time::serde::rfc3339")]
    pub this_update: OffsetDateTime,
    /// When the next list is due; after it, this one may no longer be trusted.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_update: Option<OffsetDateTime>,
    /// How many certificates it lists as revoked.
    pub revoked: usize,
    /// Its CRL number (decimal), which the CA raises with every list.
    pub crl_number: Option<String>,
    #[serde(skip)]
    issuer_der: Vec<u8>,
    #[serde(skip)]
    signer_key: Option<Vec<u8>>,
    #[serde(skip)]
    number: Option<BigUint>,
}

/// Why a CRL that could be read must not be put in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum Refusal {
    /// The gateway's CRL reader refuses it (a version, extension or form it does not support):
    /// the gateway would refuse to reload.
    Unsupported {
        /// What the reader said.
        detail: String,
    },
    /// No configured anchor or intermediate has the CRL's issuer name.
    UnknownIssuer,
    /// A configured CA has the issuer's name, but none of their keys made the signature.
    BadSignature,
    /// The CA that signed it may not sign CRLs (its key usage lacks cRLSign).
    SignerMayNotSignCrls {
        /// The CA, by name.
        signer: String,
    },
    /// It is past its nextUpdate (or has none): the gateway refuses every card it covers.
    Expired,
    /// It is older than the list it would replace (earlier thisUpdate or lower CRL number).
    Older {
        /// The replaced list's thisUpdate.
        #[serde(with = "time::serde::rfc3339")]
        replaced_this_update: OffsetDateTime,
    },
    /// The file it would replace holds no list from this CA (name and key).
    OtherIssuer {
        /// The issuers of the lists in the replaced file.
        replaced_issuers: Vec<String>,
    },
}

impl Refusal {
    /// A stable name for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Unsupported { .. } => "unsupported",
            Refusal::UnknownIssuer => "unknown-issuer",
            Refusal::BadSignature => "bad-signature",
            Refusal::SignerMayNotSignCrls { .. } => "signer-may-not-sign-crls",
            Refusal::Expired => "expired",
            Refusal::Older { .. } => "older",
            Refusal::OtherIssuer { .. } => "other-issuer",
        }
    }
}

/// One CRL of a file, judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrlCheck {
    /// What it says.
    #[serde(flatten)]
    pub facts: CrlFacts,
    /// The configured CA whose key verified its signature.
    pub signer: Option<String>,
    /// The thisUpdate of the list it replaces, when one was given and found.
    #[serde(with = "time::serde::rfc3339::option")]
    pub replaced_this_update: Option<OffsetDateTime>,
    /// Why it must not be used; `None`: it may.
    pub refusal: Option<Refusal>,
}

/// Why a file yields no CRL to judge, or as a whole may not replace the old one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum FileProblem {
    /// Nothing in it.
    Empty,
    /// Larger than [`MAX_CRL_BYTES`].
    TooLarge,
    /// A certificate, not a CRL.
    Certificate,
    /// Neither a DER CRL nor PEM with an `X509 CRL` block (an error page, a truncated file).
    NotACrl {
        /// What the reader said, where it said more than that.
        detail: Option<String>,
    },
    /// The replaced file has a list from a CA this file has none from: putting it in place
    /// would leave that CA's cards without a list, and the gateway refuses such cards.
    DropsIssuer {
        /// The CA whose list would be lost.
        issuer: String,
    },
}

impl FileProblem {
    /// A stable name for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            FileProblem::Empty => "empty",
            FileProblem::TooLarge => "too-large",
            FileProblem::Certificate => "certificate",
            FileProblem::NotACrl { .. } => "not-a-crl",
            FileProblem::DropsIssuer { .. } => "drops-issuer",
        }
    }
}

/// What the replaced file was found to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Replaced {
    /// No file to replace was named.
    None,
    /// Its lists were read and compared.
    Compared,
    /// It holds no readable CRL, so there is nothing to compare with: a broken file can
    /// always be repaired by a good list.
    Unreadable {
        /// Why it could not be read as CRLs.
        problem: FileProblem,
    },
}

/// One file, judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileCheck {
    /// Each CRL in the file, in order.
    pub crls: Vec<CrlCheck>,
    /// What is wrong with the file as a whole.
    pub problem: Option<FileProblem>,
    /// What the replaced file was.
    pub replaced: Replaced,
}

impl FileCheck {
    /// The file may be put in place.
    pub fn ok(&self) -> bool {
        self.problem.is_none() && self.crls.iter().all(|c| c.refusal.is_none())
    }
}

/// Judges the CRL file `bytes` against the configured CAs `signers` (anchors and
/// intermediates, DER), at `now`, and if given against the file it replaces.
pub fn check(
    bytes: &[u8],
    signers: &[Vec<u8>],
    replaces: Option<&[u8]>,
    now: OffsetDateTime,
) -> FileCheck {
    let mut out = FileCheck {
        crls: Vec::new(),
        problem: None,
        replaced: Replaced::None,
    };
    let (ders, parsed) = match read_all(bytes) {
        Ok(read) => read,
        Err(problem) => {
            out.problem = Some(problem);
            return out;
        }
    };
    let old = replaces.map(read_all);
    out.replaced = match &old {
        None => Replaced::None,
        Some(Ok(_)) => Replaced::Compared,
        Some(Err(problem)) => Replaced::Unreadable {
            problem: problem.clone(),
        },
    };
    let old: Option<&[CrlFacts]> = match &old {
        Some(Ok((_, list))) => Some(list),
        _ => None,
    };
    for (der, facts) in ders.iter().zip(parsed) {
        out.crls.push(judge(der, facts, signers, old, now));
    }
    // A list of another CA already says the files do not match; only lists lost from a
    // file whose own lists all match are a problem of their own.
    let mismatched = out
        .crls
        .iter()
        .any(|c| matches!(c.refusal, Some(Refusal::OtherIssuer { .. })));
    if let (Some(old), false) = (old, mismatched) {
        out.problem = old
            .iter()
            .find(|o| !out.crls.iter().any(|n| same_ca(&n.facts, o)))
            .map(|o| FileProblem::DropsIssuer {
                issuer: o.issuer.clone(),
            });
    }
    out
}

/// The DER CRLs of a file with their facts, or why it holds none.
fn read_all(bytes: &[u8]) -> Result<(Vec<Vec<u8>>, Vec<CrlFacts>), FileProblem> {
    let ders = crl_ders(bytes)?;
    let facts = ders.iter().map(|d| facts(d)).collect::<Result<_, _>>()?;
    Ok((ders, facts))
}

/// The checks of one CRL, in order; the first that fails is its refusal.
fn judge(
    der: &[u8],
    facts: CrlFacts,
    signers: &[Vec<u8>],
    old: Option<&[CrlFacts]>,
    now: OffsetDateTime,
) -> CrlCheck {
    let mut out = CrlCheck {
        facts,
        signer: None,
        replaced_this_update: None,
        refusal: None,
    };
    let replaced = old.map(|old| old.iter().find(|o| same_ca(&out.facts, o)));
    if let Some(Some(o)) = replaced {
        out.replaced_this_update = Some(o.this_update);
    }
    if let Err(e) = webpki::BorrowedCertRevocationList::from_der(der) {
        out.refusal = Some(Refusal::Unsupported {
            detail: format!("{e:?}"),
        });
        return out;
    }
    match signer(der, &out.facts, signers) {
        Ok(name) => out.signer = Some(name),
        Err(refusal) => {
            out.refusal = Some(refusal);
            return out;
        }
    }
    // webpki's rule: a list is expired from its nextUpdate on.
    if out.facts.next_update.is_none_or(|next| now >= next) {
        out.refusal = Some(Refusal::Expired);
        return out;
    }
    out.refusal = match replaced {
        None => None,
        Some(None) => Some(Refusal::OtherIssuer {
            replaced_issuers: old
                .unwrap_or_default()
                .iter()
                .map(|o| o.issuer.clone())
                .collect(),
        }),
        Some(Some(o)) if is_older(&out.facts, o) => Some(Refusal::Older {
            replaced_this_update: o.this_update,
        }),
        Some(Some(_)) => None,
    };
    out
}

/// Older by date, or, where both carry one, by CRL number (which a CA only ever raises).
fn is_older(new: &CrlFacts, old: &CrlFacts) -> bool {
    let by_number = matches!((&new.number, &old.number), (Some(n), Some(o)) if n < o);
    new.this_update < old.this_update || by_number
}

/// The same CA: the same name, and the same authority key identifier (or neither names one).
fn same_ca(a: &CrlFacts, b: &CrlFacts) -> bool {
    a.issuer_der == b.issuer_der && a.signer_key == b.signer_key
}

/// The DER CRLs of a file, or why it holds none.
fn crl_ders(bytes: &[u8]) -> Result<Vec<Vec<u8>>, FileProblem> {
    if bytes.len() as u64 > MAX_CRL_BYTES {
        return Err(FileProblem::TooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FileProblem::Empty);
    }
    let is_certificate = || {
        crate::cert::certificates_from_bytes(bytes).is_ok_and(|certs| {
            certs
                .iter()
                .all(|c| X509Certificate::from_der(c).is_ok_and(|(rest, _)| rest.is_empty()))
        })
    };
    match crate::cert::crls_from_bytes(bytes) {
        Ok(ders) => Ok(ders),
        Err(_) if is_certificate() => Err(FileProblem::Certificate),
        Err(crate::cert::CertError::Empty) => Err(FileProblem::NotACrl { detail: None }),
        Err(e) => Err(FileProblem::NotACrl {
            detail: Some(e.to_string()),
        }),
    }
}

/// Reads one DER CRL's facts; a DER certificate is told apart from other bytes.
fn facts(der: &[u8]) -> Result<CrlFacts, FileProblem> {
    let crl = match CertificateRevocationList::from_der(der) {
        Ok(([], crl)) => crl,
        Ok((rest, _)) => {
            return Err(FileProblem::NotACrl {
                detail: Some(format!("{} bytes after the CRL", rest.len())),
            })
        }
        Err(_) if X509Certificate::from_der(der).is_ok() => return Err(FileProblem::Certificate),
        Err(e) => {
            return Err(FileProblem::NotACrl {
                detail: Some(e.to_string()),
            })
        }
    };
    let number = crl.crl_number().cloned();
    Ok(CrlFacts {
        issuer: name_to_string(crl.issuer()),
        this_update: crl.last_update().to_datetime(),
        next_update: crl.next_update().map(|t| t.to_datetime()),
        revoked: crl.iter_revoked_certificates().count(),
        crl_number: number.as_ref().map(BigUint::to_string),
        issuer_der: crl.issuer().as_raw().to_vec(),
        signer_key: crl_signer_key(der),
        number,
    })
}

/// The configured CA that signed the CRL, by name; or why none did.
fn signer(der: &[u8], facts: &CrlFacts, signers: &[Vec<u8>]) -> Result<String, Refusal> {
    let Some(signed) = signed_parts(der) else {
        return Err(Refusal::BadSignature);
    };
    let mut named = false;
    for ca_der in signers {
        let Ok((_, ca)) = X509Certificate::from_der(ca_der) else {
            continue;
        };
        if ca.subject().as_raw() != facts.issuer_der.as_slice() {
            continue;
        }
        named = true;
        if !verifies(&signed, ca.public_key().raw) {
            continue;
        }
        let name = name_to_string(ca.subject());
        return match ca.key_usage() {
            Ok(Some(ku)) if !ku.value.crl_sign() => {
                Err(Refusal::SignerMayNotSignCrls { signer: name })
            }
            _ => Ok(name),
        };
    }
    Err(if named {
        Refusal::BadSignature
    } else {
        Refusal::UnknownIssuer
    })
}

/// The signed bytes, the signature algorithm (the contents of its AlgorithmIdentifier) and
/// the signature of a DER CRL: the pieces the signature algorithms take.
struct SignedParts<'a> {
    tbs: &'a [u8],
    algorithm: &'a [u8],
    signature: &'a [u8],
}

fn signed_parts(der: &[u8]) -> Option<SignedParts<'_>> {
    let (_, outer) = Any::from_der(der).ok()?;
    let body = outer.data;
    let (after_tbs, _) = Any::from_der(body).ok()?;
    let tbs = &body[..body.len() - after_tbs.len()];
    let (after_alg, algorithm) = Any::from_der(after_tbs).ok()?;
    let (_, signature) = Any::from_der(after_alg).ok()?;
    if algorithm.header.tag() != Tag::Sequence || signature.header.tag() != Tag::BitString {
        return None;
    }
    Some(SignedParts {
        tbs,
        algorithm: algorithm.data,
        signature: no_unused_bits(signature.data)?,
    })
}

/// A BIT STRING's bytes, when it is whole bytes (as signatures and keys are).
fn no_unused_bits(bits: &[u8]) -> Option<&[u8]> {
    match bits.split_first() {
        Some((0, rest)) => Some(rest),
        _ => None,
    }
}

/// Does the key in `spki` (a DER SubjectPublicKeyInfo) verify `signed`? Tried with the
/// algorithms the gateway's TLS verifier checks CRLs with, so a list passes here exactly
/// when it will pass there.
fn verifies(signed: &SignedParts<'_>, spki: &[u8]) -> bool {
    let Some((key_algorithm, key)) = spki_parts(spki) else {
        return false;
    };
    let algorithms: &[&dyn SignatureVerificationAlgorithm] = crate::tunnel::tls::provider()
        .signature_verification_algorithms
        .all;
    algorithms
        .iter()
        .filter(|a| a.signature_alg_id().as_ref() == signed.algorithm)
        .filter(|a| a.public_key_alg_id().as_ref() == key_algorithm)
        .any(|a| {
            a.verify_signature(key, signed.tbs, signed.signature)
                .is_ok()
        })
}

/// The algorithm (contents of its AlgorithmIdentifier) and the key bytes of an SPKI.
fn spki_parts(spki: &[u8]) -> Option<(&[u8], &[u8])> {
    let (_, outer) = Any::from_der(spki).ok()?;
    let (after_alg, algorithm) = Any::from_der(outer.data).ok()?;
    let (_, key) = Any::from_der(after_alg).ok()?;
    if algorithm.header.tag() != Tag::Sequence || key.header.tag() != Tag::BitString {
        return None;
    }
    Some((algorithm.data, no_unused_bits(key.data)?))
}

#[cfg(test)]
mod tests;
