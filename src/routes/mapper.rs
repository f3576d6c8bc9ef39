//! `routes.Mapper`: the route table. `connect` adds routes, `routematch` finds the route
//! for a path and method, `generate` and `url_for` make URLs back from arguments.
//!
//! Matching follows Routes 2.5: the routes are grouped by the text before their first
//! variable (trailing `/` removed), groups with a longer such prefix are tried first, and
//! within a group the first route connected that matches wins. (Routes made this change as
//! an optimisation; it decides which route wins when two could match, so it is kept.)
//!
//! It hands on [`RouteMatch`] (Python's match dict with its route and controller), which
//! `middleware.rs` stores in the environ.

use std::fmt;
use std::sync::Arc;

use super::route::Route;
use crate::wsgi::{Application, Environ};

/// An ordered dict of strings, Python's `None` included: route defaults, match dicts and
/// generation arguments.
pub(crate) type Dict = Vec<(String, Option<String>)>;

/// The result of matching a route: Python's match dict (`environ['wsgiorg.routing_args'][1]`),
/// with the route's `controller` object and the route itself (`environ['routes.route']`).
///
/// Values are strings or `None` (an optional `{.format}` left out, a default of `None`).
#[derive(Clone, Default)]
pub struct RouteMatch {
    args: Dict,
    controller: Option<Arc<dyn Application>>,
    route: Option<Arc<Route>>,
}

impl fmt::Debug for RouteMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        if self.controller.is_some() {
            map.entry(&"controller", &"<application>");
        }
        map.entries(self.args.iter().map(|(k, v)| (k, v))).finish()
    }
}

/// `match[key]`: the value of a route variable, for an action that takes it as an argument
/// (Glance's `def show(self, req, image_id)`). A key that is missing or `None` panics, as
/// Python's call raises `TypeError`: the server's 500.
impl std::ops::Index<&str> for RouteMatch {
    type Output = str;

    fn index(&self, key: &str) -> &str {
        self.get(key)
            .unwrap_or_else(|| panic!("the route's match has no value for {key:?}"))
    }
}

impl RouteMatch {
    pub(crate) fn new(args: Dict, controller: Option<Arc<dyn Application>>) -> RouteMatch {
        RouteMatch {
            args,
            controller,
            route: None,
        }
    }

    /// The value of `key` (`match.get(key)`); `None` also when the value is Python's `None`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.args.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.as_deref())
    }

    /// True when `key` is in the dict, even with the value `None` (`key in match`).
    pub fn contains_key(&self, key: &str) -> bool {
        self.args.iter().any(|(k, _)| k == key) || (key == "controller" && self.controller.is_some())
    }

    /// Sets `key` (`match[key] = value`).
    pub fn insert(&mut self, key: &str, value: Option<&str>) {
        let value = value.map(str::to_owned);
        match self.args.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.args.push((key.to_owned(), value)),
        }
    }

    /// Removes `key` (`match.pop(key)`), returning its value if it was there.
    pub fn remove(&mut self, key: &str) -> Option<Option<String>> {
        if key == "controller" && self.controller.take().is_some() {
            return Some(None);
        }
        let i = self.args.iter().position(|(k, _)| k == key)?;
        Some(self.args.remove(i).1)
    }

    /// The string entries in order: the path's variables, then the route's other defaults.
    /// (A `controller` object is not among them; see [`RouteMatch::controller`].)
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.args.iter().map(|(k, v)| (k.as_str(), v.as_deref()))
    }

    /// Entries, a `controller` object counted.
    pub fn len(&self) -> usize {
        self.args.len() + usize::from(self.controller.is_some())
    }

    /// Python's `not match`: no entries at all (what a path no route matches gets).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `match['controller']` when it is an application (Glance's `Resource`s).
    pub fn controller(&self) -> Option<&Arc<dyn Application>> {
        self.controller.as_ref()
    }

    /// The route that matched.
    pub fn route(&self) -> Option<&Arc<Route>> {
        self.route.as_ref()
    }

    pub(crate) fn dict(&self) -> &Dict {
        &self.args
    }
}

/// `routes.Mapper`.
pub struct Mapper {
    /// Every route in connection order, the generation-only (static) ones too.
    routes: Vec<Arc<Route>>,
    /// `Mapper(explicit=...)`: when false, routes get Routes' implicit defaults
    /// (`controller='content'`, `action='index'`, `id=None`). True by default, as in Routes.
    /// Set it before connecting routes.
    pub explicit: bool,
    clist: Option<Arc<Vec<String>>>,
}

impl Default for Mapper {
    fn default() -> Mapper {
        Mapper::new()
    }
}

impl fmt::Debug for Mapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.routes).finish()
    }
}

