//! The `Accept` header and content negotiation, `webob.acceptparse` (`req.accept`).
//!
//! [`Accept::parse`] is WebOb's `create_accept_header`: no header, a valid one (RFC 7231
//! section 5.3.2, checked as strictly as WebOb's regular expressions check it) or an
//! invalid one, which like a missing header accepts everything. On it:
//! [`Accept::acceptable_offers`] (the RFC's matching: the most specific range decides an
//! offer's quality), and the older [`Accept::best_match`] and [`Accept::quality`], which
//! WebOb keeps for compatibility and Glance's `best_match_content_type` uses. The
//! `webob.exc` error bodies are chosen with `acceptable_offers`.

use std::fmt;

/// One element of a valid `Accept` header: a media range and its quality.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRange {
    /// The range as WebOb canonicalises it: `type/subtype;param=value` (case kept, values
    /// quoted only when they need it).
    pub media_range: String,
    /// Media type parameters, unquoted.
    pub params: Vec<(String, String)>,
    /// The quality in thousandths (`q=0.5` is 500; none given is 1000).
    pub qvalue: u16,
    /// Accept extensions after the `q` (`;ext` or `;ext=value`).
    pub extensions: Vec<(String, Option<String>)>,
    /// A `q` was given (an offer may not have one).
    weighted: bool,
}

impl MediaRange {
    /// The quality as a number in 0..=1.
    pub fn quality(&self) -> f32 {
        f32::from(self.qvalue) / 1000.0
    }
}

/// A request's `Accept` header: `AcceptNoHeader`, `AcceptValidHeader` or
/// `AcceptInvalidHeader` in WebOb.
#[derive(Debug, Clone, PartialEq)]
pub enum Accept {
    /// No header: every offer is acceptable.
    NoHeader,
    /// A header that parsed; it may list no range at all (`Accept: `), accepting nothing.
    Valid { header: String, ranges: Vec<MediaRange> },
    /// A header that did not parse: treated as no header.
    Invalid(String),
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_ows(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// A cursor over the header's chars. Chars are those of environ text: bytes above 0x7F
/// appear as latin-1 chars, so they are taken as single units here.
struct Scan<'a> {
    s: &'a [char],
    pos: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos).copied()
    }

    fn ows(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii() && is_ows(c as u8)) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii() && is_tchar(c as u8)) {
            self.pos += 1;
        }
        (self.pos > start).then(|| self.s[start..self.pos].iter().collect())
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// A quoted-string, unquoted.
    fn quoted(&mut self) -> Option<String> {
        let start = self.pos;
        if !self.eat('"') {
            return None;
        }
        let mut out = String::new();
        loop {
            let c = match self.peek() {
                Some(c) => c,
                None => {
                    self.pos = start;
                    return None;
                }
            };
            self.pos += 1;
            match c {
                '"' => return Some(out),
                '\\' => match self.peek() {
                    Some(n)
                        if n == '\t'
                            || n == ' '
                            || ('\u{21}'..='\u{7e}').contains(&n)
                            || ('\u{80}'..='\u{ff}').contains(&n) =>
                    {
                        out.push(n);
                        self.pos += 1;
                    }
                    _ => {
                        self.pos = start;
                        return None;
                    }
                },
                c if c == '\t'
                    || c == ' '
                    || c == '\u{21}'
                    || ('\u{23}'..='\u{7e}').contains(&c)
                    || ('\u{80}'..='\u{ff}').contains(&c) =>
                {
                    out.push(c)
                }
                _ => {
                    self.pos = start;
                    return None;
                }
            }
        }
    }

    fn token_or_quoted(&mut self) -> Option<String> {
        if self.peek() == Some('"') {
            self.quoted()
        } else {
            self.token()
        }
    }

    /// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
    fn qvalue(&mut self) -> Option<u16> {
        let whole = match self.peek() {
            Some('0') => 0u16,
            Some('1') => 1,
            _ => return None,
        };
        self.pos += 1;
        let mut milli = whole * 1000;
        if self.eat('.') {
            let mut scale = 100;
            for _ in 0..3 {
                match self.peek() {
                    Some(d) if d.is_ascii_digit() && (whole == 0 || d == '0') => {
                        milli += scale * (d as u16 - '0' as u16);
                        scale /= 10;
                        self.pos += 1;
                    }
                    _ => break,
                }
            }
        }
        Some(milli)
    }

    /// `media-range [ accept-params ]`; `None` when it does not parse here.
    fn element(&mut self) -> Option<MediaRange> {
        let start = self.pos;
        let parsed = self.element_inner();
        if parsed.is_none() {
            self.pos = start;
        }
        parsed
    }

    fn element_inner(&mut self) -> Option<MediaRange> {
        let type_ = self.token()?;
        if !self.eat('/') {
            return None;
        }
        let subtype = self.token()?;
        let mut params = Vec::new();
        let mut qvalue = 1000;
        let mut extensions = Vec::new();
        let mut weighted = false;
        loop {
            let before = self.pos;
            self.ows();
            if !self.eat(';') {
                self.pos = before;
                break;
            }
            self.ows();
            let is_q = matches!(self.peek(), Some('q' | 'Q')) && self.s.get(self.pos + 1) == Some(&'=');
            if !weighted && is_q {
                self.pos += 2;
                qvalue = self.qvalue()?;
                weighted = true;
            } else if !weighted {
                let name = self.token()?;
                if !self.eat('=') {
                    return None;
                }
                params.push((name, self.token_or_quoted()?));
            } else {
                let name = self.token()?;
                let value = if self.eat('=') {
                    Some(self.token_or_quoted()?)
                } else {
                    None
                };
                extensions.push((name, value));
            }
        }
        let mut media_range = format!("{type_}/{subtype}");
        for (name, value) in &params {
            media_range.push(';');
            media_range.push_str(name);
            media_range.push('=');
            media_range.push_str(&quote_param(value));
        }
        Some(MediaRange {
            media_range,
            params,
            qvalue,
            extensions,
            weighted,
        })
    }
}

