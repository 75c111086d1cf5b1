//! The qcStatements extension (RFC 3739, ETSI EN 319 412-5), decoded by hand because
//! x509-parser leaves it unparsed.
//!
//! Norwegian person certificates use it to say what the certificate is: the Buypass SEID 2
//! authentication certificate carries only `id-qcs-pkixQCSyntax-v2` (semantics "natural
//! person", with the registration authority's URL); its signing twin adds QcCompliance,
//! QcType and QcPDS. The decoder is strict DER, bounded, and never panics: a statement we do
//! not know is listed by OID; a structure we cannot read is an error.

use serde::Serialize;

/// id-etsi-qcs-QcCompliance: an EU qualified certificate.
pub const QC_COMPLIANCE: &str = "0.4.0.1862.1.1";
/// id-etsi-qcs-QcSSCD: the private key is in a qualified signature creation device.
pub const QC_SSCD: &str = "0.4.0.1862.1.4";
/// id-etsi-qcs-QcPDS: where the PKI disclosure statements are.
pub const QC_PDS: &str = "0.4.0.1862.1.5";
/// id-etsi-qcs-QcType: esign, eseal or web.
pub const QC_TYPE: &str = "0.4.0.1862.1.6";
/// id-qcs-pkixQCSyntax-v1 (RFC 3039).
pub const PKIX_QC_SYNTAX_V1: &str = "1.3.6.1.5.5.7.11.1";
/// id-qcs-pkixQCSyntax-v2 (RFC 3739): semantics identifier and name registration authorities.
pub const PKIX_QC_SYNTAX_V2: &str = "1.3.6.1.5.5.7.11.2";

/// The statements of a qcStatements extension.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QcStatements {
    /// QcCompliance is present.
    pub compliance: bool,
    /// QcSSCD is present.
    pub sscd: bool,
    /// QcType values: `esign`, `eseal`, `web`, or a dotted OID.
    pub types: Vec<String>,
    /// QcPDS locations.
    pub pds: Vec<PdsLocation>,
    /// pkixQCSyntax-v1/-v2 semantics information.
    pub semantics: Option<Semantics>,
    /// OIDs of statements present but not decoded here.
    pub other: Vec<String>,
}

/// One PKI disclosure statement location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PdsLocation {
    /// The URL.
    pub url: String,
    /// Two-letter language code.
    pub language: String,
}

/// RFC 3739 SemanticsInformation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Semantics {
    /// Which pkixQCSyntax version carried it (1 or 2).
    pub syntax_version: u8,
    /// The semantics identifier OID, e.g. `0.4.0.194121.1.1` (natural person).
    pub identifier: Option<String>,
    /// A short English name of a known identifier.
    pub identifier_name: Option<&'static str>,
    /// Name registration authorities (URLs, e-mail addresses or DNS names).
    pub name_registration_authorities: Vec<String>,
}

/// qcStatements bytes that are not valid DER of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QcError {
    /// The data ends inside an element.
    #[error("qcStatements end early")]
    Truncated,
    /// An element has another tag than the syntax requires.
    #[error("qcStatements: expected tag {expected:#04x}, found {found:#04x}")]
    UnexpectedTag {
        /// The tag the syntax requires.
        expected: u8,
        /// The tag found.
        found: u8,
    },
    /// A length or tag form DER does not allow (indefinite, high tag number, oversized).
    #[error("qcStatements: invalid DER encoding")]
    BadEncoding,
    /// Bytes left over after a complete element.
    #[error("qcStatements: trailing data")]
    TrailingData,
    /// A text field that is not valid text.
    #[error("qcStatements: invalid text")]
    BadText,
}

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const IA5_STRING: u8 = 0x16;
const PRINTABLE_STRING: u8 = 0x13;

