//! `glance/api/v2/images.py`: `ImagesController` (`create`, `index`, `show`, `update` with
//! `_do_add`/`_do_replace`/`_do_remove`, `delete`), `RequestDeserializer` (`create`,
//! `update` with both json-patch media types, `index` with limit, marker, both sort
//! syntaxes and filters), `ResponseSerializer` (`_format_image`, `create`, `show`,
//! `update`, `index`, `delete`) and `create_resource`.
//!
//! The Python `dict` arguments the deserializer returns become [`ImagesArgs`], one variant
//! per action; the controller's results become [`ImagesResult`]. Glance's exceptions are
//! caught where Glance catches them and become webob errors (`Fault`s) with Glance's
//! words. Hands on to `router.rs` through [`create_resource`].

use std::sync::Arc;

use may_wsgi::routes::{urlencode, Deserializer, Fault, Resource, RouteMatch, Serializer};
use may_wsgi::webob::{exc, Request};
use may_wsgi::{Body, Environ, StartResponse};
use serde_json::Value;

use crate::context::RequestContext;
use crate::db::{Filters, ImageRepo};
use crate::domain::{GlanceError, Image, ImageFactory, NewImage};
use crate::schemas;
use crate::timeutils::isotime;
use crate::wsgi::{default_body, empty_response, json_response, push_json_str};
use crate::Gateway;

/// `CONF.limit_param_default`, `CONF.api_limit_max`.
const LIMIT_PARAM_DEFAULT: usize = 25;
const API_LIMIT_MAX: usize = 1000;
/// `CONF.enabled_import_methods`.
const ENABLED_IMPORT_METHODS: &str = "glance-direct,web-download,copy-image";
/// `common.GLANCE_RESERVED_NS`.
const GLANCE_RESERVED_NS: &str = "os_glance";

/// One json-patch operation as `RequestDeserializer.update` leaves it.
#[derive(Debug, Clone)]
pub struct Change {
    pub op: String,
    pub path: Vec<String>,
    pub value: Option<Value>,
    pub json_schema_version: u8,
}

/// The index query as `RequestDeserializer.index` returns it.
#[derive(Debug, Default)]
pub struct IndexParams {
    pub marker: Option<String>,
    pub limit: Option<usize>,
    pub sort_keys: Vec<String>,
    /// As given: none, one for every key, or one each; `image_get_all` spreads them.
    pub sort_dirs: Vec<bool>,
    pub filters: Vec<(String, String)>,
    pub tags: Vec<String>,
}

/// The keyword arguments of each action.
pub enum ImagesArgs {
    None,
    Create(NewImage),
    Update(Vec<Change>),
    Index(IndexParams),
}

/// What the actions return.
pub enum ImagesResult {
    Image(Box<Image>),
    Index {
        images: Vec<Image>,
        next_marker: Option<String>,
    },
    Deleted,
}

fn forbidden(msg: &str) -> Fault {
    exc::HTTPForbidden().with_explanation(msg).into()
}

/// `webob.exc.HTTPForbidden(msg)`, `HTTPConflict(msg)`: the message as the detail.
fn forbidden_detail(msg: String) -> Fault {
    exc::HTTPForbidden().with_detail(msg).into()
}

fn conflict_detail(msg: String) -> Fault {
    exc::HTTPConflict().with_detail(msg).into()
}

fn not_found(msg: &str) -> Fault {
    exc::HTTPNotFound().with_explanation(msg).into()
}

/// `glance.api.v2.images.ImagesController`.
pub struct ImagesController {
    gateway: Arc<Gateway>,
}

impl ImagesController {
    pub fn new(gateway: Arc<Gateway>) -> ImagesController {
        ImagesController { gateway }
    }

    fn repo(&self) -> ImageRepo {
        self.gateway.get_repo()
    }

    /// `create(self, req, image, extra_properties, tags)`.
    pub fn create(&self, req: &mut Environ, _args: &RouteMatch, body: ImagesArgs) -> Result<ImagesResult, Fault> {
        let ImagesArgs::Create(mut new) = body else {
            return Err(Fault::internal_server_error());
        };
        if !new.owner_given {
            // None for the unauthenticated admin.
            new.owner = RequestContext::of(req).project_id;
        }
        let image = ImageFactory.new_image(new).map_err(|e| match e {
            GlanceError::Forbidden(m) => forbidden(&m),
            GlanceError::Duplicate(m) => exc::HTTPConflict().with_explanation(m).into(),
            GlanceError::Io(m) => server_error(&m),
            other => Fault::bad_request(other.msg()),
        })?;
        self.repo().add(&image).map_err(|e| match e {
            GlanceError::Duplicate(m) => exc::HTTPConflict().with_explanation(m).into(),
            other => server_error(other.msg()),
        })?;
        Ok(ImagesResult::Image(Box::new(image)))
    }

