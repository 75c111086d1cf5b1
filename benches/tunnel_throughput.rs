//! Throughput and round-trip time through the tunnel without TLS: the client's mux, the
//! gateway's mux and relay, and a TCP target on 127.0.0.1. The mux runs over an in-memory
//! pipe and over a loopback TCP connection; plain loopback TCP is the baseline. Prints
//! numbers, asserts nothing.
//!
//! Run: `cargo bench --bench tunnel_throughput` (sizes: `HJK_BENCH_MIB`, `HJK_BENCH_PINGS`).
//! Under `cargo test --all-targets` (no `--bench` argument) it runs a small smoke version.

use hjemmekontor::gateway::relay::{serve_session, RelayLimits, SessionHandle, StreamRefusal};
use hjemmekontor::tunnel::mux::{MuxClient, MuxConfig, MuxServer};
use hjemmekontor::tunnel::protocol::{
    read_gateway_message, write_message, ClientMessage, GatewayMessage, Open, DEFAULT_MAX_FRAME_LEN,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CHUNK: usize = 64 * 1024;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Reads to end of input, then answers with the byte count (so the sender knows all arrived).
async fn sink_target() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; CHUNK];
                let mut total = 0u64;
                loop {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => total += n as u64,
                    }
                }
                let _ = tcp.write_all(&total.to_be_bytes()).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    addr
}

/// Echoes every connection.
async fn echo_target() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let (mut r, mut w) = tcp.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// A connected pair of byte streams for the mux to run over.
enum Transport {
    Memory,
    Loopback,
}

type Boxed = Box<dyn ReadWrite>;
trait ReadWrite: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ReadWrite for T {}

async fn pipe(transport: &Transport) -> (Boxed, Boxed) {
    match transport {
        Transport::Memory => {
            let (a, b) = tokio::io::duplex(256 * 1024);
            (Box::new(a), Box::new(b))
        }
        Transport::Loopback => {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (a, b) = tokio::join!(TcpStream::connect(addr), listener.accept());
            let (a, b) = (a.unwrap(), b.unwrap().0);
            a.set_nodelay(true).unwrap();
            b.set_nodelay(true).unwrap();
            (Box::new(a), Box::new(b))
        }
    }
}

/// Starts a client and a gateway session over `transport`, relaying "sink" and "echo".
async fn tunnel(transport: &Transport, sink: SocketAddr, echo: SocketAddr) -> MuxClient {
    let (c, s) = pipe(transport).await;
    let limits = RelayLimits {
        max_streams_per_session: 64,
        ..RelayLimits::default()
    };
    let (client, cdrv) = MuxClient::new(c, MuxConfig::default());
    let (server, sdrv) = MuxServer::new(s, limits.mux_config());
    tokio::spawn(cdrv);
    tokio::spawn(sdrv);
    let authorizer = move |target: &str| match target {
        "sink" => Ok(sink),
        "echo" => Ok(echo),
        _ => Err(StreamRefusal::not_granted()),
    };
    tokio::spawn(serve_session(
        server,
        Arc::new(authorizer),
        limits,
        SessionHandle::new(),
    ));
    client
}

async fn open(client: &MuxClient, target: &str) -> hjemmekontor::tunnel::mux::Stream {
    let mut s = client.open_stream().await.unwrap();
    let open = ClientMessage::Open(Open {
        target: target.into(),
    });
    write_message(&mut s, &open, DEFAULT_MAX_FRAME_LEN)
        .await
        .unwrap();
    match read_gateway_message(&mut s, DEFAULT_MAX_FRAME_LEN)
        .await
        .unwrap()
    {
        GatewayMessage::Opened(_) => s,
        other => panic!("not opened: {other:?}"),
    }
}

/// Sends `bytes` and waits for the sink's count; returns the elapsed time.
async fn bulk<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, bytes: usize) -> Duration {
    let chunk = vec![0xa5u8; CHUNK];
    let start = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(CHUNK);
        s.write_all(&chunk[..n]).await.unwrap();
        left -= n;
    }
    s.shutdown().await.unwrap();
    let mut count = [0u8; 8];
    s.read_exact(&mut count).await.unwrap();
    assert_eq!(u64::from_be_bytes(count), bytes as u64);
    start.elapsed()
}

/// Ping-pongs `size`-byte messages; returns each round trip.
async fn pings<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    count: usize,
    size: usize,
) -> Vec<Duration> {
    let msg = vec![0x42u8; size];
    let mut back = vec![0u8; size];
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let t = Instant::now();
        s.write_all(&msg).await.unwrap();
        s.read_exact(&mut back).await.unwrap();
        times.push(t.elapsed());
    }
    times
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = times.iter().map(|d| us(*d)).sum::<f64>() / times.len() as f64;
    format!(
        "mean {:7.1} µs   p50 {:7.1} µs   p99 {:7.1} µs",
        mean,
        us(times[times.len() / 2]),
        us(times[times.len() * 99 / 100])
    )
}

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let mib = env_usize("HJK_BENCH_MIB", if smoke { 4 } else { 256 });
    let ping_count = env_usize("HJK_BENCH_PINGS", if smoke { 100 } else { 2000 });
    let bytes = mib * 1024 * 1024;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    runtime.block_on(async {
        let sink = sink_target().await;
        let echo = echo_target().await;
        println!("tunnel_throughput: {mib} MiB bulk, {ping_count} round trips of 64 bytes");
        println!("(client mux → gateway mux → relay → TCP target on 127.0.0.1; no TLS)\n");

        // Baseline: the target directly over loopback TCP.
        let direct = TcpStream::connect(sink).await.unwrap();
        let d = bulk(direct, bytes).await;
        println!(
            "{:<40} {:8.1} MB/s",
            "bulk, direct loopback TCP",
            mb_per_s(bytes, d)
        );

        for (name, transport) in [
            ("in-memory pipe", Transport::Memory),
            ("loopback TCP", Transport::Loopback),
        ] {
            let client = tunnel(&transport, sink, echo).await;
            let d = bulk(open(&client, "sink").await, bytes).await;
            println!(
                "{:<40} {:8.1} MB/s",
                format!("bulk, 1 stream, mux over {name}"),
                mb_per_s(bytes, d)
            );

            let streams = 8;
            let per = bytes / streams;
            let start = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..streams {
                let s = open(&client, "sink").await;
                tasks.push(tokio::spawn(bulk(s, per)));
            }
            for t in tasks {
                t.await.unwrap();
            }
            println!(
                "{:<40} {:8.1} MB/s",
                format!("bulk, {streams} streams, mux over {name}"),
                mb_per_s(per * streams, start.elapsed())
            );
            client.closer().close();
        }
        println!();

        let direct = TcpStream::connect(echo).await.unwrap();
        direct.set_nodelay(true).unwrap();
        println!(
            "{:<40} {}",
            "round trip, direct loopback TCP",
            summary(pings(direct, ping_count, 64).await)
        );
        for (name, transport) in [
            ("in-memory pipe", Transport::Memory),
            ("loopback TCP", Transport::Loopback),
        ] {
            let client = tunnel(&transport, sink, echo).await;
            let s = open(&client, "echo").await;
            println!(
                "{:<40} {}",
                format!("round trip, mux over {name}"),
                summary(pings(s, ping_count, 64).await)
            );
            client.closer().close();
        }
    });
}