/// A parameter value as WebOb writes it: bare when a token, else quoted with `\` and `"`
/// escaped.
fn quote_param(value: &str) -> String {
    if !value.is_empty() && value.bytes().all(is_tchar) {
        value.to_owned()
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// Parses a header value as `#( media-range [ accept-params ] )`.
fn parse_ranges(header: &str) -> Option<Vec<MediaRange>> {
    let chars: Vec<char> = header.chars().collect();
    let mut scan = Scan { s: &chars, pos: 0 };
    let mut ranges = Vec::new();
    if chars.is_empty() {
        return Some(ranges);
    }
    if !scan.eat(',') {
        ranges.push(scan.element()?);
    }
    while scan.pos < chars.len() {
        scan.ows();
        if !scan.eat(',') {
            return None;
        }
        let before = scan.pos;
        scan.ows();
        match scan.element() {
            Some(range) => ranges.push(range),
            None => scan.pos = before,
        }
    }
    Some(ranges)
}

/// An offer (`type/subtype;params`) parsed as WebOb's `parse_offer` does: names lower
/// case; no wildcards.
/// An offer parsed: type, subtype and parameters, names in lower case.
type Offer = (String, String, Vec<(String, String)>);

fn parse_offer(offer: &str) -> Option<Offer> {
    let chars: Vec<char> = offer.chars().collect();
    let mut scan = Scan { s: &chars, pos: 0 };
    let range = scan.element()?;
    // The offer grammar is a media type alone: no q, no extensions, nothing around it.
    if scan.pos != chars.len() || range.weighted {
        return None;
    }
    let base = range.media_range.split(';').next()?;
    let (t, s) = base.split_once('/')?;
    if t == "*" || s == "*" {
        return None;
    }
    Some((
        t.to_ascii_lowercase(),
        s.to_ascii_lowercase(),
        range
            .params
            .into_iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v))
            .collect(),
    ))
}

