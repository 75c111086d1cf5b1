//! The gateway's configuration file (`config::parse`: TOML with every check, errors with
//! their lines), as `check-config` and `run` read it, then what `check-config` reports of a
//! sound one (its dangerous options, the certificate policy). A path whose last part has a
//! dot (`crl.pem`, `audit.jsonl`) is a file, any other a directory, so both the checks past
//! the paths and the errors about them are reached.
#![no_main]

use std::path::Path;

use hjemmekontor::gateway::config::{self, dangerous_options, PathKind};
use libfuzzer_sys::fuzz_target;

fn probe(path: &Path) -> PathKind {
    let has_dot = path
        .file_name()
        .is_some_and(|name| name.as_encoded_bytes().contains(&b'.'));
    if has_dot {
        PathKind::File
    } else {
        PathKind::Directory
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config::parse(text, Path::new("/etc/hjemmekontor"), &probe) {
        Ok(config) => {
            let _ = dangerous_options(&config);
            let _ = config.auth_policy();
        }
        Err(errors) => {
            for e in &errors {
                let _ = e.to_string();
            }
        }
    }
});
