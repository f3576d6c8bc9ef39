//! The PROXY protocol (HAProxy's `send-proxy` and `send-proxy-v2`, nginx's
//! `proxy_protocol on`): a header a proxy sends before the first request on each
//! connection, saying whose connection it is passing on. Bytes in, a [`ProxyHeader`] out;
//! the waiting room (`server/waiting_room.rs`) feeds it what a new connection sent, as it
//! feeds the head parser, and takes the client's address from the answer.
//!
//! Both versions, from the specification (haproxy.org/download/2.9/doc/proxy-protocol.txt):
//!
//! ```text
//! v1, text, at most 107 bytes:  "PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\n"
//!                               "PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\n"
//!                               "PROXY UNKNOWN ...\r\n"   (the peer is not known)
//! v2, binary:  12-byte signature  \r\n\r\n\0\r\nQUIT\n
//!              ver_cmd  0x20 LOCAL (a health check of the proxy's own) / 0x21 PROXY
//!              fam      0x11 TCP over IPv4, 0x21 TCP over IPv6, 0x00 unspecified, ...
//!              len      u16, big-endian: the bytes that follow (addresses, then TLVs)
//!              addresses  v4: src, dst (4 + 4), src port, dst port (2 + 2)
//!                         v6: src, dst (16 + 16), src port, dst port (2 + 2)
//! ```
//!
//! `UNKNOWN`, `LOCAL` and an unspecified family carry no client: the connection keeps its
//! socket peer. TLVs (v2's extensions) are skipped. Anything else is an error, and the
//! server closes the connection without an answer, as HAProxy's `accept-proxy` and
//! nginx's `proxy_protocol` do: the peer is a proxy that spoke another protocol, not a
//! client that can read an HTTP error.
//!
//! One verdict, however the bytes arrive (as for heads, see `request.rs`): every prefix
//! of a valid header is "incomplete", so a header cut anywhere is read the same, and an
//! invalid one is refused as soon as its bytes cannot begin a valid header (a plain HTTP
//! request at its first byte), so a connection that will never send one is not kept
//! waiting for it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What the proxy said of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    /// 1 or 2.
    pub version: u8,
    /// The client's address (the connection's source); `None` for `UNKNOWN`, `LOCAL`
    /// and an unspecified or non-IP family: the socket peer stands.
    pub source: Option<SocketAddr>,
    /// The address the client connected to, at the proxy.
    pub destination: Option<SocketAddr>,
}

/// A header that is not one: the connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyError(pub &'static str);

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

const V1_PREFIX: &[u8] = b"PROXY ";
/// The longest v1 line, CRLF included (the specification's figure).
pub const V1_MAX: usize = 107;
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The most v2 address and TLV bytes we take. The format allows 65,535; what proxies send
/// (addresses, an ALPN or SNI, a cloud's endpoint id) is a few hundred.
pub const V2_MAX_LEN: usize = 4096;

/// Reads a PROXY header from the start of `buf`: `Ok(None)` while it may still come
/// whole, `Ok(Some((len, header)))` once it has (the request follows at `len`).
pub fn parse(buf: &[u8]) -> Result<Option<(usize, ProxyHeader)>, ProxyError> {
    match buf.first() {
        None => Ok(None),
        Some(b'P') => parse_v1(buf),
        Some(b'\r') => parse_v2(buf),
        Some(_) => Err(ProxyError("no PROXY protocol header")),
    }
}

