//! The tunnel end to end without TLS or a card: login frames, then yamux over an in-memory
//! pipe, the gateway's relay, and real TCP targets on 127.0.0.1.

use hjemmekontor::client::session::end_session;
use hjemmekontor::gateway::audit::EndReason;
use hjemmekontor::gateway::relay::{
    serve_session, Authorizer, BoxFuture, RelayLimits, SessionHandle, SessionStats, StreamRefusal,
};
use hjemmekontor::secret::Password;
use hjemmekontor::tunnel::forward::{forward_listener, ForwardEvent, ForwardOptions};
use hjemmekontor::tunnel::mux::{MuxClient, MuxConfig, MuxEnd, MuxError, MuxServer, Stream};
use hjemmekontor::tunnel::protocol::{
    self, client_login, read_login, write_message, Accepted, ClientEndReason, ClientMessage,
    Ending, FrameError, GatewayEndReason, GatewayMessage, Login, LoginAnswer, Open, RefuseCode,
    Refused, RejectCode, Rejected, TargetInfo, DEFAULT_MAX_FRAME_LEN, PROTOCOL_VERSION,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// Generous bound on any test: a hang fails instead of blocking the suite.
const GUARD: Duration = Duration::from_secs(120);
const MAX: usize = DEFAULT_MAX_FRAME_LEN;

async fn guarded<F: std::future::Future>(f: F) -> F::Output {
    timeout(GUARD, f).await.expect("test took too long")
}

// ---------------------------------------------------------------------------------------
// Targets on 127.0.0.1

/// Echoes every connection until end of input, then half-closes.
async fn echo_target() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = tcp.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    addr
}

/// Reads everything until end of input, then answers with the byte count and closes:
/// proves the client's half-close arrived and the other direction still works.
async fn counting_target() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let n = tcp.read_to_end(&mut sink).await.unwrap_or(0);
                let _ = tcp.write_all(format!("got {n}").as_bytes()).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    addr
}

/// Accepts connections and never reads from them (an office PC that hangs).
async fn stuck_target() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    addr
}

/// An address on 127.0.0.1 where nothing listens.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

// ---------------------------------------------------------------------------------------
// A client and a gateway session over an in-memory pipe

struct Table(HashMap<String, SocketAddr>);

/// Re-checks pass: these tests are about streams.
impl hjemmekontor::gateway::recheck::PostureJudge for Table {}

impl Authorizer for Table {
    fn authorize<'a>(
        &'a self,
        target: &'a str,
    ) -> BoxFuture<'a, Result<SocketAddr, StreamRefusal>> {
        let found = self
            .0
            .get(target)
            .copied()
            .ok_or_else(StreamRefusal::not_granted);
        Box::pin(std::future::ready(found))
    }
}

struct Session {
    client: MuxClient,
    client_driver: JoinHandle<Result<MuxEnd, MuxError>>,
    gateway: JoinHandle<SessionStats>,
    /// Ends the gateway's session from outside.
    handle: SessionHandle,
}

impl Session {
    async fn start(targets: &[(&str, SocketAddr)], limits: RelayLimits) -> Session {
        let (c, s) = tokio::io::duplex(256 * 1024);
        Self::start_over(c, s, targets, limits)
    }

    /// A session over a real TCP connection on 127.0.0.1, where a side that goes away does
    /// so the way a process does.
    async fn start_tcp(targets: &[(&str, SocketAddr)], limits: RelayLimits) -> Session {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (c, s) = tokio::join!(TcpStream::connect(addr), listener.accept());
        Self::start_over(c.unwrap(), s.unwrap().0, targets, limits)
    }

