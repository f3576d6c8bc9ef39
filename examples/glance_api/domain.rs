//! `glance/domain/__init__.py` (`Image` with its status machine and attribute checks,
//! `ImageFactory.new_image`) and the messages of `glance/common/exception.py` that the
//! Images API shows.
//!
//! An [`Image`] is the domain object the controllers change and the repository
//! (`db.rs`) stores; its setters are Python's property setters (`status`, `min_disk`, ...)
//! and refuse what Glance refuses, with Glance's words. It hands on to `db.rs` (stored as
//! JSON through serde) and to `images.rs` (`_format_image`).

use serde::{Deserialize, Serialize};

/// `glance.common.exception`: the Glance exceptions the port raises, with their messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlanceError {
    /// `NotFound` / `ImageNotFound` (the message is the caller's).
    NotFound(String),
    /// `Duplicate`: `Image ID %s already exists!`.
    Duplicate(String),
    /// `Forbidden` and its children (`ReadonlyProperty`, `ReservedProperty`,
    /// `ProtectedImageDelete`).
    Forbidden(String),
    /// `Invalid` and its children (`InvalidParameterValue`,
    /// `InvalidImageStatusTransition`, `InvalidFilterRangeValue`, ...).
    Invalid(String),
    /// `InvalidImageStatusTransition`, kept apart: the upload answers it with 409.
    InvalidImageStatusTransition(String),
    /// Python's `ValueError` (a format that must be set first).
    Value(String),
    /// `Conflict`: a conditional save (`from_state`) found another status.
    Conflict(String),
    /// An I/O failure of the metadata or the store (Python would raise `OSError`: a 500).
    Io(String),
}

impl GlanceError {
    pub fn msg(&self) -> &str {
        match self {
            GlanceError::NotFound(m)
            | GlanceError::Duplicate(m)
            | GlanceError::Forbidden(m)
            | GlanceError::Invalid(m)
            | GlanceError::InvalidImageStatusTransition(m)
            | GlanceError::Value(m)
            | GlanceError::Conflict(m)
            | GlanceError::Io(m) => m,
        }
    }

    /// `ReadonlyProperty(property=key)`.
    pub fn readonly_property(property: &str) -> GlanceError {
        GlanceError::Forbidden(format!("Attribute '{property}' is read-only."))
    }

    /// `ReservedProperty(property=key)`.
    pub fn reserved_property(property: &str) -> GlanceError {
        GlanceError::Forbidden(format!("Attribute '{property}' is reserved."))
    }

    /// `InvalidParameterValue(value=, param=, extra_msg=)`.
    pub fn invalid_parameter_value(value: &str, param: &str, extra_msg: &str) -> GlanceError {
        GlanceError::Invalid(format!("Invalid value '{value}' for parameter '{param}': {extra_msg}"))
    }
}

impl From<std::io::Error> for GlanceError {
    fn from(e: std::io::Error) -> GlanceError {
        GlanceError::Io(e.to_string())
    }
}

/// `Image.valid_state_targets`.
fn valid_state_targets(status: &str) -> &'static [&'static str] {
    match status {
        "queued" => &["saving", "uploading", "importing", "active", "deleted"],
        "saving" => &["active", "killed", "deleted", "queued"],
        "uploading" => &["importing", "queued", "deleted"],
        "importing" => &["active", "deleted", "queued"],
        "active" => &["pending_delete", "deleted", "deactivated"],
        "killed" => &["deleted"],
        "pending_delete" => &["deleted", "active"],
        "deactivated" => &["active", "deleted"],
        _ => &[],
    }
}

/// `glance.domain.Image`, as the database row holds it (`images`, `image_properties`,
/// `image_tags`, `image_locations` in one record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub image_id: String,
    pub name: Option<String>,
    status: String,
    visibility: String,
    pub protected: bool,
    pub os_hidden: bool,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub owner: Option<String>,
    pub size: Option<u64>,
    pub virtual_size: Option<u64>,
    disk_format: Option<String>,
    container_format: Option<String>,
    min_ram: i64,
    min_disk: i64,
    /// Microseconds since the epoch (sqlite keeps microseconds; the API shows seconds).
    pub created_at: i64,
    pub updated_at: i64,
    /// A set in Glance; kept in the order added, without repeats.
    tags: Vec<String>,
    /// `ExtraProperties`, in the order set (Python's dict order).
    pub extra_properties: Vec<(String, String)>,
    /// `image_locations`: the store's `file://` urls.
    pub locations: Vec<String>,
    /// The row's `deleted` flag (Glance soft-deletes).
    pub deleted: bool,
}

impl Image {
    pub fn status(&self) -> &str {
        &self.status
    }

