//! `glance/api/middleware/context.py`: `UnauthenticatedContextMiddleware` (no Keystone:
//! every request acts as an admin with no project, so images get `owner: null`) and
//! `BaseContextMiddleware.process_response`, which stamps every response it passes with
//! `x-openstack-request-id: req-<uuid4>` (errors and 204s too). Hands on to `main.rs`.

use may_wsgi::{Application, Body, Environ, StartResponse};

use crate::timeutils::uuid4;

/// `glance.context.RequestContext(user_id=None, project_id=None, roles=[],
/// is_admin=True)`: what the controllers act as. The port has only this one, so the
/// controllers take it as given (owner None, every policy passes).
pub struct RequestContext {
    pub request_id: String,
    pub is_admin: bool,
    pub project_id: Option<String>,
}

impl RequestContext {
    /// `req.context`: the one this request's middleware made (the admin context when a
    /// controller is called without the middleware, as in unit tests).
    pub fn of(environ: &Environ) -> RequestContext {
        match environ.value::<RequestContext>("glance.context") {
            Some(c) => RequestContext {
                request_id: c.request_id.clone(),
                is_admin: c.is_admin,
                project_id: c.project_id.clone(),
            },
            None => RequestContext {
                request_id: String::new(),
                is_admin: true,
                project_id: None,
            },
        }
    }
}

/// `UnauthenticatedContextMiddleware(app)`.
pub struct UnauthenticatedContextMiddleware<A> {
    app: A,
}

impl<A: Application> UnauthenticatedContextMiddleware<A> {
    pub fn new(app: A) -> UnauthenticatedContextMiddleware<A> {
        UnauthenticatedContextMiddleware { app }
    }

    /// `process_request`: the admin context, kept in the environ as `req.context`.
    fn process_request(&self, environ: &mut Environ) -> String {
        let context = RequestContext {
            request_id: format!("req-{}", uuid4()),
            is_admin: true,
            project_id: None,
        };
        let request_id = context.request_id.clone();
        environ.put("glance.context", context);
        request_id
    }
}

impl<A: Application> Application for UnauthenticatedContextMiddleware<A> {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        let request_id = self.process_request(environ);
        let body = self.app.call(environ, start_response);
        // `process_response`: the head is still unsent (bodies stream after it).
        if !start_response.head_sent() {
            let _ = start_response.add_header("x-openstack-request-id", &request_id);
        }
        body
    }
}
