//! Host-side signature encodings: RSA blocks (RFC 8017), because PIV cards sign with raw RSA —
//! the host builds the whole padded block and the card only does the private-key power — and
//! ECDSA's `r || s` as the DER TLS carries.
//!
//! Pure functions. The `rsa` crate verifies what these produce in the tests, so the
//! encodings are checked against an independent implementation.

use sha2::{Digest, Sha256, Sha384, Sha512};

/// Hash functions we sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// The DER `DigestInfo` prefix that PKCS#1 v1.5 puts before the hash.
    pub(crate) fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlg::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            HashAlg::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            HashAlg::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

/// Why a block could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaddingError {
    /// The digest length does not match the hash.
    #[error("digest has {got} bytes, {hash:?} needs {want}")]
    DigestLength {
        /// The hash.
        hash: HashAlg,
        /// Bytes given.
        got: usize,
        /// Bytes needed.
        want: usize,
    },
    /// The key is too small for this encoding.
    #[error("an RSA key of {modulus_bits} bits is too small for this signature encoding")]
    KeyTooSmall {
        /// Key size.
        modulus_bits: usize,
    },
}

fn check_digest(hash: HashAlg, digest: &[u8]) -> Result<(), PaddingError> {
    if digest.len() != hash.output_len() {
        return Err(PaddingError::DigestLength {
            hash,
            got: digest.len(),
            want: hash.output_len(),
        });
    }
    Ok(())
}

/// The DER `DigestInfo` of `digest`: what a token that pads PKCS#1 v1.5 itself (PKCS#11
/// `CKM_RSA_PKCS`) signs.
pub fn digest_info(hash: HashAlg, digest: &[u8]) -> Result<Vec<u8>, PaddingError> {
    check_digest(hash, digest)?;
    let mut info = hash.digest_info_prefix().to_vec();
    info.extend_from_slice(digest);
    Ok(info)
}

/// EMSA-PKCS1-v1_5: `00 01 FF…FF 00 DigestInfo` filling the modulus length.
pub fn pkcs1v15(
    hash: HashAlg,
    digest: &[u8],
    modulus_bits: usize,
) -> Result<Vec<u8>, PaddingError> {
    check_digest(hash, digest)?;
    let k = modulus_bits.div_ceil(8);
    let prefix = hash.digest_info_prefix();
    let t_len = prefix.len() + digest.len();
    if k < t_len + 11 {
        return Err(PaddingError::KeyTooSmall { modulus_bits });
    }
    let mut block = Vec::with_capacity(k);
    block.extend_from_slice(&[0x00, 0x01]);
    block.resize(k - t_len - 1, 0xFF);
    block.push(0x00);
    block.extend_from_slice(prefix);
    block.extend_from_slice(digest);
    Ok(block)
}

/// EMSA-PSS with MGF1 over the same hash and a salt as long as the hash (what TLS 1.3
/// requires), left-padded with a zero byte to the modulus length for the card.
pub fn pss(
    hash: HashAlg,
    digest: &[u8],
    salt: &[u8],
    modulus_bits: usize,
) -> Result<Vec<u8>, PaddingError> {
    check_digest(hash, digest)?;
    let h_len = hash.output_len();
    let em_bits = modulus_bits - 1;
    let em_len = em_bits.div_ceil(8);
    if em_len < h_len + salt.len() + 2 {
        return Err(PaddingError::KeyTooSmall { modulus_bits });
    }
    let mut m_prime = vec![0u8; 8];
    m_prime.extend_from_slice(digest);
    m_prime.extend_from_slice(salt);
    let h = hash.digest(&m_prime);
    let db_len = em_len - h_len - 1;
    let mut db = vec![0u8; db_len - salt.len() - 1];
    db.push(0x01);
    db.extend_from_slice(salt);
    let mask = mgf1(hash, &h, db_len);
    for (d, m) in db.iter_mut().zip(mask) {
        *d ^= m;
    }
    let unused_bits = 8 * em_len - em_bits;
    db[0] &= 0xFF >> unused_bits;
    let k = modulus_bits.div_ceil(8);
    let mut block = vec![0u8; k - em_len];
    block.extend_from_slice(&db);
    block.extend_from_slice(&h);
    block.push(0xBC);
    Ok(block)
}

