//! `glance/db/__init__.py` (`ImageRepo`: get, list, add, save with `from_state`, remove)
//! and the image part of `glance/db/sqlalchemy/api.py` (`image_get_all`: filters, sort keys
//! with the `created_at`/`id` tie-breaks, marker, limit; `_image_update`'s conditional
//! save), over a database of our own: one JSON file.
//!
//! The database (`<data-dir>/glance-images.json`) holds every image row, soft-deleted ones
//! too, as Glance's `images` table does. It is shared by the worker processes, so:
//! - a writer takes an in-process lock, then `flock(LOCK_EX)` on `<data-dir>/glance-images.lock`
//!   (one open file per process, opened after the fork: flock locks belong to the open file),
//!   reads the newest rows, changes them, writes a temporary file, fsyncs it, renames it over
//!   the database, fsyncs the directory, and only then bumps the 8-byte generation stamp
//!   kept in the lock file;
//! - a reader takes no lock: the rename makes every version whole, and it re-reads the file
//!   only when the stamp differs from the one its cached copy was read at, so a list parses
//!   nothing while no one writes (the figure the speed target needs).
//!
//! A conditional save (`from_state`) runs its check inside the same lock, so two uploads to
//! one image across workers cannot both move it to `saving`. Hands on to the controllers
//! (`images.rs`, `image_data.rs`, `image_tags.rs`) through [`ImageRepo`].

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use may_wsgi::eventlet::may;

use crate::domain::{GlanceError, Image};
use crate::timeutils;

const DB_FILE: &str = "glance-images.json";
const LOCK_FILE: &str = "glance-images.lock";

/// The rows as one version of the database file holds them.
#[derive(Default)]
pub struct Catalog {
    pub images: Vec<Image>,
    by_id: HashMap<String, usize>,
}

impl Catalog {
    fn new(images: Vec<Image>) -> Catalog {
        let by_id = images
            .iter()
            .enumerate()
            .map(|(i, im)| (im.image_id.clone(), i))
            .collect();
        Catalog { images, by_id }
    }

    pub fn get(&self, image_id: &str) -> Option<&Image> {
        self.by_id.get(image_id).map(|&i| &self.images[i])
    }
}

/// The database: its files and this process's view of them.
pub struct Database {
    dir: PathBuf,
    /// This process's lock file, and the pid that opened it (a forked worker reopens it).
    lock_file: Mutex<Option<(u32, Arc<File>)>>,
    /// One writer per process at a time (flock does not exclude within one open file).
    writer: may::sync::Mutex<()>,
    /// The last version read, and the generation it was read at.
    cache: Mutex<Option<(u64, Arc<Catalog>)>>,
}

impl Database {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Database, GlanceError> {
        fs::create_dir_all(dir)?;
        let db = Database {
            dir: dir.to_owned(),
            lock_file: Mutex::new(None),
            writer: may::sync::Mutex::new(()),
            cache: Mutex::new(None),
        };
        db.catalog()?;
        Ok(db)
    }

    fn lock_file(&self) -> Result<Arc<File>, GlanceError> {
        let pid = std::process::id();
        let mut slot = self.lock_file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((opened_by, file)) = slot.as_ref() {
            if *opened_by == pid {
                return Ok(file.clone());
            }
        }
        let file = Arc::new(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(self.dir.join(LOCK_FILE))?,
        );
        *slot = Some((pid, file.clone()));
        Ok(file)
    }

    /// The generation stamp: 0 for a new database.
    fn generation(&self, lock: &File) -> Result<u64, GlanceError> {
        let mut buf = [0u8; 8];
        let n = lock.read_at(&mut buf, 0)?;
        Ok(if n == 8 { u64::from_le_bytes(buf) } else { 0 })
    }

