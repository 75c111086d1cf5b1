//! The sessions running now, each with the certificate it logged in with, so that a CRL
//! reload can end the sessions of a card that was revoked meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::audit::EndReason;
use super::relay::SessionHandle;

struct Live {
    certificate: Vec<u8>,
    handle: SessionHandle,
}

/// The running sessions. Cheap to share.
#[derive(Clone, Default)]
pub struct LiveSessions {
    sessions: Arc<Mutex<HashMap<String, Live>>>,
}

impl std::fmt::Debug for LiveSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSessions")
            .field("count", &self.count())
            .finish()
    }
}

impl LiveSessions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Live>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sessions running now.
    pub fn count(&self) -> usize {
        self.map().len()
    }

    /// Adds a session; it is removed when the returned guard drops.
    pub fn register(
        &self,
        session_id: &str,
        certificate: &[u8],
        handle: SessionHandle,
    ) -> Registered {
        self.map().insert(
            session_id.to_string(),
            Live {
                certificate: certificate.to_vec(),
                handle,
            },
        );
        Registered {
            live: self.clone(),
            session_id: session_id.to_string(),
        }
    }

    /// Ends, with `reason`, every session whose certificate `condemned` says must go; returns
    /// how many. The sessions record their own end.
    pub fn end_where(&self, reason: EndReason, condemned: impl Fn(&[u8]) -> bool) -> usize {
        self.map()
            .values()
            .filter(|live| condemned(&live.certificate))
            .filter(|live| live.handle.end(reason))
            .count()
    }
}

/// A session's place in [`LiveSessions`], given up on drop.
pub struct Registered {
    live: LiveSessions,
    session_id: String,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.live.map().remove(&self.session_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_condemned_sessions_end_and_leaving_unregisters() {
        let live = LiveSessions::default();
        let (a, b) = (SessionHandle::new(), SessionHandle::new());
        let _ga = live.register("a", b"card-a", a.clone());
        let gb = live.register("b", b"card-b", b.clone());
        assert_eq!(live.count(), 2);
        assert_eq!(live.end_where(EndReason::Revoked, |c| c == b"card-b"), 1);
        assert_eq!(b.reason(), Some(EndReason::Revoked));
        assert_eq!(a.reason(), None);
        drop(gb);
        assert_eq!(live.count(), 1);
        // A session already ending is not counted twice.
        assert_eq!(live.end_where(EndReason::Revoked, |_| true), 1);
        assert_eq!(live.end_where(EndReason::Revoked, |_| true), 0);
    }
}