fn mgf1(hash: HashAlg, seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + hash.output_len());
    let mut counter: u32 = 0;
    while out.len() < len {
        let mut input = seed.to_vec();
        input.extend_from_slice(&counter.to_be_bytes());
        out.extend_from_slice(&hash.digest(&input));
        counter += 1;
    }
    out.truncate(len);
    out
}

/// PKCS#11 and CNG answer ECDSA as `r || s`, each as long as the curve; TLS carries DER
/// `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }`.
pub fn ecdsa_to_der(raw: &[u8]) -> Result<Vec<u8>, crate::card::credential::KeyError> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) || raw.len() > 132 {
        return Err(crate::card::credential::KeyError::Unsupported(format!(
            "an ECDSA signature of {} bytes",
            raw.len()
        )));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = integer(r);
    body.extend(integer(s));
    let mut out = vec![0x30];
    push_len(&mut out, body.len());
    out.extend(body);
    Ok(out)
}

/// A DER INTEGER of an unsigned big-endian number.
fn integer(bytes: &[u8]) -> Vec<u8> {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let mut value = bytes[skip.min(bytes.len().saturating_sub(1))..].to_vec();
    if value.first().is_some_and(|b| b & 0x80 != 0) {
        value.insert(0, 0);
    }
    let mut out = vec![0x02];
    push_len(&mut out, value.len());
    out.extend(value);
    out
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.extend([0x81, len as u8]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::PublicKeyParts;
    use rsa::{BigUint, RsaPrivateKey};

    fn raw_sign(key: &RsaPrivateKey, block: &[u8]) -> Vec<u8> {
        let m = BigUint::from_bytes_be(block);
        let s = rsa::hazmat::rsa_decrypt_and_check(key, None::<&mut rand_core::OsRng>, &m).unwrap();
        let mut out = s.to_bytes_be();
        while out.len() < key.size() {
            out.insert(0, 0);
        }
        out
    }

    fn key() -> RsaPrivateKey {
        RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap()
    }

    #[test]
    fn pkcs1v15_block_verifies_with_the_rsa_crate() {
        let key = key();
        let msg = b"hjemmekontor";
        let digest = HashAlg::Sha256.digest(msg);
        let block = pkcs1v15(HashAlg::Sha256, &digest, key.n().bits()).unwrap();
        assert_eq!(block.len(), 256);
        let sig = raw_sign(&key, &block);
        key.to_public_key()
            .verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest, &sig)
            .unwrap();
    }

    #[test]
    fn pss_block_verifies_with_the_rsa_crate() {
        let key = key();
        for hash in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
            let digest = hash.digest(b"tls 1.3 transcript");
            let salt = vec![0x5A; hash.output_len()];
            let block = pss(hash, &digest, &salt, key.n().bits()).unwrap();
            let sig = raw_sign(&key, &block);
            let scheme = match hash {
                HashAlg::Sha256 => rsa::Pss::new::<Sha256>(),
                HashAlg::Sha384 => rsa::Pss::new::<Sha384>(),
                HashAlg::Sha512 => rsa::Pss::new::<Sha512>(),
            };
            key.to_public_key().verify(scheme, &digest, &sig).unwrap();
        }
    }

    #[test]
    fn wrong_digest_length_is_refused() {
        assert!(matches!(
            pkcs1v15(HashAlg::Sha256, &[0; 20], 2048),
            Err(PaddingError::DigestLength {
                got: 20,
                want: 32,
                ..
            })
        ));
        assert!(matches!(
            pss(HashAlg::Sha512, &[0; 64], &[0; 64], 512),
            Err(PaddingError::KeyTooSmall { .. })
        ));
    }
}
