//! "Send til IT": the support bundle of `doctor --report`, written to a file the person can
//! attach to an e-mail, named by the time it was made.

use std::path::PathBuf;

use time::macros::format_description;
use time::OffsetDateTime;

use crate::cli::card_open::CardOptions;
use crate::cli::failure::Failure;

/// Runs the doctor's checks and writes the bundle into `dir` (else the temp dir); returns
/// the file's path.
pub fn write(
    dir: Option<PathBuf>,
    card: CardOptions,
    test_environment: bool,
) -> Result<PathBuf, Failure> {
    let dir = dir.unwrap_or_else(std::env::temp_dir);
    let stamp = OffsetDateTime::now_utc()
        .format(format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .unwrap_or_default();
    let path = dir.join(format!("hjemmekontor-rapport-{stamp}.json"));
    crate::cli::doctor::write_report(card, test_environment, &path)?;
    Ok(path)
}
