//! An expenses tracker: a query string, a form POST, a cookie and a streamed CSV, ported
//! line by line from WebOb (`examples/ports/forms_csv.py`) with `may_wsgi::webob`.
//! The Python is 45 lines of code, this 59 (not blank, not only a comment: the table in
//! docs/porting.md, "Three ports, measured", says where the difference goes).
//!
//! `req.GET`, `req.POST` and `req.cookies` are `get_params()`, `post()?` and `cookies()`;
//! `d.get(k, default)` is `d.get_or(k, default)`; `raise exc.X(..)` is `return Err(..)`;
//! the generator given as `app_iter` is an iterator given to `Body::iter`, sent chunked as
//! it is produced. Python's `csv` module is the `csv_field` function, and `isdigit()` and
//! `int()` are one `parse` (which also takes a leading `+`).
//!
//! Run: `cargo run --example forms_csv [PORT]`, then
//! `curl -i -d 'who=ann&what=tea&amount=3' http://127.0.0.1:8000/expenses` and
//! `curl -i http://127.0.0.1:8000/expenses.csv?who=ann`.

use std::sync::Mutex;

use may_wsgi::webob::{exc, wsgify, HTTPError, Request, Response, SetCookie};
use may_wsgi::{make_server, Body};

type Expense = (String, String, u64);

static EXPENSES: Mutex<Vec<Expense>> = Mutex::new(Vec::new());

fn csv_field(field: &str) -> String {
    match field.contains([',', '"', '\r', '\n']) {
        true => format!("\"{}\"", field.replace('"', "\"\"")),
        false => field.to_owned(),
    }
}

fn csv_lines(rows: Vec<Expense>) -> impl Iterator<Item = String> {
    let lines = rows
        .into_iter()
        .map(|(who, what, amount)| format!("{},{},{amount}\n", csv_field(&who), csv_field(&what)));
    std::iter::once("who,what,amount\n".to_owned()).chain(lines)
}

fn app(req: &mut Request) -> Result<Response, HTTPError> {
    if req.path_info() == "/" {
        let (query, cookies) = (req.get_params(), req.cookies());
        let who = query.get_or("who", cookies.get_or("who", "stranger"));
        let all = EXPENSES.lock().unwrap();
        let mine: Vec<u64> = all.iter().filter(|e| e.0 == who).map(|e| e.2).collect();
        let text = format!("{who} spent {} in {} expenses\n", mine.iter().sum::<u64>(), mine.len());
        return Ok(Response::text(text));
    }
    if req.path_info() == "/expenses" && req.method() == "POST" {
        let form = req.post()?;
        let (who, what) = (form.get_or("who", ""), form.get_or("what", ""));
        let amount = form.get_or("amount", "").parse::<u64>();
        let (false, Ok(amount)) = (who.is_empty(), amount) else {
            return Err(exc::HTTPBadRequest().with_detail("who and a whole amount are required"));
        };
        EXPENSES.lock().unwrap().push((who.into(), what.into(), amount));
        let mut resp = Response::from(exc::HTTPSeeOther().with_location("/"));
        resp.set_cookie(&SetCookie::new("who", who).max_age(3600).http_only(true))?;
        return Ok(resp);
    }
    if req.path_info() == "/expenses.csv" {
        let query = req.get_params();
        let people = query.getall("who");
        let wanted = |e: &&Expense| people.is_empty() || people.contains(&&e.0);
        let rows: Vec<Expense> = EXPENSES.lock().unwrap().iter().filter(wanted).cloned().collect();
        let mut resp = Response::new()
            .with_content_type("text/csv")
            .with_body(Body::iter(csv_lines(rows)));
        resp.set_header("Content-Disposition", "attachment; filename=\"expenses.csv\"");
        return Ok(resp);
    }
    Err(exc::HTTPNotFound())
}

fn main() {
    let port = std::env::args()
        .nth(1)
        .map_or(8000, |p| p.parse().expect("PORT must be a number"));
    let httpd = make_server("127.0.0.1", port, wsgify(app)).expect("cannot listen");
    println!("Serving on port {}...", httpd.local_addr().unwrap().port());
    httpd.serve_forever().unwrap();
}