/// Decodes the value (the OCTET STRING's content) of a qcStatements extension.
pub fn decode(value: &[u8]) -> Result<QcStatements, QcError> {
    let mut outer = Reader::new(value);
    let statements = outer.expect(SEQUENCE)?;
    outer.finish()?;
    let mut out = QcStatements::default();
    let mut list = Reader::new(statements);
    while !list.is_empty() {
        let mut statement = Reader::new(list.expect(SEQUENCE)?);
        let id = oid_to_string(statement.expect(OID)?)?;
        let info = if statement.is_empty() {
            None
        } else {
            Some(statement.any()?)
        };
        statement.finish()?;
        match id.as_str() {
            QC_COMPLIANCE => out.compliance = true,
            QC_SSCD => out.sscd = true,
            QC_TYPE => {
                if let Some((SEQUENCE, body)) = info {
                    let mut r = Reader::new(body);
                    while !r.is_empty() {
                        let t = oid_to_string(r.expect(OID)?)?;
                        out.types.push(qc_type_name(&t));
                    }
                } else {
                    return Err(unexpected(SEQUENCE, info));
                }
            }
            QC_PDS => {
                if let Some((SEQUENCE, body)) = info {
                    let mut r = Reader::new(body);
                    while !r.is_empty() {
                        let mut loc = Reader::new(r.expect(SEQUENCE)?);
                        let url = text(loc.expect(IA5_STRING)?)?;
                        let language = text(loc.expect(PRINTABLE_STRING)?)?;
                        loc.finish()?;
                        out.pds.push(PdsLocation { url, language });
                    }
                } else {
                    return Err(unexpected(SEQUENCE, info));
                }
            }
            PKIX_QC_SYNTAX_V1 | PKIX_QC_SYNTAX_V2 => {
                let version = if id == PKIX_QC_SYNTAX_V1 { 1 } else { 2 };
                let semantics = match info {
                    None => Semantics {
                        syntax_version: version,
                        ..Semantics::default()
                    },
                    Some((SEQUENCE, body)) => semantics(version, body)?,
                    Some(_) => return Err(unexpected(SEQUENCE, info)),
                };
                out.semantics = Some(semantics);
            }
            _ => out.other.push(id),
        }
    }
    Ok(out)
}

/// SemanticsInformation ::= SEQUENCE { semanticsIdentifier OID OPTIONAL,
///   nameRegistrationAuthorities SEQUENCE OF GeneralName OPTIONAL } (at least one present).
fn semantics(version: u8, body: &[u8]) -> Result<Semantics, QcError> {
    let mut r = Reader::new(body);
    let mut s = Semantics {
        syntax_version: version,
        ..Semantics::default()
    };
    if r.peek_tag() == Some(OID) {
        let id = oid_to_string(r.expect(OID)?)?;
        s.identifier_name = semantics_name(&id);
        s.identifier = Some(id);
    }
    if !r.is_empty() {
        let mut names = Reader::new(r.expect(SEQUENCE)?);
        while !names.is_empty() {
            let (tag, value) = names.any()?;
            let name = match tag {
                // [1] rfc822Name, [2] dNSName, [6] uniformResourceIdentifier: IA5String.
                0x81 | 0x82 | 0x86 => text(value)?,
                _ => format!("(navneform {tag:#04x})"),
            };
            s.name_registration_authorities.push(name);
        }
    }
    r.finish()?;
    Ok(s)
}

fn qc_type_name(oid: &str) -> String {
    match oid {
        "0.4.0.1862.1.6.1" => "esign".to_string(),
        "0.4.0.1862.1.6.2" => "eseal".to_string(),
        "0.4.0.1862.1.6.3" => "web".to_string(),
        other => other.to_string(),
    }
}

fn semantics_name(oid: &str) -> Option<&'static str> {
    match oid {
        "0.4.0.194121.1.1" => Some("natural person"),
        "0.4.0.194121.1.2" => Some("legal person"),
        "0.4.0.194121.1.3" => Some("eIDAS natural person"),
        "0.4.0.194121.1.4" => Some("eIDAS legal person"),
        _ => None,
    }
}

fn unexpected(expected: u8, found: Option<(u8, &[u8])>) -> QcError {
    match found {
        Some((found, _)) => QcError::UnexpectedTag { expected, found },
        None => QcError::Truncated,
    }
}

