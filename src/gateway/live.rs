//! The sessions running now, each with the certificate it logged in with, so that a CRL
//! reload can end the sessions of a card that was revoked meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::audit::EndReason;
use super::relay::SessionHandle;

struct Live {
    user: String,
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

    /// Adds a session of `user` unless the user already has `max_per_user` running; it is
    /// removed when the returned guard drops.
    pub fn register(
        &self,
        session_id: &str,
        user: &str,
        certificate: &[u8],
        handle: SessionHandle,
        max_per_user: usize,
    ) -> Option<Registered> {
        let mut map = self.map();
        if map.values().filter(|live| live.user == user).count() >= max_per_user {
            return None;
        }
        map.insert(
            session_id.to_string(),
            Live {
                user: user.to_string(),
                certificate: certificate.to_vec(),
                handle,
            },
        );
        Some(Registered {
            live: self.clone(),
            session_id: session_id.to_string(),
        })
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
        let _ga = live.register("a", "kari", b"card-a", a.clone(), 9).unwrap();
        let gb = live.register("b", "ola", b"card-b", b.clone(), 9).unwrap();
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

    #[test]
    fn a_user_has_at_most_so_many_sessions() {
        let live = LiveSessions::default();
        let one = live.register("1", "kari", b"c", SessionHandle::new(), 2);
        let _two = live
            .register("2", "kari", b"c", SessionHandle::new(), 2)
            .unwrap();
        assert!(live
            .register("3", "kari", b"c", SessionHandle::new(), 2)
            .is_none());
        assert!(live
            .register("4", "ola", b"c", SessionHandle::new(), 2)
            .is_some());
        drop(one);
        assert!(live
            .register("5", "kari", b"c", SessionHandle::new(), 2)
            .is_some());
    }
}
