//! The card side of vsmartcard's vpcd protocol: how the virtual card sits in a real reader.
//!
//! vpcd (a pcscd reader driver) listens on TCP; the card connects to it. Every message both
//! ways is a 2-byte big-endian length and the bytes. vpcd speaks first: `00` power off,
//! `01` power on, `02` reset (no answer), `04` get ATR (answer: the ATR), and anything of
//! four bytes or more is a command APDU (answer: the response APDU). Closing the socket
//! takes the card out of the reader.
//!
//! The framing and the message meanings are pure ([`FrameReader`], [`Request`],
//! [`answer`]); [`run`] is the thin socket loop around them.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::control::Presence;
use super::piv::describe_command;
use crate::card::apdu::{hex_spaced, StatusWord};
use crate::card::emulated::SimulatedCard;

/// Where vpcd listens for the card of its first reader ("Virtual PCD 00 00").
pub const DEFAULT_ADDR: &str = "127.0.0.1:35963";

/// How often the loop looks at the stop flag and the presence wish while idle.
const POLL: Duration = Duration::from_millis(100);

/// pcscd polls the card's ATR every fraction of a second; this long without a word means
/// vpcd is not talking to us.
const SILENCE_WARNING: Duration = Duration::from_secs(10);

/// A message from vpcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `00`: power off (the card loses its volatile state).
    PowerOff,
    /// `01`: power on.
    PowerOn,
    /// `02`: warm reset.
    Reset,
    /// `04`: send the ATR.
    GetAtr,
    /// Four bytes or more: a command APDU.
    Apdu(Vec<u8>),
    /// Anything else (ignored, unanswered).
    Unknown(Vec<u8>),
}

impl Request {
    /// Reads a message payload.
    pub fn parse(payload: &[u8]) -> Self {
        match payload {
            [0x00] => Request::PowerOff,
            [0x01] => Request::PowerOn,
            [0x02] => Request::Reset,
            [0x04] => Request::GetAtr,
            p if p.len() >= 4 => Request::Apdu(p.to_vec()),
            p => Request::Unknown(p.to_vec()),
        }
    }
}

/// What the card answers to one message, if anything.
pub fn answer(card: &mut dyn SimulatedCard, request: &Request) -> Option<Vec<u8>> {
    match request {
        Request::PowerOff | Request::PowerOn | Request::Reset => {
            card.reset();
            None
        }
        Request::GetAtr => Some(card.atr()),
        Request::Apdu(cmd) => Some(card.process(cmd)),
        Request::Unknown(_) => None,
    }
}

/// Frames a payload; vpcd lengths are 16 bits, so longer payloads are refused.
pub fn encode_frame(payload: &[u8]) -> Result<Vec<u8>, VpcdError> {
    let len = u16::try_from(payload.len()).map_err(|_| VpcdError::TooLong(payload.len()))?;
    let mut out = Vec::with_capacity(payload.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Collects bytes as they arrive and yields whole frames, whatever the read boundaries.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete payload, if one has arrived.
    pub fn next_frame(&mut self) -> Option<Vec<u8>> {
        let header = self.buf.get(..2)?;
        let len = usize::from(u16::from_be_bytes([header[0], header[1]]));
        if self.buf.len() < 2 + len {
            return None;
        }
        let payload = self.buf[2..2 + len].to_vec();
        self.buf.drain(..2 + len);
        Some(payload)
    }
}

/// Why the vpcd loop stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum VpcdError {
    /// Nothing accepted the connection within the time allowed.
    #[error(
        "cannot reach vpcd at {addr} within {waited:.1?} ({source}); is pcscd running with the \
         vsmartcard vpcd reader driver?"
    )]
    Unreachable {
        /// The address tried.
        addr: String,
        /// How long we kept trying.
        waited: Duration,
        /// The last connection error.
        #[source]
        source: std::io::Error,
    },
    /// The address does not resolve.
    #[error("bad vpcd address {0:?}: expected HOST:PORT")]
    BadAddress(String),
    /// An answer does not fit a vpcd frame.
    #[error("an answer of {0} bytes does not fit a vpcd frame")]
    TooLong(usize),
}

/// How the loop connects.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// vpcd's HOST:PORT.
    pub addr: String,
    /// How long to keep trying to reach vpcd (at start, after a removal, after a lost
    /// connection) before giving up with [`VpcdError::Unreachable`].
    pub connect_timeout: Duration,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            addr: DEFAULT_ADDR.into(),
            connect_timeout: Duration::from_secs(30),
        }
    }
}

enum ServeEnd {
    Removed,
    Stopped,
    Lost(String),
}