    /// The `status` setter: refuses a transition `valid_state_targets` does not list and,
    /// leaving `queued` for data, an image without formats (Python's `ValueError`).
    pub fn set_status(&mut self, status: &str) -> Result<(), GlanceError> {
        if !valid_state_targets(&self.status).contains(&status) {
            return Err(GlanceError::InvalidImageStatusTransition(format!(
                "Image status transition from {} to {status} is not allowed",
                self.status
            )));
        }
        if matches!(self.status.as_str(), "queued" | "uploading") && matches!(status, "saving" | "active" | "importing")
        {
            let missing: Vec<&str> = [
                ("disk_format", &self.disk_format),
                ("container_format", &self.container_format),
            ]
            .into_iter()
            .filter(|(_, v)| v.as_deref().unwrap_or("").is_empty())
            .map(|(k, _)| k)
            .collect();
            if !missing.is_empty() {
                let what = if missing.len() == 1 { "Property" } else { "Properties" };
                return Err(GlanceError::Value(format!(
                    "{what} {} must be set prior to saving data.",
                    missing.join(", ")
                )));
            }
        }
        if status == "queued" {
            self.size = None;
            self.virtual_size = None;
        }
        self.status = status.to_owned();
        Ok(())
    }

    pub fn visibility(&self) -> &str {
        &self.visibility
    }

    pub fn set_visibility(&mut self, visibility: &str) -> Result<(), GlanceError> {
        if !["community", "public", "private", "shared"].contains(&visibility) {
            return Err(GlanceError::Value(
                "Visibility must be one of \"community\", \"public\", \"private\", or \"shared\"".into(),
            ));
        }
        self.visibility = visibility.to_owned();
        Ok(())
    }

    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// `tags = value` (a set).
    pub fn set_tags(&mut self, tags: &[String]) {
        self.tags.clear();
        for tag in tags {
            self.add_tag(tag);
        }
    }

    pub fn add_tag(&mut self, tag: &str) {
        if !self.tags.iter().any(|t| t == tag) {
            self.tags.push(tag.to_owned());
        }
    }

    pub fn remove_tag(&mut self, tag: &str) -> bool {
        let before = self.tags.len();
        self.tags.retain(|t| t != tag);
        self.tags.len() != before
    }

    pub fn container_format(&self) -> Option<&str> {
        self.container_format.as_deref()
    }

    pub fn disk_format(&self) -> Option<&str> {
        self.disk_format.as_deref()
    }

    /// The `container_format` setter: only a queued image changes it.
    pub fn set_container_format(&mut self, value: Option<String>) -> Result<(), GlanceError> {
        if !matches!(self.status.as_str(), "queued" | "importing") {
            return Err(GlanceError::Forbidden(
                "Attribute container_format can be only replaced for a queued image.".into(),
            ));
        }
        self.container_format = value;
        Ok(())
    }

    /// The `disk_format` setter: only a queued image changes it.
    pub fn set_disk_format(&mut self, value: Option<String>) -> Result<(), GlanceError> {
        if !matches!(self.status.as_str(), "queued" | "importing") {
            return Err(GlanceError::Forbidden(
                "Attribute disk_format can be only replaced for a queued image.".into(),
            ));
        }
        self.disk_format = value;
        Ok(())
    }

    pub fn min_disk(&self) -> i64 {
        self.min_disk
    }

    pub fn min_ram(&self) -> i64 {
        self.min_ram
    }

    pub fn set_min_disk(&mut self, value: i64) -> Result<(), GlanceError> {
        self.min_disk = non_negative(value, "min_disk")?;
        Ok(())
    }

    pub fn set_min_ram(&mut self, value: i64) -> Result<(), GlanceError> {
        self.min_ram = non_negative(value, "min_ram")?;
        Ok(())
    }

    /// `Image.delete()`: a protected image stays; there is no `delayed_delete`.
    pub fn delete(&mut self) -> Result<(), GlanceError> {
        if self.protected {
            return Err(GlanceError::Forbidden(format!(
                "Image {} is protected and cannot be deleted.",
                self.image_id
            )));
        }
        self.set_status("deleted")
    }

    /// A custom property's value.
    pub fn extra_property(&self, key: &str) -> Option<&str> {
        self.extra_properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `image.extra_properties[key] = value`.
    pub fn set_extra_property(&mut self, key: &str, value: String) {
        match self.extra_properties.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.extra_properties.push((key.to_owned(), value)),
        }
    }

    /// `del image.extra_properties[key]`.
    pub fn remove_extra_property(&mut self, key: &str) -> bool {
        let before = self.extra_properties.len();
        self.extra_properties.retain(|(k, _)| k != key);
        self.extra_properties.len() != before
    }
}

fn non_negative(value: i64, param: &str) -> Result<i64, GlanceError> {
    if value < 0 {
        return Err(GlanceError::invalid_parameter_value(
            &value.to_string(),
            param,
            "Cannot be a negative value",
        ));
    }
    Ok(value)
}

