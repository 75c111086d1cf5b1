//! A stand-in office PC for the demo and tests: a TCP service on 127.0.0.1 that greets each
//! connection with one line and then echoes what it receives, so bytes through the tunnel can
//! be seen to arrive and come back. Not a remote-desktop server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

/// The greeting's first words; tests look for them.
pub const GREETING: &str = "hjemmekontor TEST office PC";

/// Serves connections until the process ends, a thread each.
pub fn serve(listener: TcpListener) -> std::io::Result<()> {
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            if let Err(e) = answer(stream) {
                tracing::debug!("office PC connection ended: {e}");
            }
        });
    }
    Ok(())
}

fn answer(stream: TcpStream) -> std::io::Result<()> {
    let peer = stream.peer_addr()?;
    let mut writer = stream.try_clone()?;
    writeln!(writer, "{GREETING}: connected from {peer}")?;
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Bounded lines: echo in pieces of at most 64 KiB.
        let n = (&mut reader).take(64 * 1024).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        writer.write_all(&line)?;
    }
}