/// Routes' `Mapper.__str__`: a table of the routes.
impl fmt::Display for Mapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut table = vec![[
            "Route name".to_owned(),
            "Methods".to_owned(),
            "Path".to_owned(),
            "Controller".to_owned(),
            "action".to_owned(),
        ]];
        for r in self.matchlist() {
            let default = |key: &str| r.defaults().find(|(k, _)| *k == key).and_then(|(_, v)| v).unwrap_or("");
            let controller = match r.controller_app() {
                Some(_) => "<application>".to_owned(),
                None => default("controller").to_owned(),
            };
            table.push([
                r.name.clone().unwrap_or_default(),
                r.methods().map(|m| m.join(", ")).unwrap_or_default(),
                r.routepath.clone(),
                controller,
                default("action").to_owned(),
            ]);
        }
        let widths: Vec<usize> = (0..5)
            .map(|c| table.iter().map(|row| row[c].chars().count()).max().unwrap_or(0))
            .collect();
        for (i, row) in table.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:w$}")).collect();
            write!(f, "{}", cells.join(" "))?;
        }
        Ok(())
    }
}

impl Mapper {
    /// `routes.Mapper()`: explicit, not minimized.
    pub fn new() -> Mapper {
        Mapper {
            routes: Vec::new(),
            explicit: true,
            clist: None,
        }
    }

    /// `mapper.connect(name, template, **kwargs)`; Python's `connect(template)` is
    /// `connect(None, template)`. The keyword arguments are set on the route it returns:
    ///
    /// ```
    /// # use may_wsgi::routes::Mapper;
    /// # use may_wsgi::{Body, Environ, StartResponse};
    /// # fn images_resource(_: &mut Environ, _: &mut StartResponse) -> Body { Body::Empty }
    /// let mut mapper = Mapper::new();
    /// // mapper.connect('/images/{image_id}', controller=images_resource,
    /// //                action='show', conditions={'method': ['GET']})
    /// mapper
    ///     .connect(None, "/images/{image_id}")
    ///     .controller(images_resource)
    ///     .action("show")
    ///     .conditions(&["GET"]);
    /// let m = mapper.routematch("/images/abc", Some("GET")).unwrap();
    /// assert_eq!(m.get("image_id"), Some("abc"));
    /// assert_eq!(m.get("action"), Some("show"));
    /// ```
    ///
    /// # Panics
    ///
    /// When the template or an inline requirement cannot be compiled (see
    /// [`Route::requirements`]).
    pub fn connect(&mut self, name: Option<&str>, routepath: &str) -> &mut Route {
        let route = Route::new(name, routepath, false, self.explicit, self.clist.clone());
        self.push(route)
    }

    /// `mapper.connect(name, url, _static=True)`: a route for generation only, such as a
    /// link to another site.
    pub fn connect_static(&mut self, name: &str, routepath: &str) -> &mut Route {
        let route = Route::new(Some(name), routepath, true, self.explicit, self.clist.clone());
        self.push(route)
    }

    fn push(&mut self, route: Route) -> &mut Route {
        self.routes.push(Arc::new(route));
        Arc::make_mut(self.routes.last_mut().expect("just pushed"))
    }

    /// `mapper.redirect(match_path, destination_path)`: requests matching `match_path` are
    /// answered by [`RoutesMiddleware`](super::RoutesMiddleware) with `302 Found` (or the
    /// route's [`redirect_code`](Route::redirect_code)) and a `Location` generated from
    /// `destination_path` with the match's variables. Returns the matching route.
    pub fn redirect(&mut self, match_path: &str, destination_path: &str) -> &mut Route {
        // Routes names the generation route `_redirect_<id(match_route)>`; a count is as
        // unique within one mapper.
        let destination = format!("_redirect_{}", self.routes.len());
        self.connect_static(&destination, destination_path);
        let route = self.connect(None, match_path);
        route.make_redirect(destination);
        route
    }

    /// `mapper.create_regs(clist)`: the controller names a `{controller}` variable may
    /// match, tried in this order. Without it a `{controller}` is an ordinary variable
    /// (Routes' directory scan has nothing to scan here).
    pub fn create_regs(&mut self, clist: &[&str]) {
        let clist = Some(Arc::new(clist.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>()));
        self.clist = clist.clone();
        for route in &mut self.routes {
            // A match still holding a route keeps the old one; the mapper gets its own.
            Arc::make_mut(route).set_clist(clist.clone());
        }
    }

    /// The matchable routes in connection order (Routes' `matchlist`).
    pub fn matchlist(&self) -> impl Iterator<Item = &Arc<Route>> {
        self.routes.iter().filter(|r| !r.is_static)
    }

    /// The route connected last under `name` (Routes' `_routenames[name]`).
    pub fn route(&self, name: &str) -> Option<&Arc<Route>> {
        self.routes.iter().rev().find(|r| r.name.as_deref() == Some(name))
    }