fn parse_v1(buf: &[u8]) -> Result<Option<(usize, ProxyHeader)>, ProxyError> {
    let n = buf.len().min(V1_PREFIX.len());
    if buf[..n] != V1_PREFIX[..n] {
        return Err(ProxyError("no PROXY protocol header"));
    }
    let Some(lf) = buf.iter().take(V1_MAX).position(|&b| b == b'\n') else {
        if buf.len() >= V1_MAX {
            return Err(ProxyError("PROXY v1 line too long"));
        }
        if !buf.iter().all(|&b| v1_byte(b) || b == b'\r') {
            return Err(ProxyError("invalid byte in a PROXY v1 line"));
        }
        if buf
            .iter()
            .position(|&b| b == b'\r')
            .is_some_and(|cr| cr + 1 < buf.len())
        {
            return Err(ProxyError("PROXY v1 line: CR without LF"));
        }
        return Ok(None);
    };
    let line = buf[..lf]
        .strip_suffix(b"\r")
        .ok_or(ProxyError("PROXY v1 line not ended by CRLF"))?;
    // The same rule as for a line still arriving, so cuts cannot change the verdict.
    if !line.iter().all(|&b| v1_byte(b)) {
        return Err(ProxyError("invalid byte in a PROXY v1 line"));
    }
    let line = std::str::from_utf8(line).map_err(|_| ProxyError("invalid byte in a PROXY v1 line"))?;
    let fields: Vec<&str> = line.split(' ').collect();
    let header = match fields[..] {
        // "PROXY UNKNOWN" may be followed by anything: the receiver ignores it.
        ["PROXY", "UNKNOWN", ..] => ProxyHeader {
            version: 1,
            source: None,
            destination: None,
        },
        ["PROXY", proto @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let ip = |text: &str| -> Result<IpAddr, ProxyError> {
                let bad = ProxyError("invalid address in a PROXY v1 line");
                if proto == "TCP4" {
                    text.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| bad)
                } else {
                    text.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| bad)
                }
            };
            ProxyHeader {
                version: 1,
                source: Some(SocketAddr::new(ip(src)?, port(sport)?)),
                destination: Some(SocketAddr::new(ip(dst)?, port(dport)?)),
            }
        }
        _ => return Err(ProxyError("malformed PROXY v1 line")),
    };
    Ok(Some((lf + 1, header)))
}

/// What a v1 line may hold: the protocol, addresses, ports and spaces.
fn v1_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b' ' || b == b'.' || b == b':'
}

/// A v1 port: 0 to 65535 in decimal, no sign, no leading zero.
fn port(text: &str) -> Result<u16, ProxyError> {
    let bad = ProxyError("invalid port in a PROXY v1 line");
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || (text.len() > 1 && text.starts_with('0')) {
        return Err(bad);
    }
    text.parse().map_err(|_| bad)
}