/// WebOb's `_old_match(mask, offer)`, the loose test `best_match` and `quality` use.
fn old_match(mask: &str, offer: &str) -> bool {
    let (mask_l, offer_l) = (mask.to_ascii_lowercase(), offer.to_ascii_lowercase());
    if mask_l == offer_l || mask == "*/*" || offer == "*/*" || offer == "*" {
        return true;
    }
    let split = |s: &str| -> (String, String) {
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() == 2 {
            (parts[0].to_ascii_lowercase(), parts[1].to_ascii_lowercase())
        } else {
            (s.to_owned(), "*".to_owned())
        }
    };
    let (mask_type, mask_subtype) = split(mask);
    let (offer_type, offer_subtype) = split(offer);
    if mask_subtype == "*" {
        return offer_type == "*" || mask_type.eq_ignore_ascii_case(&offer_type);
    }
    if mask_type == "*" {
        return offer_subtype == "*" || mask_subtype.eq_ignore_ascii_case(&offer_subtype);
    }
    if offer_subtype == "*" {
        return mask_type.eq_ignore_ascii_case(&offer_type);
    }
    if offer_type == "*" {
        return mask_subtype.eq_ignore_ascii_case(&offer_subtype);
    }
    offer_l == mask_l
}

impl Accept {
    /// `create_accept_header(environ.get('HTTP_ACCEPT'))`.
    pub fn parse(header: Option<&str>) -> Accept {
        match header {
            None => Accept::NoHeader,
            Some(h) => match parse_ranges(h) {
                Some(ranges) => Accept::Valid {
                    header: h.to_owned(),
                    ranges,
                },
                None => Accept::Invalid(h.to_owned()),
            },
        }
    }

    /// The header as it came, if there was one.
    pub fn header_value(&self) -> Option<&str> {
        match self {
            Accept::NoHeader => None,
            Accept::Valid { header, .. } | Accept::Invalid(header) => Some(header),
        }
    }

    /// The parsed ranges of a valid header.
    pub fn ranges(&self) -> &[MediaRange] {
        match self {
            Accept::Valid { ranges, .. } => ranges,
            _ => &[],
        }
    }

