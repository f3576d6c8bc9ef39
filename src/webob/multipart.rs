//! A streaming `multipart/form-data` reader (RFC 7578 over RFC 2046), the part of
//! Python's `cgi.FieldStorage` that WebOb's `req.POST` relies on.
//!
//! [`Multipart`] reads parts off any [`Read`] (`wsgi.input`, a file, a slice) holding one
//! buffer of its own: [`Multipart::next_part`] gives the next part's headers, and reading
//! the `Multipart` gives that part's body, as it arrives, never more than the buffer at a
//! time. So an upload of any size passes through in constant memory; the form parser
//! (`form.rs`) decides what to keep. The body stops at the delimiter however the bytes were
//! cut on the way in: the last `delimiter - 1` bytes are held back until the next read
//! tells whether they start a delimiter.
//!
//! No crate fitted: `multipart` is unmaintained and `multer` is async-only.

use std::fmt;
use std::io::{self, Read};

/// What a part's headers say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartHeaders {
    /// Every header line of the part, in order (names as sent).
    pub headers: Vec<(String, String)>,
    /// The `name` of `Content-Disposition: form-data; name="..."`.
    pub name: Option<String>,
    /// The `filename` (or a decoded `filename*`), when the part is a file.
    pub filename: Option<String>,
    /// The part's `Content-Type`, when it has one.
    pub content_type: Option<String>,
}

impl PartHeaders {
    /// The first header of that name, any case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a multipart body could not be read.
#[derive(Debug)]
pub enum MultipartError {
    /// The body ended before its closing delimiter, or holds no delimiter at all.
    Truncated,
    /// Bytes after a delimiter that are neither a line end nor `--`, or a bad header line.
    Malformed(&'static str),
    /// A part's headers ran past the limit.
    HeadersTooLarge,
    /// Reading the underlying stream failed.
    Io(io::Error),
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MultipartError::Truncated => f.write_str("multipart body ended before its closing boundary"),
            MultipartError::Malformed(why) => write!(f, "malformed multipart body: {why}"),
            MultipartError::HeadersTooLarge => f.write_str("multipart part headers too large"),
            MultipartError::Io(e) => write!(f, "reading the multipart body failed: {e}"),
        }
    }
}

impl std::error::Error for MultipartError {}

impl From<MultipartError> for io::Error {
    fn from(e: MultipartError) -> io::Error {
        match e {
            MultipartError::Io(e) => e,
            MultipartError::Truncated => io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string()),
            other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first delimiter.
    Preamble,
    /// Just after a delimiter: a line end (a part follows) or `--` (the end).
    Delimited,
    /// In a part's body.
    Body,
    Done,
}

/// The size of the read buffer; part headers may not be larger.
const BUF_SIZE: usize = 64 * 1024;

/// A `multipart/*` body read part by part. See the module text.
pub struct Multipart<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// `\r\n--boundary`.
    delimiter: Vec<u8>,
    state: State,
    max_header_bytes: usize,
}

/// The `boundary` parameter of a `multipart/...` Content-Type.
pub fn boundary_of(content_type: &str) -> Option<String> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    let boundary = parse_params(params)
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v)?;
    // RFC 2046: 1 to 70 characters.
    (!boundary.is_empty() && boundary.len() <= 70).then_some(boundary)
}

/// `; name=value; name="quoted"` parameters, as Python's `cgi` reads them: inside quotes
/// `\\` and `\"` are escapes, any other backslash is kept (browsers send Windows paths).
pub(crate) fn parse_params(params: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = params.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i] == b';' || bytes[i].is_ascii_whitespace()) {
            i += 1;
        }
        let name_start = i;
        while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b';' {
            i += 1;
        }
        let name = params[name_start..i].trim().to_owned();
        if i >= bytes.len() || bytes[i] == b';' {
            if !name.is_empty() {
                out.push((name, String::new()));
            }
            continue;
        }
        i += 1; // '='
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        let value = if bytes.get(i) == Some(&b'"') {
            i += 1;
            let mut v = Vec::new();
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' && matches!(bytes.get(i + 1), Some(b'\\' | b'"')) {
                    i += 1;
                }
                v.push(bytes[i]);
                i += 1;
            }
            i += 1; // closing quote
            String::from_utf8_lossy(&v).into_owned()
        } else {
            let start = i;
            while i < bytes.len() && bytes[i] != b';' {
                i += 1;
            }
            params[start..i].trim().to_owned()
        };
        out.push((name, value));
    }
    out
}