    /// The routes that could match `url`, in the order Routes tries them.
    fn candidates<'a>(&'a self, url: &'a str) -> impl Iterator<Item = &'a Arc<Route>> + 'a {
        let mut candidates: Vec<&Arc<Route>> = self.matchlist().filter(|r| url.starts_with(r.prefix())).collect();
        // Longest prefix first; a stable sort keeps connection order within a prefix.
        candidates.sort_by_key(|r| std::cmp::Reverse(r.prefix().chars().count()));
        candidates.into_iter()
    }

    fn routematch_with(&self, url: &str, method: Option<&str>, environ: Option<&Environ>) -> Option<RouteMatch> {
        for route in self.candidates(url) {
            if let Some(mut m) = route.match_path(url, method, environ) {
                m.route = Some(route.clone());
                return Some(m);
            }
        }
        None
    }

    /// `mapper.routematch(url)` for a request with `method` (`None`: no request, so method
    /// conditions are not checked, as in Routes). Function conditions get no environ.
    pub fn routematch(&self, url: &str, method: Option<&str>) -> Option<RouteMatch> {
        self.routematch_with(url, method, None)
    }

    /// `mapper.routematch(environ=environ)`: matches PATH_INFO with REQUEST_METHOD.
    pub fn routematch_environ(&self, environ: &Environ) -> Option<RouteMatch> {
        let url = environ.get_or("PATH_INFO", "");
        self.routematch_with(url, environ.get("REQUEST_METHOD"), Some(environ))
    }

    /// The methods that would match `url`, in the order the routes are tried: the
    /// `conditions={'method': ...}` of every route whose path matches. An empty list when
    /// no route's path matches (or only routes without a method condition do). For a 405's
    /// `Allow` header.
    pub fn allowed_methods(&self, url: &str) -> Vec<String> {
        let mut methods: Vec<String> = Vec::new();
        for route in self.candidates(url) {
            if let Some(conditions) = route.methods() {
                if route.matches_path(url) {
                    for m in conditions {
                        if !methods.contains(m) {
                            methods.push(m.clone());
                        }
                    }
                }
            }
        }
        methods
    }

    /// `mapper.generate(**kargs)`: the URL of the best route for these arguments, or
    /// `None`. (Without a request, so no SCRIPT_NAME in front; see
    /// [`URLGenerator`](super::URLGenerator) for that.)
    pub fn generate(&self, kargs: &[(&str, &str)]) -> Option<String> {
        self.generate_from(None, to_dict(kargs), "")
    }

    /// Routes' `url_for(name, **kargs)` without a request: the URL of the named route, its
    /// defaults filled in. `None` when there is no such route or the arguments do not fit.
    pub fn url_for(&self, name: &str, kargs: &[(&str, &str)]) -> Option<String> {
        let route = self.route(name)?;
        self.generate_named(route, to_dict(kargs), "")
    }

    /// Generation with a named route (URLGenerator's path): its defaults, then `kargs`.
    pub(crate) fn generate_named(&self, route: &Route, kargs: Dict, script_name: &str) -> Option<String> {
        let mut newargs = route.string_defaults().clone();
        for (k, v) in kargs {
            match newargs.iter_mut().find(|(nk, _)| *nk == k) {
                Some(slot) => slot.1 = v,
                None => newargs.push((k, v)),
            }
        }
        self.generate_from(Some(route), newargs, script_name)
    }

    /// Routes' `Mapper.generate`, with the route given (a named route) or chosen.
    pub(crate) fn generate_from(&self, route: Option<&Route>, mut kargs: Dict, script_name: &str) -> Option<String> {
        if !self.explicit {
            for (key, value) in [("controller", "content"), ("action", "index")] {
                if !kargs.iter().any(|(k, _)| k == key) {
                    kargs.push((key.to_owned(), Some(value.to_owned())));
                }
            }
        }
        let get = |key: &str| kargs.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.clone());
        let keylist: Vec<&Route> = match route {
            Some(route) => vec![route],
            None => {
                // Routes' gendict: a route that hardcodes a controller (or an action) is
                // filed under that one only; the others under every one.
                let (controller, action) = (get("controller"), get("action"));
                let fits = |r: &Route, key: &str, given: &Option<String>| match r.hardcoded(key) {
                    Some(value) => given.as_deref() == Some(value),
                    None => true,
                };
                let keys: Vec<&str> = kargs.iter().map(|(k, _)| k.as_str()).collect();
                let mut list: Vec<&Route> = self
                    .matchlist()
                    .map(|r| &**r)
                    .filter(|r| fits(r, "controller", &controller) && fits(r, "action", &action))
                    .filter(|r| r.required_keys().all(|k| keys.contains(&k.as_str())))
                    .collect();
                python_sort(&mut list, |a, b| keysort_lt(&keys, a, b));
                list
            }
        };
        for route in keylist {
            let conflicts = route.hardcoded_keys().iter().any(|key| {
                let given = get(key).filter(|v| !v.is_empty());
                given.is_some_and(|v| Some(v.as_str()) != route.hardcoded(key))
            });
            if conflicts {
                continue;
            }
            if let Some(path) = route.generate(kargs.clone()) {
                return Some(if route.is_static && route.external {
                    path
                } else {
                    format!("{script_name}{path}")
                });
            }
        }
        None
    }
}

