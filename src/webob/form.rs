//! Form values, `req.POST`'s contents: text fields, and uploaded files as Python's
//! `cgi.FieldStorage` keeps them (small ones in memory, larger ones spooled to an unlinked
//! temporary file), within [`FormLimits`]. The request (`request.rs`) hands the body here
//! and keeps the [`MultiDict`] of [`FormValue`]s this builds.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::exc::{self, HTTPError};
use super::multidict::MultiDict;
use super::multipart::{Multipart, MultipartError};

/// Bounds on what parsing a form may cost. Past one, the request is refused with
/// `413 Request Entity Too Large`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormLimits {
    /// Bytes of an `application/x-www-form-urlencoded` body, and of all text fields of a
    /// multipart form together.
    pub max_fields_bytes: u64,
    /// Bytes of one uploaded file (`None`: no limit; files past `spool_after` are on disk).
    pub max_file_bytes: Option<u64>,
    /// An uploaded file larger than this goes to a temporary file instead of memory.
    pub spool_after: usize,
    /// Parts of a multipart form.
    pub max_parts: usize,
    /// Header bytes of one part.
    pub max_part_header_bytes: usize,
}

impl Default for FormLimits {
    fn default() -> FormLimits {
        FormLimits {
            max_fields_bytes: 2 * 1024 * 1024,
            max_file_bytes: None,
            spool_after: 1024 * 1024,
            max_parts: 1000,
            max_part_header_bytes: 16 * 1024,
        }
    }
}

/// One value of a form: a text field, or an uploaded file (a field with a filename).
#[derive(Debug, Clone, PartialEq)]
pub enum FormValue {
    Text(String),
    File(FileUpload),
}

impl FormValue {
    /// The text of a text field.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FormValue::Text(s) => Some(s),
            FormValue::File(_) => None,
        }
    }

    /// The upload of a file field.
    pub fn as_file(&self) -> Option<&FileUpload> {
        match self {
            FormValue::File(f) => Some(f),
            FormValue::Text(_) => None,
        }
    }
}

impl super::multidict::TextValue for FormValue {
    fn text(&self) -> Option<&str> {
        self.as_text()
    }
}

impl From<String> for FormValue {
    fn from(s: String) -> FormValue {
        FormValue::Text(s)
    }
}

impl PartialEq<&str> for FormValue {
    fn eq(&self, other: &&str) -> bool {
        self.as_text() == Some(*other)
    }
}

#[derive(Debug)]
enum Data {
    Memory(Vec<u8>),
    /// An unlinked temporary file (gone from the disk when the last handle closes).
    Disk(File, u64),
}

/// An uploaded file, what `req.POST['file']` is in WebOb (a `FieldStorage` with
/// `.filename`, `.type`, `.file`, `.value`). Clones share the data.
#[derive(Debug, Clone)]
pub struct FileUpload {
    /// The form field's name.
    pub name: String,
    /// The file name the client gave.
    pub filename: String,
    /// The part's Content-Type, if any.
    pub content_type: Option<String>,
    /// Every header of the part.
    pub headers: Vec<(String, String)>,
    data: Rc<Data>,
}

impl PartialEq for FileUpload {
    fn eq(&self, other: &FileUpload) -> bool {
        self.name == other.name
            && self.filename == other.filename
            && self.content_type == other.content_type
            && (Rc::ptr_eq(&self.data, &other.data) || self.bytes().ok() == other.bytes().ok())
    }
}

