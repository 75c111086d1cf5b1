//! The attacker.

use super::*;

/// What the attacker saw, by kind.
#[derive(Default)]
pub(super) struct Tally(Mutex<BTreeMap<&'static str, u64>>);

impl Tally {
    pub(super) fn add(&self, kind: &'static str) {
        *self.0.lock().expect("tally").entry(kind).or_default() += 1;
    }

    pub(super) fn get(&self, kind: &str) -> u64 {
        self.0
            .lock()
            .expect("tally")
            .get(kind)
            .copied()
            .unwrap_or(0)
    }

    pub(super) fn summary(&self) -> String {
        let counts = self.0.lock().expect("tally");
        let mut kinds: Vec<_> = counts.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1));
        let parts: Vec<_> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(", ")
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Attack {
    None,
    /// Connections that send nothing (or, `drip`, one byte every 10 s), each opened again 1 s
    /// after the gateway closes it.
    Silent {
        count: usize,
        from: Ipv4Addr,
        drip: bool,
    },
    /// Logins with the attacker's valid card, each task trying again 100 ms after a refusal;
    /// an accepted session is held until the attack ends.
    Logins {
        count: usize,
        password: &'static str,
        addresses: u8,
    },
    /// TLS handshakes without a client certificate, flat out.
    NoCertificate {
        tasks: usize,
    },
    /// One logged-in session asking for a target id that does not exist, `tasks` at once.
    UnknownTargets {
        tasks: usize,
    },
    /// Sessions that write random bytes on the TLS stream right after the accepted answer.
    Garbage {
        tasks: usize,
    },
}

/// What every attacker task shares.
pub(super) struct Field {
    pub(super) gateway: SocketAddr,
    pub(super) with_card: Arc<ClientConfig>,
    pub(super) without_card: Arc<ClientConfig>,
    pub(super) tally: Tally,
    pub(super) garbage_ends: Mutex<Vec<Duration>>,
    pub(super) stop: CancellationToken,
}

pub(super) type AttackerTls = tokio_rustls::client::TlsStream<FirstBytes<TcpStream>>;

pub(super) async fn connect_from(
    from: Ipv4Addr,
    gateway: SocketAddr,
) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(gateway).await
}

/// A TLS handshake from `from`; a handshake the gateway answered "busy" says so.
pub(super) async fn handshake(
    field: &Field,
    from: Ipv4Addr,
    config: &Arc<ClientConfig>,
) -> Result<AttackerTls, &'static str> {
    let tcp = connect_from(from, field.gateway)
        .await
        .map_err(|_| "connect failed")?;
    let name = ServerName::try_from("127.0.0.1").expect("server name");
    let handshake = TlsConnector::from(Arc::clone(config))
        .connect(name, FirstBytes::new(tcp))
        .into_fallible();
    match tokio::time::timeout(STEP, handshake).await {
        Err(_) => Err("handshake timed out"),
        Ok(Err((_, io))) if busy::parse(io.seen()).is_some() => Err("busy answer"),
        Ok(Err(_)) => Err("handshake failed"),
        Ok(Ok(tls)) => Ok(tls),
    }
}

/// The attacker's login with its card as `ola`, from `from`; the logged-in TLS stream.
pub(super) async fn attacker_login(
    field: &Field,
    from: Ipv4Addr,
    password: &str,
) -> Result<AttackerTls, &'static str> {
    let mut tls = handshake(field, from, &field.with_card).await?;
    let login = Login {
        version: PROTOCOL_VERSION,
        client_version: env!("CARGO_PKG_VERSION").to_string(),
        username: ATTACKER.into(),
        password: Password::from_input(password.into()),
    };
    let report = hjemmekontor::posture::report::Report::unknown(0, "a test client reports nothing");
    let answer = protocol::client_login(&mut tls, &report, &login, DEFAULT_MAX_FRAME_LEN);
    match tokio::time::timeout(STEP, answer).await {
        Err(_) => Err("login timed out"),
        Ok(Err(_)) => Err("dropped in the login"),
        Ok(Ok(LoginAnswer::Rejected(r))) => Err(r.code.as_str()),
        Ok(Ok(LoginAnswer::Accepted(_))) => Ok(tls),
    }
}