    fn start_over<C, S>(c: C, s: S, targets: &[(&str, SocketAddr)], limits: RelayLimits) -> Self
    where
        C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let table = Table(
            targets
                .iter()
                .map(|(id, addr)| (id.to_string(), *addr))
                .collect(),
        );
        let (client, cdrv) = MuxClient::new(c, MuxConfig::default());
        let (server, sdrv) = MuxServer::new(s, limits.mux_config());
        let client_driver = tokio::spawn(cdrv);
        tokio::spawn(sdrv);
        let handle = SessionHandle::new();
        let gateway = tokio::spawn(serve_session(
            server,
            Arc::new(table),
            limits,
            handle.clone(),
        ));
        Session {
            client,
            client_driver,
            gateway,
            handle,
        }
    }

    /// Opens a stream to `target` and returns it once `opened`, or the refusal.
    async fn open(&self, target: &str) -> Result<Stream, Refused> {
        let mut stream = self.client.open_stream().await.unwrap();
        let open = ClientMessage::Open(Open {
            target: target.into(),
        });
        write_message(&mut stream, &open, MAX).await.unwrap();
        match protocol::read_gateway_message(&mut stream, MAX)
            .await
            .unwrap()
        {
            GatewayMessage::Opened(o) => {
                assert_eq!(o.target, target);
                Ok(stream)
            }
            GatewayMessage::Refused(r) => Err(r),
            other => panic!("unexpected answer {other:?}"),
        }
    }

    /// Closes the connection from the client and returns the gateway's totals.
    async fn finish(self) -> SessionStats {
        self.client.closer().close();
        self.gateway.await.unwrap()
    }

    /// Waits for the gateway to end the session by itself; returns its totals and the
    /// `ending` notice the client got, if any.
    async fn ended_by_gateway(self) -> (SessionStats, Option<Ending>) {
        let mut inbound = self.client.take_inbound().unwrap();
        let stats = self.gateway.await.unwrap();
        let mut notice = None;
        while let Some(mut stream) = inbound.next_stream().await {
            if let Ok(GatewayMessage::Ending(e)) =
                protocol::read_gateway_message(&mut stream, MAX).await
            {
                notice = Some(e);
            }
        }
        // The gateway closed the connection: the client's driver has ended too.
        assert!(self.client_driver.await.unwrap().is_ok());
        (stats, notice)
    }
}

fn pattern(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed * 7) % 251) as u8)
        .collect()
}

