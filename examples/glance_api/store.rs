//! The filesystem store: `glance_store/_drivers/filesystem.py` (`Store.add`, `Store.get`
//! with `ChunkedFile`, `Store.delete`), `glance_store/common/utils.py` (`chunkreadable`,
//! `get_hasher`), what `add_to_backend_with_multihash` does for `file://`, and
//! `glance/common/utils.py`'s `LimitingReader` (the `image_size_cap`).
//!
//! `add` reads the body 64 KiB at a time, checks the size after each read, feeds sha512 (the
//! "multihash") and hands the block to a writer thread that feeds md5 (the legacy
//! `checksum`) and writes it, so nothing holds more than a few blocks of an image. Unlike glance_store it writes under a temporary name
//! (`<datadir>/.<id>.tmp-<pid>-<n>`), fsyncs the file, renames it to `<datadir>/<id>`
//! and fsyncs the directory: a crash leaves either no file or a whole one, and the image
//! only becomes `active` (in `image_data.rs`) once the file is whole on disk. A failed
//! write unlinks the temporary file (`_delete_partial`). Hands on to `image_data.rs`.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use may_wsgi::eventlet::may::sync::mpsc;
use may_wsgi::eventlet::tpool;
use md5::{Digest, Md5};
use sha2::Sha512;

/// `filesystem_store_chunk_size`: 64 KiB, for reads and writes.
pub const WRITE_CHUNKSIZE: usize = 64 * 1024;
/// `image_size_cap`: 1 TiB.
pub const IMAGE_SIZE_CAP: u64 = 1 << 40;

/// `glance_store.exceptions` as the upload meets them, with Glance's answers in mind.
#[derive(Debug)]
pub enum StoreError {
    /// `exceptions.Invalid` (size mismatch): 400.
    Invalid(String),
    /// `ImageSizeLimitExceeded` from `LimitingReader`: 413.
    ImageSizeLimitExceeded,
    /// `StorageFull` (ENOSPC, EFBIG): 413.
    StorageFull(String),
    /// `StorageWriteDenied` (EACCES): 503.
    StorageWriteDenied(String),
    /// `NotFound`: the file is gone.
    NotFound(String),
    /// Reading the request body failed (the client went away): Python's `IOError`.
    Read(io::Error),
    /// Any other write failure.
    Io(io::Error),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Invalid(m) | StoreError::StorageFull(m) | StoreError::StorageWriteDenied(m) => f.write_str(m),
            StoreError::NotFound(m) => f.write_str(m),
            StoreError::ImageSizeLimitExceeded => f.write_str("The provided image is too large."),
            StoreError::Read(e) => write!(f, "Error reading the request body: {e}"),
            StoreError::Io(e) => write!(f, "{e}"),
        }
    }
}

fn write_error(e: io::Error) -> StoreError {
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EFBIG) => StoreError::StorageFull(format!(
            "There is not enough disk space on the image storage media: {e}"
        )),
        Some(libc::EACCES) => {
            StoreError::StorageWriteDenied(format!("Permission to write image storage media denied: {e}"))
        }
        _ => StoreError::Io(e),
    }
}

/// What `add` returns: `(location, bytes_written, checksum, multihash)`.
pub struct Added {
    pub location: String,
    pub bytes_written: u64,
    pub checksum: String,
    pub multihash: String,
}

/// The `file` store over `filesystem_store_datadir`.
pub struct Store {
    pub datadir: PathBuf,
    temp_names: AtomicU64,
}

impl Store {
    pub fn new(datadir: PathBuf) -> io::Result<Store> {
        fs::create_dir_all(&datadir)?;
        Ok(Store {
            datadir,
            temp_names: AtomicU64::new(0),
        })
    }

    fn filepath(&self, image_id: &str) -> PathBuf {
        self.datadir.join(image_id)
    }

