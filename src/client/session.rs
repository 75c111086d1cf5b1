//! One tunnel session, from TCP connect to a running stream multiplexer: TLS with the card's
//! key, the login exchange, and the mux. The card is already verified and sits on its
//! signing thread ([`CardSigner`]); each call here costs exactly one card signature.
//!
//! No prompts and no printing here: the command shell (`cli::connect`) does the talking.

use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

use crate::i18n::catalogue as m;
use crate::posture::report::Report;
use crate::secret::Password;
use crate::tunnel::busy::{self, FirstBytes};
use crate::tunnel::mux::{Inbound, MuxClient, MuxConfig, MuxEnd, MuxError};
use crate::tunnel::protocol::{
    self, client_login, Accepted, Ending, FrameError, GatewayMessage, Login, LoginAnswer, Rejected,
    DEFAULT_MAX_FRAME_LEN, PROTOCOL_VERSION,
};
use crate::tunnel::read_ahead::ReadAhead;
use crate::tunnel::tls::{
    card_error_of, check_alpn, client_config, CardSigner, CardSigningKey, SignerError,
};

/// Where and how to reach the gateway.
#[derive(Debug, Clone)]
pub struct GatewayTarget {
    /// `host:port` to connect to.
    pub address: String,
    /// The name the gateway's certificate must carry (the host part of `address`).
    pub server_name: String,
    /// Trust anchors for the gateway's certificate.
    pub roots: Vec<CertificateDer<'static>>,
    /// Use TLS 1.2 with PKCS#1 v1.5 (only for cards that can do nothing else).
    pub pkcs1_only: bool,
    /// Bound on TCP connect, TLS handshake and login, each.
    pub step_timeout: Duration,
}

impl GatewayTarget {
    /// Splits `host:port` and takes the host as the certificate name.
    pub fn new(address: &str, roots: Vec<CertificateDer<'static>>) -> Result<Self, SessionError> {
        let host = match address.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            _ => return Err(SessionError::BadAddress(address.to_string())),
        };
        Ok(GatewayTarget {
            address: address.to_string(),
            server_name: host,
            roots,
            pkcs1_only: false,
            step_timeout: Duration::from_secs(20),
        })
    }
}

/// What the person types besides the PIN.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Username.
    pub username: String,
    /// Password (zeroized, never printed).
    pub password: Password,
}

/// Why a session could not be opened. Each variant is something the person can act on.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The gateway address is not `host:port`.
    #[error("not a gateway address (host:port): {0}")]
    BadAddress(String),
    /// The gateway did not answer (DNS, refused, unreachable, timeout).
    #[error("cannot reach the gateway at {address}: {detail}")]
    Unreachable {
        /// Where we tried.
        address: String,
        /// What the system said.
        detail: String,
    },
    /// The card could not sign the handshake (pulled, reset, stuck).
    #[error("the card could not sign: {0}")]
    Card(SignerError),
    /// The gateway refused our certificate or we refused its certificate.
    #[error("the TLS handshake failed: {0}")]
    Tls(String),
    /// The gateway closed the connection without a word (a TLS alert would be a refusal):
    /// it is restarting or overloaded, not refusing the card.
    #[error("the gateway closed the connection during {step}")]
    Dropped {
        /// Which step, in the run's language (a person reads it).
        step: &'static str,
    },
    /// The gateway cannot take the connection now (too many at once); try again after the
    /// suggested wait.
    #[error("the gateway is busy; try again in {retry_after_secs} s")]
    Busy {
        /// The gateway's suggested wait.
        retry_after_secs: u32,
    },
    /// The gateway cannot take logins now (it cannot record them); nothing was judged.
    #[error("the gateway cannot take logins now")]
    Unavailable,
    /// The gateway turned the login down.
    #[error("the gateway refused the login: {}", .0.message)]
    Rejected(Rejected),
    /// The gateway said something we do not understand, or nothing in time.
    #[error("the login exchange failed: {0}")]
    Protocol(String),
    /// A step took longer than its bound.
    #[error("{step} took longer than {} seconds", waited.as_secs())]
    Timeout {
        /// Which step, in the run's language (a person reads it).
        step: &'static str,
        /// The bound.
        waited: Duration,
    },
}

