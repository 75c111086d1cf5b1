//! BER-TLV as cards write it, and the PIV certificate object (`70` certificate, `71`
//! CertInfo, gzip when compressed) inside the `53` data object.
#![no_main]

use hjemmekontor::card::piv::decode_certificate_object;
use hjemmekontor::card::tlv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = tlv::parse_all(data) {
        let encoded: Vec<u8> = items
            .iter()
            .flat_map(|t| tlv::encode(t.tag, t.value))
            .collect();
        assert_eq!(tlv::parse_all(&encoded).map(|v| v.len()), Ok(items.len()));
    }
    let _ = tlv::find(data, 0x53);
    let _ = decode_certificate_object(data);
});