fn parse_v2(buf: &[u8]) -> Result<Option<(usize, ProxyHeader)>, ProxyError> {
    let n = buf.len().min(V2_SIGNATURE.len());
    if buf[..n] != V2_SIGNATURE[..n] {
        return Err(ProxyError("no PROXY protocol header"));
    }
    if let Some(&ver_cmd) = buf.get(12) {
        if ver_cmd >> 4 != 2 {
            return Err(ProxyError("PROXY v2: unknown version"));
        }
        if ver_cmd & 0x0F > 1 {
            return Err(ProxyError("PROXY v2: unknown command"));
        }
    }
    let Some(fixed) = buf.get(..16) else {
        return Ok(None);
    };
    let (ver_cmd, family) = (fixed[12], fixed[13]);
    let len = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    if len > V2_MAX_LEN {
        return Err(ProxyError("PROXY v2 header too long"));
    }
    // The address block each family needs (UNIX: two 108-byte paths).
    let need = match family >> 4 {
        0 => 0,
        1 => 12,
        2 => 36,
        3 => 216,
        _ => return Err(ProxyError("PROXY v2: unknown address family")),
    };
    if family & 0x0F > 2 {
        return Err(ProxyError("PROXY v2: unknown transport"));
    }
    if len < need {
        return Err(ProxyError("PROXY v2: addresses cut short"));
    }
    let Some(body) = buf.get(16..16 + len) else {
        return Ok(None);
    };
    let local = ver_cmd & 0x0F == 0;
    // Only a stream (TCP) connection's IP addresses describe an HTTP client.
    let stream = family & 0x0F == 1;
    let (source, destination) = match family >> 4 {
        1 if !local && stream => {
            let ip = |at: usize| IpAddr::V4(Ipv4Addr::new(body[at], body[at + 1], body[at + 2], body[at + 3]));
            let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
            (
                Some(SocketAddr::new(ip(0), port(8))),
                Some(SocketAddr::new(ip(4), port(10))),
            )
        }
        2 if !local && stream => {
            let ip = |at: usize| {
                let octets: [u8; 16] = body[at..at + 16].try_into().expect("16 bytes");
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
            (
                Some(SocketAddr::new(ip(0), port(32))),
                Some(SocketAddr::new(ip(16), port(34))),
            )
        }
        _ => (None, None),
    };
    Ok(Some((
        16 + len,
        ProxyHeader {
            version: 2,
            source,
            destination,
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testing::{ways_to_cut, Rng};

    /// Feeds `raw` in the pieces `cuts` gives, as the waiting room would: the first
    /// verdict that is not "incomplete", or the last "incomplete".
    fn feed(raw: &[u8], cuts: &[usize]) -> Result<Option<(usize, ProxyHeader)>, ProxyError> {
        let mut last = Ok(None);
        for &cut in cuts.iter().chain(std::iter::once(&raw.len())) {
            last = parse(&raw[..cut]);
            if !matches!(last, Ok(None)) {
                return last;
            }
        }
        last
    }

    /// Every way of cutting the input gives the verdict the whole input gets.
    fn every_way(raw: &[u8]) -> Result<Option<(usize, ProxyHeader)>, ProxyError> {
        let whole = parse(raw);
        for cuts in ways_to_cut(raw, &mut Rng::new(3), 40) {
            let cut = feed(raw, &cuts);
            match (&whole, &cut) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{raw:?} cut at {cuts:?}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{raw:?} cut at {cuts:?}: {whole:?} whole, {cut:?} in pieces"),
            }
        }
        whole
    }

    fn sa(text: &str) -> Option<SocketAddr> {
        Some(text.parse().unwrap())
    }

    fn v2(ver_cmd: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut out = V2_SIGNATURE.to_vec();
        out.extend_from_slice(&[ver_cmd, family]);
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

    #[test]
    fn v1_lines_every_way() {
        for (line, source, destination) in [
            (
                &b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\n"[..],
                sa("203.0.113.7:51000"),
                sa("192.0.2.1:443"),
            ),
            (
                b"PROXY TCP6 2001:db8::7 2001:db8::1 0 65535\r\n",
                sa("[2001:db8::7]:0"),
                sa("[2001:db8::1]:65535"),
            ),
            (b"PROXY UNKNOWN\r\n", None, None),
            (b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", None, None),
        ] {
            let raw = [line, REQUEST].concat();
            let header = ProxyHeader {
                version: 1,
                source,
                destination,
            };
            assert_eq!(every_way(&raw), Ok(Some((line.len(), header))));
            assert_eq!(every_way(line), Ok(Some((line.len(), header))), "nothing after it yet");
        }
        // The longest line the specification allows is read; one byte more is refused.
        let tcp6 = b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
        assert!(matches!(every_way(tcp6), Ok(Some((104, _)))));
        let line = |len: usize| [&b"PROXY UNKNOWN "[..], &vec![b'a'; len - 16], b"\r\n"].concat();
        assert!(matches!(every_way(&line(V1_MAX)), Ok(Some((V1_MAX, _)))));
        assert!(every_way(&line(V1_MAX + 1)).is_err());
    }

    #[test]
    fn broken_v1_lines_are_refused_every_way() {
        for bad in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"PROXY\r\n",
            b"PROXY TCP4 203.0.113.7 192.0.2.1 51000\r\n",
            b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443 x\r\n",
            b"PROXY TCP4 2001:db8::7 192.0.2.1 51000 443\r\n",
            b"PROXY TCP6 203.0.113.7 2001:db8::1 51000 443\r\n",
            b"PROXY TCP4 203.0.113.7 192.0.2.1 65536 443\r\n",
            b"PROXY TCP4 203.0.113.7 192.0.2.1 051000 443\r\n",
            b"PROXY TCP4 203.0.113.7 192.0.2.1 -1 443\r\n",
            b"PROXY TCP4  203.0.113.7 192.0.2.1 51000 443\r\n",
            b"PROXY UDP4 203.0.113.7 192.0.2.1 51000 443\r\n",
            b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\n",
            b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\rX\n",
            b"proxy TCP4 203.0.113.7 192.0.2.1 51000 443\r\n",
            b"PROXY TCP4 203.0.113.7\t192.0.2.1 51000 443\r\n",
        ] {
            assert!(every_way(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        // No line end within 107 bytes.
        let endless = [&b"PROXY UNKNOWN "[..], &[b'a'; 200]].concat();
        assert!(every_way(&endless).is_err());
        // A plain request is refused at its first byte: nobody waits for more.
        assert!(parse(b"G").is_err() && parse(b"PROXX").is_err() && parse(b"\r\n\r\n\0\r\nQUIX").is_err());
        assert_eq!(parse(b""), Ok(None));
        assert_eq!(parse(b"PROX"), Ok(None));
    }

    #[test]
    fn v2_headers_every_way() {
        let v4 = [203, 0, 113, 7, 192, 0, 2, 1, 0xC7, 0x38, 0x01, 0xBB];
        let mut v6 = Vec::new();
        v6.extend_from_slice(&"2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
        v6.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        v6.extend_from_slice(&[0xC7, 0x38, 0x01, 0xBB]);
        // A TLV after the addresses (PP2_TYPE_AUTHORITY, "example.com"): skipped.
        let tlv = [&[0x02, 0x00, 0x0B][..], b"example.com"].concat();
        let unix = [0u8; 216];
        for (raw, source, destination) in [
            (v2(0x21, 0x11, &v4), sa("203.0.113.7:51000"), sa("192.0.2.1:443")),
            (
                v2(0x21, 0x11, &[&v4[..], &tlv].concat()),
                sa("203.0.113.7:51000"),
                sa("192.0.2.1:443"),
            ),
            (v2(0x21, 0x21, &v6), sa("[2001:db8::7]:51000"), sa("[2001:db8::1]:443")),
            // LOCAL (the proxy's own health check): addresses, if any, are ignored.
            (v2(0x20, 0x00, &[]), None, None),
            (v2(0x20, 0x11, &v4), None, None),
            // PROXY with an unspecified family, or over a Unix socket: no IP client.
            (v2(0x21, 0x00, &tlv), None, None),
            (v2(0x21, 0x31, &unix), None, None),
            // UDP is not an HTTP client's connection: the peer stands.
            (v2(0x21, 0x12, &v4), None, None),
        ] {
            let header = ProxyHeader {
                version: 2,
                source,
                destination,
            };
            let with_request = [&raw[..], REQUEST].concat();
            assert_eq!(every_way(&with_request), Ok(Some((raw.len(), header))), "{raw:?}");
        }
    }

    #[test]
    fn broken_v2_headers_are_refused_every_way() {
        let v4 = [203, 0, 113, 7, 192, 0, 2, 1, 0xC7, 0x38, 0x01, 0xBB];
        let too_long = {
            let mut raw = v2(0x21, 0x11, &v4);
            raw[14..16].copy_from_slice(&((V2_MAX_LEN + 1) as u16).to_be_bytes());
            raw
        };
        for bad in [
            v2(0x11, 0x11, &v4),      // version 1 in a v2 header
            v2(0x22, 0x11, &v4),      // command 2
            v2(0x21, 0x41, &v4),      // family 4
            v2(0x21, 0x13, &v4),      // transport 3
            v2(0x21, 0x11, &v4[..8]), // addresses cut short
            v2(0x21, 0x21, &v4),      // IPv6 needs 36 bytes
            too_long,
        ] {
            let raw = [&bad[..], REQUEST].concat();
            assert!(every_way(&raw).is_err(), "{bad:?}");
        }
        // Incomplete, not wrong: the signature and fixed part so far.
        assert_eq!(parse(&V2_SIGNATURE[..5]), Ok(None));
        assert_eq!(parse(&v2(0x21, 0x11, &v4)[..20]), Ok(None));
    }

    #[test]
    fn random_bytes_never_panic_and_agree_every_way() {
        // Mutations of valid headers: whatever they are, the verdict does not depend on
        // the cuts, and a header never claims more bytes than it was given.
        let mut rng = Rng::new(99);
        let seeds = [
            b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\nGET".to_vec(),
            v2(0x21, 0x11, &[203, 0, 113, 7, 192, 0, 2, 1, 0xC7, 0x38, 0x01, 0xBB]),
        ];
        for i in 0..2000 {
            let mut raw = seeds[i % 2].clone();
            for _ in 0..rng.below(3) + 1 {
                let at = rng.below(raw.len());
                raw[at] = rng.below(256) as u8;
            }
            if let Ok(Some((len, _))) = every_way(&raw) {
                assert!(len <= raw.len());
            }
        }
    }
}
