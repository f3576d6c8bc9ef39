//! Trusted proxy headers: who the client is and whether it spoke HTTPS, as a proxy in
//! front of the server says in `X-Forwarded-For` and `X-Forwarded-Proto`, believed only
//! from the proxies named by `--forwarded-allow-ips` (gunicorn's `forwarded_allow_ips`).
//!
//! Bytes in, a [`Forwarded`] out: [`read`] scans a parsed head's fields once. The server
//! (the request gateway) calls it only for connections from a trusted peer, and applies
//! the answer to the environ: `wsgi.url_scheme` and `REMOTE_ADDR`.
//!
//! The scheme follows gunicorn's default `secure_scheme_headers` exactly: each of
//! `X-Forwarded-Proto: https`, `X-Forwarded-Ssl: on` and `X-Forwarded-Protocol: ssl` that is
//! present says "https" when its value is exactly that (case-sensitive) and "http"
//! otherwise; when two of them (or two copies of one) disagree, the request is refused with
//! 400 (gunicorn's `InvalidSchemeHeaders`): a proxy that sends both does not know what it
//! is saying, and guessing would let a client pick.
//!
//! The client address: gunicorn itself never reads `X-Forwarded-For` (its REMOTE_ADDR is
//! the socket peer, or the PROXY protocol's). We take it as uvicorn, which shares the flag's
//! name, does: `X-Forwarded-For` is a list each proxy appends its peer to, so its right end
//! is the most trustworthy. Walking from the right, addresses of trusted proxies are skipped
//! and the first other address is the client (the leftmost entries are whatever the
//! client itself sent, and cannot be believed). When every entry is a trusted proxy, the
//! leftmost is taken. An entry that is not an IP address (`unknown`, an obfuscated
//! identifier) ends the walk and the socket peer stays REMOTE_ADDR.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::grammar::may_be_forwarding;
use super::request::{Head, HttpError, Span};

/// The peers whose forwarding headers are believed (`--forwarded-allow-ips`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardedAllow {
    /// `*`: every peer (for a proxy whose address is not known in advance, when only it
    /// can reach the server).
    All,
    /// Addresses and networks (`10.0.0.0/8`); empty trusts no TCP peer.
    Nets(Vec<Net>),
}

/// An address with a prefix length: `127.0.0.1` is `127.0.0.1/32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

/// gunicorn's default: the loopback addresses, so a proxy on the same machine is believed.
pub const DEFAULT_FORWARDED_ALLOW_IPS: &str = "127.0.0.1,::1";

impl Default for ForwardedAllow {
    fn default() -> Self {
        ForwardedAllow::parse(DEFAULT_FORWARDED_ALLOW_IPS).expect("the default parses")
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack listener reports for
/// an IPv4 client) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl Net {
    fn parse(text: &str) -> Result<Net, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or network"))?;
        let addr = canonical(addr);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("{text:?}: the prefix length must be 0 to {max}")),
            },
        };
        Ok(Net { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> (u128, u8) {
            match ip {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let ((net, width), (addr, addr_width)) = (bits(self.addr), bits(canonical(ip)));
        if width != addr_width {
            return false;
        }
        let shift = u32::from(width - self.prefix);
        // A shift by the whole width (prefix 0) matches everything of that family.
        shift >= 128 || (net >> shift) == (addr >> shift)
    }
}

impl ForwardedAllow {
    /// Parses `--forwarded-allow-ips`: `*`, or addresses and networks separated by commas
    /// (`127.0.0.1,::1,10.0.0.0/8`). An empty value trusts no TCP peer.
    pub fn parse(text: &str) -> Result<ForwardedAllow, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(ForwardedAllow::All);
        }
        text.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(Net::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(ForwardedAllow::Nets)
    }

    /// Whether a peer at `ip` is a trusted proxy. A Unix-domain peer (`None`) always is,
    /// as in gunicorn: only processes on this machine with the socket's permissions can be
    /// one.
    pub fn trusts(&self, ip: Option<IpAddr>) -> bool {
        match (self, ip) {
            (_, None) | (ForwardedAllow::All, _) => true,
            (ForwardedAllow::Nets(nets), Some(ip)) => nets.iter().any(|n| n.contains(ip)),
        }
    }
}

/// What a trusted proxy's headers say about one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Forwarded {
    /// `Some(true)` for https, `Some(false)` for http, `None` when no scheme header came.
    pub https: Option<bool>,
    /// The client's address from `X-Forwarded-For`, when one can be believed.
    pub client: Option<IpAddr>,
    /// Where in the head that address is written, when it is written as `client`'s
    /// `Display` would write it (dotted IPv4, which std parses only without leading
    /// zeros): it can then be copied rather than formatted.
    pub client_text: Option<Span>,
}

