//! The tunnel end to end without TLS or a card: login frames, then yamux over an in-memory
//! pipe, the gateway's relay, and real TCP targets on 127.0.0.1.

use hjemmekontor::gateway::relay::{
    serve_session, Authorizer, RelayLimits, SessionStats, StreamRefusal,
};
use hjemmekontor::secret::Password;
use hjemmekontor::tunnel::forward::{forward_listener, ForwardEvent, ForwardOptions};
use hjemmekontor::tunnel::mux::{MuxClient, MuxConfig, MuxServer, Stream};
use hjemmekontor::tunnel::protocol::{
    self, client_login, read_login, write_message, Accepted, ClientMessage, FrameError,
    GatewayMessage, Login, LoginAnswer, Open, PostureReport, RefuseCode, Refused, RejectCode,
    Rejected, TargetInfo, DEFAULT_MAX_FRAME_LEN, PROTOCOL_VERSION,
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

impl Authorizer for Table {
    fn authorize(&self, target: &str) -> Result<SocketAddr, StreamRefusal> {
        self.0
            .get(target)
            .copied()
            .ok_or_else(StreamRefusal::not_granted)
    }
}

struct Session {
    client: MuxClient,
    gateway: JoinHandle<SessionStats>,
}

impl Session {
    async fn start(targets: &[(&str, SocketAddr)], limits: RelayLimits) -> Session {
        let (c, s) = tokio::io::duplex(256 * 1024);
        Self::start_over(c, s, targets, limits)
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
        tokio::spawn(cdrv);
        tokio::spawn(sdrv);
        let gateway = tokio::spawn(serve_session(server, Arc::new(table), limits));
        Session { client, gateway }
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

fn login() -> Login {
    Login {
        version: PROTOCOL_VERSION,
        client_version: env!("CARGO_PKG_VERSION").into(),
        username: "kari.nordmann".into(),
        password: Password::from_input("korrekt hest batteri stift".into()),
        posture: PostureReport {
            os: "linux".into(),
            os_version: "6.1".into(),
            hostname_hash: Some("ab12".into()),
        },
    }
}

#[tokio::test]
async fn login_then_streams_on_the_same_byte_stream() {
    guarded(async {
        let echo = echo_target().await;
        let (mut c, mut s) = tokio::io::duplex(64 * 1024);

        let gateway = tokio::spawn(async move {
            let got = read_login(&mut s, MAX).await.unwrap();
            assert_eq!(got.username, "kari.nordmann");
            assert_eq!(got.password.expose(), "korrekt hest batteri stift");
            assert_eq!(got.posture.hostname_hash.as_deref(), Some("ab12"));
            let accepted = GatewayMessage::Accepted(Accepted {
                session_id: "s-1".into(),
                display_name: "Kari Nordmann".into(),
                targets: vec![TargetInfo {
                    id: "pc".into(),
                    name: "Kontor-PC".into(),
                }],
                idle_timeout_secs: 1800,
            });
            write_message(&mut s, &accepted, MAX).await.unwrap();
            s
        });

        let answer = client_login(&mut c, &login(), MAX).await.unwrap();
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

#[tokio::test]
async fn a_garbage_open_frame_is_refused_as_bad_request() {
    guarded(async {
        let echo = echo_target().await;
        let session = Session::start(&[("pc", echo)], RelayLimits::default()).await;
        let mut stream = session.client.open_stream().await.unwrap();
        let body = br#"{"type":"open","target":"pc","port":3389}"#;
        stream
            .write_all(&(body.len() as u32).to_be_bytes())
            .await
            .unwrap();
        stream.write_all(body).await.unwrap();
        let answer = protocol::read_gateway_message(&mut stream, MAX)
            .await
            .unwrap();
        assert!(matches!(
            answer,
            GatewayMessage::Refused(Refused {
                code: RefuseCode::BadRequest,
                ..
            })
        ));
        // And the session still serves good streams.
        let ok = session.open("pc").await.unwrap();
        assert_eq!(echo_round(ok, b"ok".to_vec()).await, b"ok");
        drop(stream);
        let _ = session.finish().await;
    })
    .await
}

#[tokio::test]
async fn an_idle_stream_is_closed_on_the_paused_clock() {
    guarded(async {
        let echo = echo_target().await;
        let limits = RelayLimits {
            idle_timeout: Duration::from_secs(60),
            ..RelayLimits::default()
        };
        let session = Session::start(&[("pc", echo)], limits).await;
        let mut stream = session.open("pc").await.unwrap();
        stream.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await.unwrap();

        // From here nothing moves; the clock jumps to the idle deadline instead of sleeping.
        let real = std::time::Instant::now();
        tokio::time::pause();
        let paused_at = tokio::time::Instant::now();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
        assert!(rest.is_empty());
        assert!(paused_at.elapsed() >= Duration::from_secs(55));
        assert!(real.elapsed() < Duration::from_secs(60), "slept for real");
        drop(stream);
        tokio::time::resume();

        let stats = session.finish().await;
        assert_eq!(stats.streams_relayed, 1);
        assert_eq!(stats.bytes_to_targets, 4);
        assert_eq!(stats.bytes_from_targets, 4);
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
