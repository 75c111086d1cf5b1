//! Logging setup for the binaries: quiet by default, `-v` for progress detail, `-vv` for
//! APDU traces (VERIFY data is redacted by the APDU types themselves).

use tracing_subscriber::EnvFilter;

/// Installs a stderr logger. `RUST_LOG` overrides the verbosity flag when set.
pub fn init(verbose: u8) {
    // cryptoki logs every mechanism it has no Rust name for as an error; those are not
    // errors to a user, so its log is heard only from -vv on. `--trace` records the calls.
    let default = match verbose {
        0 => "warn,cryptoki=off",
        1 => "info,hjemmekontor=debug,cryptoki=off",
        _ => "debug,hjemmekontor=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a journal or a file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(verbose > 1)
        .try_init();
}