    fn read_file(&self) -> Result<Catalog, GlanceError> {
        let text = match fs::read(self.dir.join(DB_FILE)) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Catalog::default()),
            Err(e) => return Err(e.into()),
        };
        let images: Vec<Image> = serde_json::from_slice(&text)
            .map_err(|e| GlanceError::Io(format!("{}: {e}", self.dir.join(DB_FILE).display())))?;
        Ok(Catalog::new(images))
    }

    /// The newest rows: the cached copy while the generation stands, else read again.
    pub fn catalog(&self) -> Result<Arc<Catalog>, GlanceError> {
        let lock = self.lock_file()?;
        let generation = self.generation(&lock)?;
        if let Some((g, catalog)) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if *g == generation {
                return Ok(catalog.clone());
            }
        }
        // Read after the stamp: the file is at least as new as `generation`.
        let catalog = Arc::new(self.read_file()?);
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((generation, catalog.clone()));
        Ok(catalog)
    }

    /// Runs `change` on the newest rows under both locks and commits what it returns
    /// `Ok` for; an `Err` leaves the database as it was.
    pub fn transaction<R>(
        &self,
        change: impl FnOnce(&mut Vec<Image>) -> Result<R, GlanceError>,
    ) -> Result<R, GlanceError> {
        let _writer = self
            .writer
            .lock()
            .map_err(|_| GlanceError::Io("database lock poisoned".into()))?;
        let lock = self.lock_file()?;
        let _flock = Flock::exclusive(&lock)?;
        let mut images = self.catalog()?.images.clone();
        let result = change(&mut images)?;
        let generation = self.generation(&lock)? + 1;
        self.write_file(&images)?;
        lock.write_all_at(&generation.to_le_bytes(), 0)?;
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((generation, Arc::new(Catalog::new(images))));
        Ok(result)
    }

    fn write_file(&self, images: &[Image]) -> Result<(), GlanceError> {
        let text = serde_json::to_vec(images).map_err(|e| GlanceError::Io(e.to_string()))?;
        let tmp = self.dir.join(format!(".{DB_FILE}.tmp-{}", std::process::id()));
        let mut f = File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, self.dir.join(DB_FILE))?;
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
}

/// `flock(fd, LOCK_EX)` until dropped.
struct Flock<'a>(&'a File);

impl<'a> Flock<'a> {
    fn exclusive(file: &'a File) -> Result<Flock<'a>, GlanceError> {
        loop {
            // SAFETY: a valid open file descriptor.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(Flock(file));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e.into());
            }
        }
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// The list filters Glance hands the database (`filters`: the query's other parameters,
/// last value per key, plus `os_hidden`, `protected`, `tags`).
#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub params: Vec<(String, String)>,
    pub os_hidden: bool,
    pub protected: Option<bool>,
    pub tags: Vec<String>,
}

/// One sort column and its direction.
pub type SortKey = (String, bool);

/// A value of a sortable column; NULL sorts first ascending, as on sqlite and MySQL.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SortValue<'a> {
    Null,
    Int(i64),
    Str(&'a str),
}

fn sort_value<'a>(image: &'a Image, key: &str) -> SortValue<'a> {
    let opt_str = |v: Option<&'a str>| v.map_or(SortValue::Null, SortValue::Str);
    match key {
        "name" => opt_str(image.name.as_deref()),
        "status" => SortValue::Str(image.status()),
        "container_format" => opt_str(image.container_format()),
        "disk_format" => opt_str(image.disk_format()),
        "size" => image.size.map_or(SortValue::Null, |s| SortValue::Int(s as i64)),
        "id" => SortValue::Str(&image.image_id),
        "created_at" => SortValue::Int(image.created_at),
        "updated_at" => SortValue::Int(image.updated_at),
        _ => SortValue::Null,
    }
}

