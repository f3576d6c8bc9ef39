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