/// A logged-in tunnel: the streams multiplexer, what the gateway granted, and the task that
/// drives the connection (it finishes when the connection ends).
pub struct Tunnel {
    /// Opens streams to granted targets.
    pub mux: MuxClient,
    /// The gateway's `accepted` answer: session id, display name, targets.
    pub accepted: Accepted,
    /// TLS version and suite agreed, for the log and the progress line.
    pub tls: String,
    /// Finishes when the connection ends, and says how.
    pub driver: JoinHandle<Result<MuxEnd, MuxError>>,
    /// Finishes when the connection ends, with the gateway's `ending` notice if it sent one
    /// (read it with [`ending`]).
    pub ending: JoinHandle<Option<Ending>>,
}

/// The runtime a client's session runs on: one worker thread. A client carries one session
/// with a few streams; on one thread the multiplexer's driver and the streams' copies hand
/// work to each other without waking the other core, where most of the cost per byte was
/// (`docs/performance.md`). The card's signer and blocking probes have threads of their own,
/// and a task that must block (a card renewal) hands the worker on (`block_in_place`).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
}

/// Connects, does the TLS handshake with the card's key (one signature), logs in, and starts
/// the multiplexer.
pub async fn open(
    gateway: &GatewayTarget,
    signer: &CardSigner,
    credentials: &Credentials,
    posture: &Report,
) -> Result<Tunnel, SessionError> {
    let bound = gateway.step_timeout;
    let timed = |step: &'static str| SessionError::Timeout {
        step,
        waited: bound,
    };
    let tcp = tokio::time::timeout(bound, TcpStream::connect(&gateway.address))
        .await
        .map_err(|_| timed(m::STEP_CONNECTING.as_str()))?
        .map_err(|e| SessionError::Unreachable {
            address: gateway.address.clone(),
            detail: e.to_string(),
        })?;
    let _ = tcp.set_nodelay(true);
    if let Err(e) = crate::tunnel::keepalive::enable(&tcp) {
        tracing::warn!("TCP keepalive could not be set: {e}");
    }

    let key = CardSigningKey::new(signer.clone());
    let config = client_config(key, gateway.roots.clone(), gateway.pkcs1_only)
        .map_err(|e| SessionError::Tls(e.to_string()))?;
    let name = ServerName::try_from(gateway.server_name.clone())
        .map_err(|_| SessionError::BadAddress(gateway.address.clone()))?;
    let handshake = TlsConnector::from(config)
        .connect(name, FirstBytes::new(ReadAhead::new(tcp)))
        .into_fallible();
    let mut tls = tokio::time::timeout(bound, handshake)
        .await
        .map_err(|_| timed(m::STEP_TLS.as_str()))?
        .map_err(|(e, io)| {
            if let Some(retry_after_secs) = busy::parse(io.seen()) {
                return SessionError::Busy { retry_after_secs };
            }
            match card_error_of(&e) {
                Some(card) => SessionError::Card(card),
                None if gateway_cannot_record(&e) => SessionError::Unavailable,
                None if dropped(&e) => SessionError::Dropped {
                    step: m::STEP_TLS.as_str(),
                },
                None => SessionError::Tls(e.to_string()),
            }
        })?;
    let (_, conn) = tls.get_ref();
    check_alpn(conn).map_err(|e| SessionError::Tls(e.to_string()))?;
    let described = match (conn.protocol_version(), conn.negotiated_cipher_suite()) {
        (Some(version), Some(suite)) => format!("{version:?}, {:?}", suite.suite()),
        _ => "TLS".to_string(),
    };

    let login = Login {
        version: PROTOCOL_VERSION,
        client_version: env!("CARGO_PKG_VERSION").to_string(),
        username: credentials.username.clone(),
        password: credentials.password.clone(),
    };
    let login = client_login(&mut tls, posture, &login, DEFAULT_MAX_FRAME_LEN);
    let answer = tokio::time::timeout(bound, login)
        .await
        .map_err(|_| timed(m::STEP_LOGIN.as_str()))?
        .map_err(|e| login_failure(&e))?;
    let accepted = match answer {
        LoginAnswer::Accepted(a) => a,
        LoginAnswer::Rejected(r) => return Err(SessionError::Rejected(r)),
    };
    let (mux, driver) = MuxClient::new(tls, MuxConfig::default());
    let ending = tokio::spawn(read_ending(mux.take_inbound()));
    let driver = tokio::spawn(driver);
    Ok(Tunnel {
        mux,
        accepted,
        tls: described,
        driver,
        ending,
    })
}