/// Runs the card in the reader until `stop` is set: connects to vpcd, answers it, and
/// disconnects or reconnects as `presence` asks. Returns an error only when vpcd stays
/// unreachable for longer than the configured timeout.
pub fn run<C: SimulatedCard>(
    config: &RunConfig,
    card: Arc<Mutex<C>>,
    presence: Arc<Presence>,
    stop: Arc<AtomicBool>,
) -> Result<(), VpcdError> {
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        if !presence.wants_inserted() {
            presence.wait_change(POLL);
            continue;
        }
        let Some(stream) = connect(config, &presence, &stop)? else {
            continue;
        };
        tracing::info!("card inserted: connected to vpcd at {}", config.addr);
        presence.set_connected(true);
        let end = serve(&stream, &card, &presence, &stop);
        let _ = stream.shutdown(Shutdown::Both);
        drop(stream);
        // The card left the reader: its volatile state goes with the power.
        lock(&card).reset();
        presence.set_connected(false);
        match end {
            ServeEnd::Removed => tracing::info!("card removed from the reader"),
            ServeEnd::Stopped => {
                tracing::info!("stopping: card removed from the reader");
                return Ok(());
            }
            ServeEnd::Lost(why) => tracing::warn!("vpcd connection lost ({why}); reconnecting"),
        }
    }
}

fn lock<C>(card: &Mutex<C>) -> std::sync::MutexGuard<'_, C> {
    card.lock().unwrap_or_else(|p| p.into_inner())
}