    /// Unlinks temporary files a crashed upload left (called at start, before workers).
    pub fn remove_partial_files(&self) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.datadir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// `Store.add(image_id, image_file, image_size, hashing_algo)`: streams `data` into
    /// the store, 64 KiB at a time, hashing as it goes. `image_size` 0 means unknown.
    pub fn add(&self, image_id: &str, data: &mut dyn Read, image_size: u64) -> Result<Added, StoreError> {
        let n = self.temp_names.fetch_add(1, Ordering::Relaxed);
        let tmp = self.datadir.join(format!(".{image_id}.tmp-{}-{n}", std::process::id()));
        let result = self.write(&tmp, image_id, data, image_size);
        if result.is_err() {
            // `_delete_partial`.
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn write(&self, tmp: &PathBuf, image_id: &str, data: &mut dyn Read, image_size: u64) -> Result<Added, StoreError> {
        let f = File::create(tmp).map_err(write_error)?;
        let writer = Writer::start(f);
        let mut os_hash_value = Sha512::new();
        let mut bytes_written: u64 = 0;
        loop {
            let mut buf = writer.free_buffer()?;
            // `chunkreadable`: a full block unless the body ends.
            let mut filled = 0;
            while filled < buf.len() {
                match data.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(StoreError::Read(e)),
                }
            }
            if filled == 0 {
                break;
            }
            bytes_written += filled as u64;
            if image_size > 0 && bytes_written > image_size {
                return Err(StoreError::Invalid(format!(
                    "Size exceeds: expected {image_size} bytes, got {bytes_written} bytes"
                )));
            }
            if bytes_written > IMAGE_SIZE_CAP {
                return Err(StoreError::ImageSizeLimitExceeded);
            }
            os_hash_value.update(&buf[..filled]);
            let last = filled < buf.len();
            writer.write(buf, filled)?;
            if last {
                break;
            }
        }
        if image_size > 0 && bytes_written != image_size {
            return Err(StoreError::Invalid(format!(
                "Size mismatch: expected {image_size} bytes, got {bytes_written} bytes"
            )));
        }
        // The writer hashes md5, writes and fsyncs on its own thread.
        let checksum = writer.finish()?;
        let filepath = self.filepath(image_id);
        fs::rename(tmp, &filepath).map_err(write_error)?;
        let dir = self.datadir.clone();
        tpool::execute(move || File::open(dir)?.sync_all()).map_err(write_error)?;
        Ok(Added {
            location: format!("file://{}", filepath.display()),
            bytes_written,
            checksum,
            multihash: hex(&os_hash_value.finalize()),
        })
    }

    /// `Store.get(location, offset, chunk_size)`: the file from `offset`, `length` bytes
    /// at most (the rest when `None`), as a reader (`ChunkedFile`).
    pub fn get(&self, image_id: &str, offset: u64, length: Option<u64>) -> Result<io::Take<File>, StoreError> {
        let path = self.filepath(image_id);
        let mut f =
            File::open(&path).map_err(|_| StoreError::NotFound(format!("Image file {} not found", path.display())))?;
        f.seek(SeekFrom::Start(offset)).map_err(StoreError::Io)?;
        Ok(f.take(length.unwrap_or(u64::MAX)))
    }

    /// `Store.delete(location)`: a missing file is `NotFound`, which callers ignore.
    pub fn delete(&self, image_id: &str) -> Result<(), StoreError> {
        fs::remove_file(self.filepath(image_id)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::NotFound(format!("Image file for {image_id} not found")),
            _ => StoreError::Io(e),
        })
    }
}

/// Blocks in flight between the request's coroutine and the writer thread.
const BUFFERS: usize = 4;

/// The second half of glance_store's loop, on a thread of its own: md5 (`checksum`), the
/// write and the final fsync. The coroutine reads the body and computes sha512 meanwhile,
/// so an upload uses two cores where Glance's loop used one; the blocks go round a pool of
/// [`BUFFERS`], so memory stays at a few blocks however large the image.
struct Writer {
    /// Set when the upload fails before `finish`: the partial file is not worth an fsync.
    aborted: Arc<AtomicBool>,
    blocks: Option<mpsc::Sender<(Vec<u8>, usize)>>,
    free: mpsc::Receiver<Vec<u8>>,
    done: mpsc::Receiver<io::Result<String>>,
}

