//! The TEST PKI, generated once per test binary and written to a temporary directory that
//! lives as long as the binary.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hjemmekontor::vcard::pki::{self, Issued, PkiOptions, TestPki};

struct Written {
    pki: TestPki,
    dir: tempfile::TempDir,
}

fn written() -> &'static Written {
    static PKI: OnceLock<Written> = OnceLock::new();
    PKI.get_or_init(|| {
        let pki = pki::generate(&PkiOptions::new(time::OffsetDateTime::now_utc()))
            .expect("TEST PKI generates");
        let dir = tempfile::tempdir().expect("temp dir");
        pki.write(dir.path()).expect("TEST PKI writes");
        Written { pki, dir }
    })
}

/// The generated TEST PKI.
pub fn test_pki() -> &'static TestPki {
    &written().pki
}

/// One variant (`person-high`, `expired`, …).
pub fn variant(name: &str) -> &'static Issued {
    test_pki()
        .get(name)
        .unwrap_or_else(|| panic!("no TEST PKI variant {name}"))
}

/// The directory the PKI was written to.
pub fn dir() -> &'static Path {
    written().dir.path()
}

/// `(NAME.pem, NAME.key)` paths of a variant.
pub fn files(name: &str) -> (PathBuf, PathBuf) {
    (
        dir().join(format!("{name}.pem")),
        dir().join(format!("{name}.key")),
    )
}