/// Sends `data` and reads the echo concurrently; returns what came back.
async fn echo_round(stream: Stream, data: Vec<u8>) -> Vec<u8> {
    let (mut r, mut w) = tokio::io::split(stream);
    let send = async move {
        w.write_all(&data).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let receive = async move {
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.unwrap();
        back
    };
    tokio::join!(send, receive).1
}

// ---------------------------------------------------------------------------------------
// Login phase

fn report() -> hjemmekontor::posture::report::Report {
    hjemmekontor::posture::report::Report::unknown(1_800_000_000, "not probed")
}

fn login() -> Login {
    Login {
        version: PROTOCOL_VERSION,
        client_version: env!("CARGO_PKG_VERSION").into(),
        username: "kari.nordmann".into(),
        password: Password::from_input("korrekt hest batteri stift".into()),
    }
}

#[tokio::test]
async fn login_then_streams_on_the_same_byte_stream() {
    guarded(async {
        let echo = echo_target().await;
        let (mut c, mut s) = tokio::io::duplex(64 * 1024);

        let gateway = tokio::spawn(async move {
            let (report, got) = read_login(&mut s, MAX).await.unwrap();
            assert_eq!(got.username, "kari.nordmann");
            assert_eq!(got.password.expose(), "korrekt hest batteri stift");
            assert_eq!(report.unwrap().taken_at, 1_800_000_000);
            let accepted = GatewayMessage::Accepted(Accepted {
                session_id: "s-1".into(),
                display_name: "Kari Nordmann".into(),
                targets: vec![TargetInfo {
                    id: "pc".into(),
                    name: "Kontor-PC".into(),
                    redirect: Default::default(),
                }],
                idle_timeout_secs: 1800,
                posture_warnings: vec![],
                posture_recheck_secs: 0,
            });
            write_message(&mut s, &accepted, MAX).await.unwrap();
            s
        });

        let answer = client_login(&mut c, &report(), &login(), MAX)
            .await
            .unwrap();
        let LoginAnswer::Accepted(accepted) = answer else {
            panic!("expected accepted, got {answer:?}")
        };
        assert_eq!(accepted.targets[0].id, "pc");
        let s = gateway.await.unwrap();

        // The mux starts on the very same byte streams, right after the login frames.
        let session = Session::start_over(c, s, &[("pc", echo)], RelayLimits::default());
        let stream = session.open("pc").await.unwrap();
        let data = pattern(1, 100_000);
        assert_eq!(echo_round(stream, data.clone()).await, data);
        let stats = session.finish().await;
        assert_eq!(stats.streams_relayed, 1);
    })
    .await
}

/// What a gateway does with a first frame: answer `rejected` with the error's code.
async fn gateway_answers_login(mut s: tokio::io::DuplexStream) -> Option<RejectCode> {
    match read_login(&mut s, MAX).await {
        Ok(_) => None,
        Err(e) => {
            let code = e.reject_code()?;
            let rejected = GatewayMessage::Rejected(Rejected {
                code,
                message: "Ugyldig forespørsel.".into(),
                remediation: None,
                failed_rules: vec![],
                retry_after_secs: None,
                open_sessions: None,
            });
            write_message(&mut s, &rejected, MAX).await.unwrap();
            Some(code)
        }
    }
}

#[tokio::test]
async fn bad_login_frames_get_bad_request_never_a_panic() {
    guarded(async {
        let bodies: Vec<Vec<u8>> = vec![
            b"{not json".to_vec(),
            br#"{"type":"login"}"#.to_vec(),
            br#"{"type":"login","version":1,"client_version":"x","username":"u","password":"p","posture":{},"role":"admin"}"#.to_vec(),
            br#"{"type":"login","version":1,"client_version":"x","username":["u"],"password":"p","posture":{}}"#.to_vec(),
            br#"{"type":"open","target":"pc"}"#.to_vec(),
            br#"{"type":"accepted","session_id":"x","display_name":"y","targets":[],"idle_timeout_secs":1}"#.to_vec(),
            vec![0xc3, 0x28, 0xa0, 0xa1],
        ];
        for body in bodies {
            let (mut c, s) = tokio::io::duplex(64 * 1024);
            let gateway = tokio::spawn(gateway_answers_login(s));
            c.write_all(&(body.len() as u32).to_be_bytes()).await.unwrap();
            c.write_all(&body).await.unwrap();
            let answer = protocol::read_gateway_message(&mut c, MAX).await.unwrap();
            assert!(
                matches!(
                    answer,
                    GatewayMessage::Rejected(Rejected {
                        code: RejectCode::BadRequest,
                        ..
                    })
                ),
                "{} gave {answer:?}",
                String::from_utf8_lossy(&body)
            );
            assert_eq!(gateway.await.unwrap(), Some(RejectCode::BadRequest));
        }
    })
    .await
}

#[tokio::test]
async fn another_protocol_version_gets_protocol_version() {
    guarded(async {
        let (mut c, s) = tokio::io::duplex(64 * 1024);
        let gateway = tokio::spawn(gateway_answers_login(s));
        let body = br#"{"type":"login","version":2,"credentials":{"kind":"passkey"}}"#;
        c.write_all(&(body.len() as u32).to_be_bytes())
            .await
            .unwrap();
        c.write_all(body).await.unwrap();
        let answer = protocol::read_gateway_message(&mut c, MAX).await.unwrap();
        assert!(matches!(
            answer,
            GatewayMessage::Rejected(Rejected {
                code: RejectCode::ProtocolVersion,
                ..
            })
        ));
        assert_eq!(gateway.await.unwrap(), Some(RejectCode::ProtocolVersion));
    })
    .await
}

#[tokio::test]
async fn oversize_frame_is_refused_from_its_length_alone() {
    guarded(async {
        let (mut c, mut s) = tokio::io::duplex(1024);
        // Announce 1 GiB and send nothing more: if the reader tried to allocate and fill
        // the body, it would wait forever for bytes that never come.
        c.write_all(&(1u32 << 30).to_be_bytes()).await.unwrap();
        let err = timeout(Duration::from_secs(10), protocol::read_frame(&mut s, MAX))
            .await
            .expect("the reader must not wait for the body")
            .unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLarge {
                len: 1_073_741_824,
                max: MAX
            }
        ));
        assert_eq!(err.reject_code(), Some(RejectCode::BadRequest));
    })
    .await
}

#[tokio::test]
async fn the_password_never_shows_in_debug_or_errors() {
    let message = ClientMessage::Login(login());
    let debug = format!("{message:?}");
    assert!(!debug.contains("batteri"), "{debug}");
    // A login where the password is where a number should be: the error has no text of it.
    let body = br#"{"type":"login","version":1,"client_version":"korrekt hest batteri","username":"u","password":"korrekt hest batteri","posture":{"os":7}}"#;
    let err = protocol::decode_client(body).unwrap_err();
    assert!(!err.to_string().contains("batteri"));
    assert!(!format!("{err:?}").contains("batteri"));
}