/// Waits `d`, or less if the attack ends; whether it goes on.
pub(super) async fn pause(field: &Field, d: Duration) -> bool {
    tokio::select! {
        _ = field.stop.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// Holds a silent (or dripping) connection until the gateway ends it or the attack does.
pub(super) async fn hold(field: &Field, mut tcp: TcpStream, drip: bool) -> Option<&'static str> {
    let mut buf = [0u8; 64];
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut sent = 0;
    loop {
        tokio::select! {
            _ = field.stop.cancelled() => return None,
            _ = tick.tick(), if drip => {
                if tcp.write_all(&HELLO_START[sent % HELLO_START.len()..][..1]).await.is_err() {
                    return Some("closed by the gateway");
                }
                sent += 1;
            }
            read = tcp.read(&mut buf) => return Some(match read {
                Ok(n) if n > 0 && busy::parse(&buf[..n]).is_some() => "busy answer",
                Ok(_) => "closed by the gateway",
                Err(_) => "reset by the gateway",
            }),
        }
    }
}

pub(super) async fn silent(field: Arc<Field>, from: Ipv4Addr, drip: bool) {
    loop {
        match connect_from(from, field.gateway).await {
            Ok(tcp) => {
                field.tally.add("connected");
                match hold(&field, tcp, drip).await {
                    Some(end) => field.tally.add(end),
                    None => return,
                }
            }
            Err(_) => field.tally.add("connect failed"),
        }
        if !pause(&field, Duration::from_secs(1)).await {
            return;
        }
    }
}

pub(super) async fn logins(field: Arc<Field>, from: Ipv4Addr, password: &'static str) {
    loop {
        let login = tokio::select! {
            _ = field.stop.cancelled() => return,
            login = attacker_login(&field, from, password) => login,
        };
        match login {
            Ok(mut tls) => {
                field.tally.add("accepted");
                let mut sink = [0u8; 1024];
                loop {
                    tokio::select! {
                        _ = field.stop.cancelled() => return,
                        read = tls.read(&mut sink) => if !matches!(read, Ok(n) if n > 0) {
                            field.tally.add("session ended by the gateway");
                            break;
                        },
                    }
                }
            }
            Err(kind) => field.tally.add(kind),
        }
        if !pause(&field, Duration::from_millis(100)).await {
            return;
        }
    }
}

pub(super) async fn without_certificate(field: Arc<Field>) {
    while !field.stop.is_cancelled() {
        let kind = match handshake(&field, ATTACKER_IP, &field.without_card).await {
            Err(kind) => kind,
            // TLS 1.3: the refusal arrives on the first read.
            Ok(mut tls) => match tls.read(&mut [0u8; 1]).await {
                Err(_) => "refused with an alert",
                Ok(0) => "closed without an alert",
                Ok(_) => "answered without a card (!)",
            },
        };
        field.tally.add(kind);
        if kind == "connect failed" && !pause(&field, Duration::from_millis(10)).await {
            return;
        }
    }
}

/// Asks for a target that does not exist, again and again, until the session fails.
pub(super) async fn ask_unknown(field: Arc<Field>, mux: MuxClient) {
    while !field.stop.is_cancelled() {
        let asked = tokio::time::timeout(STEP, async {
            let mut stream = mux.open_stream().await.ok()?;
            let open = ClientMessage::Open(Open {
                target: "finnes-ikke".into(),
            });
            protocol::write_message(&mut stream, &open, DEFAULT_MAX_FRAME_LEN)
                .await
                .ok()?;
            protocol::read_gateway_message(&mut stream, DEFAULT_MAX_FRAME_LEN)
                .await
                .ok()
        })
        .await;
        match asked {
            Ok(Some(GatewayMessage::Refused(r))) => field.tally.add(r.code.as_str()),
            Ok(Some(_)) => field.tally.add("opened (!)"),
            Ok(None) | Err(_) => {
                field.tally.add("session lost");
                return;
            }
        }
    }
}

pub(super) async fn unknown_targets(field: Arc<Field>, tasks: usize) {
    while !field.stop.is_cancelled() {
        let tls = match attacker_login(&field, ATTACKER_IP, ATTACKER_PASSWORD).await {
            Ok(tls) => tls,
            Err(kind) => {
                field.tally.add(kind);
                if !pause(&field, Duration::from_millis(100)).await {
                    return;
                }
                continue;
            }
        };
        let (mux, driver) = MuxClient::new(tls, MuxConfig::default());
        tokio::spawn(driver);
        let mut askers = JoinSet::new();
        for _ in 0..tasks {
            askers.spawn(ask_unknown(Arc::clone(&field), mux.clone()));
        }
        while askers.join_next().await.is_some() {}
        mux.closer().close();
    }
}

/// Writes random bytes on a logged-in TLS stream until the gateway ends the session (the
/// time it took) or [`GARBAGE_BOUND`] passes (`None`).
pub(super) async fn spew(tls: AttackerTls) -> Option<Duration> {
    let (mut read, mut write) = tokio::io::split(tls);
    let start = Instant::now();
    let writer = async {
        let mut junk = [0u8; 4096];
        loop {
            rand_core::OsRng.fill_bytes(&mut junk);
            if write.write_all(&junk).await.is_err() {
                return;
            }
        }
    };
    let reader = async {
        let mut sink = [0u8; 4096];
        while matches!(read.read(&mut sink).await, Ok(n) if n > 0) {}
    };
    let ended = tokio::time::timeout(GARBAGE_BOUND, async {
        tokio::select! {
            _ = writer => {}
            _ = reader => {}
        }
    })
    .await;
    ended.ok().map(|_| start.elapsed())
}

/// Logs in and writes garbage, over and over; always one round, even if the attack ends first.
pub(super) async fn garbage(field: Arc<Field>) {
    loop {
        match attacker_login(&field, ATTACKER_IP, ATTACKER_PASSWORD).await {
            Ok(tls) => match spew(tls).await {
                Some(took) => {
                    field.tally.add("session ended by the gateway");
                    field.garbage_ends.lock().expect("ends").push(took);
                }
                None => field
                    .tally
                    .add("session still open after 10 s of garbage (!)"),
            },
            Err(kind) => field.tally.add(kind),
        }
        if !pause(&field, Duration::from_millis(100)).await {
            return;
        }
    }
}

impl Attack {
    pub(super) fn spawn(self, field: &Arc<Field>, tasks: &mut JoinSet<()>) {
        let f = || Arc::clone(field);
        match self {
            Attack::None => {}
            Attack::Silent { count, from, drip } => {
                for _ in 0..count {
                    tasks.spawn(silent(f(), from, drip));
                }
            }
            Attack::Logins {
                count,
                password,
                addresses,
            } => {
                for i in 0..count {
                    let from = if addresses > 1 {
                        Ipv4Addr::new(127, 0, 1, 1 + (i % usize::from(addresses)) as u8)
                    } else {
                        ATTACKER_IP
                    };
                    tasks.spawn(logins(f(), from, password));
                }
            }
            Attack::NoCertificate { tasks: n } => {
                for _ in 0..n {
                    tasks.spawn(without_certificate(f()));
                }
            }
            Attack::UnknownTargets { tasks: n } => {
                tasks.spawn(unknown_targets(f(), n));
            }
            Attack::Garbage { tasks: n } => {
                for _ in 0..n {
                    tasks.spawn(garbage(f()));
                }
            }
        }
    }
}

pub(super) fn without_card_config(roots: &[CertificateDer<'static>]) -> Arc<ClientConfig> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).expect("root");
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![protocol::ALPN.to_vec()];
    Arc::new(config)
}
