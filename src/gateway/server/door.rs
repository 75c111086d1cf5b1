//! The door: a place among the connections waiting to log in, or the one-line busy answer.

use super::*;

/// What a connection has sent when it is let in: nothing read yet, or its ClientHello (read
/// while it waited at a full door).
pub(super) enum FirstFlight {
    Tcp(TcpStream),
    Hello(Box<StartHandshake<Wire>>),
}

impl Gateway {
    /// Where a connection really comes from: from a configured load balancer, the address its
    /// PROXY protocol v2 header gives (read within [`PROXY_HEADER_WAIT`]); from anyone else,
    /// the connection's own. A balancer's connection without a sound header is closed, and
    /// said so, since a balancer set up without `send-proxy-v2` would lock out everyone at
    /// once as one address.
    pub(super) async fn client_of(
        &self,
        mut tcp: TcpStream,
        peer: SocketAddr,
    ) -> Option<(TcpStream, SocketAddr)> {
        if !self.config.load_balancer.sends_proxy_header(peer.ip()) {
            return Some((tcp, peer));
        }
        match tokio::time::timeout(PROXY_HEADER_WAIT, proxy_header::read(&mut tcp)).await {
            Ok(Ok(origin)) => {
                let client = proxy_header::client_address(peer, Some(origin));
                tracing::debug!(balancer = %peer, %client, "relayed by the load balancer");
                Some((tcp, client))
            }
            Ok(Err(e)) => {
                tracing::warn!(balancer = %peer, "connection from a load balancer closed: {e}");
                None
            }
            Err(_) => {
                tracing::warn!(
                    balancer = %peer,
                    "connection from a load balancer closed: no PROXY header within {} s",
                    PROXY_HEADER_WAIT.as_secs()
                );
                None
            }
        }
    }

    /// The door: a place among the connections waiting to log in. When there is none, the
    /// newcomer gets [`HELLO_WAIT`] to show its ClientHello, and with one may take the place
    /// of a silent or stalled connection (`admission`); else it is answered "busy".
    pub(super) async fn enter(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
    ) -> Option<(Pending, FirstFlight)> {
        if let Ok(pending) = self.admission.admit(peer.ip(), self.clock.instant()) {
            return Some((pending, FirstFlight::Tcp(tcp)));
        }
        // Waiting for a ClientHello holds a task and a socket, so it is bounded like the busy
        // answers; beyond the bound, only a ClientHello already received counts.
        let permit = Arc::clone(&self.turning_away).try_acquire_owned().ok();
        let wait = if permit.is_some() {
            HELLO_WAIT
        } else {
            Duration::ZERO
        };
        let mut acceptor = LazyConfigAcceptor::new(Acceptor::default(), ReadAhead::new(tcp));
        let hello = match tokio::time::timeout(wait, &mut acceptor).await {
            Ok(Ok(hello)) => hello,
            Ok(Err(e)) => {
                tracing::debug!(%peer, "no TLS ClientHello: {e}");
                return None;
            }
            Err(_) => {
                drop(permit);
                if let Some(tcp) = acceptor.take_io() {
                    tracing::info!(%peer, "waiting connections at their bound; answered busy");
                    self.turn_away(tcp.into_inner(), peer);
                }
                return None;
            }
        };
        drop(permit);
        match self
            .admission
            .admit_with_hello(peer.ip(), self.clock.instant())
        {
            Ok(pending) => Some((pending, FirstFlight::Hello(Box::new(hello)))),
            Err(busy) => {
                tracing::info!(%peer, ?busy, "waiting connections at their bound; answered busy");
                self.turn_away(hello.io.into_inner(), peer);
                None
            }
        }
    }
}

impl Gateway {
    /// Answers a connection the door cannot take: the one-line busy answer, then close. The
    /// client's bytes are read and dropped for a moment, so the close does not become a reset
    /// that swallows the answer; at most [`MAX_TURNING_AWAY`] at once, the rest just closed.
    pub(super) fn turn_away(&self, tcp: TcpStream, peer: SocketAddr) {
        let record = AuditEvent::LoginRefused {
            reason: RefusalReason::ServerBusy,
            user: None,
            personal_id: None,
            source: peer,
            detail: Some("waiting connections at their bound".into()),
        };
        let refusals = Arc::clone(&self.refusals);
        let Ok(permit) = Arc::clone(&self.turning_away).try_acquire_owned() else {
            // Too many being answered already: the line is sent if the socket takes it at
            // once, and the refusal is counted with the others from this address.
            let _ = tcp.try_write(&busy::greeting(BUSY_RETRY_SECS));
            drop(tcp);
            tokio::spawn(async move {
                let _ = refusals
                    .record(peer, RefusalReason::ServerBusy, record)
                    .await;
            });
            return;
        };
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut tcp = tcp;
            if refusals
                .record(peer, RefusalReason::ServerBusy, record)
                .await
                .is_err()
            {
                return;
            }
            let _ = tcp.write_all(&busy::greeting(BUSY_RETRY_SECS)).await;
            let _ = tcp.shutdown().await;
            // What the client sent (its ClientHello) is read, so that the close is a FIN and
            // not a reset that could swallow the answer; a silent client is given half a
            // second.
            let mut sink = [0u8; 1024];
            let _ = tokio::time::timeout(Duration::from_millis(500), async {
                let mut left = 16 * 1024usize;
                while left > 0 {
                    match tcp.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => left = left.saturating_sub(n),
                    }
                }
            })
            .await;
            drop(permit);
        });
    }
}

/// How long a load balancer's connection may take to send its PROXY header; HAProxy sends it
/// with the connection.
pub(super) const PROXY_HEADER_WAIT: Duration = Duration::from_secs(5);

/// Connections being answered "busy" at once; beyond it the answer is best effort.
pub(super) const MAX_TURNING_AWAY: usize = 1024;
/// The wait a busy answer suggests.
pub(super) const BUSY_RETRY_SECS: u32 = 5;
