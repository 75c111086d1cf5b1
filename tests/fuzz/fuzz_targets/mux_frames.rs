//! What a peer sends once a session is up: the multiplexer's frames (`tunnel::mux`), read by
//! the gateway's side and by the client's. Every stream the peer opens is taken, read and
//! answered, and the client's side opens one of its own, so windows, credit, half-closes,
//! resets, pings and go-aways all run. Each run must end: the peer's bytes end, and so must
//! the connection and every stream.
#![no_main]

use std::time::Duration;

use hjemmekontor::tunnel::mux::{Inbound, MuxClient, MuxConfig, MuxServer};
use hjemmekontor_fuzz::block_on;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// Small bounds, so a short input reaches them.
const CONFIG: MuxConfig = MuxConfig {
    max_streams: 4,
    receive_window_per_stream: 256 * 1024,
    close_timeout: Duration::from_millis(50),
    accept_backlog: 2,
};

/// The peer: writes the input, ends its sending side, and reads whatever comes back.
async fn peer(mut io: DuplexStream, data: &[u8]) {
    let _ = io.write_all(data).await;
    let _ = io.shutdown().await;
    let mut sink = Vec::new();
    let _ = io.read_to_end(&mut sink).await;
}

/// Takes every stream the peer opens: reads a little, answers, and lets it go.
async fn take_streams(mut inbound: Inbound) {
    while let Some(mut stream) = inbound.next_stream().await {
        let mut buf = [0u8; 512];
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(b"svar").await;
        let _ = stream.shutdown().await;
    }
}

async fn as_gateway(data: &[u8]) {
    let (ours, theirs) = tokio::io::duplex(1024 * 1024);
    let (server, driver) = MuxServer::new(ours, CONFIG);
    let streams = async move {
        let mut server = server;
        while let Some(mut stream) = server.next_stream().await {
            let mut all = Vec::new();
            let _ = stream.read_to_end(&mut all).await;
            let _ = stream.write_all(&all[..all.len().min(64)]).await;
        }
    };
    let _ = tokio::join!(driver, streams, peer(theirs, data));
}

async fn as_client(data: &[u8]) {
    let (ours, theirs) = tokio::io::duplex(1024 * 1024);
    let (client, driver) = MuxClient::new(ours, CONFIG);
    let inbound = client.take_inbound().expect("the first take");
    let own = async move {
        if let Ok(mut stream) = client.open_stream().await {
            let _ = stream
                .write_all(b"{\"type\":\"open\",\"target\":\"pc\"}")
                .await;
            let mut back = Vec::new();
            let _ = stream.read_to_end(&mut back).await;
        }
        // Dropping the last client handle closes the connection.
    };
    let _ = tokio::join!(driver, own, take_streams(inbound), peer(theirs, data));
}

fuzz_target!(|data: &[u8]| {
    block_on(as_gateway(data));
    block_on(as_client(data));
});
