//! The PROXY protocol v2 header a load balancer (HAProxy's `send-proxy-v2`) writes before the
//! client's first byte: where the connection really comes from. Read only from the balancers
//! `[load_balancer]` lists (`config::LoadBalancers`); from anyone else the bytes are not
//! looked at, so they fail the TLS handshake and no claimed address is ever used.
//!
//! The header is parsed by `ppp`; what is ours is the framing (exactly the header is read, the
//! ClientHello behind it stays in the socket), the bound on its size, and what each kind of
//! header means for the gateway.

use std::net::{IpAddr, SocketAddr};

use ppp::v2::{Addresses, Command, Header, ParseError, Protocol, PROTOCOL_PREFIX};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The fixed part: the 12-byte signature, version and command, family and protocol, length.
pub const FIXED_LEN: usize = 16;

/// Longest address block and TLVs taken. HAProxy's own TLVs (unique id, ALPN, authority) fit
/// many times over; the field itself could say 64 KiB.
pub const MAX_PAYLOAD: usize = 1024;

/// What the balancer said about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Relayed for a client at this address (PROXY over TCP, IPv4 or IPv6).
    Client(SocketAddr),
    /// The balancer's own connection (LOCAL: a health check); its address is the real one.
    Balancer,
}

/// Why a balancer's connection was not taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    /// The connection did not start with the v2 signature: the balancer sends no header, or
    /// an old one (v1, text).
    #[error(
        "the connection does not start with a PROXY protocol v2 header (set `send-proxy-v2` \
         on the balancer's server lines)"
    )]
    Missing,
    /// The header says it is longer than the gateway takes.
    #[error(
        "the PROXY header is {0} bytes long; at most {MAX_PAYLOAD} are taken after its fixed part"
    )]
    TooLong(usize),
    /// The header is not a sound v2 header.
    #[error("the PROXY header is malformed: {0}")]
    Malformed(String),
    /// A relayed connection that is not TCP over IP (UDP, a UNIX socket, or no address).
    #[error("the PROXY header relays a connection that is not TCP over IPv4 or IPv6")]
    NotTcp,
    /// The connection ended or failed before the whole header came.
    #[error("the connection ended inside the PROXY header: {0}")]
    Cut(String),
}

/// How many bytes follow the fixed part, from the fixed part; checks the signature first.
pub fn payload_len(fixed: &[u8; FIXED_LEN]) -> Result<usize, HeaderError> {
    if &fixed[..PROTOCOL_PREFIX.len()] != PROTOCOL_PREFIX {
        return Err(HeaderError::Missing);
    }
    let len = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    if len > MAX_PAYLOAD {
        return Err(HeaderError::TooLong(len));
    }
    Ok(len)
}

/// What a whole header (fixed part and payload, nothing after) says.
pub fn parse(header: &[u8]) -> Result<Origin, HeaderError> {
    let parsed = Header::try_from(header).map_err(|e| match e {
        ParseError::Prefix => HeaderError::Missing,
        other => HeaderError::Malformed(other.to_string()),
    })?;
    if parsed.len() != header.len() {
        return Err(HeaderError::Malformed(format!(
            "{} bytes given for a {}-byte header",
            header.len(),
            parsed.len()
        )));
    }
    if parsed.command == Command::Local {
        return Ok(Origin::Balancer);
    }
    if parsed.protocol != Protocol::Stream {
        return Err(HeaderError::NotTcp);
    }
    match parsed.addresses {
        Addresses::IPv4(a) => Ok(Origin::Client(SocketAddr::new(
            IpAddr::V4(a.source_address),
            a.source_port,
        ))),
        Addresses::IPv6(a) => Ok(Origin::Client(SocketAddr::new(
            IpAddr::V6(a.source_address).to_canonical(),
            a.source_port,
        ))),
        Addresses::Unspecified | Addresses::Unix(_) => Err(HeaderError::NotTcp),
    }
}

/// Reads exactly one header from `io` (the bytes after it stay unread) and says what it
/// means. The caller bounds the time.
pub async fn read<R: AsyncRead + Unpin>(io: &mut R) -> Result<Origin, HeaderError> {
    let cut = |e: std::io::Error| HeaderError::Cut(e.to_string());
    let mut header = [0u8; FIXED_LEN + MAX_PAYLOAD];
    let mut fixed = [0u8; FIXED_LEN];
    io.read_exact(&mut fixed).await.map_err(cut)?;
    let len = payload_len(&fixed)?;
    header[..FIXED_LEN].copy_from_slice(&fixed);
    io.read_exact(&mut header[FIXED_LEN..FIXED_LEN + len])
        .await
        .map_err(cut)?;
    parse(&header[..FIXED_LEN + len])
}

