//! `glance/api/v2/image_data.py`: `ImageDataController` (`upload`, `download`,
//! `_restore`), `RequestDeserializer` (`upload`, `_get_image_size`) and
//! `ResponseSerializer` (`download` with Range, 206, Content-Range and Content-MD5;
//! `upload`'s 204).
//!
//! The upload stores `saving` (a conditional save from `queued`, under the database lock)
//! before it reads a byte of the body, streams the body through the store (hashing as it
//! goes), and saves `active` conditionally from `saving`; every failure after `saving`
//! puts the image back to `queued`. The download streams the file in 64 KiB blocks.
//! Hands on to `router.rs` through [`create_resource`].

use std::sync::Arc;

use may_wsgi::routes::{Deserializer, Fault, Resource, RouteMatch, Serializer};
use may_wsgi::webob::exc;
use may_wsgi::wsgi::FileWrapper;
use may_wsgi::{Body, Environ, StartResponse};

use crate::db::ImageRepo;
use crate::domain::{GlanceError, Image};
use crate::images::repo_fault;
use crate::location::{set_data, SetDataError};
use crate::store::{StoreError, WRITE_CHUNKSIZE};
use crate::wsgi::{empty_response, get_content_type, get_range_from_request, RangeVal};
use crate::Gateway;

/// `upload`'s arguments: `size` (the body itself is read from the environ's
/// `wsgi.input`, Glance's `request.body_file`).
pub enum DataArgs {
    None,
    Upload { size: Option<u64> },
}

/// What the actions return.
pub enum DataResult {
    Uploaded,
    Image(Box<Image>),
}

/// `glance.api.v2.image_data.ImageDataController`.
pub struct ImageDataController {
    gateway: Arc<Gateway>,
}

impl ImageDataController {
    pub fn new(gateway: Arc<Gateway>) -> ImageDataController {
        ImageDataController { gateway }
    }

    /// `_restore(image_repo, image)`: back to `queued`; a failure is only logged.
    fn restore(image_repo: &ImageRepo, image: &mut Image) {
        let restored = image.set_status("queued").and_then(|_| image_repo.save(image, None));
        if let Err(e) = restored {
            log::error!("Unable to restore image {}: {}", image.image_id, e.msg());
        }
    }

    /// `upload(self, req, image_id, data, size)`.
    pub fn upload(&self, req: &mut Environ, args: &RouteMatch, body: DataArgs) -> Result<DataResult, Fault> {
        let DataArgs::Upload { size } = body else {
            return Err(Fault::internal_server_error());
        };
        let image_id = args.get("image_id").unwrap_or("");
        let image_repo = self.gateway.get_repo();
        let mut image = image_repo.get(image_id).map_err(|e| repo_fault(&e))?;
        if let Err(e) = image.set_status("saving") {
            return Err(match e {
                GlanceError::InvalidImageStatusTransition(m) => exc::HTTPConflict().with_explanation(m).into(),
                // ValueError: the formats are not set.
                other => {
                    Self::restore(&image_repo, &mut image);
                    Fault::bad_request(other.msg())
                }
            });
        }
        // `saving` is stored before the body is read.
        let gone = |image_id: &str| -> Fault {
            let msg = format!(
                "Image {image_id} could not be found after upload. The image may have been deleted during the upload, cleaning up the chunks uploaded."
            );
            log::warn!("{msg}");
            exc::HTTPGone().with_explanation(msg).into()
        };
        match image_repo.save(&mut image, Some("queued")) {
            Ok(()) => {}
            Err(GlanceError::NotFound(_) | GlanceError::Conflict(_)) => return Err(gone(image_id)),
            Err(e) => return Err(server_error(e.msg())),
        }
        let store = &self.gateway.store;
        if let Err(e) = set_data(&mut image, store, req.input(), size) {
            Self::restore(&image_repo, &mut image);
            return Err(match e {
                SetDataError::Store(StoreError::Invalid(m)) => Fault::bad_request(m),
                SetDataError::Store(StoreError::StorageFull(m)) => exc::HTTPRequestEntityTooLarge()
                    .with_explanation(format!("Image storage media is full: {m}"))
                    .into(),
                SetDataError::Store(e @ StoreError::ImageSizeLimitExceeded) => exc::HTTPRequestEntityTooLarge()
                    .with_explanation(format!("The incoming image is too large: {e}"))
                    .into(),
                SetDataError::Store(StoreError::StorageWriteDenied(m)) => exc::HTTPServiceUnavailable()
                    .with_explanation(format!("Insufficient permissions on image storage media: {m}"))
                    .into(),
                SetDataError::Store(StoreError::Read(e)) => {
                    log::error!("Failed to upload image data due to internal error: {e}");
                    Fault::bad_request(format!("Error reading the image data: {e}"))
                }
                SetDataError::Store(e) => server_error(&e.to_string()),
                SetDataError::Upload(m) => server_error(&m),
                SetDataError::Domain(e) => Fault::bad_request(e.msg()),
            });
        }
        match image_repo.save(&mut image, Some("saving")) {
            Ok(()) => Ok(DataResult::Uploaded),
            Err(GlanceError::NotFound(_) | GlanceError::Conflict(_)) => {
                // Deleted during the upload: clean up the data.
                let _ = store.delete(image_id);
                Err(gone(image_id))
            }
            Err(e) => {
                Self::restore(&image_repo, &mut image);
                Err(server_error(e.msg()))
            }
        }
    }