    /// `index(self, req, marker, limit, sort_key, sort_dir, filters)`.
    pub fn index(&self, _req: &mut Environ, _args: &RouteMatch, body: ImagesArgs) -> Result<ImagesResult, Fault> {
        let ImagesArgs::Index(params) = body else {
            return Err(Fault::internal_server_error());
        };
        let mut filters = Filters {
            tags: params.tags,
            ..Filters::default()
        };
        for (k, v) in params.filters {
            match k.as_str() {
                "os_hidden" | "protected" => {
                    if v != "true" && v != "false" {
                        return Err(Fault::bad_request(format!(
                            "Invalid value '{v}' for '{k}' filter. Valid values are 'true' or 'false'."
                        )));
                    }
                    if k == "os_hidden" {
                        filters.os_hidden = v == "true";
                    } else {
                        filters.protected = Some(v == "true");
                    }
                }
                _ => filters.params.push((k, v)),
            }
        }
        let limit = params.limit.unwrap_or(LIMIT_PARAM_DEFAULT).min(API_LIMIT_MAX);
        let images = self
            .repo()
            .list(
                params.marker.as_deref(),
                limit,
                &params.sort_keys,
                &params.sort_dirs,
                &filters,
            )
            .map_err(|e| match e {
                GlanceError::NotFound(m) | GlanceError::Invalid(m) => Fault::bad_request(m),
                other => server_error(other.msg()),
            })?;
        let next_marker =
            (!images.is_empty() && images.len() == limit).then(|| images[images.len() - 1].image_id.clone());
        Ok(ImagesResult::Index { images, next_marker })
    }

    /// `show(self, req, image_id)`.
    pub fn show(&self, _req: &mut Environ, args: &RouteMatch, _body: ImagesArgs) -> Result<ImagesResult, Fault> {
        let image_id = args.get("image_id").unwrap_or("");
        let image = self.repo().get(image_id).map_err(|e| repo_fault(&e))?;
        Ok(ImagesResult::Image(Box::new(image)))
    }

    /// `update(self, req, image_id, changes)`.
    pub fn update(&self, req: &mut Environ, args: &RouteMatch, body: ImagesArgs) -> Result<ImagesResult, Fault> {
        let is_admin = RequestContext::of(req).is_admin;
        let ImagesArgs::Update(changes) = body else {
            return Err(Fault::internal_server_error());
        };
        let image_id = args.get("image_id").unwrap_or("");
        let repo = self.repo();
        let mut image = repo.get(image_id).map_err(|e| repo_fault(&e))?;
        let domain_fault = |e: GlanceError| match e {
            GlanceError::Forbidden(m) => forbidden(&m),
            GlanceError::NotFound(m) => not_found(&m),
            GlanceError::Io(m) => server_error(&m),
            other => Fault::bad_request(other.msg()),
        };
        for change in &changes {
            match change.op.as_str() {
                "replace" => self.do_replace(&mut image, change, is_admin).map_err(domain_fault)??,
                "add" => self.do_add(&mut image, change).map_err(domain_fault)??,
                _ => self.do_remove(&mut image, change)?,
            }
        }
        if !changes.is_empty() {
            repo.save(&mut image, None).map_err(domain_fault)?;
        }
        Ok(ImagesResult::Image(Box::new(image)))
    }

