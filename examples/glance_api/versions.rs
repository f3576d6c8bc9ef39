//! `glance/api/versions.py` (`Controller.index`: the versions document, 300 unless asked
//! for explicitly) and `glance/api/middleware/version_negotiation.py`
//! (`VersionNegotiationFilter`: `/versions` answered here; the version taken from a
//! `application/vnd.openstack.images-` Accept or the first path segment; an unknown one
//! answered with the versions document; a known one rewritten to `/v2/...`). Configured
//! as Glance 33 with `image_cache_dir` set (2.18 CURRENT) and one store. Hands on to
//! `main.rs`, which puts the filter first in the pipeline.

use may_wsgi::webob::Request;
use may_wsgi::{Application, Body, Environ, StartResponse};

use crate::wsgi::{json_response, push_json_str};

/// `glance.api.versions.Controller`.
#[derive(Clone, Copy)]
pub struct Controller;

impl Controller {
    /// `index(self, req, explicit=False)`.
    pub fn index(&self, environ: &mut Environ, start_response: &mut StartResponse, explicit: bool) -> Body {
        let url = format!("{}/", Request::new(environ).application_url().trim_end_matches('/'));
        // `urljoin(url, 'v2').rstrip('/') + '/'`.
        let href = format!("{url}v2/");
        let mut href_json = String::new();
        push_json_str(&mut href_json, &href);
        let build_version_object = |version: &str, status: &str| {
            format!("{{\"id\": \"v{version}\", \"status\": \"{status}\", \"links\": [{{\"rel\": \"self\", \"href\": {href_json}}}]}}")
        };
        let mut version_objs = vec![build_version_object("2.18", "CURRENT")];
        for v in [
            "2.17", "2.16", "2.15", "2.14", "2.9", "2.7", "2.6", "2.5", "2.4", "2.3", "2.2", "2.1", "2.0",
        ] {
            version_objs.push(build_version_object(v, "SUPPORTED"));
        }
        let body = format!("{{\"versions\": [{}]}}", version_objs.join(", "));
        let status = if explicit { "200 OK" } else { "300 Multiple Choices" };
        json_response(start_response, status, body, &[])
    }
}

/// The versions app on its own (`apiversions` in the paste pipeline): 300.
impl Application for Controller {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        self.index(environ, start_response, false)
    }
}

/// `VersionNegotiationFilter(app)`.
pub struct VersionNegotiationFilter<A> {
    app: A,
    versions_app: Controller,
}

const VND_MIME_TYPE: &str = "application/vnd.openstack.images-";

impl<A: Application> VersionNegotiationFilter<A> {
    pub fn new(app: A) -> VersionNegotiationFilter<A> {
        VersionNegotiationFilter {
            app,
            versions_app: Controller,
        }
    }

    /// `_match_version_string` over `_get_allowed_versions()`.
    fn match_version_string(subject: &str) -> Option<u32> {
        const ALLOWED: [&str; 15] = [
            "v2", "v2.0", "v2.1", "v2.2", "v2.3", "v2.4", "v2.5", "v2.6", "v2.7", "v2.9", "v2.14", "v2.16", "v2.18",
            "v2.15", "v2.17",
        ];
        ALLOWED.contains(&subject).then_some(2)
    }

    /// `_pop_path_info`: the first segment, without moving it to SCRIPT_NAME.
    fn pop_path_info(req: &mut Request) -> String {
        let path = req.path_info().into_owned();
        let path = path.trim_start_matches('/');
        let idx = path.find('/').unwrap_or(path.len());
        let (r, rest) = path.split_at(idx);
        let r = r.to_owned();
        req.set_path_info(rest);
        r
    }
}

impl<A: Application> Application for VersionNegotiationFilter<A> {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        let mut req = Request::new(environ);
        if req.path_info_peek().as_deref() == Some("versions") {
            return self.versions_app.index(environ, start_response, true);
        }
        let accept = req.header("Accept").unwrap_or("").to_owned();
        let req_version = match accept.strip_prefix(VND_MIME_TYPE) {
            Some(v) => v.to_owned(),
            None => Self::pop_path_info(&mut req),
        };
        let Some(version) = Self::match_version_string(&req_version) else {
            log::debug!("Unknown version. Returning version choices.");
            return self.versions_app.index(environ, start_response, false);
        };
        environ.set("api.version", version.to_string());
        let mut req = Request::new(environ);
        let path_info = format!("/v{version}{}", req.path_info());
        req.set_path_info(&path_info);
        self.app.call(environ, start_response)
    }
}
