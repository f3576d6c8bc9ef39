//! The response body: what an application returns (Python's "iterable of bytes").
//!
//! A [`Body`] is handed to the connection loop, which sends it and then drops it. That drop
//! is WSGI's `close()`: it runs when the response has ended, also when the client went away
//! half way, so an iterator that holds a resource (a file, a database cursor, a lock) frees it
//! by implementing `Drop`.

use std::borrow::Cow;
use std::io::Read;

/// An application's response body.
pub enum Body {
    /// No body.
    Empty,
    /// One piece of bytes (a `&'static str` or `&'static [u8]` is not copied).
    Bytes(Cow<'static, [u8]>),
    /// A list of pieces, like returning `[b"a", b"b"]` in Python.
    Chunks(Vec<Vec<u8>>),
    /// A lazy iterator: each piece goes to the socket as soon as it is produced, so
    /// nothing holds the whole body. Its `Drop` is `close()`.
    Iter(Box<dyn Iterator<Item = Vec<u8>>>),
    /// A file or other reader, sent in blocks (`wsgi.file_wrapper`).
    File(FileWrapper),
}

impl Body {
    /// A body produced lazily by an iterator of byte pieces.
    pub fn iter<I>(pieces: I) -> Body
    where
        I: IntoIterator + 'static,
        I::Item: Into<Vec<u8>>,
    {
        Body::Iter(Box::new(pieces.into_iter().map(Into::into)))
    }

    /// `environ['wsgi.file_wrapper'](filelike, block_size)`.
    pub fn file(reader: impl Read + 'static) -> Body {
        Body::File(FileWrapper::new(reader, 64 * 1024))
    }

    /// The body's length when it is known without producing it.
    pub fn known_len(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::Chunks(v) => Some(v.iter().map(|c| c.len() as u64).sum()),
            Body::Iter(_) | Body::File(_) => None,
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => f.write_str("Body::Empty"),
            Body::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            Body::Chunks(v) => write!(f, "Body::Chunks({} pieces)", v.len()),
            Body::Iter(_) => f.write_str("Body::Iter(..)"),
            Body::File(_) => f.write_str("Body::File(..)"),
        }
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::Bytes(Cow::Borrowed(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(b: &'static [u8]) -> Body {
        Body::Bytes(Cow::Borrowed(b))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::Bytes(Cow::Owned(s.into_bytes()))
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Body {
        Body::Bytes(Cow::Owned(b))
    }
}

/// Borrowed text and bytes that are not `'static` are copied: `Body::from(&name)` for a
/// `String` the app keeps, `Body::from(req.body()?)` for webob's shared body. (A borrowed
/// `&str` or `&[u8]` of a shorter life has no `From`, as the `'static` ones are sent without
/// a copy: `.to_owned()` it.)
impl From<&String> for Body {
    fn from(s: &String) -> Body {
        Body::Bytes(Cow::Owned(s.clone().into_bytes()))
    }
}

impl From<&Vec<u8>> for Body {
    fn from(b: &Vec<u8>) -> Body {
        Body::Bytes(Cow::Owned(b.clone()))
    }
}

impl From<Box<[u8]>> for Body {
    fn from(b: Box<[u8]>) -> Body {
        Body::Bytes(Cow::Owned(b.into_vec()))
    }
}

impl From<std::rc::Rc<[u8]>> for Body {
    fn from(b: std::rc::Rc<[u8]>) -> Body {
        Body::Bytes(Cow::Owned(b.to_vec()))
    }
}

impl From<std::sync::Arc<[u8]>> for Body {
    fn from(b: std::sync::Arc<[u8]>) -> Body {
        Body::Bytes(Cow::Owned(b.to_vec()))
    }
}

impl From<Cow<'static, str>> for Body {
    fn from(s: Cow<'static, str>) -> Body {
        match s {
            Cow::Borrowed(s) => Body::from(s),
            Cow::Owned(s) => Body::from(s),
        }
    }
}

impl From<Cow<'static, [u8]>> for Body {
    fn from(b: Cow<'static, [u8]>) -> Body {
        Body::Bytes(b)
    }
}

impl From<Vec<Vec<u8>>> for Body {
    fn from(v: Vec<Vec<u8>>) -> Body {
        Body::Chunks(v)
    }
}

impl From<Vec<String>> for Body {
    fn from(v: Vec<String>) -> Body {
        Body::Chunks(v.into_iter().map(String::into_bytes).collect())
    }
}

/// The body as a lazy sequence of pieces, whatever it holds: what middleware wraps to change
/// a body while it streams (`Body::iter(body.into_iter().map(..))`), as Python middleware
/// wraps an `app_iter`. A file is read a block at a time; a read error panics, as an
/// exception raised by an `app_iter` does in Python: the server then cuts the connection
/// rather than end the body short as if it were whole.
impl IntoIterator for Body {
    type Item = Vec<u8>;
    type IntoIter = Box<dyn Iterator<Item = Vec<u8>>>;

