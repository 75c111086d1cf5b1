//! Host posture: what the home computer says about itself (firewall, antivirus, updates, disk
//! encryption, screen lock, operating system), and the gateway's policy that judges it.
//!
//! - [`report`]: the versioned report; every fact is known or unknown with a reason;
//! - [`policy`]: rules with `deny` or `warn`, evaluated purely, each failure named with what it
//!   saw and what to do, in Norwegian and English.

pub mod policy;
pub mod probe;
pub mod report;