/// The headers read here.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    For,
    /// One of gunicorn's `secure_scheme_headers`, with the exact value that means https.
    Scheme(&'static [u8]),
}

/// Which forwarding header `name` is, if any. Cheap first, as every request from a trusted
/// peer asks: the length (15 to 20), then "x-", then the rest.
fn field(name: &[u8]) -> Option<Field> {
    if !may_be_forwarding(name) {
        return None;
    }
    if !name[2..12].eq_ignore_ascii_case(b"forwarded-") {
        return None;
    }
    let rest = &name[12..];
    match rest.len() {
        3 if rest.eq_ignore_ascii_case(b"for") => Some(Field::For),
        3 if rest.eq_ignore_ascii_case(b"ssl") => Some(Field::Scheme(b"on")),
        5 if rest.eq_ignore_ascii_case(b"proto") => Some(Field::Scheme(b"https")),
        8 if rest.eq_ignore_ascii_case(b"protocol") => Some(Field::Scheme(b"ssl")),
        _ => None,
    }
}

/// Reads the forwarding headers of a head from a trusted peer (`head_bytes` is what its
/// spans index). Errors with 400 when scheme headers disagree.
pub fn read(head_bytes: &[u8], head: &Head, allow: &ForwardedAllow) -> Result<Forwarded, HttpError> {
    let mut out = Forwarded::default();
    // The X-Forwarded-For field, when there is exactly one (nearly always); or how many.
    let (mut only_for, mut fors) = (None, 0);
    for &(name, value) in &head.headers {
        match field(name.get(head_bytes)) {
            None => {}
            Some(Field::For) => {
                only_for = Some(value.get(head_bytes));
                fors += 1;
            }
            Some(Field::Scheme(secure)) => {
                let https = value.get(head_bytes) == secure;
                match out.https {
                    Some(said) if said != https => {
                        return Err(HttpError::new(400, "conflicting scheme headers from the proxy"));
                    }
                    _ => out.https = Some(https),
                }
            }
        }
    }
    let found = match (fors, only_for) {
        (0, _) | (_, None) => None,
        (1, Some(value)) => client_of(std::iter::once(value), allow),
        // Several fields are one list, in order: walk them last first.
        _ => client_of(
            head.headers
                .iter()
                .rev()
                .filter(|(name, _)| field(name.get(head_bytes)) == Some(Field::For))
                .map(|(_, value)| value.get(head_bytes)),
            allow,
        ),
    };
    if let Some((ip, text)) = found {
        out.client = Some(ip);
        out.client_text = text.map(|t| {
            let start = t.as_ptr() as usize - head_bytes.as_ptr() as usize;
            Span {
                start: start as u32,
                end: (start + t.len()) as u32,
            }
        });
    }
    Ok(out)
}

/// The client in an `X-Forwarded-For` list, given its fields last first: the rightmost
/// entry that is not a trusted proxy, or the leftmost when all are (see the module text).
/// With it, its text when that is the address as std writes it.
fn client_of<'h>(fields: impl Iterator<Item = &'h [u8]>, allow: &ForwardedAllow) -> Option<(IpAddr, Option<&'h [u8]>)> {
    let mut leftmost = None;
    for entry in fields.flat_map(|f| f.rsplit(|&b| b == b',')) {
        let found = parse_entry(entry)?;
        if !allow.trusts(Some(found.0)) {
            return Some(found);
        }
        leftmost = Some(found);
    }
    leftmost
}

