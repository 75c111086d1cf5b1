//! The multiplexer end to end over in-memory pipes: bytes, half-close and reset, the
//! bounds a peer must keep, the end of a connection as its streams see it, and speaking
//! with the yamux crate both ways (the peers built before this implementation).

use super::frame::{GoAway, Header, Kind, ACK, FIN, HEADER_LEN, INITIAL_WINDOW, RST, SYN};
use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

fn header(h: Header) -> Vec<u8> {
    let mut out = Vec::new();
    h.encode_into(&mut out);
    out
}

fn pair(config: MuxConfig) -> (MuxClient, MuxServer) {
    let (c, s) = tokio::io::duplex(64 * 1024);
    let (client, cdrv) = MuxClient::new(c, config);
    let (server, sdrv) = MuxServer::new(s, config);
    tokio::spawn(cdrv);
    tokio::spawn(sdrv);
    (client, server)
}

/// Every frame header in `bytes` (a raw peer's view of what was sent).
fn headers_in(mut bytes: &[u8]) -> Vec<Header> {
    let mut found = Vec::new();
    while bytes.len() >= HEADER_LEN {
        let h = Header::decode(bytes[..HEADER_LEN].try_into().unwrap()).unwrap();
        found.push(h);
        bytes = &bytes[HEADER_LEN + h.body_len() as usize..];
    }
    found
}

/// Sends `data` on `stream` and half-closes, while reading what comes back; true if that
/// is `data` again.
async fn echoes<S>(stream: S, data: Vec<u8>) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut r, mut w) = tokio::io::split(stream);
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&sent).await.unwrap();
        w.shutdown().await.unwrap();
        w
    });
    let mut back = Vec::new();
    r.read_to_end(&mut back).await.unwrap();
    drop(writer.await.unwrap());
    back == data
}

#[test]
fn limits_are_clamped_into_what_the_wire_can_say() {
    for window in [0, 1, 256 * 1024, 1 << 20, usize::MAX] {
        let l = MuxConfig {
            receive_window_per_stream: window,
            max_streams: 0,
            accept_backlog: 0,
            ..MuxConfig::default()
        }
        .limits();
        assert!(l.window >= INITIAL_WINDOW);
        assert_eq!((l.max_streams, l.accept_backlog), (1, 1));
    }
}

#[tokio::test]
async fn a_stream_carries_bytes_both_ways_and_closes() {
    let (c, s) = tokio::io::duplex(64 * 1024);
    let (client, cdrv) = MuxClient::new(c, MuxConfig::default());
    let (mut server, sdrv) = MuxServer::new(s, MuxConfig::default());
    let cdrv = tokio::spawn(cdrv);
    let sdrv = tokio::spawn(sdrv);

    let echo = tokio::spawn(async move {
        let mut st = server.next_stream().await.unwrap();
        let mut buf = Vec::new();
        st.read_to_end(&mut buf).await.unwrap();
        st.write_all(&buf).await.unwrap();
        st.shutdown().await.unwrap();
        // The client's close ends the connection.
        assert!(server.next_stream().await.is_none());
    });

    let mut st = client.open_stream().await.unwrap();
    st.write_all(b"hei").await.unwrap();
    st.shutdown().await.unwrap();
    let mut back = Vec::new();
    st.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, b"hei");
    drop(st);
    client.closer().close();
    assert_eq!(cdrv.await.unwrap().unwrap(), MuxEnd::ClosedLocally);
    echo.await.unwrap();
    assert_eq!(sdrv.await.unwrap().unwrap(), MuxEnd::ClosedByPeer);
    assert!(matches!(client.open_stream().await, Err(MuxError::Closed)));
}