    /// `setattr(image, name, value)` for the attributes an image has; `None` when it has
    /// no such attribute (`hasattr` is false).
    fn setattr(image: &mut Image, name: &str, value: &Value) -> Option<Result<(), GlanceError>> {
        let opt_string = |v: &Value| v.as_str().map(str::to_owned);
        let int = |v: &Value| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).unwrap_or(0);
        Some(match name {
            "name" => {
                image.name = opt_string(value);
                Ok(())
            }
            "visibility" => image.set_visibility(value.as_str().unwrap_or("")),
            "protected" => {
                image.protected = value.as_bool().unwrap_or(false);
                Ok(())
            }
            "os_hidden" => {
                image.os_hidden = value.as_bool().unwrap_or(false);
                Ok(())
            }
            "min_ram" => image.set_min_ram(int(value)),
            "min_disk" => image.set_min_disk(int(value)),
            "disk_format" => image.set_disk_format(opt_string(value)),
            "container_format" => image.set_container_format(opt_string(value)),
            "owner" => {
                image.owner = opt_string(value);
                Ok(())
            }
            "tags" => {
                let tags: Vec<String> = value
                    .as_array()
                    .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default();
                image.set_tags(&tags);
                Ok(())
            }
            // Attributes the deserializer refuses as read-only never get here; these
            // are the image's other attributes (`hasattr` is true for them too).
            "locations" | "extra_properties" | "member" | "image_id" => {
                Err(GlanceError::Forbidden(format!("Attribute '{name}' is read-only.")))
            }
            _ => return None,
        })
    }

    fn hasattr(name: &str) -> bool {
        [
            "name",
            "visibility",
            "protected",
            "os_hidden",
            "min_ram",
            "min_disk",
            "disk_format",
            "container_format",
            "owner",
            "tags",
            "locations",
            "extra_properties",
            "member",
            "image_id",
            "status",
            "created_at",
            "updated_at",
            "checksum",
            "os_hash_algo",
            "os_hash_value",
            "size",
            "virtual_size",
        ]
        .contains(&name)
    }

    /// `_do_replace`.
    fn do_replace(&self, image: &mut Image, change: &Change, is_admin: bool) -> Result<Result<(), Fault>, GlanceError> {
        let path_root = change.path[0].as_str();
        let value = change.value.clone().unwrap_or(Value::Null);
        if path_root == "locations" {
            return Ok(Err(Fault::bad_request(
                "Image locations are not supported by this port.",
            )));
        }
        if path_root == "owner" && !is_admin {
            return Ok(Err(forbidden_detail("Owner can't be updated by non admin.".into())));
        }
        if let Some(r) = Self::setattr(image, path_root, &value) {
            r?;
        } else if image.extra_property(path_root).is_some() {
            image.set_extra_property(path_root, value.as_str().unwrap_or("").to_owned());
        } else {
            return Ok(Err(conflict_detail(format!("Property {path_root} does not exist."))));
        }
        Ok(Ok(()))
    }

    /// `_do_add`.
    fn do_add(&self, image: &mut Image, change: &Change) -> Result<Result<(), Fault>, GlanceError> {
        let path_root = change.path[0].as_str();
        let value = change.value.clone().unwrap_or(Value::Null);
        if path_root == "locations" {
            return Ok(Err(Fault::bad_request(
                "Image locations are not supported by this port.",
            )));
        }
        let present = Self::hasattr(path_root) || image.extra_property(path_root).is_some();
        if present && change.json_schema_version == 4 {
            return Ok(Err(conflict_detail(format!("Property {path_root} already present."))));
        }
        if let Some(r) = Self::setattr(image, path_root, &value) {
            r?;
        } else {
            image.set_extra_property(path_root, value.as_str().unwrap_or("").to_owned());
        }
        Ok(Ok(()))
    }

    /// `_do_remove`.
    fn do_remove(&self, image: &mut Image, change: &Change) -> Result<(), Fault> {
        let path_root = change.path[0].as_str();
        if path_root == "locations" {
            return Err(Fault::bad_request("Image locations are not supported by this port."));
        }
        if Self::hasattr(path_root) {
            return Err(forbidden_detail(format!("Property {path_root} may not be removed.")));
        }
        if !image.remove_extra_property(path_root) {
            return Err(conflict_detail(format!("Property {path_root} does not exist.")));
        }
        Ok(())
    }

    /// `delete(self, req, image_id)`: the row is soft-deleted first, then the data
    /// unlinked, so no crash leaves a row that points at missing data.
    pub fn delete(&self, _req: &mut Environ, args: &RouteMatch, _body: ImagesArgs) -> Result<ImagesResult, Fault> {
        let image_id = args.get("image_id").unwrap_or("");
        let repo = self.repo();
        let failed = || not_found(&format!("Failed to find image {image_id} to delete"));
        let mut image = repo.get(image_id).map_err(|_| failed())?;
        image.delete().map_err(|e| match e {
            GlanceError::Forbidden(m) => forbidden(&m),
            other => Fault::bad_request(other.msg()),
        })?;
        let had_data = !image.locations.is_empty();
        repo.remove(&mut image).map_err(|e| match e {
            GlanceError::NotFound(_) => failed(),
            other => server_error(other.msg()),
        })?;
        if had_data {
            if let Err(e) = self.gateway.store.delete(image_id) {
                log::warning(&format!("Failed to delete image {image_id} data from store: {e}"));
            }
        }
        Ok(ImagesResult::Deleted)
    }
}