/// The client's address as the gateway uses it: what a balancer's header says, or the
/// connection's own address (not from a balancer, or a balancer's own LOCAL connection).
pub fn client_address(peer: SocketAddr, origin: Option<Origin>) -> SocketAddr {
    match origin {
        Some(Origin::Client(client)) => client,
        Some(Origin::Balancer) | None => peer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header written by hand from the protocol's layout, not by the parser's own builder.
    fn header(command: u8, family_protocol: u8, block: &[u8]) -> Vec<u8> {
        let mut out = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
        out.push(0x20 | command);
        out.push(family_protocol);
        out.extend_from_slice(&u16::try_from(block.len()).unwrap().to_be_bytes());
        out.extend_from_slice(block);
        out
    }

    fn addresses(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
        let mut block = Vec::new();
        for ip in [source.ip(), destination.ip()] {
            match ip {
                IpAddr::V4(v4) => block.extend_from_slice(&v4.octets()),
                IpAddr::V6(v6) => block.extend_from_slice(&v6.octets()),
            }
        }
        block.extend_from_slice(&source.port().to_be_bytes());
        block.extend_from_slice(&destination.port().to_be_bytes());
        block
    }

    fn proxied(source: &str, destination: &str) -> Vec<u8> {
        let source: SocketAddr = source.parse().unwrap();
        let destination: SocketAddr = destination.parse().unwrap();
        let family = if source.is_ipv4() { 0x11 } else { 0x21 };
        header(0x1, family, &addresses(source, destination))
    }

    #[test]
    fn the_client_address_of_ipv4_and_ipv6_headers() {
        let v4 = proxied("203.0.113.7:51000", "10.0.0.10:8443");
        assert_eq!(v4.len(), 28);
        assert_eq!(
            parse(&v4),
            Ok(Origin::Client("203.0.113.7:51000".parse().unwrap()))
        );
        let v6 = proxied("[2001:db8::7]:51000", "[2001:db8::10]:8443");
        assert_eq!(
            parse(&v6),
            Ok(Origin::Client("[2001:db8::7]:51000".parse().unwrap()))
        );
        // An IPv4 client relayed as IPv6 is the IPv4 client, for lockout and the audit log.
        let mapped = proxied("[::ffff:203.0.113.7]:1", "[::1]:2");
        assert_eq!(
            parse(&mapped),
            Ok(Origin::Client("203.0.113.7:1".parse().unwrap()))
        );
    }

    #[test]
    fn local_is_the_balancer_itself() {
        let local = header(0x0, 0x00, &[]);
        assert_eq!(parse(&local), Ok(Origin::Balancer));
        let peer: SocketAddr = "10.0.0.5:4000".parse().unwrap();
        assert_eq!(client_address(peer, Some(Origin::Balancer)), peer);
        assert_eq!(client_address(peer, None), peer);
    }

    #[test]
    fn tls_v1_udp_unix_and_oversized_headers_are_refused() {
        let mut hello = [0u8; FIXED_LEN];
        hello[..5].copy_from_slice(&[0x16, 0x03, 0x01, 0x02, 0x00]);
        assert_eq!(payload_len(&hello), Err(HeaderError::Missing));
        let mut v1 = [0u8; FIXED_LEN];
        v1.copy_from_slice(b"PROXY TCP4 1.2.3");
        assert_eq!(payload_len(&v1), Err(HeaderError::Missing));

        let udp = header(
            0x1,
            0x12,
            &addresses("1.2.3.4:1".parse().unwrap(), "5.6.7.8:2".parse().unwrap()),
        );
        assert_eq!(parse(&udp), Err(HeaderError::NotTcp));
        let unspecified = header(0x1, 0x01, &[]);
        assert_eq!(parse(&unspecified), Err(HeaderError::NotTcp));

        let mut long = proxied("1.2.3.4:1", "5.6.7.8:2");
        long[14..16].copy_from_slice(&2000u16.to_be_bytes());
        let fixed: [u8; FIXED_LEN] = long[..FIXED_LEN].try_into().unwrap();
        assert_eq!(payload_len(&fixed), Err(HeaderError::TooLong(2000)));

        let mut bad_version = proxied("1.2.3.4:1", "5.6.7.8:2");
        bad_version[12] = 0x31;
        assert!(matches!(
            parse(&bad_version),
            Err(HeaderError::Malformed(_))
        ));
        // An IPv4 family whose block is too short for two addresses and ports.
        let mut short = proxied("1.2.3.4:1", "5.6.7.8:2");
        short[14..16].copy_from_slice(&4u16.to_be_bytes());
        assert!(matches!(
            parse(&short[..20]),
            Err(HeaderError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn exactly_the_header_is_read_and_the_client_hello_stays() {
        let mut bytes = proxied("198.51.100.9:40000", "10.0.0.10:8443");
        bytes.extend_from_slice(&[0x16, 0x03, 0x01]);
        let mut io = &bytes[..];
        assert_eq!(
            read(&mut io).await,
            Ok(Origin::Client("198.51.100.9:40000".parse().unwrap()))
        );
        assert_eq!(io, &[0x16, 0x03, 0x01]);

        let cut = &bytes[..20];
        let mut io = cut;
        assert!(matches!(read(&mut io).await, Err(HeaderError::Cut(_))));
    }
}