// ---------------------------------------------------------------------------------------
// Stream phase

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_streams_of_one_mebibyte_each_arrive_intact() {
    guarded(async {
        const STREAMS: usize = 50;
        const LEN: usize = 1024 * 1024;
        let echo = echo_target().await;
        let limits = RelayLimits {
            max_streams_per_session: 64,
            ..RelayLimits::default()
        };
        let session = Arc::new(Session::start(&[("pc", echo)], limits).await);
        let mut rounds = Vec::new();
        for i in 0..STREAMS {
            let session = Arc::clone(&session);
            rounds.push(tokio::spawn(async move {
                let stream = session.open("pc").await.unwrap();
                let data = pattern(i, LEN);
                let back = echo_round(stream, data.clone()).await;
                assert!(back == data, "stream {i} came back different");
            }));
        }
        for r in rounds {
            r.await.unwrap();
        }
        let session = Arc::into_inner(session).unwrap();
        let stats = session.finish().await;
        assert_eq!(stats.streams_relayed, STREAMS as u64);
        assert_eq!(stats.bytes_to_targets, (STREAMS * LEN) as u64);
        assert_eq!(stats.bytes_from_targets, (STREAMS * LEN) as u64);
    })
    .await
}

#[tokio::test]
async fn half_close_delivers_everything_and_the_answer_still_comes_back() {
    guarded(async {
        let counting = counting_target().await;
        let session = Session::start(&[("pc", counting)], RelayLimits::default()).await;
        let mut stream = session.open("pc").await.unwrap();
        let data = pattern(3, 300_000);
        stream.write_all(&data).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"got 300000");
        drop(stream);
        let stats = session.finish().await;
        assert_eq!(stats.bytes_to_targets, 300_000);
        assert_eq!(stats.bytes_from_targets, 10);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_never_reads_does_not_stall_another_stream() {
    guarded(async {
        let stuck = stuck_target().await;
        let echo = echo_target().await;
        let session =
            Session::start(&[("stuck", stuck), ("pc", echo)], RelayLimits::default()).await;

        // Push far more than every buffer and window on the way can hold.
        let mut to_stuck = session.open("stuck").await.unwrap();
        let (written_tx, mut written_rx) = tokio::sync::watch::channel(0usize);
        let flooder = tokio::spawn(async move {
            let chunk = vec![0x55u8; 64 * 1024];
            let mut total = 0usize;
            for _ in 0..(64 * 1024 * 1024 / chunk.len()) {
                if to_stuck.write_all(&chunk).await.is_err() {
                    break;
                }
                total += chunk.len();
                let _ = written_tx.send(total);
            }
            total
        });
        // Wait until the flood has filled the way to the stuck target.
        let _ = timeout(Duration::from_secs(5), async {
            loop {
                let before = *written_rx.borrow_and_update();
                if timeout(Duration::from_millis(500), written_rx.changed())
                    .await
                    .is_err()
                    && before > 0
                {
                    break;
                }
            }
        })
        .await;

        // Meanwhile another stream works normally.
        for i in 0..3 {
            let stream = session.open("pc").await.unwrap();
            let data = pattern(i, 512 * 1024);
            let back = timeout(Duration::from_secs(30), echo_round(stream, data.clone()))
                .await
                .expect("a stuck target stalled another stream");
            assert!(back == data);
        }
        assert!(
            !flooder.is_finished(),
            "the stuck target should hold its own stream back"
        );
        flooder.abort();
        let _ = session.finish().await;
    })
    .await
}

#[tokio::test]
async fn a_closed_port_is_refused_as_unreachable_and_other_streams_go_on() {
    guarded(async {
        let echo = echo_target().await;
        let dead = closed_port().await;
        let session = Session::start(&[("pc", echo), ("dead", dead)], RelayLimits::default()).await;

        let mut open_one = session.open("pc").await.unwrap();
        open_one.write_all(b"before").await.unwrap();
        let mut buf = [0u8; 6];
        open_one.read_exact(&mut buf).await.unwrap();

        let refused = session.open("dead").await.unwrap_err();
        assert_eq!(refused.code, RefuseCode::TargetUnreachable);
        assert!(!refused.message.is_empty());
        let refused = session.open("not-mine").await.unwrap_err();
        assert_eq!(refused.code, RefuseCode::NotGranted);

        // The open stream still works, and new ones open.
        open_one.write_all(b"after!").await.unwrap();
        open_one.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"after!");
        let data = pattern(9, 10_000);
        let second = session.open("pc").await.unwrap();
        assert_eq!(echo_round(second, data.clone()).await, data);
        drop(open_one);

        let stats = session.finish().await;
        assert_eq!(stats.streams_relayed, 2);
        assert_eq!(
            stats.streams_refused.get(&RefuseCode::TargetUnreachable),
            Some(&1)
        );
        assert_eq!(stats.streams_refused.get(&RefuseCode::NotGranted), Some(&1));
    })
    .await
}

#[tokio::test]
async fn streams_beyond_the_limit_are_refused_politely() {
    guarded(async {
        let echo = echo_target().await;
        let limits = RelayLimits {
            max_streams_per_session: 2,
            ..RelayLimits::default()
        };
        let session = Session::start(&[("pc", echo)], limits).await;
        let a = session.open("pc").await.unwrap();
        let b = session.open("pc").await.unwrap();
        let refused = session.open("pc").await.unwrap_err();
        assert_eq!(refused.code, RefuseCode::TooManyStreams);
        // The two open streams are unaffected.
        assert_eq!(echo_round(a, b"a".to_vec()).await, b"a");
        assert_eq!(echo_round(b, b"b".to_vec()).await, b"b");
        let stats = session.finish().await;
        assert_eq!(stats.streams_relayed, 2);
        assert_eq!(
            stats.streams_refused.get(&RefuseCode::TooManyStreams),
            Some(&1)
        );
    })
    .await
}

/// Writes one length-prefixed frame with `body` as it is, valid or not.
async fn write_raw_frame(stream: &mut Stream, len: usize, body: &[u8]) {
    stream
        .write_all(&u32::try_from(len).unwrap().to_be_bytes())
        .await
        .unwrap();
    stream.write_all(body).await.unwrap();
}

#[tokio::test]
async fn an_invalid_open_is_refused_as_bad_request_and_ends_the_session() {
    guarded(async {
        let echo = echo_target().await;
        let login = ClientMessage::Login(login());
        let login = protocol::encode_frame(&login, MAX).unwrap();
        // An empty body stands for a length beyond the gateway's bound, with nothing after it.
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "unknown field",
                br#"{"type":"open","target":"pc","port":3389}"#.to_vec(),
            ),
            ("not json", b"{{{".to_vec()),
            ("a login on a stream", login[4..].to_vec()),
            ("oversized", Vec::new()),
        ];
        for (case, body) in cases {
            let len = if body.is_empty() { MAX * 8 } else { body.len() };
            let session = Session::start(&[("pc", echo)], RelayLimits::default()).await;
            let mut relayed = session.open("pc").await.unwrap();
            let mut stream = session.client.open_stream().await.unwrap();
            write_raw_frame(&mut stream, len, &body).await;
            let answer = protocol::read_gateway_message(&mut stream, MAX)
                .await
                .unwrap();
            assert!(
                matches!(
                    answer,
                    GatewayMessage::Refused(Refused {
                        code: RefuseCode::BadRequest,
                        ..
                    })
                ),
                "{case}: {answer:?}"
            );
            // The gateway closes the connection: the other stream ends too, and the session
            // is over without the client closing anything.
            let mut rest = Vec::new();
            let _ = relayed.read_to_end(&mut rest).await;
            let stats = session.gateway.await.unwrap();
            assert_eq!(stats.end, EndReason::ProtocolError, "{case}");
            assert_eq!(
                stats.streams_refused.get(&RefuseCode::BadRequest),
                Some(&1),
                "{case}"
            );
        }
    })
    .await
}

