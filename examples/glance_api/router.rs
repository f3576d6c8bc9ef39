//! `glance/api/v2/router.py`: `API(wsgi.Router)`, the subset's routes (`/schemas/image`,
//! `/schemas/images`, `/images`, `/images/{image_id}`, `/images/{image_id}/file`,
//! `/images/{image_id}/tags/{tag_value}`), each group closed by its
//! `RejectMethodController` route, connected in Glance's order and with its arguments.
//! Hands on the `Router` (an `Application`) that `main.rs` mounts at `/v2`.

use std::sync::Arc;

use may_wsgi::routes::{Mapper, RejectMethodController, Router};

use crate::{image_data, image_tags, images, schemas, Gateway};

/// `API(mapper)`.
pub fn api(mut mapper: Mapper, gateway: Arc<Gateway>) -> Router {
    let reject_method_resource = Arc::new(RejectMethodController::resource());

    let schemas_resource = Arc::new(schemas::create_resource());
    mapper
        .connect(None, "/schemas/image")
        .controller(schemas_resource.clone())
        .action("image")
        .conditions(&["GET"])
        .arg("body_reject", "True");
    mapper
        .connect(None, "/schemas/image")
        .controller(reject_method_resource.clone())
        .action("reject")
        .arg("allowed_methods", "GET");
    mapper
        .connect(None, "/schemas/images")
        .controller(schemas_resource.clone())
        .action("images")
        .conditions(&["GET"])
        .arg("body_reject", "True");
    mapper
        .connect(None, "/schemas/images")
        .controller(reject_method_resource.clone())
        .action("reject")
        .arg("allowed_methods", "GET");

    let images_resource = Arc::new(images::create_resource(gateway.clone()));
    mapper
        .connect(None, "/images")
        .controller(images_resource.clone())
        .action("index")
        .conditions(&["GET"]);
    mapper
        .connect(None, "/images")
        .controller(images_resource.clone())
        .action("create")
        .conditions(&["POST"]);
    mapper
        .connect(None, "/images")
        .controller(reject_method_resource.clone())
        .action("reject")
        .arg("allowed_methods", "GET, POST");

    mapper
        .connect(None, "/images/{image_id}")
        .controller(images_resource.clone())
        .action("update")
        .conditions(&["PATCH"]);
    mapper
        .connect(None, "/images/{image_id}")
        .controller(images_resource.clone())
        .action("show")
        .conditions(&["GET"])
        .arg("body_reject", "True");
    mapper
        .connect(None, "/images/{image_id}")
        .controller(images_resource.clone())
        .action("delete")
        .conditions(&["DELETE"])
        .arg("body_reject", "True");
    mapper
        .connect(None, "/images/{image_id}")
        .controller(reject_method_resource.clone())
        .action("reject")
        .arg("allowed_methods", "GET, PATCH, DELETE");

    let image_data_resource = Arc::new(image_data::create_resource(gateway.clone()));
    mapper
        .connect(None, "/images/{image_id}/file")
        .controller(image_data_resource.clone())
        .action("download")
        .conditions(&["GET"])
        .arg("body_reject", "True");
    mapper
        .connect(None, "/images/{image_id}/file")
        .controller(image_data_resource.clone())
        .action("upload")
        .conditions(&["PUT"]);
    mapper
        .connect(None, "/images/{image_id}/file")
        .controller(reject_method_resource.clone())
        .action("reject")
        .arg("allowed_methods", "GET, PUT");

    let image_tags_resource = Arc::new(image_tags::create_resource(gateway));
    mapper
        .connect(None, "/images/{image_id}/tags/{tag_value}")
        .controller(image_tags_resource.clone())
        .action("update")
        .conditions(&["PUT"])
        .arg("body_reject", "True");
    mapper
        .connect(None, "/images/{image_id}/tags/{tag_value}")
        .controller(image_tags_resource.clone())
        .action("delete")
        .conditions(&["DELETE"])
        .arg("body_reject", "True");
    mapper
        .connect(None, "/images/{image_id}/tags/{tag_value}")
        .controller(reject_method_resource.clone())
        .action("reject")
        .arg("allowed_methods", "PUT, DELETE");

    Router::new(mapper)
}
