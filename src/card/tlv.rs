//! Minimal BER-TLV (ISO 7816-4 / SP 800-73-4) reading and writing, bounds-checked.

/// A TLV that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    /// The bytes end inside a tag, length or value.
    #[error("TLV data ends early")]
    Truncated,
    /// A length form we do not accept (indefinite, or more than 3 length bytes).
    #[error("unsupported TLV length encoding")]
    BadLength,
}

/// One tag-length-value element borrowed from a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag bytes as a number (multi-byte tags big-endian, e.g. `0x5FC105`).
    pub tag: u32,
    /// The value.
    pub value: &'a [u8],
}

/// Reads a sequence of TLVs that fills `data` exactly.
pub fn parse_all(mut data: &[u8]) -> Result<Vec<Tlv<'_>>, TlvError> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (tlv, rest) = parse_one(data)?;
        out.push(tlv);
        data = rest;
    }
    Ok(out)
}

/// Reads one TLV and returns it with what follows.
pub fn parse_one(data: &[u8]) -> Result<(Tlv<'_>, &[u8]), TlvError> {
    let first = *data.first().ok_or(TlvError::Truncated)?;
    let mut i = 1;
    let mut tag = first as u32;
    if first & 0x1F == 0x1F {
        loop {
            let b = *data.get(i).ok_or(TlvError::Truncated)?;
            i += 1;
            tag = (tag << 8) | b as u32;
            if b & 0x80 == 0 {
                break;
            }
            if i > 3 {
                return Err(TlvError::BadLength);
            }
        }
    }
    let l0 = *data.get(i).ok_or(TlvError::Truncated)?;
    i += 1;
    let len = match l0 {
        0..=0x7F => l0 as usize,
        0x81 => {
            let b = *data.get(i).ok_or(TlvError::Truncated)?;
            i += 1;
            b as usize
        }
        0x82 => {
            let b = data.get(i..i + 2).ok_or(TlvError::Truncated)?;
            i += 2;
            u16::from_be_bytes([b[0], b[1]]) as usize
        }
        0x83 => {
            let b = data.get(i..i + 3).ok_or(TlvError::Truncated)?;
            i += 3;
            ((b[0] as usize) << 16) | ((b[1] as usize) << 8) | b[2] as usize
        }
        _ => return Err(TlvError::BadLength),
    };
    let value = data.get(i..i + len).ok_or(TlvError::Truncated)?;
    Ok((Tlv { tag, value }, &data[i + len..]))
}

/// Finds the first TLV with `tag` at the top level of `data`.
pub fn find(data: &[u8], tag: u32) -> Result<Option<&[u8]>, TlvError> {
    Ok(parse_all(data)?
        .into_iter()
        .find(|t| t.tag == tag)
        .map(|t| t.value))
}

/// Encodes a BER length.
pub fn encode_length(len: usize, out: &mut Vec<u8>) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => {
            out.push(0x82);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x83);
            out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
        }
    }
}

/// Encodes one TLV. Tags are written in as many bytes as they need.
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    let tag_bytes = tag.to_be_bytes();
    let skip = tag_bytes.iter().take_while(|b| **b == 0).count().min(3);
    out.extend_from_slice(&tag_bytes[skip..]);
    encode_length(value.len(), &mut out);
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_tags_and_lengths() {
        for (tag, len) in [(0x53, 0), (0x70, 200), (0x5FC105, 1500), (0x7C, 70_000)] {
            let value = vec![0xAB; len];
            let enc = encode(tag, &value);
            let (tlv, rest) = parse_one(&enc).unwrap();
            assert_eq!(tlv.tag, tag);
            assert_eq!(tlv.value.len(), len);
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn truncated_input_is_an_error() {
        assert_eq!(parse_one(&[0x53, 0x82, 0x01]), Err(TlvError::Truncated));
        assert_eq!(parse_one(&[0x53, 0x05, 1, 2]), Err(TlvError::Truncated));
        assert_eq!(parse_one(&[0x5F]), Err(TlvError::Truncated));
        assert_eq!(parse_one(&[0x53, 0x80]), Err(TlvError::BadLength));
        assert_eq!(parse_one(&[]), Err(TlvError::Truncated));
    }
}