#[tokio::test]
async fn garbage_after_login_ends_the_connection_and_the_session() {
    guarded(async {
        // A yamux header: version 0, type, flags, stream id, length.
        let header = |kind: u8, flags: u16, stream: u32, length: u32| {
            let mut h = vec![0, kind];
            h.extend_from_slice(&flags.to_be_bytes());
            h.extend_from_slice(&stream.to_be_bytes());
            h.extend_from_slice(&length.to_be_bytes());
            h
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "not yamux at all",
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            ),
            ("unknown frame type", header(9, 0, 1, 0)),
            ("a stream id only the gateway may open", header(0, 1, 2, 0)),
            (
                "a frame larger than yamux allows",
                header(0, 1, 1, 64 << 20),
            ),
            ("more data than the stream's window", {
                let mut f = header(0, 1, 1, 300 * 1024);
                f.resize(f.len() + 300 * 1024, 0);
                f
            }),
        ];
        for (case, garbage) in cases {
            let (mut c, mut s) = tokio::io::duplex(1024 * 1024);
            let gateway = tokio::spawn(async move {
                read_login(&mut s, MAX).await.unwrap();
                let accepted = GatewayMessage::Accepted(Accepted {
                    session_id: "s-1".into(),
                    display_name: "Kari Nordmann".into(),
                    targets: vec![],
                    idle_timeout_secs: 3600,
                    posture_warnings: vec![],
                    posture_recheck_secs: 0,
                });
                write_message(&mut s, &accepted, MAX).await.unwrap();
                let limits = RelayLimits::default();
                let (server, driver) = MuxServer::new(s, limits.mux_config());
                tokio::spawn(driver);
                let deny = |_: &str| Err(StreamRefusal::not_granted());
                serve_session(server, Arc::new(deny), limits, SessionHandle::new()).await
            });
            let answer = client_login(&mut c, &report(), &login(), MAX)
                .await
                .unwrap();
            assert!(matches!(answer, LoginAnswer::Accepted(_)));
            c.write_all(&garbage).await.unwrap();
            // The gateway closes the connection (after a GoAway where yamux sends one) and
            // keeps nothing open: the session ends by itself.
            let stats = gateway.await.unwrap();
            assert_eq!(stats.end, EndReason::ProtocolError, "{case}");
            let mut rest = Vec::new();
            let _ = c.read_to_end(&mut rest).await;
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------
// How a session ends

#[tokio::test]
async fn a_session_without_streams_ends_at_the_idle_limit_and_the_client_is_told() {
    guarded(async {
        let limits = RelayLimits {
            idle_timeout: Duration::from_secs(60),
            ..RelayLimits::default()
        };
        let session = Session::start(&[], limits).await;
        tokio::time::pause();
        let paused_at = tokio::time::Instant::now();
        let (stats, notice) = session.ended_by_gateway().await;
        assert_eq!(stats.end, EndReason::IdleTimeout);
        assert!(paused_at.elapsed() >= Duration::from_secs(59));
        let notice = notice.expect("the client is told why");
        assert_eq!(notice.reason, GatewayEndReason::IdleTimeout);
        assert!(notice.message.contains("1 minutt"), "{}", notice.message);
    })
    .await
}

#[tokio::test]
async fn an_idle_stream_is_closed_and_then_the_idle_session_ends_on_the_paused_clock() {
    guarded(async {
        let echo = echo_target().await;
        let limits = RelayLimits {
            idle_timeout: Duration::from_secs(40),
            ..RelayLimits::default()
        };
        let session = Session::start(&[("pc", echo)], limits).await;
        let mut stream = session.open("pc").await.unwrap();
        stream.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await.unwrap();

        // From here nothing moves; the clock jumps to each deadline instead of sleeping.
        tokio::time::pause();
        let paused_at = tokio::time::Instant::now();
        // The stream's own idle limit closes it first; the session's clock starts then.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
        assert!(rest.is_empty());
        assert!(paused_at.elapsed() >= Duration::from_secs(39));
        assert!(!session.gateway.is_finished(), "the stream was still open");
        let (stats, _) = session.ended_by_gateway().await;
        assert_eq!(stats.end, EndReason::IdleTimeout);
        assert!(paused_at.elapsed() >= Duration::from_secs(79));
        assert_eq!(stats.streams_relayed, 1);
        assert_eq!(stats.bytes_to_targets, 4);
        assert_eq!(stats.bytes_from_targets, 4);
    })
    .await
}

#[tokio::test]
async fn a_busy_session_ends_at_its_lifetime_with_a_reason_the_client_can_show() {
    guarded(async {
        let stuck = stuck_target().await;
        let limits = RelayLimits {
            max_lifetime: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            ..RelayLimits::default()
        };
        let session = Session::start(&[("pc", stuck)], limits).await;
        let mut stream = session.open("pc").await.unwrap();
        tokio::time::pause();
        let paused_at = tokio::time::Instant::now();
        // Traffic now and then keeps the stream and the session from idling out.
        let writer = tokio::spawn(async move {
            while stream.write_all(b"x").await.is_ok() {
                tokio::time::sleep(Duration::from_secs(20)).await;
            }
        });
        let (stats, notice) = session.ended_by_gateway().await;
        assert_eq!(stats.end, EndReason::MaxLifetime);
        assert!(paused_at.elapsed() >= Duration::from_secs(59));
        let notice = notice.expect("the client is told why");
        assert_eq!(notice.reason, GatewayEndReason::MaxLifetime);
        assert_eq!(
            notice.message,
            "Økten er avsluttet etter 1 minutt; logg inn igjen."
        );
        assert_eq!(notice.limit_secs, Some(60));
        assert_eq!(stats.streams_relayed, 1);
        writer.await.unwrap();
    })
    .await
}

#[tokio::test]
async fn a_session_ended_from_outside_reports_that_reason_and_the_first_reason_wins() {
    guarded(async {
        let echo = echo_target().await;
        let session = Session::start(&[("pc", echo)], RelayLimits::default()).await;
        let stream = session.open("pc").await.unwrap();
        assert!(session.handle.end(EndReason::Revoked));
        // The client's word after that changes nothing.
        let _ = protocol::send_end(&session.client, ClientEndReason::ClientClosed).await;
        assert!(!session.handle.end(EndReason::GatewayShutdown));
        let (stats, notice) = session.ended_by_gateway().await;
        assert_eq!(stats.end, EndReason::Revoked);
        assert_eq!(stats.streams_relayed, 1);
        assert_eq!(notice.unwrap().reason, GatewayEndReason::Revoked);
        drop(stream);
    })
    .await
}

#[tokio::test]
async fn the_clients_end_ends_the_session_without_a_notice() {
    guarded(async {
        let session = Session::start(&[], RelayLimits::default()).await;
        protocol::send_end(&session.client, ClientEndReason::ClientClosed)
            .await
            .unwrap();
        // The gateway does not wait for the client to close: the `end` is enough.
        let (stats, notice) = session.ended_by_gateway().await;
        assert_eq!(stats.end, EndReason::ClientClosed);
        assert!(notice.is_none());
    })
    .await
}

/// The client announces a pulled card and its process ends at once (its driver is dropped,
/// the TCP connection goes): the announced reason must be what the gateway records, every
/// time, however the end of the connection races with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pulled_card_is_recorded_as_such_however_fast_the_client_goes_away() {
    guarded(async {
        let echo = echo_target().await;
        for round in 0..100 {
            let session = Session::start_tcp(&[("pc", echo)], RelayLimits::default()).await;
            // Remote-desktop traffic is moving when the card is pulled.
            let stream = session.open("pc").await.unwrap();
            let traffic = tokio::spawn(async move {
                let (mut r, mut w) = tokio::io::split(stream);
                let mut buf = [0u8; 4096];
                while w.write_all(&[7; 4096]).await.is_ok() {
                    if !matches!(r.read(&mut buf).await, Ok(n) if n > 0) {
                        break;
                    }
                }
            });
            end_session(&session.client, ClientEndReason::CardRemoved).await;
            session.client_driver.abort();
            let stats = session.gateway.await.unwrap();
            assert_eq!(stats.end, EndReason::CardRemoved, "round {round}");
            traffic.abort();
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------
// The client's forwarder

#[tokio::test]
async fn the_forwarder_carries_local_connections_and_reports_refusals() {
    guarded(async {
        let echo = echo_target().await;
        let session = Session::start(&[("pc", echo)], RelayLimits::default()).await;
        let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let on_event = move |e: ForwardEvent| {
            let _ = events_tx.send(e);
        };

        let good = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let good_addr = good.local_addr().unwrap();
        let stop = CancellationToken::new();
        let forwarder = tokio::spawn(forward_listener(
            good,
            session.client.clone(),
            "pc".into(),
            ForwardOptions::default(),
            stop.clone(),
            on_event.clone(),
        ));

        for i in 0..3 {
            let tcp = TcpStream::connect(good_addr).await.unwrap();
            let (mut r, mut w) = tcp.into_split();
            let data = pattern(i, 200_000);
            let expected = data.clone();
            let send = async move {
                w.write_all(&data).await.unwrap();
                w.shutdown().await.unwrap();
            };
            let receive = async move {
                let mut back = Vec::new();
                r.read_to_end(&mut back).await.unwrap();
                back
            };
            assert_eq!(tokio::join!(send, receive).1, expected);
        }

        let bad = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bad_addr = bad.local_addr().unwrap();
        let bad_forwarder = tokio::spawn(forward_listener(
            bad,
            session.client.clone(),
            "someone-elses-pc".into(),
            ForwardOptions::default(),
            stop.clone(),
            on_event,
        ));
        let mut tcp = TcpStream::connect(bad_addr).await.unwrap();
        let mut nothing = Vec::new();
        let _ = tcp.read_to_end(&mut nothing).await;
        assert!(nothing.is_empty());

        let mut refused = None;
        while refused.is_none() {
            match events.recv().await.unwrap() {
                ForwardEvent::Refused { code, .. } => refused = Some(code),
                _ => continue,
            }
        }
        assert_eq!(refused, Some(RefuseCode::NotGranted));

        stop.cancel();
        let stats = forwarder.await.unwrap();
        assert_eq!(stats.connections, 3);
        assert_eq!(stats.refused, 0);
        let bad_stats = bad_forwarder.await.unwrap();
        assert_eq!(bad_stats.connections, 1);
        assert_eq!(bad_stats.refused, 1);
        let stats = session.finish().await;
        assert_eq!(stats.bytes_to_targets, 600_000);
    })
    .await
}

#[tokio::test]
async fn the_forwarder_stops_when_the_tunnel_closes() {
    guarded(async {
        let echo = echo_target().await;
        let session = Session::start(&[("pc", echo)], RelayLimits::default()).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let forwarder = tokio::spawn(forward_listener(
            listener,
            session.client.clone(),
            "pc".into(),
            ForwardOptions::default(),
            CancellationToken::new(),
            |_| {},
        ));
        let _ = session.finish().await;
        let stats = forwarder.await.unwrap();
        assert_eq!(stats.connections, 0);
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Posture re-checks

fn fresh_report() -> hjemmekontor::posture::report::Report {
    hjemmekontor::posture::report::Report::unknown(1_800_000_000, "not probed")
}

#[tokio::test]
async fn a_client_that_stops_reporting_its_posture_is_ended_as_overdue() {
    use hjemmekontor::client::posture::{recheck, Recheck};
    // Longer than the guard: the interval and its grace pass on the paused clock.
    timeout(Duration::from_secs(3_600), async {
        let limits = RelayLimits {
            idle_timeout: Duration::from_secs(3 * 3_600),
            posture_recheck: Some(Duration::from_secs(600)),
            ..RelayLimits::default()
        };
        let session = Session::start(&[], limits).await;
        // One re-check on time: answered, and the clock starts again from it.
        let answer = recheck(&session.client, &fresh_report()).await.unwrap();
        assert_eq!(answer, Recheck::Passed(vec![]));
        tokio::time::pause();
        let paused_at = tokio::time::Instant::now();
        let (stats, notice) = session.ended_by_gateway().await;
        assert_eq!(stats.end, EndReason::PostureOverdue);
        // The interval and its grace, not before.
        assert!(paused_at.elapsed() >= Duration::from_secs(600 + 110));
        let notice = notice.expect("the client is told why");
        assert_eq!(notice.reason, GatewayEndReason::PostureOverdue);
        assert!(notice.message.contains("ny sjekk"), "{}", notice.message);
    })
    .await
    .expect("the session ended")
}

#[tokio::test]
async fn re_checks_do_not_keep_an_idle_session_open() {
    use hjemmekontor::client::posture::recheck;
    guarded(async {
        let limits = RelayLimits {
            idle_timeout: Duration::from_secs(60),
            posture_recheck: Some(Duration::from_secs(30)),
            ..RelayLimits::default()
        };
        let session = Session::start(&[], limits).await;
        tokio::time::pause();
        let paused_at = tokio::time::Instant::now();
        let client = session.client.clone();
        let reporter = tokio::spawn(async move {
            while recheck(&client, &fresh_report()).await.is_ok() {
                tokio::time::sleep(Duration::from_secs(20)).await;
            }
        });
        let (stats, _) = session.ended_by_gateway().await;
        assert_eq!(stats.end, EndReason::IdleTimeout);
        assert!(paused_at.elapsed() < Duration::from_secs(90));
        reporter.abort();
    })
    .await
}

#[tokio::test]
async fn a_re_check_is_answered_even_when_every_stream_slot_is_taken() {
    use hjemmekontor::client::posture::{recheck, Recheck};
    guarded(async {
        let echo = echo_target().await;
        let limits = RelayLimits {
            max_streams_per_session: 1,
            posture_recheck: Some(Duration::from_secs(600)),
            ..RelayLimits::default()
        };
        let session = Session::start(&[("pc", echo)], limits).await;
        let _busy = session.open("pc").await.unwrap();
        // The one slot is taken: another `open` is refused, a re-check is still judged.
        assert_eq!(
            session.open("pc").await.unwrap_err().code,
            RefuseCode::TooManyStreams
        );
        let answer = recheck(&session.client, &fresh_report()).await.unwrap();
        assert_eq!(answer, Recheck::Passed(vec![]));
        let stats = session.finish().await;
        assert_eq!(stats.streams_relayed, 1);
    })
    .await
}