/// The keyword arguments of `ImageFactory.new_image`, as the create deserializer sorts
/// them out of the body.
#[derive(Debug, Default)]
pub struct NewImage {
    pub image_id: Option<String>,
    pub name: Option<String>,
    pub visibility: Option<String>,
    pub min_disk: i64,
    pub min_ram: i64,
    pub protected: bool,
    pub owner: Option<String>,
    /// Whether the body named `owner` (else the context's project is the owner).
    pub owner_given: bool,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub os_hidden: bool,
    pub extra_properties: Vec<(String, String)>,
    pub tags: Vec<String>,
    /// Anything else the body named among Glance's base properties (`status`, `size`...).
    pub other_args: Vec<String>,
}

/// `glance.domain.ImageFactory`.
pub struct ImageFactory;

impl ImageFactory {
    const READONLY_PROPERTIES: [&'static str; 8] = [
        "created_at",
        "updated_at",
        "status",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "size",
        "virtual_size",
    ];
    const RESERVED_PROPERTIES: [&'static str; 8] = [
        "owner",
        "locations",
        "deleted",
        "deleted_at",
        "direct_url",
        "self",
        "file",
        "schema",
    ];

    /// `new_image(...)`: a queued image, created now.
    pub fn new_image(&self, args: NewImage) -> Result<Image, GlanceError> {
        for key in Self::READONLY_PROPERTIES {
            if args.other_args.iter().any(|k| k == key) {
                return Err(GlanceError::readonly_property(key));
            }
        }
        if let Some(key) = args.other_args.first() {
            // Python's TypeError, answered 400 by the controller.
            return Err(GlanceError::Invalid(format!(
                "new_image() got unexpected keywords dict_keys(['{key}'])"
            )));
        }
        for key in Self::RESERVED_PROPERTIES {
            if args.extra_properties.iter().any(|(k, _)| k == key) {
                return Err(GlanceError::reserved_property(key));
            }
        }
        let now = crate::timeutils::utcnow();
        let mut image = Image {
            image_id: args.image_id.unwrap_or_else(crate::timeutils::uuid4),
            name: args.name,
            status: "queued".into(),
            visibility: "shared".into(),
            protected: args.protected,
            os_hidden: args.os_hidden,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            owner: args.owner,
            size: None,
            virtual_size: None,
            disk_format: args.disk_format,
            container_format: args.container_format,
            min_ram: 0,
            min_disk: 0,
            created_at: now,
            updated_at: now,
            tags: Vec::new(),
            extra_properties: args.extra_properties,
            locations: Vec::new(),
            deleted: false,
        };
        if let Some(v) = args.visibility.as_deref() {
            image.set_visibility(v)?;
        }
        image.set_min_disk(args.min_disk)?;
        image.set_min_ram(args.min_ram)?;
        image.set_tags(&args.tags);
        Ok(image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued() -> Image {
        ImageFactory.new_image(NewImage::default()).unwrap()
    }

    #[test]
    fn status_machine_as_glance() {
        let mut image = queued();
        assert_eq!(
            image.set_status("saving"),
            Err(GlanceError::Value(
                "Properties disk_format, container_format must be set prior to saving data.".into()
            ))
        );
        image.set_disk_format(Some("raw".into())).unwrap();
        assert_eq!(
            image.set_status("saving"),
            Err(GlanceError::Value(
                "Property container_format must be set prior to saving data.".into()
            ))
        );
        image.set_container_format(Some("bare".into())).unwrap();
        image.set_status("saving").unwrap();
        assert_eq!(
            image.set_status("saving"),
            Err(GlanceError::InvalidImageStatusTransition(
                "Image status transition from saving to saving is not allowed".into()
            ))
        );
        image.size = Some(3);
        image.set_status("queued").unwrap();
        assert_eq!(image.size, None, "queued clears the size");
        assert!(image.set_status("deleted").is_ok());
        assert!(image.set_status("queued").is_err(), "nothing leaves deleted");
    }

    #[test]
    fn factory_checks() {
        let args = NewImage {
            other_args: vec!["status".into()],
            ..NewImage::default()
        };
        assert_eq!(
            ImageFactory.new_image(args).unwrap_err(),
            GlanceError::Forbidden("Attribute 'status' is read-only.".into())
        );
        let args = NewImage {
            min_disk: -1,
            ..NewImage::default()
        };
        assert_eq!(
            ImageFactory.new_image(args).unwrap_err().msg(),
            "Invalid value '-1' for parameter 'min_disk': Cannot be a negative value"
        );
        let mut image = queued();
        image.protected = true;
        assert!(image
            .delete()
            .unwrap_err()
            .msg()
            .ends_with("is protected and cannot be deleted."));
        image.add_tag("a");
        image.add_tag("a");
        assert_eq!(image.tags(), ["a"]);
    }
}
