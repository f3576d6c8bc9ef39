//! WebOb for may_wsgi: `from webob import Request, Response` becomes
//! `use may_wsgi::webob::{Request, Response}`.
//!
//! A Python service built on WebOb (Glance is) ports with its shape intact:
//!
//! ```python
//! from webob import Request, Response, exc
//! from webob.dec import wsgify
//!
//! @wsgify
//! def app(req):
//!     if req.method == 'POST':
//!         return Response(json={'name': req.json['name']}, status=201)
//!     name = req.GET.get('name', 'world')
//!     if name == 'nobody':
//!         raise exc.HTTPNotFound()
//!     return Response('Hello %s' % name, content_type='text/plain')
//! ```
//!
//! ```
//! use may_wsgi::webob::{exc, wsgify, HTTPError, Request, Response};
//!
//! let app = wsgify(|req: &mut Request| -> Result<Response, HTTPError> {
//!     let name = req.get_params().get("name").cloned().unwrap_or_else(|| "world".into());
//!     if name == "nobody" {
//!         return Err(exc::HTTPNotFound());
//!     }
//!     Ok(Response::text(format!("Hello {name}")))
//! });
//! # fn is_app(_: &impl may_wsgi::Application) {}
//! # is_app(&app);
//! ```
//!
//! What is here, by the WebOb module it mirrors:
//! - `webob.request`: [`Request`] over the environ; `GET`/`POST`/`params` as [`MultiDict`]s
//!   ([`FormValue`]s for forms, uploads as [`FileUpload`]s), the body (capped), JSON
//!   (feature `json`), cookies, headers, URLs, `path_info_pop`, and
//!   [`Request::get_response`] to call another app in memory.
//! - `webob.response`: [`Response`] (and [`ResponseApp`], one mounted as an application),
//!   with cookies ([`SetCookie`]), caching
//!   ([`CacheControl`]), ETags and conditional responses (304, 206, 416).
//! - `webob.exc`: [`exc`], errors as values that are responses ([`HTTPError`]).
//! - `webob.dec`: [`wsgify`] and [`middleware`].
//! - `webob.acceptparse` ([`Accept`]), `webob.byterange` ([`Range`], [`ContentRange`]),
//!   `webob.multidict` ([`MultiDict`]), `webob.headers` ([`ResponseHeaders`],
//!   [`EnvironHeaders`]), `webob.cookies` ([`parse_cookie`], [`SetCookie`]), and the
//!   streaming [`multipart`] reader under `req.POST`.
//!
//! The Python-to-Rust name map is in `docs/porting-webob.md`.

mod accept;
mod cookies;
mod dec;
pub mod exc;
mod form;
mod headers;
mod multidict;
pub mod multipart;
mod range;
mod request;
mod response;
mod util;

pub use accept::{Accept, MediaRange};
pub use cookies::{parse_cookie, CookieError, SameSite, SetCookie};
pub use dec::{middleware, wsgify, Wsgify, WsgifyMiddleware};
pub use exc::HTTPError;
pub use form::{FileUpload, FileUploadReader, FormLimits, FormValue};
pub use headers::{environ_key, header_name, EnvironHeaders, ResponseHeaders};
pub use multidict::{parse_qsl, parse_qsl_bytes, MultiDict, MultipleValues, TextValue};
pub use range::{ByteRange, ContentRange, Range, MAX_RANGES};
pub use request::{Request, DEFAULT_BODY_LIMIT};
pub use response::{CacheControl, InvalidStatus, ReadSeek, Response, ResponseApp};
pub use util::status_reason;

/// The Rust blocks of `docs/porting-webob.md`, compiled as doc tests so the page stays true.
#[cfg(doctest)]
#[doc = include_str!("../../docs/porting-webob.md")]
pub struct PortingWebobDoctests;
