//! The ABNF rules the parser checks by hand, as predicates named after the rules.
//!
//! httparse tokenises the request line and the fields; what it leaves open (which bytes may
//! stand in a Host, what a chunk extension looks like) is decided here, one function per
//! grammar rule of RFC 9110, RFC 9112 and RFC 3986. Nothing allocates: every check is one
//! pass over a slice.

use std::net::Ipv6Addr;

/// `tchar` (RFC 9110 5.6.2): the characters of a `token`, such as a method, a field name or
/// a chunk-extension name.
pub fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// `is_tchar` as a table: it runs over every field name of every request and response, and
/// one load a byte is cheaper than the chain of range tests the `matches!` compiles to.
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8,
            b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' |
            b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z');
        b += 1;
    }
    table
};

/// `qdtext` (RFC 9110 5.6.4): what may stand unescaped between the quotes of a
/// `quoted-string`: HTAB, SP, visible characters but `"` and `\`, and obs-text.
pub fn is_qdtext(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5B | 0x5D..=0x7E | 0x80..=0xFF)
}

/// The second byte of a `quoted-pair` (RFC 9110 5.6.4): `\` may escape HTAB, SP, any
/// visible character and obs-text, but never a control character.
pub fn is_quoted_pair_byte(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21..=0x7E | 0x80..=0xFF)
}

/// `unreserved / sub-delims` of RFC 3986 2.2-2.3, the characters of a `reg-name` besides
/// `pct-encoded`, with one deliberate omission: the comma. A comma is a legal sub-delim, but
/// no DNS name has one, and in a Host field it reads as a list of hosts (`Host: a,b`), which
/// proxies and servers split differently: the stuff of request smuggling.
const fn is_reg_name_byte(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' |
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b';' | b'=')
}

/// [`is_reg_name_byte`] as a table: a Host is checked on every request, and one lookup per
/// byte is quicker than a chain of comparisons.
static REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_reg_name_byte(b as u8);
        b += 1;
    }
    table
};

/// How long the `reg-name` (RFC 3986 3.2.2) at the start of `value` is: unreserved and
/// sub-delim bytes, and `pct-encoded` escapes ("%" HEXDIG HEXDIG). An `IPv4address` is a
/// `reg-name` by its characters, so this one rule covers both (RFC 3986 reads "999.1.1.1"
/// as a name, not as a bad address).
fn reg_name_len(value: &[u8]) -> usize {
    let hex = |i: usize| value.get(i).is_some_and(u8::is_ascii_hexdigit);
    let mut i = 0;
    while i < value.len() {
        if REG_NAME[usize::from(value[i])] {
            i += 1;
        } else if value[i] == b'%' && hex(i + 1) && hex(i + 2) {
            i += 3;
        } else {
            break;
        }
    }
    i
}

/// What lies between the brackets of an `IP-literal` (RFC 3986 3.2.2): an `IPv6address`
/// (std's parser takes exactly that, embedded IPv4 included, and refuses zone ids), or
/// `IPvFuture` = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ).
fn is_ip_literal(inner: &[u8]) -> bool {
    if let Some(rest) = inner.strip_prefix(b"v").or_else(|| inner.strip_prefix(b"V")) {
        let dot = rest.iter().position(|&b| b == b'.').unwrap_or(rest.len());
        let (version, tail) = rest.split_at(dot);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && tail.len() > 1
            && tail[1..].iter().all(|&b| is_reg_name_byte(b) || b == b',' || b == b':');
    }
    std::str::from_utf8(inner).is_ok_and(|s| s.parse::<Ipv6Addr>().is_ok())
}