    /// `accept.acceptable_offers(offers)`: the offers the header accepts, best first, each
    /// with its quality (RFC 7231 5.3.2: the most specific matching range decides); equal
    /// qualities keep the order of `offers`. Offers that are not media types are skipped.
    /// With no header, or an invalid one, every (well-formed) offer at 1.0.
    pub fn acceptable_offers<'o>(&self, offers: &[&'o str]) -> Vec<(&'o str, f32)> {
        let parsed: Vec<(usize, Offer)> = offers
            .iter()
            .enumerate()
            .filter_map(|(i, o)| parse_offer(o).map(|p| (i, p)))
            .collect();
        let ranges = match self {
            Accept::Valid { ranges, .. } => ranges,
            _ => return parsed.into_iter().map(|(i, _)| (offers[i], 1.0)).collect(),
        };
        // Ranges lower-cased as WebOb compares them.
        let lowered: Vec<(Offer, u16)> = ranges
            .iter()
            .map(|r| {
                let base = r.media_range.split(';').next().unwrap_or("").to_ascii_lowercase();
                let params = r
                    .params
                    .iter()
                    .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                    .collect();
                ((base, String::new(), params), r.qvalue)
            })
            .collect();
        // (offer, qvalue, index, specificity), keyed by the offer text as WebOb's dict is.
        let mut found: Vec<(&'o str, u16, usize, u8)> = Vec::new();
        for (index, (otype, osub, oparams)) in &parsed {
            let offer = offers[*index];
            for ((range, _, rparams), q) in &lowered {
                let (rtype, rsub) = range.split_once('/').unwrap_or((range, ""));
                let specificity = if *otype == rtype && *osub == rsub {
                    if rparams.is_empty() {
                        3
                    } else if oparams == rparams {
                        4
                    } else {
                        continue;
                    }
                } else if rsub == "*" && *otype == rtype {
                    2
                } else if range == "*/*" {
                    1
                } else {
                    continue;
                };
                match found.iter_mut().find(|f| f.0 == offer) {
                    Some(f) if specificity <= f.3 => {}
                    Some(f) => *f = (offer, *q, *index, specificity),
                    None => found.push((offer, *q, *index, specificity)),
                }
            }
        }
        found.retain(|f| f.1 > 0);
        found.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
        found
            .into_iter()
            .map(|(o, q, _, _)| (o, f32::from(q) / 1000.0))
            .collect()
    }

    /// `accept.best_match(offers)`: WebOb's older rule (highest header quality, then the
    /// range with fewer `*`, then the first offer), kept because existing apps rely on it.
    pub fn best_match<'o>(&self, offers: &[&'o str]) -> Option<&'o str> {
        let weighted: Vec<(&'o str, f32)> = offers.iter().map(|o| (*o, 1.0)).collect();
        self.best_match_weighted(&weighted)
    }

    /// `accept.best_match([(offer, server_quality), ...])`.
    pub fn best_match_weighted<'o>(&self, offers: &[(&'o str, f32)]) -> Option<&'o str> {
        let mut best_quality = -1.0f32;
        let mut best = None;
        match self {
            Accept::Valid { ranges, .. } => {
                let mut matched_by = "*/*";
                for &(offer, server_quality) in offers {
                    for range in ranges.iter().filter(|r| r.qvalue > 0) {
                        let mask = range.media_range.as_str();
                        let possible = server_quality * range.quality();
                        if possible < best_quality {
                            continue;
                        }
                        if possible == best_quality && matched_by.matches('*').count() <= mask.matches('*').count() {
                            continue;
                        }
                        if old_match(mask, offer) {
                            best_quality = possible;
                            best = Some(offer);
                            matched_by = mask;
                        }
                    }
                }
            }
            _ => {
                for &(offer, quality) in offers {
                    if quality > best_quality {
                        best = Some(offer);
                        best_quality = quality;
                    }
                }
            }
        }
        best
    }

    /// `accept.quality(offer)`: the highest quality of a range that (loosely) matches,
    /// `None` when none does; always 1.0 without a valid header.
    pub fn quality(&self, offer: &str) -> Option<f32> {
        match self {
            Accept::Valid { ranges, .. } => {
                let best = ranges
                    .iter()
                    .filter(|r| old_match(&r.media_range, offer))
                    .map(|r| r.qvalue)
                    .max()
                    .unwrap_or(0);
                (best > 0).then(|| f32::from(best) / 1000.0)
            }
            _ => Some(1.0),
        }
    }

    /// `accept.accept_html()`: some HTML-like type is acceptable.
    pub fn accept_html(&self) -> bool {
        !self
            .acceptable_offers(&["text/html", "application/xhtml+xml", "application/xml", "text/xml"])
            .is_empty()
    }
}