/// One `X-Forwarded-For` entry: an address, maybe with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:80`), with optional whitespace around it. With the address, its text
/// when it is plain dotted IPv4 (which is how std writes it back).
fn parse_entry(entry: &[u8]) -> Option<(IpAddr, Option<&[u8]>)> {
    let trimmed = entry.trim_ascii();
    if let Some(v4) = dotted_quad(trimmed) {
        return Some((IpAddr::V4(v4), Some(trimmed)));
    }
    let text = std::str::from_utf8(trimmed).ok()?;
    let ip = if let Ok(ip) = text.parse::<IpAddr>() {
        ip
    } else if let Ok(sa) = text.parse::<SocketAddr>() {
        sa.ip()
    } else {
        let v6 = text.strip_prefix('[')?.strip_suffix(']')?.parse::<Ipv6Addr>().ok()?;
        IpAddr::V6(v6)
    };
    Some((canonical(ip), None))
}

/// The common case, read without `str` checks: four decimal numbers up to 255, no
/// leading zeros (std's own rule, so the text is exactly what `Display` writes).
fn dotted_quad(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split(|&b| b == b'.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part[0] == b'0') {
            return None;
        }
        let mut value = 0u16;
        for &b in part {
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u16::from(b - b'0');
        }
        *octet = u8::try_from(value).ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{parse_head, Limits};

    fn forwarded(headers: &str, allow: &str) -> Result<Forwarded, HttpError> {
        let raw = format!("GET / HTTP/1.1\r\nHost: t\r\n{headers}\r\n");
        let mut head = Head::default();
        parse_head(raw.as_bytes(), &Limits::default(), &mut head)
            .unwrap()
            .unwrap();
        read(raw.as_bytes(), &head, &ForwardedAllow::parse(allow).unwrap())
    }

    fn https(headers: &str) -> Result<Option<bool>, u16> {
        forwarded(headers, "*").map(|f| f.https).map_err(|e| e.status)
    }

    #[test]
    fn scheme_headers_as_gunicorn_reads_them() {
        assert_eq!(https(""), Ok(None));
        assert_eq!(https("X-Forwarded-Proto: https\r\n"), Ok(Some(true)));
        assert_eq!(https("x-forwarded-proto: http\r\n"), Ok(Some(false)));
        assert_eq!(https("X-Forwarded-Ssl: on\r\n"), Ok(Some(true)));
        assert_eq!(https("X-Forwarded-Protocol: ssl\r\n"), Ok(Some(true)));
        // Values compare exactly, as gunicorn's do: anything else means http.
        assert_eq!(https("X-Forwarded-Proto: HTTPS\r\n"), Ok(Some(false)));
        assert_eq!(https("X-Forwarded-Proto: https, http\r\n"), Ok(Some(false)));
        // Agreeing headers are fine; disagreeing ones are gunicorn's InvalidSchemeHeaders.
        assert_eq!(
            https("X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: on\r\n"),
            Ok(Some(true))
        );
        assert_eq!(
            https("X-Forwarded-Proto: http\r\nX-Forwarded-Ssl: off\r\n"),
            Ok(Some(false))
        );
        assert_eq!(https("X-Forwarded-Ssl: on\r\nX-Forwarded-Proto: http\r\n"), Err(400));
        assert_eq!(
            https("X-Forwarded-Proto: https\r\nX-Forwarded-Proto: http\r\n"),
            Err(400)
        );
        // Look-alikes are not scheme headers.
        assert_eq!(
            https("X-Forwarded-Prot: https\r\nX-Forwarded-Protocols: ssl\r\n"),
            Ok(None)
        );
    }

    fn client(headers: &str, allow: &str) -> Option<String> {
        forwarded(headers, allow).unwrap().client.map(|ip| ip.to_string())
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let local = DEFAULT_FORWARDED_ALLOW_IPS;
        assert_eq!(client("", local), None);
        assert_eq!(
            client("X-Forwarded-For: 203.0.113.7\r\n", local).as_deref(),
            Some("203.0.113.7")
        );
        // A client that forges the left end gains nothing: nginx appended the real peer.
        assert_eq!(
            client("X-Forwarded-For: 10.9.9.9, 203.0.113.7\r\n", local).as_deref(),
            Some("203.0.113.7")
        );
        // Trusted hops at the right are skipped, across repeated fields too.
        assert_eq!(
            client(
                "X-Forwarded-For: 1.1.1.1, 203.0.113.7\r\nX-Forwarded-For: 10.0.0.2, 127.0.0.1\r\n",
                "127.0.0.1,10.0.0.0/8"
            )
            .as_deref(),
            Some("203.0.113.7")
        );
        // All trusted: the leftmost.
        assert_eq!(
            client("X-Forwarded-For: 10.0.0.5,10.0.0.6\r\n", "10.0.0.0/8").as_deref(),
            Some("10.0.0.5")
        );
        // Ports, brackets and mapped addresses are read; IPv6 kept whole.
        assert_eq!(
            client("X-Forwarded-For: 203.0.113.7:4711\r\n", local).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            client("X-Forwarded-For: [2001:db8::1]:80\r\n", local).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            client("X-Forwarded-For: 2001:db8::1\r\n", local).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            client("X-Forwarded-For: ::ffff:203.0.113.7\r\n", local).as_deref(),
            Some("203.0.113.7")
        );
        // Something that is not an address ends the walk: the peer stays REMOTE_ADDR.
        assert_eq!(client("X-Forwarded-For: unknown\r\n", local), None);
        assert_eq!(client("X-Forwarded-For: 203.0.113.7, garbage\r\n", local), None);
        assert_eq!(client("X-Forwarded-For:\r\n", local), None);
    }

    #[test]
    fn dotted_quads_as_std_reads_them() {
        for text in [
            "0.0.0.0",
            "203.0.113.7",
            "255.255.255.255",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3.-4",
            "1..3.4",
            "",
            "1.2.3.4 ",
            "1.2.3.4:80",
            "1234.1.1.1",
            "a.b.c.d",
        ] {
            assert_eq!(dotted_quad(text.as_bytes()), text.parse::<Ipv4Addr>().ok(), "{text:?}");
        }
    }

    #[test]
    fn allow_lists() {
        let allow = |t: &str| ForwardedAllow::parse(t).unwrap();
        let ip = |t: &str| Some(t.parse::<IpAddr>().unwrap());
        let default = ForwardedAllow::default();
        assert!(default.trusts(ip("127.0.0.1")) && default.trusts(ip("::1")));
        assert!(
            default.trusts(ip("::ffff:127.0.0.1")),
            "a dual-stack listener's view of 127.0.0.1"
        );
        assert!(!default.trusts(ip("127.0.0.2")) && !default.trusts(ip("10.0.0.1")));
        assert!(default.trusts(None), "a Unix-domain peer is trusted, as in gunicorn");
        assert!(allow("*").trusts(ip("198.51.100.1")));
        let nets = allow(" 10.0.0.0/8 , 192.168.1.0/24,2001:db8::/32");
        assert!(nets.trusts(ip("10.255.0.1")) && nets.trusts(ip("192.168.1.200")));
        assert!(!nets.trusts(ip("192.168.2.1")) && !nets.trusts(ip("11.0.0.1")));
        assert!(nets.trusts(ip("2001:db8:ffff::1")) && !nets.trusts(ip("2001:db9::1")));
        assert!(allow("0.0.0.0/0").trusts(ip("8.8.8.8")) && !allow("0.0.0.0/0").trusts(ip("::2")));
        assert!(allow("::/0").trusts(ip("2001:db8::1")));
        assert!(!allow("").trusts(ip("127.0.0.1")), "empty trusts no TCP peer");
        for bad in ["localhost", "10.0.0.0/33", "::1/129", "1.2.3.4/x", "1.2.3"] {
            assert!(ForwardedAllow::parse(bad).is_err(), "{bad}");
        }
    }
}