fn text(bytes: &[u8]) -> Result<String, QcError> {
    std::str::from_utf8(bytes)
        .map(str::to_string)
        .map_err(|_| QcError::BadText)
}

/// A strict, bounded DER reader over a byte slice.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.data.first().copied()
    }

    fn finish(&self) -> Result<(), QcError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(QcError::TrailingData)
        }
    }

    /// Reads one element: its tag and its content.
    fn any(&mut self) -> Result<(u8, &'a [u8]), QcError> {
        let (&tag, rest) = self.data.split_first().ok_or(QcError::Truncated)?;
        if tag & 0x1F == 0x1F {
            return Err(QcError::BadEncoding);
        }
        let (&first, mut rest) = rest.split_first().ok_or(QcError::Truncated)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 3 {
                return Err(QcError::BadEncoding);
            }
            if rest.len() < n {
                return Err(QcError::Truncated);
            }
            let (len_bytes, after) = rest.split_at(n);
            rest = after;
            len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        if rest.len() < len {
            return Err(QcError::Truncated);
        }
        let (value, after) = rest.split_at(len);
        self.data = after;
        Ok((tag, value))
    }

    fn expect(&mut self, tag: u8) -> Result<&'a [u8], QcError> {
        let (found, value) = self.any()?;
        if found != tag {
            return Err(QcError::UnexpectedTag {
                expected: tag,
                found,
            });
        }
        Ok(value)
    }
}

