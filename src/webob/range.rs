//! The `Range` request header and the `Content-Range` response header, `webob.byterange`
//! (`req.range`, `resp.content_range`).
//!
//! WebOb reads only the first range of a `Range` header; [`Range`] keeps them all (RFC 9110
//! section 14.1.2), and [`Range::range_for_length`] / [`Range::content_range`] answer as
//! WebOb's do for a single range. [`Range::satisfiable`] resolves every range against a
//! length, sorted and coalesced, which is what a conditional response uses to send one
//! range (206) or several (206 `multipart/byteranges`). Offsets here are Python-style: a
//! range is `start..stop`, stop exclusive.

use std::fmt;

/// Requests naming more ranges than this are served whole: answering them costs more than
/// they could save, and many ranges are a known denial-of-service pattern.
pub const MAX_RANGES: usize = 100;

/// One `range-spec` of a `Range: bytes=...` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `first-last`, both inclusive as written.
    FromTo(u64, u64),
    /// `first-`: to the end.
    From(u64),
    /// `-n`: the last n bytes.
    Suffix(u64),
}

/// A parsed `Range: bytes=...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    ranges: Vec<ByteRange>,
}

fn digits(s: &str) -> Option<Option<u64>> {
    let s = s.trim_matches([' ', '\t']);
    if s.is_empty() {
        return Some(None);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().map(Some)
}

impl Range {
    /// A range from WebOb's `(start, end)` form: `end` exclusive, `None` for "to the end";
    /// a negative `start` with no end is a suffix.
    pub fn new(start: i64, end: Option<u64>) -> Option<Range> {
        let spec = match (start, end) {
            (s, None) if s < 0 => ByteRange::Suffix(s.unsigned_abs()),
            (s, None) => ByteRange::From(s as u64),
            (s, Some(e)) if s >= 0 && (s as u64) < e => ByteRange::FromTo(s as u64, e - 1),
            _ => return None,
        };
        Some(Range { ranges: vec![spec] })
    }

    /// Parses `bytes=0-99`, `bytes=500-`, `bytes=-500`, `bytes=0-0,-1` (the unit in any
    /// case, spaces allowed around `=`, `-` and `,` as WebOb allows them). `None` for
    /// anything else, or more than [`MAX_RANGES`] ranges: the header is then ignored and
    /// the whole body served, as RFC 9110 allows.
    pub fn parse(header: &str) -> Option<Range> {
        let header = header.trim_matches([' ', '\t']);
        let unit_end = header.find('=')?;
        if !header[..unit_end]
            .trim_end_matches([' ', '\t'])
            .eq_ignore_ascii_case("bytes")
        {
            return None;
        }
        let mut ranges = Vec::new();
        for spec in header[unit_end + 1..].split(',') {
            if spec.trim_matches([' ', '\t']).is_empty() {
                continue; // empty list elements are allowed by the #rule
            }
            let (first, last) = spec.split_once('-')?;
            let range = match (digits(first)?, digits(last)?) {
                (Some(f), Some(l)) if f <= l => ByteRange::FromTo(f, l),
                (Some(f), None) => ByteRange::From(f),
                (None, Some(n)) => ByteRange::Suffix(n),
                _ => return None,
            };
            ranges.push(range);
            if ranges.len() > MAX_RANGES {
                return None;
            }
        }
        (!ranges.is_empty()).then_some(Range { ranges })
    }

    /// Every range, as the client listed them.
    pub fn ranges(&self) -> &[ByteRange] {
        &self.ranges
    }

    /// `range.range_for_length(length)`: with exactly one range that is satisfiable for a
    /// body of `length` bytes, its `(start, stop)`; otherwise `None`. A suffix longer than
    /// the body means the whole body (RFC 9110; WebOb refuses it).
    pub fn range_for_length(&self, length: u64) -> Option<(u64, u64)> {
        match self.ranges.as_slice() {
            [one] => resolve(*one, length),
            _ => None,
        }
    }

    /// `range.content_range(length)`: [`Range::range_for_length`] as a `Content-Range`.
    pub fn content_range(&self, length: u64) -> Option<ContentRange> {
        self.range_for_length(length).map(|(start, stop)| ContentRange {
            range: Some((start, stop)),
            length: Some(length),
        })
    }

    /// Every satisfiable range for a body of `length` bytes, sorted, with overlapping and
    /// adjacent ranges merged (RFC 9110 14.2 lets a server coalesce). Empty: nothing is
    /// satisfiable (416).
    pub fn satisfiable(&self, length: u64) -> Vec<(u64, u64)> {
        let mut spans: Vec<(u64, u64)> = self.ranges.iter().filter_map(|r| resolve(*r, length)).collect();
        spans.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(spans.len());
        for (start, stop) in spans {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(stop),
                _ => merged.push((start, stop)),
            }
        }
        merged
    }
}

fn resolve(range: ByteRange, length: u64) -> Option<(u64, u64)> {
    match range {
        ByteRange::FromTo(first, last) if first < length => Some((first, last.saturating_add(1).min(length))),
        ByteRange::From(first) if first < length => Some((first, length)),
        ByteRange::Suffix(n) if n > 0 && length > 0 => Some((length - n.min(length), length)),
        _ => None,
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes=")?;
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match r {
                ByteRange::FromTo(a, b) => write!(f, "{a}-{b}")?,
                ByteRange::From(a) => write!(f, "{a}-")?,
                ByteRange::Suffix(n) => write!(f, "-{n}")?,
            }
        }
        Ok(())
    }
}