impl FileUpload {
    /// The file's size in bytes.
    pub fn len(&self) -> u64 {
        match &*self.data {
            Data::Memory(v) => v.len() as u64,
            Data::Disk(_, len) => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the upload was spooled to a temporary file.
    pub fn is_on_disk(&self) -> bool {
        matches!(&*self.data, Data::Disk(..))
    }

    /// The whole content (`field.value`).
    pub fn bytes(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len() as usize);
        self.reader().read_to_end(&mut out)?;
        Ok(out)
    }

    /// A reader over the content from its start (`field.file`); readers are independent.
    pub fn reader(&self) -> FileUploadReader {
        FileUploadReader {
            data: self.data.clone(),
            pos: 0,
        }
    }
}

/// Reads a [`FileUpload`]; implements `Seek` too.
pub struct FileUploadReader {
    data: Rc<Data>,
    pos: u64,
}

impl Read for FileUploadReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = match &*self.data {
            Data::Memory(v) => {
                let rest = v.get(self.pos as usize..).unwrap_or(&[]);
                let n = rest.len().min(out.len());
                out[..n].copy_from_slice(&rest[..n]);
                n
            }
            Data::Disk(file, len) => {
                let want = (len.saturating_sub(self.pos)).min(out.len() as u64) as usize;
                if want == 0 {
                    0
                } else {
                    file.read_at(&mut out[..want], self.pos)?
                }
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for FileUploadReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let len = match &*self.data {
            Data::Memory(v) => v.len() as u64,
            Data::Disk(_, len) => *len,
        };
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

/// An unlinked temporary file in `TMPDIR`: only the returned handle reaches it, and the
/// disk space comes back when it closes (Python's `tempfile.TemporaryFile`).
fn temporary_file() -> io::Result<File> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir();
    for _ in 0..16 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!(
            "may_wsgi-upload-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => {
                let _ = std::fs::remove_file(&path);
                return Ok(file);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary file name",
    ))
}

fn too_large(what: &str) -> HTTPError {
    exc::HTTPRequestEntityTooLarge().with_detail(what)
}

fn malformed(e: MultipartError) -> HTTPError {
    match e {
        MultipartError::HeadersTooLarge => too_large("multipart part headers too large"),
        e => exc::HTTPBadRequest().with_detail(e.to_string()),
    }
}

/// Reads a `multipart/form-data` body into form values, as `FieldStorage` +
/// `MultiDict.from_fieldstorage` do: a part with a (non-empty) filename is a file, any other
/// a text field read as UTF-8 (or its part's charset when that is latin-1).
pub(crate) fn parse_multipart(
    reader: impl Read,
    boundary: &str,
    limits: &FormLimits,
) -> Result<MultiDict<FormValue>, HTTPError> {
    let mut mp = Multipart::new(reader, boundary);
    mp.set_max_header_bytes(limits.max_part_header_bytes);
    let mut out = MultiDict::new();
    let mut fields_bytes = 0u64;
    let mut parts = 0usize;
    let mut block = vec![0u8; 64 * 1024];
    while let Some(part) = mp.next_part().map_err(malformed)? {
        parts += 1;
        if parts > limits.max_parts {
            return Err(too_large(&format!("more than {} form parts", limits.max_parts)));
        }
        let name = part.name.clone().unwrap_or_default();
        match part.filename.clone().filter(|f| !f.is_empty()) {
            None => {
                let mut value = Vec::new();
                loop {
                    let n = mp.read_body(&mut block).map_err(malformed)?;
                    if n == 0 {
                        break;
                    }
                    fields_bytes += n as u64;
                    if fields_bytes > limits.max_fields_bytes {
                        return Err(too_large("form fields too large"));
                    }
                    value.extend_from_slice(&block[..n]);
                }
                let latin1 = part
                    .content_type
                    .as_deref()
                    .and_then(|ct| ct.split_once(';'))
                    .map(|(_, p)| super::multipart::parse_params(p))
                    .and_then(|p| p.into_iter().find(|(k, _)| k.eq_ignore_ascii_case("charset")))
                    .is_some_and(|(_, v)| v.eq_ignore_ascii_case("latin-1") || v.eq_ignore_ascii_case("iso-8859-1"));
                let text = if latin1 {
                    super::util::latin1_text(&value)
                } else {
                    String::from_utf8_lossy(&value).into_owned()
                };
                out.add(name, FormValue::Text(text));
            }
            Some(filename) => {
                let mut memory = Vec::new();
                let mut disk: Option<File> = None;
                let mut len = 0u64;
                loop {
                    let n = mp.read_body(&mut block).map_err(malformed)?;
                    if n == 0 {
                        break;
                    }
                    len += n as u64;
                    if limits.max_file_bytes.is_some_and(|max| len > max) {
                        return Err(too_large("uploaded file too large"));
                    }
                    let store_err = |e: io::Error| {
                        exc::HTTPInternalServerError().with_detail(format!("cannot store the upload: {e}"))
                    };
                    if disk.is_none() && memory.len() + n > limits.spool_after {
                        let mut file = temporary_file().map_err(store_err)?;
                        file.write_all(&memory).map_err(store_err)?;
                        memory = Vec::new();
                        disk = Some(file);
                    }
                    match &mut disk {
                        Some(file) => file.write_all(&block[..n]).map_err(store_err)?,
                        None => memory.extend_from_slice(&block[..n]),
                    }
                }
                let data = match disk {
                    Some(file) => Data::Disk(file, len),
                    None => Data::Memory(memory),
                };
                out.add(
                    name.clone(),
                    FormValue::File(FileUpload {
                        name,
                        filename,
                        content_type: part.content_type.clone(),
                        headers: part.headers.clone(),
                        data: Rc::new(data),
                    }),
                );
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::multipart::tests::{random_sizes, Pieces};
    use super::*;

    fn body(file: &[u8]) -> Vec<u8> {
        let mut b = b"--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n--B\r\n\
Content-Disposition: form-data; name=\"doc\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            .to_vec();
        b.extend_from_slice(file);
        b.extend_from_slice(b"\r\n--B\r\nContent-Disposition: form-data; name=\"none\"; filename=\"\"\r\n\r\n\r\n--B\r\n\
Content-Disposition: form-data; name=\"title\"\r\nContent-Type: text/plain; charset=latin-1\r\n\r\ncaf\xe9\r\n--B--\r\n");
        b
    }

    #[test]
    fn fields_and_files() {
        let data = b"\x00\x01binary\r\n--".repeat(10);
        let raw = body(&data);
        for sizes in [vec![usize::MAX], vec![1], random_sizes(7, 50, 300)] {
            let form = parse_multipart(Pieces::new(&raw, sizes), "B", &FormLimits::default()).unwrap();
            let titles: Vec<_> = form.getall("title").into_iter().map(|v| v.as_text().unwrap()).collect();
            assert_eq!(titles, vec!["hello", "café"]);
            let doc = form.get("doc").unwrap().as_file().unwrap();
            assert_eq!(doc.filename, "a.bin");
            assert_eq!(doc.content_type.as_deref(), Some("application/octet-stream"));
            assert_eq!(doc.bytes().unwrap(), data);
            assert!(!doc.is_on_disk());
            // An empty filename is a text field, as in WebOb.
            assert_eq!(form.get("none"), Some(&FormValue::Text(String::new())));
        }
    }

    #[test]
    fn large_files_spool_to_disk() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let raw = body(&data);
        let limits = FormLimits {
            spool_after: 1000,
            ..FormLimits::default()
        };
        let form = parse_multipart(Pieces::new(&raw, random_sizes(3, 40, 5000)), "B", &limits).unwrap();
        let doc = form.get("doc").unwrap().as_file().unwrap().clone();
        assert!(doc.is_on_disk());
        assert_eq!(doc.len(), data.len() as u64);
        assert_eq!(doc.bytes().unwrap(), data);
        let mut reader = doc.reader();
        reader.seek(SeekFrom::Start(299_990)).unwrap();
        let mut tail = Vec::new();
        reader.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, &data[299_990..]);
    }

    #[test]
    fn limits_are_413() {
        let raw = body(&[7u8; 5000]);
        let tight = |f: fn(&mut FormLimits)| {
            let mut l = FormLimits::default();
            f(&mut l);
            parse_multipart(&raw[..], "B", &l).unwrap_err().code
        };
        assert_eq!(tight(|l| l.max_file_bytes = Some(100)), 413);
        assert_eq!(tight(|l| l.max_fields_bytes = 3), 413);
        assert_eq!(tight(|l| l.max_parts = 2), 413);
        assert_eq!(
            parse_multipart(&b"--B\r\n\r\nx"[..], "B", &FormLimits::default())
                .unwrap_err()
                .code,
            400
        );
    }
}