/// The log, under the name Python's `LOG.warning` has.
mod log {
    pub fn warning(msg: &str) {
        ::log::warn!("{msg}");
    }
}

fn server_error(msg: &str) -> Fault {
    ::log::error!("Caught error: {msg}");
    Fault::internal_server_error()
}

/// `except exception.NotFound as e: raise webob.exc.HTTPNotFound(explanation=e.msg)`.
pub fn repo_fault(e: &GlanceError) -> Fault {
    match e {
        GlanceError::NotFound(m) => not_found(m),
        other => server_error(other.msg()),
    }
}

/// `glance.api.v2.images.RequestDeserializer`.
pub struct RequestDeserializer;

impl RequestDeserializer {
    const DISALLOWED_PROPERTIES: [&'static str; 5] = ["direct_url", "self", "file", "schema", "stores"];
    const READONLY_PROPERTIES: [&'static str; 13] = [
        "created_at",
        "updated_at",
        "status",
        "checksum",
        "size",
        "virtual_size",
        "direct_url",
        "self",
        "file",
        "schema",
        "id",
        "os_hash_algo",
        "os_hash_value",
    ];
    const RESERVED_PROPERTIES: [&'static str; 3] = ["location", "deleted", "deleted_at"];
    const BASE_PROPERTIES: [&'static str; 17] = [
        "checksum",
        "created_at",
        "container_format",
        "disk_format",
        "id",
        "min_disk",
        "min_ram",
        "name",
        "size",
        "virtual_size",
        "status",
        "tags",
        "owner",
        "updated_at",
        "visibility",
        "protected",
        "os_hidden",
    ];
    const AVAILABLE_SORT_KEYS: [&'static str; 8] = [
        "name",
        "status",
        "container_format",
        "disk_format",
        "size",
        "id",
        "created_at",
        "updated_at",
    ];
    const SUPPORTED_OPERATIONS: [&'static str; 3] = ["add", "remove", "replace"];

    /// `_get_request_body`.
    fn get_request_body(request: &mut Environ) -> Result<Value, Fault> {
        default_body(request)?.ok_or_else(|| Fault::bad_request("Body expected in request."))
    }

    /// `create(self, request)`.
    fn create(&self, request: &mut Environ) -> Result<NewImage, Fault> {
        let body = Self::get_request_body(request)?;
        if let Some(map) = body.as_object() {
            for key in Self::DISALLOWED_PROPERTIES {
                if map.contains_key(key) {
                    return Err(forbidden(&format!("Attribute '{key}' is read-only.")));
                }
            }
        }
        schemas::validate(&body).map_err(Fault::bad_request)?;
        let Value::Object(mut properties) = body else {
            return Err(Fault::bad_request("Body expected in request."));
        };
        let mut image = NewImage {
            tags: properties
                .remove("tags")
                .and_then(|t| t.as_array().cloned())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
            ..NewImage::default()
        };
        let opt_string = |v: Value| v.as_str().map(str::to_owned);
        for key in Self::BASE_PROPERTIES {
            let Some(v) = properties.remove(key) else { continue };
            match key {
                "id" => image.image_id = opt_string(v),
                "name" => image.name = opt_string(v),
                "visibility" => image.visibility = opt_string(v),
                "min_disk" => image.min_disk = v.as_i64().unwrap_or(0),
                "min_ram" => image.min_ram = v.as_i64().unwrap_or(0),
                "protected" => image.protected = v.as_bool().unwrap_or(false),
                "os_hidden" => image.os_hidden = v.as_bool().unwrap_or(false),
                "owner" => {
                    image.owner = opt_string(v);
                    image.owner_given = true;
                }
                "disk_format" => image.disk_format = opt_string(v),
                "container_format" => image.container_format = opt_string(v),
                other => image.other_args.push(other.to_owned()),
            }
        }
        for (key, value) in properties {
            if key.chars().count() > 255 {
                return Err(Fault::bad_request(
                    "Custom property should not be greater than 255 characters.",
                ));
            }
            if Self::RESERVED_PROPERTIES.contains(&key.as_str()) || key.starts_with(GLANCE_RESERVED_NS) {
                return Err(forbidden_detail(format!("Attribute '{key}' is reserved.")));
            }
            // The schema let only strings through.
            image
                .extra_properties
                .push((key, value.as_str().unwrap_or("").to_owned()));
        }
        Ok(image)
    }

    /// `_get_change_operation_d10`.
    fn get_change_operation_d10(raw_change: &serde_json::Map<String, Value>) -> Result<String, Fault> {
        let available = Self::SUPPORTED_OPERATIONS.join(", ");
        let Some(op) = raw_change.get("op") else {
            return Err(Fault::bad_request(format!(
                "Unable to find `op` in JSON Schema change. It must be one of the following: {available}."
            )));
        };
        let op_text = op.as_str().map(str::to_owned).unwrap_or_else(|| schemas::py_repr(op));
        if !Self::SUPPORTED_OPERATIONS.contains(&op_text.as_str()) {
            return Err(Fault::bad_request(format!(
                "Invalid operation: `{op_text}`. It must be one of the following: {available}."
            )));
        }
        Ok(op_text)
    }

    /// `_get_change_operation_d4`.
    fn get_change_operation_d4(raw_change: &serde_json::Map<String, Value>) -> Result<String, Fault> {
        let mut op = None;
        for key in Self::SUPPORTED_OPERATIONS {
            if raw_change.contains_key(key) {
                if op.is_some() {
                    return Err(Fault::bad_request(
                        "Operation objects must contain only one member named \"add\", \"remove\", or \"replace\".",
                    ));
                }
                op = Some(key.to_owned());
            }
        }
        op.ok_or_else(|| {
            Fault::bad_request(
                "Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".",
            )
        })
    }

    /// `_validate_json_pointer` and `_decode_json_pointer`.
    fn decode_json_pointer(pointer: &str) -> Result<Vec<String>, Fault> {
        let bad = |what: &str| Err(Fault::bad_request(format!("Pointer `{pointer}` {what}")));
        if !pointer.starts_with('/') {
            return bad("does not start with \"/\".");
        }
        let rest = &pointer[1..];
        let adjacent = rest
            .match_indices('/')
            .any(|(i, _)| rest[i + 1..].trim_start().starts_with('/'));
        if adjacent {
            return bad("contains adjacent \"/\".");
        }
        if pointer.len() > 1 && pointer.ends_with('/') {
            return bad("end with \"/\".");
        }
        if rest.trim() == "/" {
            return bad("does not contains valid token.");
        }
        let bytes = pointer.as_bytes();
        let bad_tilde = bytes
            .iter()
            .enumerate()
            .any(|(i, b)| *b == b'~' && !matches!(bytes.get(i + 1), Some(b'0') | Some(b'1')));
        if bad_tilde {
            return bad("contains \"~\" not part of a recognized escape sequence.");
        }
        Ok(pointer
            .trim_start_matches('/')
            .split('/')
            .map(|part| part.replace("~1", "/").replace("~0", "~").trim().to_owned())
            .collect())
    }

    /// `_validate_change`.
    fn validate_change(change: &Change) -> Result<(), Fault> {
        let path_root = change.path[0].as_str();
        if Self::READONLY_PROPERTIES.contains(&path_root) {
            return Err(forbidden(&format!("Attribute '{path_root}' is read-only.")));
        }
        if Self::RESERVED_PROPERTIES.contains(&path_root) || path_root.starts_with(GLANCE_RESERVED_NS) {
            return Err(forbidden(&format!("Attribute '{path_root}' is reserved.")));
        }
        if change.op == "remove" {
            return Ok(());
        }
        let value = change.value.clone().unwrap_or(Value::Null);
        let mut partial_image = serde_json::Map::new();
        if change.path.len() == 1 {
            partial_image.insert(path_root.to_owned(), value);
        } else if path_root == "tags" || path_root == "locations" {
            partial_image.insert(path_root.to_owned(), Value::Array(vec![value]));
        }
        if !partial_image.is_empty() {
            schemas::validate(&Value::Object(partial_image)).map_err(Fault::bad_request)?;
        }
        Ok(())
    }

    /// `update(self, request)`.
    fn update(&self, request: &mut Environ) -> Result<Vec<Change>, Fault> {
        const V20: &str = "application/openstack-images-v2.0-json-patch";
        const V21: &str = "application/openstack-images-v2.1-json-patch";
        let content_type = Request::new(request).content_type().to_owned();
        let json_schema_version = match content_type.as_str() {
            V20 => 4,
            V21 => 10,
            _ => {
                let allowed = format!("{V20}, {V21}");
                return Err(exc::HTTPUnsupportedMediaType()
                    .with_header("Accept-Patch", allowed.clone())
                    .with_detail(format!("Image PATCH expects Content-Type one of: {allowed}"))
                    .into());
            }
        };
        let body = Self::get_request_body(request)?;
        let Value::Array(raw_changes) = body else {
            return Err(Fault::bad_request(
                "Request body must be a JSON array of operation objects.",
            ));
        };
        let mut changes = Vec::new();
        for raw_change in &raw_changes {
            let Some(raw_change) = raw_change.as_object() else {
                return Err(Fault::bad_request("Operations must be JSON objects."));
            };
            let (op, pointer) = if json_schema_version == 10 {
                let op = Self::get_change_operation_d10(raw_change)?;
                let Some(path) = raw_change.get("path") else {
                    return Err(Fault::bad_request("Unable to find 'path' in JSON Schema change"));
                };
                (op, path.clone())
            } else {
                let op = Self::get_change_operation_d4(raw_change)?;
                let path = raw_change[&op].clone();
                (op, path)
            };
            let pointer = pointer
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| schemas::py_repr(&pointer));
            let path = Self::decode_json_pointer(&pointer)?;
            // `_validate_path`: only `locations` may be deeper than one level.
            let depth = match (path[0].as_str(), op.as_str()) {
                ("locations", "replace") => 1,
                ("locations", _) => 2,
                _ => 1,
            };
            if path.len() != depth {
                return Err(Fault::bad_request(format!(
                    "Invalid JSON pointer for this resource: '/{}'",
                    path.join("/")
                )));
            }
            let mut change = Change {
                op: op.clone(),
                path,
                value: None,
                json_schema_version,
            };
            if op != "remove" {
                let Some(value) = raw_change.get("value") else {
                    return Err(Fault::bad_request(format!(
                        "Operation \"{op}\" requires a member named \"value\"."
                    )));
                };
                change.value = Some(value.clone());
            }
            Self::validate_change(&change)?;
            changes.push(change);
        }
        Ok(changes)
    }

    fn validate_sort_key(sort_key: &str) -> Result<String, Fault> {
        if !Self::AVAILABLE_SORT_KEYS.contains(&sort_key) {
            return Err(Fault::bad_request(format!(
                "Invalid sort key: {sort_key}. It must be one of the following: {}.",
                Self::AVAILABLE_SORT_KEYS.join(", ")
            )));
        }
        Ok(sort_key.to_owned())
    }

    fn validate_sort_dir(sort_dir: &str) -> Result<bool, Fault> {
        match sort_dir {
            "asc" => Ok(true),
            "desc" => Ok(false),
            other => Err(Fault::bad_request(format!("Invalid sort direction: {other}"))),
        }
    }

    /// Webob's `MultiDict.pop(key)`: the first value, removed.
    fn pop(params: &mut Vec<(String, String)>, key: &str) -> Option<String> {
        let i = params.iter().position(|(k, _)| k == key)?;
        Some(params.remove(i).1)
    }

    /// `_get_sorting_params`: both syntaxes; `created_at desc` by default. The directions
    /// stay as given: how many there were decides the tie-breaks' direction in the db.
    fn get_sorting_params(params: &mut Vec<(String, String)>) -> Result<(Vec<String>, Vec<bool>), Fault> {
        let mut sort_keys = Vec::new();
        let mut sort_dirs = Vec::new();
        let has = |params: &Vec<(String, String)>, k: &str| params.iter().any(|(key, _)| key == k);
        if has(params, "sort") {
            if has(params, "sort_key") || has(params, "sort_dir") {
                return Err(Fault::bad_request("Old and new sorting syntax cannot be combined"));
            }
            let sort = Self::pop(params, "sort").unwrap_or_default();
            for sort_param in sort.trim().split(',') {
                let (key, dir) = sort_param.split_once(':').unwrap_or((sort_param, ""));
                let dir = if dir.is_empty() { "desc" } else { dir };
                sort_keys.push(Self::validate_sort_key(key.trim())?);
                sort_dirs.push(Self::validate_sort_dir(dir.trim())?);
            }
        } else {
            while let Some(key) = Self::pop(params, "sort_key") {
                sort_keys.push(Self::validate_sort_key(key.trim())?);
            }
            while let Some(dir) = Self::pop(params, "sort_dir") {
                sort_dirs.push(Self::validate_sort_dir(dir.trim())?);
            }
            if sort_dirs.len() > 1 && sort_dirs.len() != sort_keys.len() {
                return Err(Fault::bad_request(
                    "Number of sort dirs does not match the number of sort keys",
                ));
            }
        }
        if sort_keys.is_empty() {
            sort_keys.push("created_at".to_owned());
        }
        if sort_dirs.is_empty() {
            sort_dirs.push(false);
        }
        Ok((sort_keys, sort_dirs))
    }

    /// `index(self, request)`.
    fn index(&self, request: &mut Environ) -> Result<IndexParams, Fault> {
        let mut params: Vec<(String, String)> = Request::new(request)
            .get_params()
            .items()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let limit = Self::pop(&mut params, "limit");
        let marker = Self::pop(&mut params, "marker");
        let member_status = Self::pop(&mut params, "member_status").unwrap_or_else(|| "accepted".into());
        let mut tags = Vec::new();
        while let Some(tag) = Self::pop(&mut params, "tag") {
            tags.push(tag.trim().to_owned());
        }
        // `_get_filters`.
        if let Some((_, visibility)) = params.iter().find(|(k, _)| k == "visibility") {
            if !visibility.is_empty()
                && !["community", "public", "private", "shared", "all"].contains(&visibility.as_str())
            {
                return Err(Fault::bad_request(format!("Invalid visibility value: {visibility}")));
            }
        }
        if params.iter().any(|(k, v)| k == "changes-since" && !v.is_empty()) {
            return Err(Fault::bad_request(
                "The \"changes-since\" filter is no longer available on v2.",
            ));
        }
        if !["pending", "accepted", "rejected", "all"].contains(&member_status.as_str()) {
            return Err(Fault::bad_request(format!("Invalid status: {member_status}")));
        }
        let limit = match limit {
            None => None,
            Some(l) => match l.trim().parse::<i64>() {
                Err(_) => return Err(Fault::bad_request("limit param must be an integer")),
                Ok(l) if l < 0 => return Err(Fault::bad_request("limit param must be positive")),
                Ok(l) => Some(l as usize),
            },
        };
        let (sort_keys, sort_dirs) = Self::get_sorting_params(&mut params)?;
        // What is left are the filters: a dict, so the last value of a key counts.
        let mut filters: Vec<(String, String)> = Vec::new();
        for (k, v) in params {
            match filters.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => filters.push((k, v)),
            }
        }
        Ok(IndexParams {
            marker,
            limit,
            sort_keys,
            sort_dirs,
            filters,
            tags,
        })
    }
}

impl Deserializer for RequestDeserializer {
    type Output = ImagesArgs;