/// Splits `uri-host [ ":" port ]` (the value of Host, RFC 9110 7.2, and the authority of an
/// http URI without userinfo) into the host and the port's digits, or `None` when it is not
/// one. The port may be empty, as RFC 3986 3.2.3 allows (`port = *DIGIT`).
pub fn split_host_port(value: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let host_end = if value.first() == Some(&b'[') {
        let close = value.iter().position(|&b| b == b']')?;
        if !is_ip_literal(&value[1..close]) {
            return None;
        }
        close + 1
    } else {
        // Whatever follows the name must be the port. RFC 9110 4.2.1: an http URI with an
        // empty host is invalid.
        match reg_name_len(value) {
            0 => return None,
            end => end,
        }
    };
    let (host, rest) = value.split_at(host_end);
    match rest {
        [] => Some((host, None)),
        [b':', digits @ ..] if digits.iter().all(u8::is_ascii_digit) => Some((host, Some(digits))),
        _ => None,
    }
}

/// A valid Host field value or http authority: a host and an optional numeric port.
pub fn is_host(value: &[u8]) -> bool {
    split_host_port(value).is_some()
}

/// `authority-form` (RFC 9112 3.2.3): `uri-host ":" port`, the port required. Only CONNECT
/// uses it.
pub fn is_authority_form(target: &[u8]) -> bool {
    matches!(split_host_port(target), Some((_, Some(port))) if !port.is_empty())
}

/// Could `name` be one of the `X-Forwarded-*` headers a proxy adds? The cheap part of
/// the test (length 15 to 20, then "x-"): the parser notes it for every field, so that the
/// forwarding headers are looked for only in a head that may have one.
pub fn may_be_forwarding(name: &[u8]) -> bool {
    (15..=20).contains(&name.len()) && name[0] | 0x20 == b'x' && name[1] == b'-'
}

/// `scheme` (RFC 3986 3.1): ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
pub fn is_scheme(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_alphabetic)
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for ok in [
            "example.com",
            "example.com:8080",
            "a:",
            "127.0.0.1",
            "127.0.0.1:80",
            "999.1.1.1",
            "[::1]",
            "[::1]:443",
            "[2001:db8::ff00:42:8329]",
            "[::ffff:192.0.2.1]:1",
            "[v7.fe80::a+en1]",
            "xn--bcher-kva.example",
            "my_host.local",
            "caf%C3%A9.example",
            "localhost",
        ] {
            assert!(is_host(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            ":80",
            "a@b",
            "user:pw@host",
            "b/c",
            "a, b",
            "a,b",
            "a b",
            "a:b",
            "a:80:90",
            "a:-1",
            "[::1",
            "::1",
            "[::1]x",
            "[::1]:8x",
            "[1.2.3.4]",
            "[fe80::1%25eth0]",
            "[v.x]",
            "[v7.]",
            "]ufd",
            "ex%zzample",
            "ex%4",
            "caf\u{e9}.example",
            "a\tb",
            "a\"b",
            "a?b",
            "a#b",
        ] {
            assert!(!is_host(bad.as_bytes()), "{bad:?}");
        }
    }

    #[test]
    fn authority_form_needs_a_port() {
        assert!(is_authority_form(b"example.com:443"));
        assert!(is_authority_form(b"[::1]:443"));
        assert!(!is_authority_form(b"example.com"));
        assert!(!is_authority_form(b"example.com:"));
        assert!(!is_authority_form(b"/path"));
    }

    #[test]
    fn tokens_and_quoted_strings() {
        assert!(b"chunk-ext_name.1~".iter().all(|&b| is_tchar(b)));
        assert!(!b" \t\";=(),/:<>?@[]\\{}\x7f\x00\x80".iter().any(|&b| is_tchar(b)));
        assert!(is_qdtext(b' ') && is_qdtext(b'\t') && is_qdtext(0xE9));
        assert!(!is_qdtext(b'"') && !is_qdtext(b'\\') && !is_qdtext(b'\r') && !is_qdtext(0x7f));
        assert!(is_quoted_pair_byte(b'"') && is_quoted_pair_byte(b'\\'));
        assert!(!is_quoted_pair_byte(b'\r') && !is_quoted_pair_byte(b'\n') && !is_quoted_pair_byte(0));
        assert!(is_scheme(b"http") && is_scheme(b"svn+ssh") && is_scheme(b"example.com"));
        assert!(!is_scheme(b"") && !is_scheme(b"1http") && !is_scheme(b"a/b"));
    }
}