impl Writer {
    fn start(mut f: File) -> Writer {
        let (blocks_tx, blocks_rx) = mpsc::channel::<(Vec<u8>, usize)>();
        let (free_tx, free_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        for _ in 0..BUFFERS {
            let _ = free_tx.send(vec![0u8; WRITE_CHUNKSIZE]);
        }
        let aborted = Arc::new(AtomicBool::new(false));
        let abort_seen = aborted.clone();
        std::thread::spawn(move || {
            let mut checksum = Md5::new();
            let mut failed = None;
            let (mut written, mut flushed) = (0u64, 0u64);
            while let Ok((buf, len)) = blocks_rx.recv() {
                checksum.update(&buf[..len]);
                if let Err(e) = f.write_all(&buf[..len]) {
                    failed = Some(e);
                    // Tell the reader at once: no free block comes back from now on.
                    break;
                }
                written += len as u64;
                if written - flushed >= WRITEBACK_WINDOW {
                    start_writeback(&f, flushed, written - flushed);
                    flushed = written;
                }
                let _ = free_tx.send(buf);
            }
            let result = match failed {
                Some(e) => Err(e),
                None if abort_seen.load(Ordering::Acquire) => Err(io::Error::other("upload abandoned")),
                None => f.sync_all().map(|_| hex(&checksum.finalize())),
            };
            let _ = done_tx.send(result);
        });
        Writer {
            aborted,
            blocks: Some(blocks_tx),
            free: free_rx,
            done: done_rx,
        }
    }

    /// A block to fill, or the writer's error.
    fn free_buffer(&self) -> Result<Vec<u8>, StoreError> {
        match self.free.recv() {
            Ok(buf) => Ok(buf),
            Err(_) => Err(self.error()),
        }
    }

    fn write(&self, buf: Vec<u8>, len: usize) -> Result<(), StoreError> {
        match self.blocks.as_ref().map(|b| b.send((buf, len))) {
            Some(Ok(())) => Ok(()),
            _ => Err(self.error()),
        }
    }

    /// What went wrong on the writer's side (it has stopped).
    fn error(&self) -> StoreError {
        match self.done.recv() {
            Ok(Err(e)) => write_error(e),
            _ => StoreError::Io(io::Error::other("the image writer stopped")),
        }
    }

    /// Waits for the writes and the fsync: the md5 hex digest.
    ///
    /// Dropping the writer without `finish` abandons the file (its `Drop`).
    fn finish(mut self) -> Result<String, StoreError> {
        drop(self.blocks.take());
        match self.done.recv() {
            Ok(result) => result.map_err(write_error),
            Err(_) => Err(StoreError::Io(io::Error::other("the image writer stopped"))),
        }
    }
}

/// How much is written before its writeback is started.
const WRITEBACK_WINDOW: u64 = 8 << 20;

/// `sync_file_range(SYNC_FILE_RANGE_WRITE)`: starts writing a window to disk without
/// waiting, so the disk works while the body still arrives and the final fsync has only
/// the tail left (and dirty pages never pile up). A failure here is only an optimisation
/// missed: the fsync still decides.
fn start_writeback(f: &File, offset: u64, len: u64) {
    use std::os::unix::io::AsRawFd;
    // SAFETY: a valid descriptor; the call only schedules I/O on it.
    unsafe {
        libc::sync_file_range(f.as_raw_fd(), offset as i64, len as i64, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// An upload that failed part way: the thread stops without the fsync.
impl Drop for Writer {
    fn drop(&mut self) {
        if self.blocks.is_some() {
            self.aborted.store(true, Ordering::Release);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(tag: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("glance-store-{tag}-{}", crate::timeutils::uuid4()));
        Store::new(dir).unwrap()
    }

    #[test]
    fn add_hashes_while_writing_and_get_reads_ranges() {
        let s = store("add");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let added = s.add("img", &mut &data[..], 0).unwrap();
        assert_eq!(added.bytes_written, 200_000);
        assert_eq!(added.checksum, hex(&Md5::digest(&data)));
        assert_eq!(added.multihash, hex(&Sha512::digest(&data)));
        let mut part = Vec::new();
        s.get("img", 5, Some(10)).unwrap().read_to_end(&mut part).unwrap();
        assert_eq!(part, &data[5..15]);
        let empty = s.add("empty", &mut &b""[..], 0).unwrap();
        assert_eq!(empty.checksum, "d41d8cd98f00b204e9800998ecf8427e");
        s.delete("img").unwrap();
        assert!(matches!(s.delete("img"), Err(StoreError::NotFound(_))));
        fs::remove_dir_all(&s.datadir).unwrap();
    }

    #[test]
    fn size_checks_leave_no_file() {
        let s = store("size");
        let e = s.add("a", &mut &b"hello"[..], 9).err().unwrap();
        assert_eq!(e.to_string(), "Size mismatch: expected 9 bytes, got 5 bytes");
        let e = s.add("a", &mut &b"hello world"[..], 9).err().unwrap();
        assert_eq!(e.to_string(), "Size exceeds: expected 9 bytes, got 11 bytes");
        assert_eq!(
            fs::read_dir(&s.datadir).unwrap().count(),
            0,
            "partial files are unlinked"
        );
        fs::remove_dir_all(&s.datadir).unwrap();
    }
}