    fn deserialize(&self, action: &str, request: &mut Environ) -> Result<ImagesArgs, Fault> {
        match action {
            "create" => self.create(request).map(ImagesArgs::Create),
            "update" => self.update(request).map(ImagesArgs::Update),
            "index" => self.index(request).map(ImagesArgs::Index),
            _ => Ok(ImagesArgs::None),
        }
    }
}

/// `glance.api.v2.images.ResponseSerializer`.
pub struct ResponseSerializer;

impl ResponseSerializer {
    /// `_format_image`, written straight to JSON text in Glance's key order: custom
    /// properties, the core attributes, id, dates, tags and the links.
    pub fn format_image(image: &Image, out: &mut String) {
        out.push('{');
        for (k, v) in &image.extra_properties {
            push_json_str(out, k);
            out.push_str(": ");
            push_json_str(out, v);
            out.push_str(", ");
        }
        let field = |out: &mut String, name: &str, value: &str| {
            out.push('"');
            out.push_str(name);
            out.push_str("\": ");
            out.push_str(value);
            out.push_str(", ");
        };
        let opt_str = |v: Option<&str>| match v {
            Some(s) => serde_json::to_string(s).unwrap_or_default(),
            None => "null".to_owned(),
        };
        let opt_num = |v: Option<u64>| v.map_or_else(|| "null".to_owned(), |n| n.to_string());
        let b = |v: bool| if v { "true" } else { "false" };
        field(out, "name", &opt_str(image.name.as_deref()));
        field(out, "disk_format", &opt_str(image.disk_format()));
        field(out, "container_format", &opt_str(image.container_format()));
        field(out, "visibility", &opt_str(Some(image.visibility())));
        field(out, "size", &opt_num(image.size));
        field(out, "virtual_size", &opt_num(image.virtual_size));
        field(out, "status", &opt_str(Some(image.status())));
        field(out, "checksum", &opt_str(image.checksum.as_deref()));
        field(out, "protected", b(image.protected));
        field(out, "min_ram", &image.min_ram().to_string());
        field(out, "min_disk", &image.min_disk().to_string());
        field(out, "owner", &opt_str(image.owner.as_deref()));
        field(out, "os_hidden", b(image.os_hidden));
        field(out, "os_hash_algo", &opt_str(image.os_hash_algo.as_deref()));
        field(out, "os_hash_value", &opt_str(image.os_hash_value.as_deref()));
        field(out, "id", &opt_str(Some(&image.image_id)));
        field(out, "created_at", &opt_str(Some(&isotime(image.created_at))));
        field(out, "updated_at", &opt_str(Some(&isotime(image.updated_at))));
        let tags: Vec<String> = image.tags().iter().map(|t| opt_str(Some(t))).collect();
        field(out, "tags", &format!("[{}]", tags.join(", ")));
        field(out, "self", &format!("\"/v2/images/{}\"", image.image_id));
        field(out, "file", &format!("\"/v2/images/{}/file\"", image.image_id));
        out.push_str("\"schema\": \"/v2/schemas/image\"}");
    }

