//! `glance/api/v2/image_tags.py`: `Controller.update` (PUT adds a tag) and
//! `Controller.delete`, the tag checked against the image schema first, both answered 204.
//! Hands on to `router.rs` through [`create_resource`].

use std::sync::Arc;

use may_wsgi::routes::{Deserializer, Fault, Resource, RouteMatch, Serializer};
use may_wsgi::webob::exc;
use may_wsgi::{Body, Environ, StartResponse};

use crate::domain::GlanceError;
use crate::wsgi::empty_response;
use crate::Gateway;

/// `glance.api.v2.image_tags.Controller`.
pub struct Controller {
    gateway: Arc<Gateway>,
}

fn not_found(image_id: &str) -> Fault {
    let msg = format!("Image {image_id} not found.");
    log::warn!("{msg}");
    exc::HTTPNotFound().with_explanation(msg).into()
}

impl Controller {
    /// `update(self, req, image_id, tag_value)`.
    pub fn update(&self, _req: &mut Environ, args: &RouteMatch, _: ()) -> Result<(), Fault> {
        let (image_id, tag_value) = (args.get("image_id").unwrap_or(""), args.get("tag_value").unwrap_or(""));
        let repo = self.gateway.get_repo();
        let mut image = repo.get(image_id).map_err(|_| not_found(image_id))?;
        image.add_tag(tag_value);
        repo.save(&mut image, None).map_err(|e| match e {
            GlanceError::NotFound(_) => not_found(image_id),
            other => Fault::bad_request(format!("Could not update image: {}", other.msg())),
        })
    }

    /// `delete(self, req, image_id, tag_value)`.
    pub fn delete(&self, _req: &mut Environ, args: &RouteMatch, _: ()) -> Result<(), Fault> {
        let (image_id, tag_value) = (args.get("image_id").unwrap_or(""), args.get("tag_value").unwrap_or(""));
        let repo = self.gateway.get_repo();
        let mut image = repo.get(image_id).map_err(|_| not_found(image_id))?;
        if !image.remove_tag(tag_value) {
            return Err(exc::HTTPNotFound().into());
        }
        repo.save(&mut image, None).map_err(|_| not_found(image_id))
    }
}

/// `RequestDeserializer.update`: the tag must be valid in the image schema.
pub struct RequestDeserializer;

impl Deserializer for RequestDeserializer {
    type Output = ();

    fn deserialize(&self, action: &str, request: &mut Environ) -> Result<(), Fault> {
        if action == "update" {
            let tag =
                may_wsgi::routes::Resource::<Controller, RequestDeserializer, ResponseSerializer>::get_action_args(
                    request,
                )
                .get("tag_value")
                .unwrap_or("")
                .to_owned();
            crate::schemas::validate(&serde_json::json!({ "tags": [tag] })).map_err(Fault::bad_request)?;
        }
        Ok(())
    }
}

/// `ResponseSerializer`: 204 for both.
pub struct ResponseSerializer;

impl Serializer for ResponseSerializer {
    type Input = ();

    fn serialize(
        &self,
        _action: &str,
        _result: (),
        _request: &mut Environ,
        start_response: &mut StartResponse,
    ) -> Body {
        empty_response(start_response, "204 No Content")
    }
}

/// `image_tags.create_resource()`.
pub fn create_resource(gateway: Arc<Gateway>) -> Resource<Controller, RequestDeserializer, ResponseSerializer> {
    Resource::new(Controller { gateway }, RequestDeserializer, ResponseSerializer)
        .action("update", Controller::update)
        .action("delete", Controller::delete)
}