    fn into_iter(self) -> Self::IntoIter {
        match self {
            Body::Empty => Box::new(std::iter::empty()),
            Body::Bytes(b) => Box::new(std::iter::once(b.into_owned())),
            Body::Chunks(v) => Box::new(v.into_iter()),
            Body::Iter(it) => it,
            Body::File(mut f) => Box::new(std::iter::from_fn(move || {
                let mut block = vec![0; f.block_size];
                loop {
                    match f.reader.read(&mut block) {
                        Ok(0) => return None,
                        Ok(n) => {
                            block.truncate(n);
                            return Some(block);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => panic!("reading the file body failed: {e}"),
                    }
                }
            })),
        }
    }
}

/// `wsgi.file_wrapper`: a reader sent in blocks of `block_size` bytes.
pub struct FileWrapper {
    pub(crate) reader: Box<dyn Read>,
    pub(crate) block_size: usize,
}

impl FileWrapper {
    pub fn new(reader: impl Read + 'static, block_size: usize) -> FileWrapper {
        FileWrapper {
            reader: Box::new(reader),
            block_size: block_size.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_lengths() {
        assert_eq!(Body::from("Hello World").known_len(), Some(11));
        assert_eq!(Body::from(vec!["ab".to_owned(), "c".to_owned()]).known_len(), Some(3));
        assert_eq!(Body::Empty.known_len(), Some(0));
        assert_eq!(Body::iter(vec!["x"]).known_len(), None);
        assert_eq!(Body::file(std::io::empty()).known_len(), None);
    }

    #[test]
    fn bodies_from_every_kind_of_text_and_bytes() {
        let name = String::from("ann");
        let bytes = b"xy".to_vec();
        let static_text: Cow<'static, str> = Cow::Borrowed("st");
        let bodies = [
            Body::from("lit"),
            Body::from(&b"lit"[..]),
            Body::from(name.clone()),
            Body::from(&name),
            Body::from(bytes.clone()),
            Body::from(&bytes),
            Body::from(bytes.clone().into_boxed_slice()),
            Body::from(std::rc::Rc::<[u8]>::from(&b"rc"[..])),
            Body::from(std::sync::Arc::<[u8]>::from(&b"arc"[..])),
            Body::from(static_text),
            Body::from(Cow::<'static, str>::Owned("own".into())),
        ];
        let lens: Vec<_> = bodies.iter().map(Body::known_len).collect();
        let want = [3, 3, 3, 3, 2, 2, 2, 2, 3, 2, 3].map(Some);
        assert_eq!(lens, want);
        assert_eq!(name, "ann", "borrowed, not moved");
    }

    #[test]
    fn every_body_iterates_as_pieces() {
        let bodies = [
            Body::Empty,
            Body::from("ab"),
            Body::from(vec![b"a".to_vec(), b"b".to_vec()]),
            Body::iter(vec!["a", "b"]),
            Body::File(FileWrapper::new(std::io::Cursor::new(b"ab".to_vec()), 1)),
        ];
        let joined: Vec<Vec<u8>> = bodies.into_iter().map(|b| b.into_iter().flatten().collect()).collect();
        assert_eq!(
            joined,
            [
                b"".to_vec(),
                b"ab".to_vec(),
                b"ab".to_vec(),
                b"ab".to_vec(),
                b"ab".to_vec()
            ]
        );
    }

    #[test]
    #[should_panic(expected = "reading the file body failed")]
    fn a_file_that_fails_to_read_panics_rather_than_end_short() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk gone"))
            }
        }
        let _ = Body::file(Broken).into_iter().count();
    }

    #[test]
    fn drop_is_close() {
        use std::rc::Rc;
        struct Closing(Rc<std::cell::Cell<bool>>);
        impl Iterator for Closing {
            type Item = Vec<u8>;
            fn next(&mut self) -> Option<Vec<u8>> {
                None
            }
        }
        impl Drop for Closing {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let closed = Rc::new(std::cell::Cell::new(false));
        let body = Body::Iter(Box::new(Closing(closed.clone())));
        assert!(!closed.get());
        drop(body);
        assert!(closed.get());
    }
}