impl fmt::Display for Accept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Accept::NoHeader | Accept::Invalid(_) => Ok(()),
            Accept::Valid { ranges, .. } => {
                for (i, r) in ranges.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&r.media_range)?;
                    if r.qvalue != 1000 || !r.extensions.is_empty() {
                        let q = f32::from(r.qvalue) / 1000.0;
                        write!(f, ";q={q}")?;
                    }
                    for (name, value) in &r.extensions {
                        write!(f, ";{name}")?;
                        if let Some(v) = value {
                            write!(f, "={}", quote_param(v))?;
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offers(header: Option<&str>, offers: &[&'static str]) -> Vec<(&'static str, f32)> {
        Accept::parse(header).acceptable_offers(offers)
    }

    #[test]
    fn valid_and_invalid_headers() {
        for ok in [
            "",
            "text/html",
            "text/html;q=0.5, */*;q=0.1",
            "text/html ;level=1 ; q=1.0",
            ",,text/html,,",
            "text/html;q=0.123;ext;ext2=\"a b\"",
            "application/json;charset=\"utf-8\"",
            "*/*",
            "Text/HTML;Q=0",
        ] {
            assert!(matches!(Accept::parse(Some(ok)), Accept::Valid { .. }), "{ok:?}");
        }
        for bad in [
            " text/html",
            "text/html ",
            "text",
            "text/html;q=1.5",
            "text/html;q=0.5000",
            "text/html;q=.5",
            "text/html;level",
            "text/html;q=0.5;",
            "text/html;a=\"unterminated",
            "text/html text/plain",
            // RFC 7230's #rule: a leading "," must be followed by another.
            ",text/html",
        ] {
            assert!(matches!(Accept::parse(Some(bad)), Accept::Invalid(_)), "{bad:?}");
        }
        let a = Accept::parse(Some("text/html;level=\"1\";q=0.7;ext=\"x y\""));
        assert_eq!(a.ranges()[0].media_range, "text/html;level=1");
        assert_eq!(a.ranges()[0].qvalue, 700);
        assert_eq!(
            a.ranges()[0].extensions,
            vec![("ext".to_owned(), Some("x y".to_owned()))]
        );
        assert_eq!(a.to_string(), "text/html;level=1;q=0.7;ext=\"x y\"");
    }

    #[test]
    fn acceptable_offers_like_webob() {
        let html_json = ["text/html", "application/json"];
        // No header / invalid header: all, in order.
        assert_eq!(
            offers(None, &html_json),
            vec![("text/html", 1.0), ("application/json", 1.0)]
        );
        assert_eq!(
            offers(Some("bogus"), &html_json),
            vec![("text/html", 1.0), ("application/json", 1.0)]
        );
        // An empty header accepts nothing: the error bodies fall back to text/plain.
        assert!(offers(Some(""), &html_json).is_empty());
        assert_eq!(
            offers(Some("*/*"), &html_json),
            vec![("text/html", 1.0), ("application/json", 1.0)]
        );
        assert_eq!(
            offers(Some("application/json"), &html_json),
            vec![("application/json", 1.0)]
        );
        assert_eq!(
            offers(Some("text/*;q=0.3, application/json;q=0.8"), &html_json),
            vec![("application/json", 0.8), ("text/html", 0.3)]
        );
        // The most specific range wins, even with a lower quality.
        assert_eq!(
            offers(Some("text/html;q=0, */*"), &html_json),
            vec![("application/json", 1.0)]
        );
        assert_eq!(
            offers(
                Some("text/html;level=1, text/html;q=0.5"),
                &["text/html;level=1", "text/html"]
            ),
            vec![("text/html;level=1", 1.0), ("text/html", 0.5)]
        );
        // Malformed offers are skipped.
        assert_eq!(offers(Some("*/*"), &["text/*", "nope", "a/b"]), vec![("a/b", 1.0)]);
    }

    #[test]
    fn best_match_and_quality_like_webob() {
        let a = Accept::parse(Some("text/html;q=0.5, text/*"));
        assert_eq!(a.best_match(&["text/html", "text/plain"]), Some("text/html"));
        assert_eq!(a.quality("text/html"), Some(1.0));
        let a = Accept::parse(Some("application/json, application/xml;q=0.9"));
        assert_eq!(
            a.best_match(&["application/xml", "application/json"]),
            Some("application/json")
        );
        assert_eq!(a.best_match(&["text/plain"]), None);
        assert_eq!(a.quality("application/xml"), Some(0.9));
        assert_eq!(a.quality("image/png"), None);
        let none = Accept::parse(None);
        assert_eq!(none.best_match_weighted(&[("a/b", 0.5), ("c/d", 0.9)]), Some("c/d"));
        assert_eq!(none.quality("x/y"), Some(1.0));
        assert!(Accept::parse(Some("text/*")).accept_html());
        assert!(!Accept::parse(Some("image/png")).accept_html());
    }

    #[test]
    fn parse_is_the_same_however_it_was_cut() {
        // The parser is fed a whole header value; a prefix must never be taken for more
        // than it is (a cut inside an element makes it invalid or shorter, never different).
        let header = "text/html;level=1;q=0.9, application/json;q=0.8;x=\"a,b\", */*;q=0.1";
        let full = Accept::parse(Some(header));
        assert_eq!(full.ranges().len(), 3);
        for cut in 0..header.len() {
            let part = Accept::parse(Some(&header[..cut]));
            for (a, b) in part.ranges().iter().zip(full.ranges()) {
                if a.media_range == b.media_range && a.qvalue == b.qvalue {
                    continue;
                }
                // Only the last, cut element may differ.
                assert!(
                    std::ptr::eq(a, part.ranges().last().unwrap()),
                    "cut {cut}: {a:?} vs {b:?}"
                );
            }
        }
    }
}
