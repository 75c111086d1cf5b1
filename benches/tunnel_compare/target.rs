//! The one target every path forwards to, and the load that goes through each path to it.
//!
//! Every connection starts with a 9-byte header, a mode byte and a big-endian `u64`:
//! `U n`: the target reads `n` bytes, then answers with the count (so the sender's clock
//! stops only when everything arrived); `D n`: the target sends `n` bytes and closes;
//! `E 0`: the target echoes until the end of input. Plain blocking threads, one per
//! connection: the target and the load are the same for every path, so they cost each path
//! the same.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Bytes per read and write, as a remote-desktop program's bulk copy would use.
const CHUNK: usize = 64 * 1024;

/// Starts the target on 127.0.0.1 on a free port.
pub fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("target listens");
    let addr = listener.local_addr().expect("target address");
    std::thread::spawn(move || {
        for tcp in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let _ = serve(tcp);
            });
        }
    });
    addr
}

fn serve(mut tcp: TcpStream) -> std::io::Result<()> {
    tcp.set_nodelay(true)?;
    let mut header = [0u8; 9];
    tcp.read_exact(&mut header)?;
    let n = u64::from_be_bytes(header[1..].try_into().expect("8 bytes"));
    let mut buf = vec![0u8; CHUNK];
    match header[0] {
        b'U' => {
            let mut total = 0u64;
            while total < n {
                match tcp.read(&mut buf)? {
                    0 => break,
                    got => total += got as u64,
                }
            }
            tcp.write_all(&total.to_be_bytes())
        }
        b'D' => {
            buf.fill(0x5a);
            send(&mut tcp, &buf, n)?;
            tcp.shutdown(std::net::Shutdown::Write)
        }
        _ => loop {
            match tcp.read(&mut buf)? {
                0 => return Ok(()),
                got => tcp.write_all(&buf[..got])?,
            }
        },
    }
}

fn send(tcp: &mut TcpStream, chunk: &[u8], n: u64) -> std::io::Result<()> {
    let mut left = n;
    while left > 0 {
        let now = left.min(chunk.len() as u64) as usize;
        tcp.write_all(&chunk[..now])?;
        left -= now as u64;
    }
    Ok(())
}

fn open(port: u16, mode: u8, n: u64) -> std::io::Result<TcpStream> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_nodelay(true)?;
    let mut header = [mode; 9];
    header[1..].copy_from_slice(&n.to_be_bytes());
    tcp.write_all(&header)?;
    Ok(tcp)
}

/// Sends `n` bytes through the path listening on `port`; the time until the target counted
/// them all, and the connection, still open.
pub fn upload(port: u16, n: u64) -> std::io::Result<(Duration, TcpStream)> {
    let start = Instant::now();
    let mut tcp = open(port, b'U', n)?;
    send(&mut tcp, &vec![0xa5u8; CHUNK], n)?;
    let mut count = [0u8; 8];
    tcp.read_exact(&mut count)?;
    if u64::from_be_bytes(count) != n {
        return Err(std::io::Error::other("the target counted a different size"));
    }
    Ok((start.elapsed(), tcp))
}

/// Receives `n` bytes from the target through the path; the time until the last arrived,
/// and the connection.
pub fn download(port: u16, n: u64) -> std::io::Result<(Duration, TcpStream)> {
    let start = Instant::now();
    let mut tcp = open(port, b'D', n)?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    while total < n {
        match tcp.read(&mut buf)? {
            0 => return Err(std::io::Error::other("the stream ended early")),
            got => total += got as u64,
        }
    }
    Ok((start.elapsed(), tcp))
}

/// `streams` uploads at once, `n` bytes in all; the time until the last finished, and the
/// connections, still open.
pub fn parallel_upload(
    port: u16,
    n: u64,
    streams: u64,
) -> std::io::Result<(Duration, Vec<TcpStream>)> {
    let start = Instant::now();
    let each = n / streams;
    let threads: Vec<_> = (0..streams)
        .map(|_| std::thread::spawn(move || upload(port, each)))
        .collect();
    let mut open = Vec::new();
    for t in threads {
        let (_, tcp) = t
            .join()
            .map_err(|_| std::io::Error::other("an upload panicked"))??;
        open.push(tcp);
    }
    Ok((start.elapsed(), open))
}

/// An echo connection through the path (a few round trips first, so that every hop has
/// connected and warmed up).
pub fn echo(port: u16) -> std::io::Result<TcpStream> {
    let mut tcp = open(port, b'E', 0)?;
    ping(&mut tcp, 64)?;
    Ok(tcp)
}

/// One round trip of a `size`-byte message.
pub fn ping(tcp: &mut TcpStream, size: usize) -> std::io::Result<Duration> {
    let msg = vec![0x42u8; size];
    let mut back = vec![0u8; size];
    let start = Instant::now();
    tcp.write_all(&msg)?;
    tcp.read_exact(&mut back)?;
    Ok(start.elapsed())
}

/// `count` round trips of 64-byte messages on `tcp`, each in µs.
pub fn round_trips(tcp: &mut TcpStream, count: usize) -> std::io::Result<Vec<f64>> {
    (0..count)
        .map(|_| ping(tcp, 64).map(|d| d.as_secs_f64() * 1e6))
        .collect()
}