pub(crate) fn to_dict(kargs: &[(&str, &str)]) -> Dict {
    let mut dict: Dict = Vec::with_capacity(kargs.len());
    for (k, v) in kargs {
        match dict.iter_mut().find(|(dk, _)| dk == k) {
            Some(slot) => slot.1 = Some((*v).to_owned()),
            None => dict.push(((*k).to_owned(), Some((*v).to_owned()))),
        }
    }
    dict
}

/// Routes' `KeySorter.__lt__` for ordering candidate routes by how well their keys fit the
/// arguments. Its `_compare` never answers "greater", so this is not a consistent order;
/// what it yields is what CPython's sort makes of it, hence [`python_sort`].
fn keysort_lt(keys: &[&str], a: &Route, b: &Route) -> bool {
    let (a, b) = (a.maxkeys(), b.maxkeys());
    let sym_diff = |set: &[String]| {
        set.iter().filter(|k| !keys.contains(&k.as_str())).count()
            + keys.iter().filter(|k| !set.iter().any(|s| s == *k)).count()
    };
    let common = |set: &[String]| set.iter().filter(|k| keys.contains(&k.as_str())).count();
    let (lendiffa, lendiffb) = (sym_diff(a), sym_diff(b));
    if lendiffa == 0 {
        return lendiffb != 0;
    }
    if lendiffb == 0 {
        return false;
    }
    if lendiffa < lendiffb {
        return true;
    }
    let (ca, cb) = (common(a), common(b));
    if ca == cb {
        a.len() < b.len()
    } else {
        cb < ca
    }
}