#[tokio::test]
async fn many_streams_carry_large_transfers_at_once_beyond_every_window() {
    let (client, mut server) = pair(MuxConfig::default());
    const STREAMS: usize = 8;
    const LEN: usize = 3 * 1024 * 1024 + 17;
    let echo = tokio::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..STREAMS {
            let st = server.next_stream().await.unwrap();
            tasks.push(tokio::spawn(async move {
                let (mut r, mut w) = tokio::io::split(st);
                tokio::io::copy(&mut r, &mut w).await.unwrap();
                w.shutdown().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        server
    });
    let mut tasks = Vec::new();
    for i in 0..STREAMS {
        let st = client.open_stream().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let data: Vec<u8> = (0..LEN).map(|n| (n * 7 + i) as u8).collect();
            assert!(echoes(st, data).await, "stream {i} came back changed");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    drop(echo.await.unwrap());
}

#[tokio::test]
async fn a_reader_that_does_not_read_stops_only_its_own_stream() {
    let (client, mut server) = pair(MuxConfig::default());
    let mut stuck = client.open_stream().await.unwrap();
    let mut moving = client.open_stream().await.unwrap();
    // Far more than the stuck stream's window: its writer must wait, not the connection.
    let flood = tokio::spawn(async move {
        let chunk = vec![1u8; 64 * 1024];
        loop {
            if stuck.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let _not_read = server.next_stream().await.unwrap();
    let mut other = server.next_stream().await.unwrap();
    for round in 0..100u32 {
        moving.write_all(&round.to_be_bytes()).await.unwrap();
        let mut got = [0u8; 4];
        other.read_exact(&mut got).await.unwrap();
        assert_eq!(u32::from_be_bytes(got), round);
    }
    flood.abort();
}

#[tokio::test]
async fn dropping_an_unfinished_stream_resets_it_for_the_peer() {
    let (client, mut server) = pair(MuxConfig::default());
    let mut st = client.open_stream().await.unwrap();
    st.write_all(b"del").await.unwrap();
    let mut at_gateway = server.next_stream().await.unwrap();
    drop(st);
    // What arrived is read, then the reset reads as end-of-stream; writing fails.
    let mut got = Vec::new();
    at_gateway.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"del");
    assert!(at_gateway.write_all(b"x").await.is_err());
}

#[tokio::test]
async fn a_peer_that_breaks_the_protocol_loses_the_connection() {
    let mut beyond_window = header(Header::window_update(1, SYN, 0));
    beyond_window.extend(header(Header::data(1, 0, 600 * 1024)));
    let cases = [
        ("garbage", vec![0xff; 64]),
        (
            "a stream id the client may not use",
            header(Header::data(2, SYN, 0)),
        ),
        ("data beyond the stream's window", beyond_window),
        (
            "a frame for stream 0",
            header(Header::window_update(0, 0, 5)),
        ),
    ];
    for (case, bytes) in cases {
        let (mut c, s) = tokio::io::duplex(1024);
        let (mut server, sdrv) = MuxServer::new(
            s,
            MuxConfig {
                receive_window_per_stream: 512 * 1024,
                ..MuxConfig::default()
            },
        );
        let closer = server.closer();
        let sdrv = tokio::spawn(sdrv);
        c.write_all(&bytes).await.unwrap();
        while let Some(st) = tokio::time::timeout(Duration::from_secs(10), server.next_stream())
            .await
            .unwrap_or_else(|_| panic!("{case}: the connection must end"))
        {
            drop(st);
        }
        assert!(closer.peer_broke_protocol(), "{case}");
        let mut sent = Vec::new();
        c.read_to_end(&mut sent).await.unwrap();
        let go_away = Header::go_away(GoAway::ProtocolError);
        assert_eq!(headers_in(&sent).last(), Some(&go_away), "{case}");
        let end = sdrv.await.unwrap();
        assert!(matches!(end, Err(MuxError::Protocol(_))), "{case}: {end:?}");
    }
}

#[tokio::test]
async fn more_streams_than_allowed_end_the_connection_and_a_full_backlog_resets() {
    let config = MuxConfig {
        max_streams: 3,
        accept_backlog: 2,
        ..MuxConfig::default()
    };
    let (mut c, s) = tokio::io::duplex(4096);
    let (server, sdrv) = MuxServer::new(s, config);
    let sdrv = tokio::spawn(sdrv);
    for id in [1, 3, 5] {
        c.write_all(&header(Header::window_update(id, SYN, 0)))
            .await
            .unwrap();
    }
    // The third stream finds the backlog full: acknowledged, then reset at once.
    let mut sent = vec![0u8; 4 * HEADER_LEN];
    c.read_exact(&mut sent).await.unwrap();
    let seen = headers_in(&sent);
    assert!(seen[..3].iter().all(|h| h.has(ACK)), "{seen:?}");
    assert_eq!(seen[3], Header::window_update(5, RST, 0));
    // Two open and taken, one more allowed: the fifth at once is one too many.
    let mut server = server;
    let taken = (server.next_stream().await, server.next_stream().await);
    c.write_all(&header(Header::window_update(7, SYN, 0)))
        .await
        .unwrap();
    c.write_all(&header(Header::window_update(9, SYN, 0)))
        .await
        .unwrap();
    let end = sdrv.await.unwrap();
    assert!(matches!(end, Err(MuxError::Protocol(_))), "{end:?}");
    drop((server, taken));
}

#[tokio::test]
async fn streams_of_a_connection_closed_here_stop_waiting_for_data() {
    let (c, s) = tokio::io::duplex(64 * 1024);
    let (client, cdrv) = MuxClient::new(c, MuxConfig::default());
    let (mut server, sdrv) = MuxServer::new(s, MuxConfig::default());
    tokio::spawn(cdrv);
    let sdrv = tokio::spawn(sdrv);
    let mut st = client.open_stream().await.unwrap();
    st.write_all(b"hei").await.unwrap();
    let mut at_gateway = server.next_stream().await.unwrap();
    let mut buf = [0u8; 3];
    at_gateway.read_exact(&mut buf).await.unwrap();
    let reader = tokio::spawn(async move { at_gateway.read(&mut buf).await });
    tokio::task::yield_now().await;
    server.closer().close();
    assert_eq!(sdrv.await.unwrap().unwrap(), MuxEnd::ClosedLocally);
    let read = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("a read on a closed connection must not wait for ever");
    assert!(read.unwrap().is_err());
    // The client saw the gateway's go-away: its stream reads end-of-stream.
    let mut rest = Vec::new();
    st.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}

#[tokio::test]
async fn a_driver_that_is_dropped_still_ends_its_streams() {
    let (c, s) = tokio::io::duplex(64 * 1024);
    let (client, cdrv) = MuxClient::new(c, MuxConfig::default());
    let (_server, sdrv) = MuxServer::new(s, MuxConfig::default());
    tokio::spawn(sdrv);
    let cdrv = tokio::spawn(cdrv);
    let mut st = client.open_stream().await.unwrap();
    cdrv.abort();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(10), st.read(&mut buf)).await;
    assert!(read.expect("the read must end").is_err());
    assert!(client.closer().is_closed());
}

#[tokio::test]
async fn a_peer_gone_is_not_a_protocol_error() {
    let (c, s) = tokio::io::duplex(1024);
    let (mut server, sdrv) = MuxServer::new(s, MuxConfig::default());
    let closer = server.closer();
    let sdrv = tokio::spawn(sdrv);
    drop(c);
    assert!(server.next_stream().await.is_none());
    assert!(!closer.peer_broke_protocol());
    assert!(!matches!(sdrv.await.unwrap(), Err(MuxError::Protocol(_))));
}

#[tokio::test]
async fn the_gateway_can_open_a_stream_the_client_takes() {
    let (client, server) = pair(MuxConfig::default());
    let mut inbound = client.take_inbound().unwrap();
    assert!(client.take_inbound().is_none());
    let mut st = server.open_stream().await.unwrap();
    st.write_all(b"farvel").await.unwrap();
    st.shutdown().await.unwrap();
    server.closer().close();
    let mut got = inbound.next_stream().await.unwrap();
    let mut text = Vec::new();
    got.read_to_end(&mut text).await.unwrap();
    assert_eq!(text, b"farvel");
    assert!(inbound.next_stream().await.is_none());
}

#[tokio::test]
async fn pings_are_answered_and_dropping_every_client_handle_closes() {
    let (mut c, s) = tokio::io::duplex(1024);
    let (client, cdrv) = MuxClient::new(s, MuxConfig::default());
    let cdrv = tokio::spawn(cdrv);
    let ping = Header {
        kind: Kind::Ping,
        flags: SYN,
        stream: 0,
        length: 77,
    };
    c.write_all(&header(ping)).await.unwrap();
    let mut answer = [0u8; HEADER_LEN];
    c.read_exact(&mut answer).await.unwrap();
    assert_eq!(
        Header::decode(&answer).unwrap(),
        Header { flags: ACK, ..ping }
    );
    let second = client.clone();
    drop(client);
    assert!(!second.closer().is_closed());
    drop(second);
    assert_eq!(cdrv.await.unwrap().unwrap(), MuxEnd::ClosedLocally);
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert_eq!(headers_in(&rest), [Header::go_away(GoAway::Normal)]);
}

/// Echoes every stream a yamux connection over `io` receives, for as long as it lasts.
async fn yamux_echo(io: DuplexStream, mode: yamux::Mode) {
    let mut conn = yamux::Connection::new(io.compat(), yamux::Config::default(), mode);
    while let Some(Ok(st)) = poll_fn(|cx| conn.poll_next_inbound(cx)).await {
        tokio::spawn(async move {
            let (mut r, mut w) = tokio::io::split(st.compat());
            let _ = tokio::io::copy(&mut r, &mut w).await;
            let _ = w.shutdown().await;
        });
    }
}

#[tokio::test]
async fn our_client_speaks_with_a_yamux_gateway() {
    let (c, s) = tokio::io::duplex(64 * 1024);
    tokio::spawn(yamux_echo(s, yamux::Mode::Server));
    let (client, cdrv) = MuxClient::new(c, MuxConfig::default());
    tokio::spawn(cdrv);
    let data: Vec<u8> = (0..2_000_000u32).map(|n| n as u8).collect();
    for _ in 0..3 {
        let st = client.open_stream().await.unwrap();
        assert!(echoes(st, data.clone()).await);
    }
}

#[tokio::test]
async fn a_yamux_client_speaks_with_our_gateway() {
    let (c, s) = tokio::io::duplex(64 * 1024);
    let (mut server, sdrv) = MuxServer::new(s, MuxConfig::default());
    tokio::spawn(sdrv);
    tokio::spawn(async move {
        while let Some(st) = server.next_stream().await {
            tokio::spawn(async move {
                let (mut r, mut w) = tokio::io::split(st);
                tokio::io::copy(&mut r, &mut w).await.unwrap();
                w.shutdown().await.unwrap();
            });
        }
    });
    let mut conn =
        yamux::Connection::new(c.compat(), yamux::Config::default(), yamux::Mode::Client);
    let st = poll_fn(|cx| conn.poll_new_outbound(cx)).await.unwrap();
    let driver = tokio::spawn(async move {
        while let Some(Ok(_)) = poll_fn(|cx| conn.poll_next_inbound(cx)).await {}
    });
    let data: Vec<u8> = (0..3_000_000u32).map(|n| (n >> 3) as u8).collect();
    assert!(echoes(st.compat(), data).await);
    driver.abort();
}

#[test]
fn a_window_update_with_syn_adds_its_credit_once() {
    let shared = Shared::new(Role::Server, MuxConfig::default().limits());
    let mut state = shared.lock();
    let mut decoder = receive::Decoder::default();
    let mut bytes = header(Header::window_update(1, SYN, 1000));
    bytes.extend(header(Header::window_update(1, FIN, 24)));
    state.receive(&mut decoder, &bytes).unwrap();
    let slot = &state.streams[&1];
    assert_eq!(slot.send_credit, INITIAL_WINDOW + 1024);
    assert!(slot.fin_received);
}
