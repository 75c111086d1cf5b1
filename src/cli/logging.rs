//! Logging setup for the binaries: quiet by default, `-v` for progress detail, `-vv` for
//! APDU traces (VERIFY data is redacted by the APDU types themselves).

use tracing_subscriber::EnvFilter;

/// Installs a stderr logger. `RUST_LOG` overrides the verbosity flag when set.
pub fn init(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,hjemmekontor=debug",
        _ => "debug,hjemmekontor=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose > 1)
        .try_init();
}