/// CPython's `list.sort` for fewer than 64 items (a run found by `count_run`, then binary
/// insertion), which is what an inconsistent `__lt__` such as Routes' key sorter depends
/// on. Longer lists are sorted the same way, which CPython would merge instead.
fn python_sort<T: Copy>(v: &mut [T], lt: impl Fn(T, T) -> bool) {
    let n = v.len();
    if n < 2 {
        return;
    }
    let mut run = 2;
    if lt(v[1], v[0]) {
        while run < n && lt(v[run], v[run - 1]) {
            run += 1;
        }
        v[..run].reverse();
    } else {
        while run < n && !lt(v[run], v[run - 1]) {
            run += 1;
        }
    }
    for start in run..n {
        let pivot = v[start];
        let (mut l, mut r) = (0, start);
        while l < r {
            let p = l + (r - l) / 2;
            if lt(pivot, v[p]) {
                r = p;
            } else {
                l = p + 1;
            }
        }
        v.copy_within(l..start, l + 1);
        v[l] = pivot;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A match as sorted (key, value) pairs, for comparing with Routes' dicts.
    fn m(mapper: &Mapper, url: &str, method: Option<&str>) -> Option<Vec<(String, Option<String>)>> {
        let found = mapper.routematch(url, method)?;
        let mut pairs: Vec<(String, Option<String>)> = found
            .iter()
            .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
            .collect();
        pairs.sort();
        Some(pairs)
    }

    fn d(pairs: &[(&str, Option<&str>)]) -> Option<Vec<(String, Option<String>)>> {
        let mut v: Vec<(String, Option<String>)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
            .collect();
        v.sort();
        Some(v)
    }

    fn glance() -> Mapper {
        let mut mapper = Mapper::new();
        mapper.connect(None, "/images").action("index").conditions(&["GET"]);
        mapper.connect(None, "/images").action("create").conditions(&["POST"]);
        mapper
            .connect(None, "/images/{image_id}")
            .action("update")
            .conditions(&["PATCH"]);
        mapper
            .connect(None, "/images/{image_id}")
            .action("show")
            .conditions(&["GET"]);
        mapper
            .connect(None, "/images/{image_id}")
            .action("delete")
            .conditions(&["DELETE"]);
        mapper
            .connect(None, "/images/{image_id}/file")
            .action("download")
            .conditions(&["GET"]);
        mapper
            .connect(None, "/images/{image_id}/file")
            .action("upload")
            .conditions(&["PUT"]);
        mapper
            .connect(None, "/images/{image_id}/tags/{tag_value}")
            .action("update")
            .conditions(&["PUT"]);
        mapper
            .connect(None, "/images/{image_id}/tags/{tag_value}")
            .action("delete")
            .conditions(&["DELETE"]);
        mapper
            .connect(Some("member"), "/images/{image_id}/members/{member_id}")
            .action("show");
        mapper
    }

    #[test]
    fn a_match_indexes_like_a_dict() {
        let found = glance().routematch("/images/42/tags/big", Some("PUT")).unwrap();
        assert_eq!((&found["image_id"], &found["tag_value"]), ("42", "big"));
        let missing = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| found["member_id"].to_owned()));
        assert!(missing.is_err(), "a missing argument is Python's TypeError");
    }

    #[test]
    fn glance_routes_match_table() {
        let mapper = glance();
        type Case<'a> = (&'a str, &'a str, Option<&'a [(&'a str, Option<&'a str>)]>);
        let table: &[Case] = &[
            ("GET", "/images", Some(&[("action", Some("index"))])),
            ("POST", "/images", Some(&[("action", Some("create"))])),
            ("PUT", "/images", None),
            ("HEAD", "/images", None),
            ("GET", "/images/", None),
            (
                "GET",
                "/images/abc",
                Some(&[("action", Some("show")), ("image_id", Some("abc"))]),
            ),
            (
                "PATCH",
                "/images/abc",
                Some(&[("action", Some("update")), ("image_id", Some("abc"))]),
            ),
            (
                "DELETE",
                "/images/a.b-c",
                Some(&[("action", Some("delete")), ("image_id", Some("a.b-c"))]),
            ),
            ("POST", "/images/abc", None),
            ("GET", "/images/abc/", None),
            (
                "GET",
                "/images/abc/file",
                Some(&[("action", Some("download")), ("image_id", Some("abc"))]),
            ),
            (
                "PUT",
                "/images/abc/file",
                Some(&[("action", Some("upload")), ("image_id", Some("abc"))]),
            ),
            ("GET", "/images/abc/file/", None),
            ("GET", "/images//file", None),
            (
                "PUT",
                "/images/abc/tags/x y",
                Some(&[
                    ("action", Some("update")),
                    ("image_id", Some("abc")),
                    ("tag_value", Some("x y")),
                ]),
            ),
            (
                "DELETE",
                "/images/abc/tags/t",
                Some(&[
                    ("action", Some("delete")),
                    ("image_id", Some("abc")),
                    ("tag_value", Some("t")),
                ]),
            ),
            ("GET", "/images/abc/tags/t", None),
            ("GET", "/images/abc/tags", None),
            ("GET", "/images/abc/tags/a/b", None),
            (
                "POST",
                "/images/i/members/m",
                Some(&[
                    ("action", Some("show")),
                    ("image_id", Some("i")),
                    ("member_id", Some("m")),
                ]),
            ),
            ("GET", "/imagesabc", None),
            // Python's "$" also matches before a final newline (a PATH_INFO ending in %0A).
            (
                "GET",
                "/images/abc\n",
                Some(&[("action", Some("show")), ("image_id", Some("abc"))]),
            ),
            ("GET", "", None),
            ("GET", "/", None),
        ];
        for (method, url, want) in table {
            assert_eq!(m(&mapper, url, Some(method)), want.and_then(d), "{method} {url:?}");
        }
    }

    #[test]
    fn allowed_methods_for_405() {
        let mapper = glance();
        assert_eq!(mapper.allowed_methods("/images"), ["GET", "POST"]);
        assert_eq!(mapper.allowed_methods("/images/abc"), ["PATCH", "GET", "DELETE"]);
        assert_eq!(mapper.allowed_methods("/images/abc/file"), ["GET", "PUT"]);
        assert_eq!(mapper.allowed_methods("/images/abc/tags/t"), ["PUT", "DELETE"]);
        // A route without a method condition lists nothing: it would have matched.
        assert!(mapper.allowed_methods("/images/i/members/m").is_empty());
        assert!(mapper.allowed_methods("/nowhere").is_empty());
    }

    #[test]
    fn without_a_method_conditions_are_not_checked() {
        let mapper = glance();
        assert_eq!(
            m(&mapper, "/images/abc/tags/t", None),
            d(&[
                ("action", Some("update")),
                ("image_id", Some("abc")),
                ("tag_value", Some("t"))
            ])
        );
    }

    // The cases below come from Routes' own test suite (tests/test_functional), in its
    // default non-minimized form.

    #[test]
    fn routes_test_basic() {
        // test_nonminimization.test_basic
        let mut m_ = Mapper::new();
        m_.explicit = false;
        m_.connect(None, "/:controller/:action/:id");
        m_.create_regs(&["content"]);
        assert_eq!(m(&m_, "/content", None), None);
        assert_eq!(m(&m_, "/content/index", None), None);
        assert_eq!(m(&m_, "/content/index/", None), None);
        assert_eq!(
            m(&m_, "/content/index/4", None),
            d(&[
                ("controller", Some("content")),
                ("action", Some("index")),
                ("id", Some("4"))
            ])
        );
        assert_eq!(
            m(&m_, "/content/view/4.html", None),
            d(&[
                ("controller", Some("content")),
                ("action", Some("view")),
                ("id", Some("4.html"))
            ])
        );
        assert_eq!(m_.generate(&[("controller", "content")]), None);
        assert_eq!(
            m_.generate(&[("controller", "content"), ("id", "4")]).as_deref(),
            Some("/content/index/4")
        );
        assert_eq!(
            m_.generate(&[("controller", "content"), ("action", "view"), ("id", "3")])
                .as_deref(),
            Some("/content/view/3")
        );
    }

    #[test]
    fn routes_test_full() {
        // test_nonminimization.test_full
        let mut m_ = Mapper::new();
        m_.explicit = false;
        m_.connect(None, "/:controller/:action/").arg_none("id");
        m_.connect(None, "/:controller/:action/:id");
        m_.create_regs(&["content"]);
        assert_eq!(m(&m_, "/content", None), None);
        assert_eq!(m(&m_, "/content/index", None), None);
        assert_eq!(
            m(&m_, "/content/index/", None),
            d(&[("controller", Some("content")), ("action", Some("index")), ("id", None)])
        );
        assert_eq!(
            m(&m_, "/content/index/4", None),
            d(&[
                ("controller", Some("content")),
                ("action", Some("index")),
                ("id", Some("4"))
            ])
        );
        assert_eq!(m_.generate(&[("controller", "content")]), None);
        assert_eq!(
            m_.generate(&[("controller", "content"), ("id", "4")]).as_deref(),
            Some("/content/index/4")
        );
    }

    #[test]
    fn routes_test_action_required_and_query_params() {
        // test_nonminimization.test_action_required, test_query_params
        let mut m_ = Mapper::new();
        m_.connect(None, "/:controller/index").action("index");
        m_.create_regs(&["content"]);
        assert_eq!(m_.generate(&[("controller", "content")]), None);
        assert_eq!(m_.generate(&[("controller", "content"), ("action", "fred")]), None);
        assert_eq!(
            m_.generate(&[("controller", "content"), ("action", "index")])
                .as_deref(),
            Some("/content/index")
        );
        assert_eq!(
            m_.generate(&[("controller", "content"), ("action", "index"), ("test", "sample")])
                .as_deref(),
            Some("/content/index?test=sample")
        );
    }

    #[test]
    fn routes_test_regexp_syntax() {
        // test_nonminimization.test_regexp_syntax
        let mut m_ = Mapper::new();
        m_.explicit = false;
        m_.connect(None, "/{controller}/{action}/{id:\\d\\d}");
        m_.create_regs(&["content"]);
        assert_eq!(m(&m_, "/content/index/3", None), None);
        assert_eq!(
            m(&m_, "/content/index/44", None),
            d(&[
                ("controller", Some("content")),
                ("action", Some("index")),
                ("id", Some("44"))
            ])
        );
        assert_eq!(m_.generate(&[("controller", "content"), ("id", "4")]), None);
        assert_eq!(
            m_.generate(&[("controller", "content"), ("id", "43")]).as_deref(),
            Some("/content/index/43")
        );
        assert_eq!(
            m_.generate(&[("controller", "content"), ("action", "view"), ("id", "31")])
                .as_deref(),
            Some("/content/view/31")
        );
    }

    #[test]
    fn routes_test_multiroute_with_nomin() {
        // test_recognition.test_multiroute_with_nomin
        let mut m_ = Mapper::new();
        m_.connect(None, "/archive/:year/:month/:day")
            .arg("controller", "blog")
            .action("view")
            .arg_none("month")
            .arg_none("day")
            .requirements(&[("month", "\\d{1,2}"), ("day", "\\d{1,2}")]);
        m_.connect(None, "/viewpost/:id")
            .arg("controller", "post")
            .action("view");
        m_.connect(None, "/:controller/:action/:id");
        m_.create_regs(&["post", "blog", "admin/user"]);
        assert_eq!(m(&m_, "/", None), None);
        assert_eq!(m(&m_, "/archive", None), None);
        assert_eq!(m(&m_, "/archive/2004/ab", None), None);
        assert_eq!(m(&m_, "/archive/2004/4", None), None);
        assert_eq!(m(&m_, "/archive/2004", None), None);
        assert_eq!(
            m(&m_, "/blog/view/3", None),
            d(&[
                ("controller", Some("blog")),
                ("action", Some("view")),
                ("id", Some("3"))
            ])
        );
        assert_eq!(
            m(&m_, "/archive/2004/10/23", None),
            d(&[
                ("controller", Some("blog")),
                ("action", Some("view")),
                ("month", Some("10")),
                ("day", Some("23")),
                ("year", Some("2004"))
            ])
        );
    }

    #[test]
    fn routes_test_dot_format_args() {
        // test_recognition.test_dot_format_args
        let mut m_ = Mapper::new();
        m_.connect(None, "/songs/{title}{.format}");
        m_.connect(None, "/stories/{slug:[^./]+?}{.format:pdf}");
        assert_eq!(
            m(&m_, "/songs/my-way", None),
            d(&[("title", Some("my-way")), ("format", None)])
        );
        assert_eq!(
            m(&m_, "/songs/my-way.mp3", None),
            d(&[("title", Some("my-way")), ("format", Some("mp3"))])
        );
        assert_eq!(
            m(&m_, "/stories/frist-post", None),
            d(&[("slug", Some("frist-post")), ("format", None)])
        );
        assert_eq!(
            m(&m_, "/stories/frist-post.pdf", None),
            d(&[("slug", Some("frist-post")), ("format", Some("pdf"))])
        );
        assert_eq!(m(&m_, "/stories/frist-post.doc", None), None);
    }

    #[test]
    fn routes_test_conditions_and_extend() {
        // test_explicit_use.test_add_routes_conditions_unmet / _met, test_route_dict_use
        let mut m_ = Mapper::new();
        m_.connect(Some("foo"), "/foo").conditions(&["POST"]);
        m_.connect(None, "/hi/{fred}");
        assert_eq!(m(&m_, "/foo", Some("GET")), None);
        assert_eq!(m(&m_, "/foo", Some("POST")), d(&[]));
        assert_eq!(m(&m_, "/hi/george", Some("GET")), d(&[("fred", Some("george"))]));
    }

    #[test]
    fn routes_test_home_noargs_and_empty_path() {
        // test_recognition.test_home_noargs (an explicit '' route matches only '')
        let mut m_ = Mapper::new();
        m_.connect(None, "");
        assert_eq!(m(&m_, "/content", None), None);
        assert_eq!(m(&m_, "", None), d(&[]));
        assert_eq!(m(&m_, "/", None), None);
    }

    #[test]
    fn routes_test_other_special_chars_generation() {
        // test_nonminimization.test_other_special_chars
        let mut m_ = Mapper::new();
        m_.connect(None, "/:year/:(slug).:(format),:(locale)")
            .arg("locale", "en")
            .arg("format", "html");
        assert_eq!(
            m_.generate(&[("year", "2007"), ("slug", "test"), ("format", "xml"), ("locale", "ja")])
                .as_deref(),
            Some("/2007/test.xml,ja")
        );
        assert_eq!(m_.generate(&[("year", "2007"), ("format", "html")]), None);
    }

    #[test]
    fn routes_test_unicode_generation() {
        // test_nonminimization.test_unicode: quoted as UTF-8
        let mut m_ = Mapper::new();
        m_.connect(None, ":hoge");
        assert_eq!(
            m_.generate(&[("hoge", "\u{30c6}\u{30b9}\u{30c8}")]).as_deref(),
            Some("/%E3%83%86%E3%82%B9%E3%83%88")
        );
    }

    #[test]
    fn first_connected_wins_within_a_prefix() {
        let mut m_ = Mapper::new();
        m_.connect(None, "/things/{id}").action("first");
        m_.connect(None, "/things/{name}").action("second");
        assert_eq!(m_.routematch("/things/x", None).unwrap().get("action"), Some("first"));
    }

    #[test]
    fn longer_static_prefix_wins_as_in_routes_2_5() {
        // Routes 2.5 tries '/things/new' (prefix '/things/new') before '/things/{id}'
        // (prefix '/things') even though it was connected later.
        let mut m_ = Mapper::new();
        m_.connect(None, "/things/{id}").action("show");
        m_.connect(None, "/things/new").action("new");
        assert_eq!(m_.routematch("/things/new", None).unwrap().get("action"), Some("new"));
        assert_eq!(m_.routematch("/things/old", None).unwrap().get("action"), Some("show"));
        // A catch-all with an empty prefix comes last whatever its place.
        let mut first = Mapper::new();
        first.connect(None, "/{anything}").action("any");
        first.connect(None, "/about").action("about");
        assert_eq!(first.routematch("/about", None).unwrap().get("action"), Some("about"));
        assert_eq!(first.routematch("/other", None).unwrap().get("action"), Some("any"));
    }

    #[test]
    fn requirements_restrict_variables() {
        let mut m_ = Mapper::new();
        m_.connect(None, "/images/{image_id}")
            .requirements(&[(
                "image_id",
                "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            )])
            .action("show");
        m_.connect(None, "/images/{name}").action("by_name");
        m_.connect(None, "/v{version:\\d+(\\.\\d+)?}/x").action("versioned");
        m_.connect(None, "/feed.{format:json|xml}").action("feed");
        let uuid = "/images/0c9b1f4e-5d6a-4b7c-8d9e-0f1a2b3c4d5e";
        assert_eq!(m_.routematch(uuid, None).unwrap().get("action"), Some("show"));
        assert_eq!(
            m_.routematch("/images/cirros", None).unwrap().get("action"),
            Some("by_name")
        );
        assert_eq!(m_.routematch("/v2.1/x", None).unwrap().get("version"), Some("2.1"));
        assert_eq!(m_.routematch("/v2/x", None).unwrap().get("version"), Some("2"));
        assert!(m_.routematch("/v2./x", None).is_none());
        assert_eq!(m_.routematch("/feed.xml", None).unwrap().get("format"), Some("xml"));
        assert!(m_.routematch("/feed.yaml", None).is_none());
        // Generation checks requirements too.
        m_.connect(Some("feed"), "/feeds/{format:json|xml}");
        assert_eq!(
            m_.url_for("feed", &[("format", "json")]).as_deref(),
            Some("/feeds/json")
        );
        assert_eq!(m_.url_for("feed", &[("format", "yaml")]), None);
    }

    #[test]
    fn star_and_path_info_variables() {
        let mut m_ = Mapper::new();
        m_.connect(None, "/myapp/*path_info").arg("controller", "myapp");
        m_.connect(None, "/v1.0/{path_info:.*}").arg("controller", "blog");
        assert_eq!(
            m_.routematch("/myapp/some/other/url", None).unwrap().get("path_info"),
            Some("some/other/url")
        );
        assert!(m_.routematch("/myapp/", None).is_none(), "*var needs one character");
        assert_eq!(m_.routematch("/v1.0/", None).unwrap().get("path_info"), Some(""));
        assert_eq!(m_.routematch("/v1.0/a/b", None).unwrap().get("path_info"), Some("a/b"));
    }

    #[test]
    fn named_generation() {
        let mut m_ = glance();
        m_.connect(Some("image"), "/images/{image_id}").action("show");
        m_.connect(Some("tag"), "/images/{image_id}/tags/{tag_value}")
            .action("update")
            .conditions(&["PUT"]);
        assert_eq!(
            m_.url_for("image", &[("image_id", "abc")]).as_deref(),
            Some("/images/abc")
        );
        assert_eq!(
            m_.url_for("tag", &[("image_id", "a b"), ("tag_value", "x/y")])
                .as_deref(),
            Some("/images/a%20b/tags/x/y"),
            "quoted as urllib.parse.quote(v, '/')"
        );
        assert_eq!(m_.url_for("image", &[]), None, "image_id missing");
        assert_eq!(
            m_.url_for("image", &[("image_id", "abc"), ("marker", "x y&z")])
                .as_deref(),
            Some("/images/abc?marker=x+y%26z"),
            "extras go to the query, urlencoded"
        );
        assert_eq!(
            m_.url_for("image", &[("image_id", "abc"), ("action", "delete")]),
            None,
            "defaults must agree"
        );
        assert_eq!(
            m_.url_for("tag", &[("image_id", "a"), ("tag_value", "b"), ("method", "PUT")])
                .as_deref(),
            Some("/images/a/tags/b")
        );
        assert_eq!(
            m_.url_for("tag", &[("image_id", "a"), ("tag_value", "b"), ("method", "get")]),
            None
        );
        assert_eq!(m_.url_for("nope", &[]), None);
    }

    #[test]
    fn generation_prefers_the_route_that_fits_the_keys() {
        let mut m_ = Mapper::new();
        m_.connect(None, "/a/{x}").action("one");
        m_.connect(None, "/b/{x}/{y}").action("one");
        assert_eq!(
            m_.generate(&[("action", "one"), ("x", "1"), ("y", "2")]).as_deref(),
            Some("/b/1/2")
        );
        assert_eq!(m_.generate(&[("action", "one"), ("x", "1")]).as_deref(), Some("/a/1"));
        assert_eq!(m_.generate(&[("action", "two"), ("x", "1")]), None);
    }

    #[test]
    fn function_conditions() {
        let mut m_ = Mapper::new();
        m_.connect(None, "/v/{n}").condition_function(|_, m| {
            let even = m
                .get("n")
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n % 2 == 0);
            if even {
                m.insert("parity", Some("even"));
            }
            even
        });
        assert_eq!(m_.routematch("/v/4", None).unwrap().get("parity"), Some("even"));
        assert!(m_.routematch("/v/3", None).is_none());
    }

    #[test]
    fn route_table_display() {
        let mut m_ = Mapper::new();
        m_.connect(Some("home"), "/")
            .arg("controller", "home")
            .action("splash")
            .conditions(&["GET"]);
        let table = m_.to_string();
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("Route name Methods Path Controller action"),
            "{table}"
        );
        assert!(
            lines[1].starts_with("home       GET     /    home       splash"),
            "{table}"
        );
    }

    #[test]
    fn python_sort_matches_cpython_on_a_consistent_order() {
        let mut v = [5, 1, 4, 1, 3, 9, 2, 6];
        python_sort(&mut v, |a, b| a < b);
        assert_eq!(v, [1, 1, 2, 3, 4, 5, 6, 9]);
        let mut v = [3, 2, 1];
        python_sort(&mut v, |a, b| a < b);
        assert_eq!(v, [1, 2, 3]);
    }
}