    /// `download(self, req, image_id)`.
    pub fn download(&self, _req: &mut Environ, args: &RouteMatch, _body: DataArgs) -> Result<DataResult, Fault> {
        let image_id = args.get("image_id").unwrap_or("");
        let image = self.gateway.get_repo().get(image_id).map_err(|e| repo_fault(&e))?;
        Ok(DataResult::Image(Box::new(image)))
    }
}

fn server_error(msg: &str) -> Fault {
    log::error!("Caught error: {msg}");
    Fault::internal_server_error()
}

/// `glance.api.v2.image_data.RequestDeserializer`.
pub struct RequestDeserializer;

impl RequestDeserializer {
    /// `_get_image_size`: `x-openstack-image-size`, else Content-Length (0 is unknown).
    fn get_image_size(request: &Environ) -> Result<Option<u64>, Fault> {
        let invalid = || Fault::bad_request("Invalid or missing image size in request headers.");
        if let Some(size) = request.get("HTTP_X_OPENSTACK_IMAGE_SIZE") {
            return size.trim().parse::<u64>().map(Some).map_err(|_| invalid());
        }
        Ok(request
            .get("CONTENT_LENGTH")
            .and_then(|l| l.trim().parse::<u64>().ok())
            .filter(|l| *l > 0))
    }

    /// `upload(self, request)`.
    fn upload(&self, request: &mut Environ) -> Result<DataArgs, Fault> {
        if let Err(msg) = get_content_type(request, &["application/octet-stream"]) {
            return Err(exc::HTTPUnsupportedMediaType().with_detail(msg).into());
        }
        Ok(DataArgs::Upload {
            size: Self::get_image_size(request)?,
        })
    }
}

impl Deserializer for RequestDeserializer {
    type Output = DataArgs;

    fn deserialize(&self, action: &str, request: &mut Environ) -> Result<DataArgs, Fault> {
        match action {
            "upload" => self.upload(request),
            _ => Ok(DataArgs::None),
        }
    }
}

/// `glance.api.v2.image_data.ResponseSerializer`.
pub struct ResponseSerializer {
    gateway: Arc<Gateway>,
}

impl ResponseSerializer {
    /// `download(self, response, image)`.
    fn download(
        &self,
        image: &Image,
        request: &mut Environ,
        start_response: &mut StartResponse,
    ) -> Result<Body, Fault> {
        // `image.get_data`: no location (queued, saving) is the store's NotFound, a 204.
        let size = image.size.unwrap_or(0);
        if image.locations.is_empty() {
            return Err(exc::HTTPNoContent().into());
        }
        let mut offset = 0u64;
        let mut chunk_size = None;
        let mut response_end = size.saturating_sub(1);
        let range_val = get_range_from_request(request, size)?;
        match range_val {
            Some(RangeVal::Range { start, end }) => {
                if start >= 0 {
                    offset = start as u64;
                } else if start.unsigned_abs() < size {
                    offset = size - start.unsigned_abs();
                }
                match end {
                    Some(end) if end < size => {
                        chunk_size = Some(end - offset);
                        response_end = end - 1;
                    }
                    _ => chunk_size = Some(size - offset),
                }
            }
            Some(RangeVal::ContentRange { start, stop }) => {
                response_end = stop - 1;
                offset = start;
                chunk_size = Some(stop - offset);
            }
            None => {}
        }
        let data = self
            .gateway
            .store
            .get(&image.image_id, offset, chunk_size)
            .map_err(|e| match e {
                StoreError::NotFound(m) => exc::HTTPNoContent().with_explanation(m).into(),
                other => server_error(&other.to_string()),
            })?;
        let mut headers: Vec<(&str, String)> = vec![("Content-Type", "application/octet-stream".into())];
        let status = if chunk_size.is_some() {
            headers.push(("Content-Range", format!("bytes {offset}-{response_end}/{size}")));
            "206 Partial Content"
        } else {
            "200 OK"
        };
        if let Some(checksum) = &image.checksum {
            headers.push(("Content-MD5", checksum.clone()));
        }
        headers.push(("Content-Length", chunk_size.unwrap_or(size).to_string()));
        start_response.call(status, headers);
        Ok(Body::File(FileWrapper::new(data, WRITE_CHUNKSIZE)))
    }
}

impl Serializer for ResponseSerializer {
    type Input = DataResult;

    fn serialize(
        &self,
        _action: &str,
        result: DataResult,
        request: &mut Environ,
        start_response: &mut StartResponse,
    ) -> Body {
        match result {
            DataResult::Uploaded => empty_response(start_response, "204 No Content"),
            DataResult::Image(image) => match self.download(&image, request, start_response) {
                Ok(body) => body,
                Err(fault) => fault.respond(request, start_response),
            },
        }
    }
}

/// `image_data.create_resource()`.
pub fn create_resource(
    gateway: Arc<Gateway>,
) -> Resource<ImageDataController, RequestDeserializer, ResponseSerializer> {
    Resource::new(
        ImageDataController::new(gateway.clone()),
        RequestDeserializer,
        ResponseSerializer { gateway },
    )
    .action("upload", ImageDataController::upload)
    .action("download", ImageDataController::download)
}
