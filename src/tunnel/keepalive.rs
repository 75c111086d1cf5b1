//! TCP keepalive on the tunnel's connection, at both ends: a peer that vanishes without a
//! FIN or RST (a laptop lid closed, a router gone, a cable pulled) is noticed within
//! [`DEAD_PEER_WITHIN`], and the session ends — the gateway frees its slot, the client
//! reconnects while the card stays in. The multiplexer has no heartbeat of its own.

use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};

/// Quiet time before the first probe.
pub const IDLE: Duration = Duration::from_secs(30);
/// Time between probes.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes before the connection is dropped.
pub const PROBES: u32 = 3;
/// The bound on noticing a dead peer: idle time plus every probe.
pub const DEAD_PEER_WITHIN: Duration =
    Duration::from_secs(IDLE.as_secs() + INTERVAL.as_secs() * PROBES as u64);
/// The probe count a system uses when it does not let us set ours (Windows before 10 1709
/// sends ten).
const SYSTEM_PROBES: u64 = 10;

/// Turns keepalive on for a connected socket (tokio's or the standard library's) and returns
/// the bound in force: [`DEAD_PEER_WITHIN`], or — where the system does not let the probe
/// count be set — the bound with the system's own count.
pub fn enable<'s, S>(socket: &'s S) -> std::io::Result<Duration>
where
    SockRef<'s>: From<&'s S>,
{
    let timing = TcpKeepalive::new().with_time(IDLE).with_interval(INTERVAL);
    let socket = SockRef::from(socket);
    match socket.set_tcp_keepalive(&timing.clone().with_retries(PROBES)) {
        Ok(()) => Ok(DEAD_PEER_WITHIN),
        Err(e) => {
            tracing::debug!("the probe count cannot be set ({e}); the system's count applies");
            socket.set_tcp_keepalive(&timing)?;
            Ok(IDLE + INTERVAL * SYSTEM_PROBES as u32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_ends_of_a_connection_get_the_stated_keepalive() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let client = client.unwrap();
        let (server, _) = accepted.unwrap();
        for socket in [&client, &server] {
            assert!(!SockRef::from(socket).keepalive().unwrap());
            let bound = enable(socket).unwrap();
            let s = SockRef::from(socket);
            assert!(s.keepalive().unwrap());
            // Unix sets and reads back every value; Windows cannot read them back (and wine
            // cannot set the probe count).
            #[cfg(unix)]
            {
                assert_eq!(bound, DEAD_PEER_WITHIN);
                assert_eq!(s.tcp_keepalive_time().unwrap(), IDLE);
                assert_eq!(s.tcp_keepalive_interval().unwrap(), INTERVAL);
                assert_eq!(s.tcp_keepalive_retries().unwrap(), PROBES);
            }
            #[cfg(not(unix))]
            assert!(bound == DEAD_PEER_WITHIN || bound == Duration::from_secs(130));
        }
        assert_eq!(DEAD_PEER_WITHIN, Duration::from_secs(60));
    }
}