    fn image_json(image: &Image) -> String {
        let mut out = String::with_capacity(1024);
        Self::format_image(image, &mut out);
        out
    }

    /// `index(self, response, result)`.
    fn index(images: &[Image], next_marker: Option<&str>, request: &mut Environ) -> String {
        // `dict(request.params)`: the last value of each key, in first-seen order.
        let mut params: Vec<(String, String)> = Vec::new();
        for (k, v) in Request::new(request).get_params().items() {
            match params.iter_mut().find(|(key, _)| key == k) {
                Some(slot) => slot.1 = v.to_owned(),
                None => params.push((k.to_owned(), v.to_owned())),
            }
        }
        params.retain(|(k, _)| k != "marker");
        let encode = |params: &[(String, String)]| {
            let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            urlencode(&pairs)
        };
        let query = encode(&params);
        let mut out = String::with_capacity(256 + images.len() * 900);
        out.push_str("{\"images\": [");
        for (i, image) in images.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            Self::format_image(image, &mut out);
        }
        out.push_str("], \"first\": ");
        let first = if query.is_empty() {
            "/v2/images".to_owned()
        } else {
            format!("/v2/images?{query}")
        };
        push_json_str(&mut out, &first);
        out.push_str(", \"schema\": \"/v2/schemas/images\"");
        if let Some(marker) = next_marker {
            params.push(("marker".into(), marker.to_owned()));
            out.push_str(", \"next\": ");
            push_json_str(&mut out, &format!("/v2/images?{}", encode(&params)));
        }
        out.push('}');
        out
    }
}