fn compare(a: &Image, b: &Image, keys: &[SortKey]) -> Ordering {
    for (key, asc) in keys {
        let o = sort_value(a, key).cmp(&sort_value(b, key));
        let o = if *asc { o } else { o.reverse() };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// A column's value as text, for an equality filter on it (sqlite compares a column with
/// its affinity, so `min_ram=0` matches).
fn column_text(image: &Image, key: &str) -> Option<Option<String>> {
    let b = |v: bool| Some(Some(if v { "1" } else { "0" }.to_owned()));
    Some(match key {
        "id" => Some(image.image_id.clone()),
        "name" => image.name.clone(),
        "status" => Some(image.status().to_owned()),
        "visibility" => Some(image.visibility().to_owned()),
        "disk_format" => image.disk_format().map(str::to_owned),
        "container_format" => image.container_format().map(str::to_owned),
        "size" => image.size.map(|v| v.to_string()),
        "virtual_size" => image.virtual_size.map(|v| v.to_string()),
        "min_disk" => Some(image.min_disk().to_string()),
        "min_ram" => Some(image.min_ram().to_string()),
        "checksum" => image.checksum.clone(),
        "os_hash_algo" => image.os_hash_algo.clone(),
        "os_hash_value" => image.os_hash_value.clone(),
        "owner" => image.owner.clone(),
        "protected" => return b(image.protected),
        "os_hidden" => return b(image.os_hidden),
        "deleted" => return b(image.deleted),
        _ => return None,
    })
}

fn numeric_column(image: &Image, key: &str) -> Option<Option<i64>> {
    Some(match key {
        "size" => image.size.map(|v| v as i64),
        "virtual_size" => image.virtual_size.map(|v| v as i64),
        "min_disk" => Some(image.min_disk()),
        "min_ram" => Some(image.min_ram()),
        _ => return None,
    })
}

/// `utils.split_filter_op`: `in:a,b` is (`in`, `a,b`); no colon is `eq`.
fn split_filter_op(expression: &str) -> (&str, &str) {
    match expression.split_once(':') {
        Some((op, threshold)) => (op, threshold),
        None => ("eq", expression),
    }
}

/// `utils.split_filter_value_for_quotes`: comma-separated, a value may be double-quoted.
fn split_filter_value_for_quotes(value: &str) -> Result<Vec<String>, GlanceError> {
    let mut out = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push('\\');
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => v.push(c),
                }
            }
            let Some(end) = end else {
                return Err(GlanceError::Invalid(format!(
                    "Invalid filter value {value}. The quote is not closed."
                )));
            };
            out.push(v);
            rest = &quoted[end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        } else {
            let (v, r) = rest.split_once(',').unwrap_or((rest, ""));
            out.push(v.to_owned());
            rest = r;
        }
    }
    Ok(out)
}

/// One SQL condition of the query, as a test of a row.
type Check = Box<dyn Fn(&Image) -> bool + Send>;

/// `_make_conditions_from_filters`, evaluated on one image.
struct Conditions {
    checks: Vec<Check>,
}

impl Conditions {
    fn from_filters(filters: &Filters) -> Result<Conditions, GlanceError> {
        let mut checks: Vec<Check> = Vec::new();
        let os_hidden = filters.os_hidden;
        checks.push(Box::new(move |im| im.os_hidden == os_hidden));
        if let Some(protected) = filters.protected {
            checks.push(Box::new(move |im| im.protected == protected));
        }
        // deleted=False: neither deleted nor killed rows.
        checks.push(Box::new(|im| !im.deleted && im.status() != "killed"));
        for tag in filters.tags.clone() {
            checks.push(Box::new(move |im| im.tags().contains(&tag)));
        }
        let mut visibility = None;
        for (k, v) in &filters.params {
            let (k, v) = (k.clone(), v.clone());
            if k == "visibility" {
                visibility = Some(v);
            } else if let Some(key) = k.strip_suffix("_min").or_else(|| k.strip_suffix("_max")) {
                let Ok(threshold) = v.trim().parse::<i64>() else {
                    return Err(GlanceError::Invalid(
                        "Unable to filter on a range with a non-numeric value.".into(),
                    ));
                };
                let key = key.to_owned();
                let min = k.ends_with("_min");
                checks.push(Box::new(move |im| match numeric_column(im, &key).flatten() {
                    Some(value) if min => value >= threshold,
                    Some(value) => value <= threshold,
                    None => false,
                }));
            } else if ["name", "id", "status", "container_format", "disk_format"].contains(&k.as_str()) {
                let (op, threshold) = split_filter_op(&v);
                let wanted: Vec<String> = match op {
                    "in" => split_filter_value_for_quotes(threshold)?,
                    "eq" => vec![threshold.to_owned()],
                    other => {
                        return Err(GlanceError::Invalid(format!(
                            "Unable to filter by unknown operator '{other}'."
                        )))
                    }
                };
                checks.push(Box::new(move |im| {
                    column_text(im, &k)
                        .flatten()
                        .is_some_and(|value| wanted.contains(&value))
                }));
            } else if column_text(&dummy(), &k).is_some() {
                checks.push(Box::new(move |im| {
                    column_text(im, &k).flatten().as_deref() == Some(v.as_str())
                }));
            } else {
                checks.push(Box::new(move |im| im.extra_property(&k) == Some(v.as_str())));
            }
        }
        match visibility.as_deref() {
            Some("all") => {}
            Some(v) => {
                let v = v.to_owned();
                checks.push(Box::new(move |im| im.visibility() == v));
            }
            // An admin context without an owner never sees community images unasked.
            None => checks.push(Box::new(|im| im.visibility() != "community")),
        }
        Ok(Conditions { checks })
    }