/// Tries to connect until the deadline; `None` when stopped or no longer wanted.
fn connect(
    config: &RunConfig,
    presence: &Presence,
    stop: &AtomicBool,
) -> Result<Option<TcpStream>, VpcdError> {
    let started = Instant::now();
    let mut announced = false;
    loop {
        let addrs: Vec<_> = config
            .addr
            .to_socket_addrs()
            .map_err(|_| VpcdError::BadAddress(config.addr.clone()))?
            .collect();
        let mut last = std::io::Error::new(ErrorKind::NotFound, "no address");
        for a in &addrs {
            match TcpStream::connect_timeout(a, Duration::from_secs(2)) {
                Ok(s) => return Ok(Some(s)),
                Err(e) => last = e,
            }
        }
        let waited = started.elapsed();
        if waited >= config.connect_timeout {
            return Err(VpcdError::Unreachable {
                addr: config.addr.clone(),
                waited,
                source: last,
            });
        }
        if !announced {
            tracing::info!("waiting for vpcd at {} ({last})", config.addr);
            announced = true;
        }
        let pause = Duration::from_millis(250);
        let until = Instant::now() + pause;
        while Instant::now() < until {
            if stop.load(Ordering::SeqCst) || !presence.wants_inserted() {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

fn serve<C: SimulatedCard>(
    stream: &TcpStream,
    card: &Mutex<C>,
    presence: &Presence,
    stop: &AtomicBool,
) -> ServeEnd {
    if let Err(e) = stream
        .set_read_timeout(Some(POLL))
        .and_then(|_| stream.set_write_timeout(Some(Duration::from_secs(5))))
        .and_then(|_| stream.set_nodelay(true))
    {
        return ServeEnd::Lost(e.to_string());
    }
    let mut frames = FrameReader::default();
    let mut buf = [0u8; 4096];
    let connected_at = Instant::now();
    let mut heard = false;
    loop {
        if !heard && connected_at.elapsed() > SILENCE_WARNING {
            // vpcd serves one card per port and leaves a second connection waiting unheard.
            tracing::warn!(
                "vpcd has not spoken for {SILENCE_WARNING:?} since we connected; \
                 is another card already in this reader?"
            );
            heard = true;
        }
        if stop.load(Ordering::SeqCst) {
            return ServeEnd::Stopped;
        }
        if !presence.wants_inserted() {
            return ServeEnd::Removed;
        }
        quick_ack(stream);
        match (&*stream).read(&mut buf) {
            Ok(0) => return ServeEnd::Lost("vpcd closed the connection".into()),
            Ok(n) => {
                heard = true;
                frames.push(&buf[..n]);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return ServeEnd::Lost(e.to_string()),
        }
        while let Some(payload) = frames.next_frame() {
            let request = Request::parse(&payload);
            let reply = {
                let mut card = lock(card);
                answer(&mut *card, &request)
            };
            log_exchange(&request, reply.as_deref());
            if let Some(reply) = reply {
                let sent = encode_frame(&reply)
                    .map_err(|e| e.to_string())
                    .and_then(|f| (&*stream).write_all(&f).map_err(|e| e.to_string()));
                if let Err(e) = sent {
                    return ServeEnd::Lost(e);
                }
            }
        }
    }
}

/// Acknowledges vpcd's segments at once. vpcd sends a frame's length and its bytes in two
/// writes; with Nagle on its side and delayed ACKs on ours, each APDU would wait ~40 ms.
/// The option is not sticky, so it is set before every read.
#[cfg(target_os = "linux")]
fn quick_ack(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
}

#[cfg(not(target_os = "linux"))]
fn quick_ack(_stream: &TcpStream) {}

fn log_exchange(request: &Request, reply: Option<&[u8]>) {
    match request {
        Request::PowerOff => tracing::debug!("vpcd: power off"),
        Request::PowerOn => tracing::debug!("vpcd: power on"),
        Request::Reset => tracing::debug!("vpcd: reset"),
        // pcscd polls the ATR to see whether the card is present: too frequent for info.
        Request::GetAtr => tracing::trace!("vpcd: ATR {}", hex_spaced(reply.unwrap_or(&[]))),
        Request::Unknown(p) => {
            tracing::warn!("vpcd: ignoring unknown message of {} bytes", p.len())
        }
        Request::Apdu(cmd) => {
            let reply = reply.unwrap_or(&[]);
            let (data, sw) = reply.split_at(reply.len().saturating_sub(2));
            let sw = match sw {
                [a, b] => StatusWord::from_bytes(*a, *b).to_string(),
                _ => "????".into(),
            };
            tracing::info!(
                "APDU {} -> {sw} ({} bytes)",
                describe_command(cmd),
                data.len()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_arbitrary_read_boundaries() {
        let mut stream = encode_frame(&[0x04]).unwrap();
        stream.extend(encode_frame(&[0, 0xA4, 4, 0, 0]).unwrap());
        stream.extend(encode_frame(&[]).unwrap());
        let mut r = FrameReader::default();
        let mut got = Vec::new();
        for b in &stream {
            r.push(&[*b]);
            while let Some(f) = r.next_frame() {
                got.push(f);
            }
        }
        assert_eq!(got, vec![vec![0x04], vec![0, 0xA4, 4, 0, 0], vec![]]);
        assert!(encode_frame(&vec![0; 70_000]).is_err());
    }

    #[test]
    fn messages_have_meanings() {
        assert_eq!(Request::parse(&[0]), Request::PowerOff);
        assert_eq!(Request::parse(&[1]), Request::PowerOn);
        assert_eq!(Request::parse(&[2]), Request::Reset);
        assert_eq!(Request::parse(&[4]), Request::GetAtr);
        assert_eq!(
            Request::parse(&[0, 1, 2, 3]),
            Request::Apdu(vec![0, 1, 2, 3])
        );
        assert_eq!(Request::parse(&[3]), Request::Unknown(vec![3]));
        assert_eq!(Request::parse(&[]), Request::Unknown(vec![]));
    }

    /// Echoes commands back with 9000 and counts resets.
    struct Echo {
        resets: usize,
    }

    impl SimulatedCard for Echo {
        fn atr(&self) -> Vec<u8> {
            vec![0x3B, 0x00]
        }
        fn process(&mut self, command: &[u8]) -> Vec<u8> {
            let mut r = command.to_vec();
            r.extend_from_slice(&[0x90, 0x00]);
            r
        }
        fn reset(&mut self) {
            self.resets += 1;
        }
    }

    fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
        let mut len = [0u8; 2];
        s.read_exact(&mut len)?;
        let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut payload)?;
        Ok(payload)
    }

    #[test]
    fn the_loop_answers_vpcd_and_leaves_and_returns_on_request() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let config = RunConfig {
            addr: listener.local_addr().unwrap().to_string(),
            connect_timeout: Duration::from_secs(10),
        };
        let card = Arc::new(Mutex::new(Echo { resets: 0 }));
        let presence = Presence::new(true);
        let stop = Arc::new(AtomicBool::new(false));
        let runner = {
            let (card, presence, stop) = (card.clone(), presence.clone(), stop.clone());
            std::thread::spawn(move || run(&config, card, presence, stop))
        };
        let (mut vpcd, _) = listener.accept().unwrap();
        vpcd.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // Like vpcd: the length and the payload in separate writes.
        vpcd.write_all(&[0, 1]).unwrap();
        vpcd.write_all(&[0x04]).unwrap();
        assert_eq!(read_frame(&mut vpcd).unwrap(), [0x3B, 0x00]);
        vpcd.write_all(&encode_frame(&[0x01]).unwrap()).unwrap();
        vpcd.write_all(&encode_frame(&[0, 0xA4, 4, 0]).unwrap())
            .unwrap();
        assert_eq!(read_frame(&mut vpcd).unwrap(), [0, 0xA4, 4, 0, 0x90, 0]);
        assert!(presence.wait_connected(true, Duration::from_secs(5)));

        presence.request(false);
        let mut rest = Vec::new();
        assert_eq!(
            vpcd.read_to_end(&mut rest).unwrap(),
            0,
            "removal closes the socket"
        );
        assert!(presence.wait_connected(false, Duration::from_secs(5)));

        presence.request(true);
        let (mut again, _) = listener.accept().unwrap();
        again
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        again.write_all(&encode_frame(&[0x04]).unwrap()).unwrap();
        assert_eq!(read_frame(&mut again).unwrap(), [0x3B, 0x00]);

        stop.store(true, Ordering::SeqCst);
        runner.join().unwrap().unwrap();
        // Power on, then the removal's power loss, then the stop's.
        assert_eq!(card.lock().unwrap().resets, 3);
    }

    #[test]
    fn unreachable_vpcd_is_a_clear_error_after_the_timeout() {
        // Bind then drop a listener to get a port where nothing listens.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = RunConfig {
            addr: format!("127.0.0.1:{port}"),
            connect_timeout: Duration::from_millis(300),
        };
        let err = connect(&config, &Presence::new(true), &AtomicBool::new(false)).unwrap_err();
        assert!(err.to_string().contains("is pcscd running"), "{err}");
    }
}