/// Bound on each step of closing on purpose (the `end` frame, then the close itself).
const CLOSE_STEP_TIMEOUT: Duration = Duration::from_millis(500);

/// Bound on reading the gateway's `ending` notice. Once the connection is gone the notice is
/// already here or will not come, so this only covers a busy machine.
const NOTICE_TIMEOUT: Duration = Duration::from_secs(2);

/// Reads the `ending` notice from the streams the gateway opens; `None` if the connection
/// ends without one.
async fn read_ending(inbound: Option<Inbound>) -> Option<Ending> {
    let mut inbound = inbound?;
    while let Some(mut stream) = inbound.next_stream().await {
        let read = protocol::read_gateway_message(&mut stream, DEFAULT_MAX_FRAME_LEN);
        if let Ok(Ok(GatewayMessage::Ending(ending))) =
            tokio::time::timeout(NOTICE_TIMEOUT, read).await
        {
            return Some(ending);
        }
    }
    None
}

/// Why the gateway ended the session, once the connection has ended (`tunnel.driver` has
/// finished): its `ending` notice, or `None` when it sent none (the network went, or an older
/// gateway).
pub async fn ending(tunnel: &mut Tunnel) -> Option<Ending> {
    tokio::time::timeout(NOTICE_TIMEOUT, &mut tunnel.ending)
        .await
        .ok()?
        .ok()?
}

/// Whether an I/O error is the peer going away rather than saying something.
fn dropped(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe
    ) && e
        .get_ref()
        .is_none_or(|inner| inner.downcast_ref::<rustls::Error>().is_none())
}

/// Whether the gateway ended the handshake with an `access_denied` alert: what it sends when
/// it cannot record a refusal (its audit log is stopped); its real refusals use other alerts.
fn gateway_cannot_record(e: &std::io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|tls| {
            matches!(
                tls,
                rustls::Error::AlertReceived(rustls::AlertDescription::AccessDenied)
            )
        })
}

/// A login exchange that broke. A TLS alert here usually means the gateway refused our
/// certificate (TLS 1.3 reports that on the first read, after the handshake).
fn login_failure(e: &FrameError) -> SessionError {
    if let FrameError::Io(io) = e {
        if let Some(card) = card_error_of(io) {
            return SessionError::Card(card);
        }
        if gateway_cannot_record(io) {
            return SessionError::Unavailable;
        }
        if io.get_ref().is_some() || io.kind() == std::io::ErrorKind::InvalidData {
            return SessionError::Tls(io.to_string());
        }
    }
    SessionError::Protocol(e.to_string())
}

/// Ends a session on purpose: tells the gateway why (bounded), then closes the connection.
pub async fn close(tunnel: &Tunnel, reason: protocol::ClientEndReason) {
    end_session(&tunnel.mux, reason).await;
}

/// Tells the gateway why the session ends, closes the connection, and waits until it is
/// closed: the `end` frame and the GoAway must leave before the program exits, or the gateway
/// sees only the connection drop and records a lost network. At most about a second (two
/// bounds of half a second), so a pulled card still closes the tunnel within a second.
pub async fn end_session(mux: &MuxClient, reason: protocol::ClientEndReason) {
    let _ = tokio::time::timeout(CLOSE_STEP_TIMEOUT, protocol::send_end(mux, reason)).await;
    let closer = mux.closer();
    closer.close();
    let _ = tokio::time::timeout(CLOSE_STEP_TIMEOUT, closer.closed()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_need_a_host_and_a_port() {
        let t = GatewayTarget::new("gw.example.no:443", vec![]).unwrap();
        assert_eq!(t.server_name, "gw.example.no");
        assert_eq!(
            GatewayTarget::new("[::1]:8443", vec![])
                .unwrap()
                .server_name,
            "::1"
        );
        assert!(GatewayTarget::new("gw.example.no", vec![]).is_err());
        assert!(GatewayTarget::new(":443", vec![]).is_err());
        assert!(GatewayTarget::new("gw:99999", vec![]).is_err());
    }
}