    fn matches(&self, image: &Image) -> bool {
        self.checks.iter().all(|c| c(image))
    }
}

fn dummy() -> Image {
    crate::domain::ImageFactory
        .new_image(crate::domain::NewImage::default())
        .expect("an empty image is valid")
}

/// `glance.db.ImageRepo`, for the admin context.
pub struct ImageRepo {
    pub db: Arc<Database>,
}

impl ImageRepo {
    pub fn new(db: Arc<Database>) -> ImageRepo {
        ImageRepo { db }
    }

    fn not_found(image_id: &str) -> GlanceError {
        GlanceError::NotFound(format!("No image found with ID {image_id}"))
    }

    /// `get(image_id)`: a deleted image is not found.
    pub fn get(&self, image_id: &str) -> Result<Image, GlanceError> {
        self.db
            .catalog()?
            .get(image_id)
            .filter(|im| !im.deleted)
            .cloned()
            .ok_or_else(|| Self::not_found(image_id))
    }

    /// `list(marker, limit, sort_key, sort_dir, filters)`: `image_get_all`.
    pub fn list(
        &self,
        marker: Option<&str>,
        limit: usize,
        sort_key: &[String],
        sort_dir: &[bool],
        filters: &Filters,
    ) -> Result<Vec<Image>, GlanceError> {
        let catalog = self.db.catalog()?;
        let conditions = Conditions::from_filters(filters)?;
        // No direction: desc for every key; one: that one for every key and for the
        // tie-breaks; one per key: each its own, and desc for the tie-breaks.
        let sort_key: Vec<String> = if sort_key.is_empty() {
            vec!["created_at".to_owned()]
        } else {
            sort_key.to_vec()
        };
        let mut default_sort_dir = false;
        let sort_dir: Vec<bool> = match sort_dir {
            [] => vec![default_sort_dir; sort_key.len()],
            [one] => {
                default_sort_dir = *one;
                vec![*one; sort_key.len()]
            }
            each => each.to_vec(),
        };
        let mut keys: Vec<SortKey> = sort_key.into_iter().zip(sort_dir).collect();
        for key in ["created_at", "id"] {
            if !keys.iter().any(|(k, _)| k == key) {
                keys.push((key.to_owned(), default_sort_dir));
            }
        }
        let marker_image = match marker {
            Some(m) => Some(
                catalog
                    .get(m)
                    .filter(|im| !im.deleted)
                    .ok_or_else(|| Self::not_found(m))?,
            ),
            None => None,
        };
        let mut found: Vec<&Image> = catalog
            .images
            .iter()
            .filter(|im| conditions.matches(im))
            .filter(|im| marker_image.is_none_or(|m| compare(im, m, &keys) == Ordering::Greater))
            .collect();
        if found.len() > limit {
            found.select_nth_unstable_by(limit, |a, b| compare(a, b, &keys));
            found.truncate(limit);
        }
        found.sort_by(|a, b| compare(a, b, &keys));
        Ok(found.into_iter().cloned().collect())
    }

    /// `add(image)`: `Image ID ... already exists!` when the id is taken, deleted or not.
    pub fn add(&self, image: &Image) -> Result<(), GlanceError> {
        self.db.transaction(|images| {
            if images.iter().any(|im| im.image_id == image.image_id) {
                return Err(GlanceError::Duplicate(format!(
                    "Image ID {} already exists!",
                    image.image_id
                )));
            }
            images.push(image.clone());
            Ok(())
        })
    }

