//! `glance/location.py`: `ImageProxy.set_data` and `_upload_to_store` for the one `file`
//! store: the data goes to the store, which hashes it while it streams; the image then
//! gets its location, `checksum` (md5), `os_hash_algo`/`os_hash_value` (sha512), `size`,
//! `virtual_size`, and `active`. Hands on to `image_data.rs`.

use std::io::Read;

use crate::domain::{GlanceError, Image};
use crate::store::{Store, StoreError};

/// `CONF.hashing_algorithm`.
const HASHING_ALGORITHM: &str = "sha512";

/// Why `set_data` failed.
pub enum SetDataError {
    Store(StoreError),
    /// `UploadException`: the data differs from values already on the image.
    Upload(String),
    Domain(GlanceError),
}

/// `ImageProxy.set_data(data, size, set_active=True)`.
pub fn set_data(image: &mut Image, store: &Store, data: &mut dyn Read, size: Option<u64>) -> Result<(), SetDataError> {
    // `size = 0`: unknown.
    let size = size.unwrap_or(0);
    let added = store.add(&image.image_id, data, size).map_err(SetDataError::Store)?;
    // `_verify_uploaded_data`.
    let checks = [
        (
            "size",
            image.size.map(|s| s.to_string()),
            added.bytes_written.to_string(),
        ),
        ("os_hash_value", image.os_hash_value.clone(), added.multihash.clone()),
        ("checksum", image.checksum.clone(), added.checksum.clone()),
    ];
    for (attribute_name, image_value, value) in checks {
        if image_value.is_some_and(|v| v != value) {
            let _ = store.delete(&image.image_id);
            return Err(SetDataError::Upload(format!(
                "{attribute_name} of uploaded data is different from current value set on the image."
            )));
        }
    }
    image.locations.push(added.location);
    image.checksum = Some(added.checksum);
    image.os_hash_value = Some(added.multihash);
    image.size = Some(added.bytes_written);
    image.os_hash_algo = Some(HASHING_ALGORITHM.to_owned());
    // `format_inspector.InspectWrapper` for `bare` containers; the port recognises raw data
    // only, whose virtual size is its byte count (none for an empty upload).
    if image.container_format() == Some("bare") && image.disk_format() == Some("raw") && added.bytes_written > 0 {
        image.virtual_size = Some(added.bytes_written);
    }
    if image.status() != "active" {
        image.set_status("active").map_err(SetDataError::Domain)?;
    }
    Ok(())
}