/// `filename*=UTF-8''caf%C3%A9.txt` (RFC 5987), decoded.
fn ext_value(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let charset = parts.next()?;
    let _language = parts.next()?;
    let encoded = parts.next()?;
    let bytes = super::util::percent_decode(encoded.as_bytes());
    if charset.eq_ignore_ascii_case("utf-8") {
        Some(String::from_utf8_lossy(&bytes).into_owned())
    } else {
        Some(bytes.iter().map(|&b| b as char).collect())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..hay.len() - needle.len() + 1].iter().position(|&b| b == first) {
            None => return None,
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

impl<R: Read> Multipart<R> {
    /// A reader of the parts of `reader`, delimited by `boundary` (see [`boundary_of`]).
    pub fn new(reader: R, boundary: &str) -> Multipart<R> {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        let mut buf = vec![0; BUF_SIZE.max(delimiter.len() * 2)];
        // The first delimiter may open the body with no line end before it: reading as if
        // one were there finds it either way.
        buf[..2].copy_from_slice(b"\r\n");
        Multipart {
            reader,
            buf,
            start: 0,
            end: 2,
            delimiter,
            state: State::Preamble,
            max_header_bytes: 16 * 1024,
        }
    }

    /// Limits the bytes of one part's header block (16 KiB by default, at most 64 KiB).
    pub fn set_max_header_bytes(&mut self, max: usize) {
        self.max_header_bytes = max.min(BUF_SIZE - 4);
    }

    /// Reads more bytes after the unread ones; false at the end of the stream.
    fn fill(&mut self) -> Result<bool, MultipartError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let new_len = self.buf.len() * 2;
            self.buf.resize(new_len, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(MultipartError::Io(e)),
            }
        }
    }

    /// Moves to the next part and returns its headers; `None` after the last. What was
    /// left unread of the current part is skipped.
    pub fn next_part(&mut self) -> Result<Option<PartHeaders>, MultipartError> {
        let mut scratch = [0u8; 8192];
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Body => while self.read_body(&mut scratch)? > 0 {},
                State::Preamble => {
                    let unread = &self.buf[self.start..self.end];
                    if let Some(i) = find(unread, &self.delimiter) {
                        self.start += i + self.delimiter.len();
                        self.state = State::Delimited;
                        continue;
                    }
                    // Keep what could be the start of a delimiter.
                    let keep = (self.delimiter.len() - 1).min(unread.len());
                    self.start = self.end - keep;
                    if !self.fill()? {
                        return Err(MultipartError::Truncated);
                    }
                }
                State::Delimited => {
                    // "--" ends the body; otherwise optional padding, then a line end.
                    let unread = &self.buf[self.start..self.end];
                    if unread.len() < 2 {
                        if !self.fill()? {
                            return Err(MultipartError::Truncated);
                        }
                        continue;
                    }
                    if unread.starts_with(b"--") {
                        self.state = State::Done;
                        return Ok(None);
                    }
                    let pad = unread.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
                    match unread.get(pad..pad + 2) {
                        Some(b"\r\n") => {
                            self.start += pad + 2;
                            return self.read_headers().map(Some);
                        }
                        Some(_) => return Err(MultipartError::Malformed("no line end after a boundary")),
                        None => {
                            if pad > self.delimiter.len() + 64 {
                                return Err(MultipartError::Malformed("no line end after a boundary"));
                            }
                            if !self.fill()? {
                                return Err(MultipartError::Truncated);
                            }
                        }
                    }
                }
            }
        }
    }

    fn read_headers(&mut self) -> Result<PartHeaders, MultipartError> {
        let mut part = PartHeaders::default();
        let mut seen = 0usize;
        loop {
            let unread = &self.buf[self.start..self.end];
            let Some(eol) = find(unread, b"\r\n") else {
                if unread.len() + seen > self.max_header_bytes {
                    return Err(MultipartError::HeadersTooLarge);
                }
                if !self.fill()? {
                    return Err(MultipartError::Truncated);
                }
                continue;
            };
            seen += eol + 2;
            if seen > self.max_header_bytes {
                return Err(MultipartError::HeadersTooLarge);
            }
            let line = String::from_utf8_lossy(&unread[..eol]).into_owned();
            self.start += eol + 2;
            if line.is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                // An obsolete folded line continues the previous header.
                match part.headers.last_mut() {
                    Some((_, value)) => {
                        value.push(' ');
                        value.push_str(line.trim());
                    }
                    None => return Err(MultipartError::Malformed("a part header starts with whitespace")),
                }
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(MultipartError::Malformed("a part header line has no colon"));
            };
            part.headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        if let Some(disposition) = part.get("content-disposition") {
            let params = disposition.split_once(';').map_or(Vec::new(), |(_, p)| parse_params(p));
            for (key, value) in &params {
                match key.to_ascii_lowercase().as_str() {
                    "name" => part.name = Some(value.clone()),
                    "filename" if part.filename.is_none() => part.filename = Some(value.clone()),
                    "filename*" => part.filename = ext_value(value).or(part.filename.take()),
                    _ => {}
                }
            }
        }
        part.content_type = part.get("content-type").map(str::to_owned);
        self.state = State::Body;
        Ok(part)
    }

    /// Reads the current part's body; 0 at its end (and before the first part).
    pub fn read_body(&mut self, out: &mut [u8]) -> Result<usize, MultipartError> {
        if self.state != State::Body || out.is_empty() {
            return Ok(0);
        }
        loop {
            let unread = &self.buf[self.start..self.end];
            let (available, at_delimiter) = match find(unread, &self.delimiter) {
                Some(i) => (i, true),
                None => (unread.len().saturating_sub(self.delimiter.len() - 1), false),
            };
            if available > 0 {
                let n = available.min(out.len());
                out[..n].copy_from_slice(&unread[..n]);
                self.start += n;
                return Ok(n);
            }
            if at_delimiter {
                self.start += self.delimiter.len();
                self.state = State::Delimited;
                return Ok(0);
            }
            if !self.fill()? {
                return Err(MultipartError::Truncated);
            }
        }
    }
}

