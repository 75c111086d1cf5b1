//! Updates: the distribution's package manager, asked what security updates wait, without
//! refreshing anything or touching the network (apt's simulation, dnf and zypper from their
//! caches). The manager is the one whose database the system has: dpkg's (apt), libzypp's
//! (zypper), dnf's.

mod apt;
mod dnf;
mod zypper;

use crate::posture::probe::Host;
use crate::posture::report::{Fact, Updates};

pub(super) fn probe(host: &dyn Host) -> Fact<Updates> {
    let found = if host.exists("/var/lib/dpkg/status") {
        apt::probe(host)
    } else if host.exists("/etc/zypp") {
        zypper::probe(host)
    } else if host.exists("/etc/dnf") {
        dnf::probe(host)
    } else {
        Err("no package manager known here (apt, dnf, zypper) manages this system".into())
    };
    match found {
        Ok(updates) => Fact::known(updates),
        Err(e) => Fact::unknown(e),
    }
}

/// Whether a file some tool leaves when installed updates wait for a restart exists.
fn flag_exists(host: &dyn Host, paths: &[&str]) -> bool {
    paths.iter().any(|p| host.exists(p))
}