    /// `save(image, from_state)`: `_image_update` with the status check done inside the
    /// lock; `updated_at` becomes now.
    pub fn save(&self, image: &mut Image, from_state: Option<&str>) -> Result<(), GlanceError> {
        image.updated_at = timeutils::utcnow();
        let saved = image.clone();
        self.db.transaction(|images| {
            let Some(row) = images
                .iter_mut()
                .find(|im| im.image_id == saved.image_id && !im.deleted)
            else {
                return Err(Self::not_found(&saved.image_id));
            };
            if let Some(from) = from_state {
                if row.status() != from {
                    return Err(GlanceError::Conflict(format!(
                        "cannot transition from {} to {} in update (wanted from_state={from})",
                        row.status(),
                        saved.status()
                    )));
                }
            }
            *row = saved;
            Ok(())
        })
    }

    /// `remove(image)`: the row is soft-deleted (`deleted=1`, its status as set).
    pub fn remove(&self, image: &mut Image) -> Result<(), GlanceError> {
        image.deleted = true;
        image.locations.clear();
        self.save(image, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ImageFactory, NewImage};

    fn image(name: &str) -> Image {
        ImageFactory
            .new_image(NewImage {
                name: Some(name.into()),
                ..NewImage::default()
            })
            .unwrap()
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("glance-db-{tag}-{}", timeutils::uuid4()));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn rows_survive_reopening_and_saves_are_conditional() {
        let dir = tempdir("reopen");
        let repo = ImageRepo::new(Arc::new(Database::open(&dir).unwrap()));
        let mut a = image("a");
        repo.add(&a).unwrap();
        assert!(matches!(repo.add(&a), Err(GlanceError::Duplicate(_))));
        a.name = Some("b".into());
        repo.save(&mut a, Some("queued")).unwrap();
        assert!(matches!(
            repo.save(&mut a, Some("saving")),
            Err(GlanceError::Conflict(_))
        ));
        // Another process's view: a fresh Database on the same directory.
        let other = ImageRepo::new(Arc::new(Database::open(&dir).unwrap()));
        assert_eq!(other.get(&a.image_id).unwrap().name.as_deref(), Some("b"));
        // A write by one is seen by the other through the generation stamp.
        a.name = Some("c".into());
        other.save(&mut a, None).unwrap();
        assert_eq!(repo.get(&a.image_id).unwrap().name.as_deref(), Some("c"));
        other.remove(&mut a).unwrap();
        assert!(matches!(repo.get(&a.image_id), Err(GlanceError::NotFound(_))));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn list_sorts_filters_and_pages() {
        let dir = tempdir("list");
        let repo = ImageRepo::new(Arc::new(Database::open(&dir).unwrap()));
        for (i, name) in ["b", "a", "c"].iter().enumerate() {
            let mut im = image(name);
            im.created_at = 1000 + i as i64;
            im.set_extra_property("grp", if i == 1 { "g1".into() } else { "g2".into() });
            repo.add(&im).unwrap();
        }
        let names = |v: Vec<Image>| v.into_iter().map(|i| i.name.unwrap()).collect::<Vec<_>>();
        let all = Filters::default();
        assert_eq!(
            names(repo.list(None, 25, &["created_at".into()], &[false], &all).unwrap()),
            ["c", "a", "b"]
        );
        let page = repo.list(None, 2, &["name".into()], &[true], &all).unwrap();
        assert_eq!(names(page.clone()), ["a", "b"]);
        let next = repo
            .list(Some(&page[1].image_id), 2, &["name".into()], &[true], &all)
            .unwrap();
        assert_eq!(names(next), ["c"]);
        let grp = Filters {
            params: vec![("grp".into(), "g1".into())],
            ..Filters::default()
        };
        assert_eq!(
            names(repo.list(None, 25, &["name".into()], &[true], &grp).unwrap()),
            ["a"]
        );
        let name_in = Filters {
            params: vec![("name".into(), "in:a,\"c\"".into())],
            ..Filters::default()
        };
        assert_eq!(
            names(repo.list(None, 25, &["name".into()], &[true], &name_in).unwrap()),
            ["a", "c"]
        );
        let bad = Filters {
            params: vec![("size_min".into(), "abc".into())],
            ..Filters::default()
        };
        assert!(matches!(
            repo.list(None, 25, &[], &[], &bad),
            Err(GlanceError::Invalid(_))
        ));
        assert!(matches!(
            repo.list(Some("nope"), 25, &[], &[], &all),
            Err(GlanceError::NotFound(_))
        ));
        fs::remove_dir_all(dir).unwrap();
    }
}