impl Serializer for ResponseSerializer {
    type Input = ImagesResult;

    fn serialize(
        &self,
        action: &str,
        result: ImagesResult,
        request: &mut Environ,
        start_response: &mut StartResponse,
    ) -> Body {
        match (action, result) {
            ("create", ImagesResult::Image(image)) => {
                // webob makes the relative Location absolute from the request's host.
                let location = format!("{}/v2/images/{}", Request::new(request).host_url(), image.image_id);
                json_response(
                    start_response,
                    "201 Created",
                    Self::image_json(&image),
                    &[
                        ("Location", &location),
                        ("OpenStack-image-import-methods", ENABLED_IMPORT_METHODS),
                    ],
                )
            }
            (_, ImagesResult::Image(image)) => json_response(start_response, "200 OK", Self::image_json(&image), &[]),
            (_, ImagesResult::Index { images, next_marker }) => {
                let body = Self::index(&images, next_marker.as_deref(), request);
                json_response(start_response, "200 OK", body, &[])
            }
            (_, ImagesResult::Deleted) => empty_response(start_response, "204 No Content"),
        }
    }
}

/// `images.create_resource()`.
pub fn create_resource(gateway: Arc<Gateway>) -> Resource<ImagesController, RequestDeserializer, ResponseSerializer> {
    Resource::new(ImagesController::new(gateway), RequestDeserializer, ResponseSerializer)
        .action("index", ImagesController::index)
        .action("create", ImagesController::create)
        .action("show", ImagesController::show)
        .action("update", ImagesController::update)
        .action("delete", ImagesController::delete)
}
