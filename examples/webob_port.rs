//! A WebOb app ported: a notes service with JSON and form input, WebOb's error bodies,
//! and conditional GETs. The Python original (38 lines, blank lines left out) becomes 53
//! lines of Rust:
//!
//! ```python
//! import itertools, sys, threading
//! from webob import Response, exc
//! from webob.dec import wsgify
//! from wsgiref.simple_server import make_server
//!
//! notes, lock, ids = {}, threading.Lock(), itertools.count(1)
//!
//! @wsgify
//! def app(req):
//!     if req.path_info_pop() != 'notes':
//!         raise exc.HTTPNotFound()
//!     note_id = req.path_info_pop()
//!     if not note_id:
//!         if req.method == 'GET':
//!             with lock:
//!                 return Response(json={'notes': [{'id': k, 'text': v} for k, v in sorted(notes.items())]})
//!         if req.method == 'POST':
//!             if req.content_type == 'application/json':
//!                 text = req.json.get('text')
//!             else:
//!                 text = req.POST.get('text')
//!             if not text:
//!                 raise exc.HTTPBadRequest('text is required')
//!             with lock:
//!                 note_id = str(next(ids))
//!                 notes[note_id] = text
//!             resp = Response(json={'id': note_id, 'text': text}, status=201)
//!             resp.location = '/notes/' + note_id
//!             return resp
//!         raise exc.HTTPMethodNotAllowed(headers=[('Allow', 'GET, POST')])
//!     with lock:
//!         text = notes.get(note_id)
//!     if text is None:
//!         raise exc.HTTPNotFound('no note %s' % note_id)
//!     resp = Response(text, content_type='text/plain', conditional_response=True)
//!     resp.etag = 'note-%s-%d' % (note_id, len(text))
//!     return resp
//!
//! httpd = make_server('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 8000, app)
//! print('Serving on port %d...' % httpd.server_port)
//! httpd.serve_forever()
//! ```
//!
//! `raise exc.X()` becomes `return Err(exc::X())`; the shared dict goes behind a `Mutex`.
//! Run: `cargo run --example webob_port [PORT]`, then
//! `curl -i -d '{"text":"hi"}' -H 'Content-Type: application/json' http://127.0.0.1:8000/notes`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use may_wsgi::make_server;
use may_wsgi::webob::{exc, wsgify, FormValue, HTTPError, Request, Response};

#[derive(Default)]
struct Notes {
    next_id: u64,
    by_id: BTreeMap<String, String>,
}

fn notes_app(notes: &Mutex<Notes>, req: &mut Request) -> Result<Response, HTTPError> {
    if req.path_info_pop().as_deref() != Some("notes") {
        return Err(exc::HTTPNotFound());
    }
    let note_id = req.path_info_pop().filter(|id| !id.is_empty());
    let Some(note_id) = note_id else {
        return match req.method() {
            "GET" => {
                let notes = notes.lock().unwrap();
                let list: Vec<_> = notes
                    .by_id
                    .iter()
                    .map(|(k, v)| serde_json::json!({"id": k, "text": v}))
                    .collect();
                Ok(Response::json(&serde_json::json!({ "notes": list })))
            }
            "POST" => {
                let text = if req.content_type() == "application/json" {
                    req.json::<serde_json::Value>()?["text"].as_str().map(str::to_owned)
                } else {
                    req.post()?.get("text").and_then(FormValue::as_text).map(str::to_owned)
                };
                let text = text
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| exc::HTTPBadRequest().with_detail("text is required"))?;
                let mut notes = notes.lock().unwrap();
                notes.next_id += 1;
                let id = notes.next_id.to_string();
                notes.by_id.insert(id.clone(), text.clone());
                let mut resp = Response::json(&serde_json::json!({"id": id, "text": text})).with_status(201);
                resp.set_location(&format!("/notes/{id}"));
                Ok(resp)
            }
            _ => Err(exc::HTTPMethodNotAllowed().with_header("Allow", "GET, POST")),
        };
    };
    let text = notes.lock().unwrap().by_id.get(&note_id).cloned();
    let text = text.ok_or_else(|| exc::HTTPNotFound().with_detail(format!("no note {note_id}")))?;
    let mut resp = Response::text(text.clone()).with_conditional_response(true);
    resp.set_etag(&format!("note-{note_id}-{}", text.len()), false);
    Ok(resp)
}

fn main() {
    let notes = Mutex::new(Notes::default());
    let app = wsgify(move |req: &mut Request| notes_app(&notes, req));
    let port = std::env::args()
        .nth(1)
        .map_or(8000, |p| p.parse().expect("PORT must be a number"));
    let httpd = make_server("127.0.0.1", port, app).expect("cannot listen");
    println!("Serving on port {}...", httpd.local_addr().unwrap().port());
    httpd.serve_forever().unwrap();
}
