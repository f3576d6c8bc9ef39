//! `wsgiref.validate`: a middleware that checks an application keeps the WSGI contract,
//! for the parts Rust's types leave open.
//!
//! ```python
//! from wsgiref.validate import validator
//! application = validator(application)
//! ```
//!
//! ```
//! # use may_wsgi::{Body, Environ, StartResponse};
//! # fn application(_: &mut Environ, start_response: &mut StartResponse) -> Body {
//! #     start_response.call("200 OK", [("Content-Type", "text/plain")]);
//! #     Body::from("ok")
//! # }
//! let application = may_wsgi::validate::validator(application);
//! ```
//!
//! Much of what wsgiref checks cannot go wrong here: the body is bytes by type, `close()`
//! is `Drop` and always runs, `wsgi.input` is read through `Read`, a header is a pair of
//! strings, and `start_response` already refuses a malformed status, a header name that is
//! not a token and control characters in a value. What is left is checked here, as
//! wsgiref does, before and after the application runs:
//!
//! - the environ: REQUEST_METHOD, SERVER_NAME and SERVER_PORT present, SCRIPT_NAME and
//!   PATH_INFO empty or starting with `/` and not both empty, a numeric CONTENT_LENGTH;
//! - `start_response` called before the application returns its body;
//! - the status `NNN Reason` (a code alone is refused, as wsgiref refuses it);
//! - no `Status` header, no name ending in `-` or `_`;
//! - `Content-Type` present, except on 1xx, 204 and 304 responses, where it must be absent
//!   (they carry no content).
//!
//! A breach panics with wsgiref's `AssertionError` wording; the server turns it into a 500
//! and logs the request, so a test or a development server shows it at once.

use crate::wsgi::{Application, Body, Environ, StartResponse};

/// An application wrapped in the checks (wsgiref's `validator(application)`).
pub struct Validator<A> {
    app: A,
}

/// Wraps `app` in the checks.
pub fn validator<A: Application>(app: A) -> Validator<A> {
    Validator { app }
}

fn check(ok: bool, why: impl FnOnce() -> String) {
    if !ok {
        panic!("AssertionError: {}", why());
    }
}

fn check_environ(environ: &Environ) {
    for key in ["REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT"] {
        check(environ.get(key).is_some_and(|v| !v.is_empty()), || {
            format!("Environment missing required key: {key:?}")
        });
    }
    let script_name = environ.get_or("SCRIPT_NAME", "");
    let path_info = environ.get_or("PATH_INFO", "");
    check(script_name.is_empty() || script_name.starts_with('/'), || {
        format!("SCRIPT_NAME doesn't start with /: {script_name:?}")
    });
    // OPTIONS * is the one request whose path is not a path.
    check(
        path_info.is_empty() || path_info.starts_with('/') || path_info == "*",
        || format!("PATH_INFO doesn't start with /: {path_info:?}"),
    );
    check(!script_name.is_empty() || !path_info.is_empty(), || {
        "One of SCRIPT_NAME or PATH_INFO are required (PATH_INFO should at least be '/' if SCRIPT_NAME is empty)"
            .to_owned()
    });
    if let Some(length) = environ.get("CONTENT_LENGTH").filter(|v| !v.is_empty()) {
        check(length.parse::<u64>().is_ok(), || {
            format!("Invalid CONTENT_LENGTH: {length:?}")
        });
    }
}

fn check_response(start_response: &StartResponse) {
    check(start_response.is_called(), || {
        "The application must call start_response before returning its body".to_owned()
    });
    let status = start_response.status();
    let code: u16 = status.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
    check(status.len() >= 4 && status.as_bytes()[3] == b' ', || {
        format!("Status message must have a space after code: {status:?}")
    });
    let mut content_type = false;
    for (name, _) in start_response.headers() {
        check(!name.eq_ignore_ascii_case("status"), || {
            "The Status header cannot be used; it conflicts with CGI script, and HTTP status is not given through headers"
                .to_owned()
        });
        check(!name.ends_with('-') && !name.ends_with('_'), || {
            format!("Names may not end in '-' or '_': {name:?}")
        });
        content_type |= name.eq_ignore_ascii_case("content-type");
    }
    let no_content = matches!(code, 100..=199 | 204 | 304);
    if no_content {
        check(!content_type, || {
            format!("Content-Type header found in a {code} response, which must not return content.")
        });
    } else {
        check(content_type, || "No Content-Type header found in headers".to_owned());
    }
}

impl<A: Application> Application for Validator<A> {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        check_environ(environ);
        let body = self.app.call(environ, start_response);
        check_response(start_response);
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestApp;

    fn app_with(status: &'static str, headers: &'static [(&'static str, &'static str)]) -> impl Application {
        move |_: &mut Environ, start_response: &mut StartResponse| {
            start_response.call(status, headers);
            Body::Empty
        }
    }

    #[test]
    fn a_well_behaved_app_passes() {
        for (status, headers) in [
            ("200 OK", &[("Content-Type", "text/plain")][..]),
            ("204 No Content", &[][..]),
            ("304 Not Modified", &[("ETag", "\"x\"")][..]),
        ] {
            let mut app = TestApp::new(validator(app_with(status, headers)));
            assert_eq!(app.get("/").send().status_line, status);
        }
    }

    #[test]
    fn each_breach_is_a_500_that_names_the_rule() {
        let cases: Vec<(Box<dyn Application>, &str)> = vec![
            (Box::new(app_with("200 OK", &[])), "No Content-Type header"),
            (
                Box::new(app_with("204 No Content", &[("Content-Type", "text/plain")])),
                "found in a 204 response",
            ),
            (
                Box::new(app_with("200", &[("Content-Type", "text/plain")])),
                "space after code",
            ),
            (
                Box::new(app_with("200 OK", &[("Content-Type", "text/plain"), ("X-Bad-", "1")])),
                "may not end in",
            ),
            (
                Box::new(app_with("200 OK", &[("Content-Type", "text/plain"), ("Status", "200")])),
                "Status header cannot be used",
            ),
            (
                Box::new(|_: &mut Environ, _: &mut StartResponse| Body::from("no start_response")),
                "must call start_response",
            ),
        ];
        for (inner, why) in cases {
            let mut app = TestApp::new(validator(inner));
            let res = app.get("/").expect_status(500);
            assert!(res.text().contains(why), "{why}: {}", res.text());
        }
    }

    #[test]
    fn the_environ_is_checked_before_the_app_runs() {
        let shifts_badly = validator(|environ: &mut Environ, start_response: &mut StartResponse| {
            start_response.call("200 OK", [("Content-Type", "text/plain")]);
            Body::from(environ.get_or("PATH_INFO", "").to_owned())
        });
        let mut app = TestApp::new(shifts_badly);
        assert_eq!(app.get("/fine").expect_status(200).text(), "/fine");
        let broken = |environ: &mut Environ, start_response: &mut StartResponse| {
            environ.set("PATH_INFO", "no-slash");
            validator(app_with("200 OK", &[("Content-Type", "text/plain")])).call(environ, start_response)
        };
        let res = TestApp::new(broken).get("/").expect_status(500);
        assert!(res.text().contains("PATH_INFO doesn't start with /"), "{}", res.text());
    }
}