/// Dotted form of an OBJECT IDENTIFIER's content bytes.
pub(crate) fn oid_to_string(bytes: &[u8]) -> Result<String, QcError> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    let mut in_arc = false;
    for &b in bytes {
        if !in_arc && b == 0x80 {
            return Err(QcError::BadEncoding); // leading zero septet
        }
        if value > (u64::MAX >> 7) {
            return Err(QcError::BadEncoding);
        }
        value = (value << 7) | u64::from(b & 0x7F);
        in_arc = b & 0x80 != 0;
        if !in_arc {
            arcs.push(value);
            value = 0;
        }
    }
    if in_arc || arcs.is_empty() {
        return Err(QcError::BadEncoding);
    }
    let first = arcs[0];
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut out = format!("{a}.{b}");
    for arc in &arcs[1..] {
        out.push('.');
        out.push_str(&arc.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::testutil::der;

    /// The shape of a real Buypass SEID 2 signing certificate's qcStatements: semantics
    /// (natural person, registration authority URL), QcCompliance, QcSSCD, QcType esign, QcPDS.
    fn signing_like() -> Vec<u8> {
        der::seq(&[
            der::seq(&[
                der::oid(PKIX_QC_SYNTAX_V2),
                der::seq(&[
                    der::oid("0.4.0.194121.1.1"),
                    der::seq(&[der::tlv(0x86, b"https://ra.example.no/seid")]),
                ]),
            ]),
            der::seq(&[der::oid(QC_COMPLIANCE)]),
            der::seq(&[der::oid(QC_SSCD)]),
            der::seq(&[der::oid(QC_TYPE), der::seq(&[der::oid("0.4.0.1862.1.6.1")])]),
            der::seq(&[
                der::oid(QC_PDS),
                der::seq(&[der::seq(&[
                    der::tlv(IA5_STRING, b"https://pds.example.no/en.pdf"),
                    der::tlv(PRINTABLE_STRING, b"en"),
                ])]),
            ]),
            der::seq(&[der::oid("0.4.0.1862.1.3"), der::tlv(0x02, &[15])]),
        ])
    }

    #[test]
    fn decodes_all_known_statements() {
        let qc = decode(&signing_like()).unwrap();
        assert!(qc.compliance);
        assert!(qc.sscd);
        assert_eq!(qc.types, vec!["esign"]);
        assert_eq!(
            qc.pds,
            vec![PdsLocation {
                url: "https://pds.example.no/en.pdf".into(),
                language: "en".into()
            }]
        );
        let s = qc.semantics.unwrap();
        assert_eq!(s.syntax_version, 2);
        assert_eq!(s.identifier.as_deref(), Some("0.4.0.194121.1.1"));
        assert_eq!(s.identifier_name, Some("natural person"));
        assert_eq!(
            s.name_registration_authorities,
            vec!["https://ra.example.no/seid"]
        );
        assert_eq!(qc.other, vec!["0.4.0.1862.1.3"]);
    }

    #[test]
    fn semantics_may_have_only_authorities_or_nothing() {
        let only_names = der::seq(&[der::seq(&[
            der::oid(PKIX_QC_SYNTAX_V2),
            der::seq(&[der::seq(&[der::tlv(0x81, b"ra@example.no")])]),
        ])]);
        let s = decode(&only_names).unwrap().semantics.unwrap();
        assert_eq!(s.identifier, None);
        assert_eq!(s.name_registration_authorities, vec!["ra@example.no"]);

        let bare = der::seq(&[der::seq(&[der::oid(PKIX_QC_SYNTAX_V1)])]);
        let s = decode(&bare).unwrap().semantics.unwrap();
        assert_eq!(s.syntax_version, 1);
        assert_eq!(s.identifier, None);
    }

    #[test]
    fn oid_decoding() {
        assert_eq!(
            oid_to_string(&[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x0B, 0x02]).unwrap(),
            PKIX_QC_SYNTAX_V2
        );
        assert_eq!(
            oid_to_string(&[0x04, 0x00, 0x8B, 0xEC, 0x49, 0x01, 0x01]).unwrap(),
            "0.4.0.194121.1.1"
        );
        assert_eq!(
            oid_to_string(&[0x60, 0x84, 0x42, 0x01, 0x1A, 0x01, 0x03, 0x01]).unwrap(),
            "2.16.578.1.26.1.3.1"
        );
        assert!(oid_to_string(&[]).is_err());
        assert!(oid_to_string(&[0x2B, 0x86]).is_err());
        assert!(oid_to_string(&[0x80, 0x01]).is_err());
        assert!(oid_to_string(&[0xFF; 20]).is_err());
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        let good = signing_like();
        // Every truncation of a valid encoding fails cleanly.
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut {cut}");
        }
        // Every single-byte corruption either decodes or fails; it never panics.
        for i in 0..good.len() {
            for v in [0x00, 0x80, 0xFF, 0x1F, 0x30] {
                let mut bad = good.clone();
                bad[i] = v;
                let _ = decode(&bad);
            }
        }
        for weird in [
            &[][..],
            &[0x30, 0x80, 0x00, 0x00],             // indefinite length
            &[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF], // huge length
            &[0x31, 0x00],                         // SET, not SEQUENCE
            &[0x30, 0x00, 0x00],                   // trailing byte
            &[0x30, 0x02, 0x30, 0x00],             // statement without id
            &[0x30, 0x04, 0x30, 0x02, 0x06, 0x00], // empty OID
            &[0x3F, 0x01, 0x00],                   // high tag number
        ] {
            assert!(decode(weird).is_err(), "{weird:02x?}");
        }
        assert_eq!(decode(&[0x30, 0x00]).unwrap(), QcStatements::default());
    }

    #[test]
    fn wrong_shapes_are_errors() {
        let type_not_seq = der::seq(&[der::seq(&[der::oid(QC_TYPE), der::oid(QC_TYPE)])]);
        assert!(matches!(
            decode(&type_not_seq),
            Err(QcError::UnexpectedTag { .. })
        ));
        let pds_missing = der::seq(&[der::seq(&[der::oid(QC_PDS)])]);
        assert_eq!(decode(&pds_missing), Err(QcError::Truncated));
        let bad_text = der::seq(&[der::seq(&[
            der::oid(QC_PDS),
            der::seq(&[der::seq(&[
                der::tlv(IA5_STRING, &[0xFF, 0xFE]),
                der::tlv(PRINTABLE_STRING, b"en"),
            ])]),
        ])]);
        assert_eq!(decode(&bad_text), Err(QcError::BadText));
    }
}