/// A `Content-Range` header: `bytes start-(stop-1)/length`, `bytes */length`, or with an
/// unknown length `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// `(start, stop)`, stop exclusive; `None` for `*`.
    pub range: Option<(u64, u64)>,
    /// The whole body's length; `None` for `*`.
    pub length: Option<u64>,
}

impl ContentRange {
    /// `ContentRange.parse(value)`: `None` when it does not parse or is inconsistent (a
    /// range past the length).
    pub fn parse(value: &str) -> Option<ContentRange> {
        let rest = value.strip_prefix("bytes ")?;
        let (range, length) = rest.split_once('/')?;
        let length = if length == "*" { None } else { Some(digits(length)??) };
        let range = if range == "*" {
            None
        } else {
            let (a, b) = range.split_once('-')?;
            let (a, b) = (digits(a)??, digits(b)??);
            if a > b {
                return None;
            }
            Some((a, b + 1))
        };
        if let (Some((_, stop)), Some(len)) = (range, length) {
            if stop > len {
                return None;
            }
        }
        Some(ContentRange { range, length })
    }
}

impl fmt::Display for ContentRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.range {
            Some((start, stop)) => write!(f, "bytes {start}-{}/", stop - 1)?,
            None => f.write_str("bytes */")?,
        }
        match self.length {
            Some(len) => write!(f, "{len}"),
            None => f.write_str("*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_like_webob() {
        let r = Range::parse("bytes=0-99").unwrap();
        assert_eq!(r.range_for_length(1000), Some((0, 100)));
        assert_eq!(r.content_range(1000).unwrap().to_string(), "bytes 0-99/1000");
        assert_eq!(r.range_for_length(50), Some((0, 50)));
        assert_eq!(
            Range::parse("bytes=500-").unwrap().range_for_length(1000),
            Some((500, 1000))
        );
        assert_eq!(
            Range::parse("bytes=-100").unwrap().range_for_length(1000),
            Some((900, 1000))
        );
        assert_eq!(
            Range::parse("Bytes = 1 - 2").unwrap().range_for_length(10),
            Some((1, 3))
        );
        assert_eq!(Range::parse("bytes=1000-").unwrap().range_for_length(1000), None);
        assert_eq!(Range::parse("bytes=-0").unwrap().range_for_length(1000), None);
        // A suffix longer than the body is the whole body (RFC 9110).
        assert_eq!(
            Range::parse("bytes=-5000").unwrap().range_for_length(1000),
            Some((0, 1000))
        );
        assert_eq!(Range::parse("bytes=0-").unwrap().range_for_length(0), None);
        assert_eq!(Range::new(-5, None).unwrap().to_string(), "bytes=-5");
        assert_eq!(Range::new(2, Some(5)).unwrap().to_string(), "bytes=2-4");
    }

    #[test]
    fn bad_headers_are_ignored() {
        for bad in [
            "",
            "bytes",
            "bytes=",
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=1",
            "bytes=0-1;x",
        ] {
            assert_eq!(Range::parse(bad), None, "{bad:?}");
        }
        let many = format!("bytes={}", vec!["0-0"; MAX_RANGES + 1].join(","));
        assert_eq!(Range::parse(&many), None);
    }

    #[test]
    fn multiple_ranges() {
        let r = Range::parse("bytes=0-0, -1 ,5-9,,2-6").unwrap();
        assert_eq!(r.ranges().len(), 4);
        assert_eq!(r.range_for_length(100), None, "WebOb's single-range answer");
        assert_eq!(r.satisfiable(100), vec![(0, 1), (2, 10), (99, 100)]);
        assert_eq!(r.satisfiable(3), vec![(0, 1), (2, 3)]);
        assert!(Range::parse("bytes=10-20").unwrap().satisfiable(5).is_empty());
        assert_eq!(r.to_string(), "bytes=0-0,-1,5-9,2-6");
    }

    #[test]
    fn content_range_round_trip() {
        for text in ["bytes 0-99/1000", "bytes */1000", "bytes 5-5/*", "bytes */*"] {
            assert_eq!(ContentRange::parse(text).unwrap().to_string(), text);
        }
        for bad in ["bytes 5-1/10", "bytes 0-10/10", "0-1/2", "bytes 0-1"] {
            assert_eq!(ContentRange::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parse_is_the_same_for_every_spacing() {
        let specs = ["0-1", "5-", "-3", "10-20"];
        let mut rng = 0x2545F4914F6CDD1Du64;
        for _ in 0..200 {
            let mut header = String::from("bytes=");
            for (i, s) in specs.iter().enumerate() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let pad = " ".repeat((rng % 3) as usize);
                if i > 0 {
                    header.push_str(&pad);
                    header.push(',');
                }
                header.push_str(&pad);
                header.push_str(&s.replace('-', &format!("{pad}-{pad}")));
            }
            let r = Range::parse(&header).unwrap_or_else(|| panic!("{header:?}"));
            assert_eq!(r.to_string(), "bytes=0-1,5-,-3,10-20");
        }
    }
}