/// Reading a `Multipart` reads the body of its current part.
impl<R: Read> Read for Multipart<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.read_body(out).map_err(io::Error::from)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A reader that hands out its bytes in the pieces `cuts` asks for, to test that the
    /// parse does not depend on where reads end.
    pub(crate) struct Pieces {
        data: Vec<u8>,
        pos: usize,
        sizes: Vec<usize>,
        turn: usize,
    }

    impl Pieces {
        pub(crate) fn new(data: &[u8], sizes: Vec<usize>) -> Pieces {
            Pieces {
                data: data.to_vec(),
                pos: 0,
                sizes,
                turn: 0,
            }
        }
    }

    impl Read for Pieces {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let size = self
                .sizes
                .get(self.turn % self.sizes.len().max(1))
                .copied()
                .unwrap_or(usize::MAX)
                .max(1);
            self.turn += 1;
            let n = size.min(out.len()).min(self.data.len() - self.pos);
            out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    /// A small xorshift generator: random splits that can be replayed.
    pub(crate) fn random_sizes(seed: u64, count: usize, max: usize) -> Vec<usize> {
        let mut x = seed | 1;
        (0..count)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                1 + (x % max as u64) as usize
            })
            .collect()
    }

    type Parsed = Vec<(PartHeaders, Vec<u8>)>;

    /// Every part of a whole body (for other modules' tests).
    pub(crate) fn read_all(body: &[u8], boundary: &str) -> Parsed {
        parse(body, boundary).unwrap()
    }

    fn parse(reader: impl Read, boundary: &str) -> Result<Parsed, MultipartError> {
        let mut mp = Multipart::new(reader, boundary);
        let mut out = Vec::new();
        while let Some(part) = mp.next_part()? {
            let mut body = Vec::new();
            mp.read_to_end(&mut body).map_err(MultipartError::Io)?;
            out.push((part, body));
        }
        Ok(out)
    }

    fn every_way(body: &[u8], boundary: &str) -> Result<Parsed, String> {
        let whole = parse(body, boundary).map_err(|e| e.to_string());
        let byte_by_byte = parse(Pieces::new(body, vec![1]), boundary).map_err(|e| e.to_string());
        assert_eq!(whole.as_ref().map(|v| v.len()), byte_by_byte.as_ref().map(|v| v.len()));
        if let (Ok(a), Ok(b)) = (&whole, &byte_by_byte) {
            assert_eq!(a, b, "byte by byte");
        }
        for seed in 1..40 {
            let split = parse(Pieces::new(body, random_sizes(seed, 64, 97)), boundary).map_err(|e| e.to_string());
            match (&whole, &split) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "seed {seed}"),
                (Err(_), Err(_)) => {}
                _ => panic!("seed {seed}: {whole:?} vs {split:?}"),
            }
        }
        whole
    }

    const FORM: &[u8] = b"preamble to ignore\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"title\"\r\n\r\n\
My Day\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"upload\"; filename=\"C:\\dir\\a \\\"b\\\".txt\"\r\n\
Content-Type: text/plain\r\n\r\n\
line one\r\n--Xy\r\nend\r\n-XyZ\r\n--XyZ  \r\n\
Content-Disposition: form-data; name=\"empty\"\r\n\r\n\
\r\n--XyZ--\r\nepilogue";

    #[test]
    fn parses_a_form_every_way() {
        let parts = every_way(FORM, "XyZ").unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].0.name.as_deref(), Some("title"));
        assert_eq!(parts[0].1, b"My Day");
        assert_eq!(parts[1].0.name.as_deref(), Some("upload"));
        assert_eq!(parts[1].0.filename.as_deref(), Some("C:\\dir\\a \"b\".txt"));
        assert_eq!(parts[1].0.content_type.as_deref(), Some("text/plain"));
        // Lookalikes of the delimiter stay in the data.
        assert_eq!(parts[1].1, b"line one\r\n--Xy\r\nend\r\n-XyZ");
        assert_eq!(parts[2].0.name.as_deref(), Some("empty"));
        assert_eq!(parts[2].1, b"");
    }

    #[test]
    fn binary_bodies_with_lookalike_bytes() {
        let mut payload = Vec::new();
        for i in 0..50_000u32 {
            payload.extend_from_slice(&i.to_le_bytes());
            if i % 997 == 0 {
                payload.extend_from_slice(b"\r\n--boundar\r\n-boundary\r\n--");
            }
        }
        let mut body = b"--boundary\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n\r\n".to_vec();
        body.extend_from_slice(&payload);
        body.extend_from_slice(b"\r\n--boundary--\r\n");
        let parts = every_way(&body, "boundary").unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].1, payload);
    }

    #[test]
    fn broken_bodies_are_errors() {
        let cases: &[&[u8]] = &[
            b"",
            b"no boundary here",
            b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue",
            b"--b\r\nContent-Disposition: form-data; name=\"a\"",
            b"--bX\r\n\r\n",
            b"--b\r\nNoColonHere\r\n\r\nx\r\n--b--",
        ];
        for case in cases {
            assert!(every_way(case, "b").is_err(), "{:?}", String::from_utf8_lossy(case));
        }
        let mut huge = b"--b\r\nX-Long: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', 20_000));
        huge.extend_from_slice(b"\r\n\r\nx\r\n--b--");
        assert!(matches!(parse(&huge[..], "b"), Err(MultipartError::HeadersTooLarge)));
    }

    #[test]
    fn skipping_unread_parts() {
        let mut mp = Multipart::new(FORM, "XyZ");
        let names: Vec<_> = std::iter::from_fn(|| mp.next_part().unwrap())
            .map(|p| p.name.unwrap())
            .collect();
        assert_eq!(names, vec!["title", "upload", "empty"]);
    }

    #[test]
    fn boundaries_and_params() {
        assert_eq!(boundary_of("multipart/form-data; boundary=abc").as_deref(), Some("abc"));
        assert_eq!(
            boundary_of("Multipart/Form-Data; charset=x; Boundary=\"a b;c\"").as_deref(),
            Some("a b;c")
        );
        assert_eq!(boundary_of("multipart/form-data"), None);
        assert_eq!(boundary_of("text/plain; boundary=abc"), None);
        assert_eq!(
            boundary_of(&format!("multipart/mixed; boundary={}", "x".repeat(71))),
            None
        );
        assert_eq!(ext_value("UTF-8''caf%C3%A9.txt").as_deref(), Some("café.txt"));
        let mut body = b"--b\r\nContent-Disposition: form-data; name=f; filename=\"fallback\"; filename*=UTF-8''na%C3%AFve.txt\r\n\r\nx\r\n--b--".to_vec();
        let parts = every_way(&body, "b").unwrap();
        assert_eq!(parts[0].0.filename.as_deref(), Some("naïve.txt"));
        body.clear();
    }
}
