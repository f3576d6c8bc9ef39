//! `routes.route.Route`: one route, parsed from its template, matched against a path and
//! used to generate a URL.
//!
//! A template such as `/v2/images/{image_id}/tags/{tag_value}` is split as Routes'
//! `_pathkeys` splits it (text, `{var}`, `{var:requirement}`, `{.format}`, `:var`,
//! `*var`, `\` escapes, and Routes' quirks with them), then made into the regex Routes'
//! `buildfullreg` would build (`^` + parts + `$`: a variable matches `[^/]+?` unless
//! it has a requirement), compiled by regex-lite, whose leftmost-first matching is
//! Python's. Only Routes' default, non-minimized form is
//! ported (`Mapper().minimization` is False since Routes 2.0).
//!
//! A route is built by [`Mapper::connect`](super::Mapper::connect), which hands it back
//! for the keyword arguments of Python's `connect` (`.controller(app)`, `.action("show")`,
//! `.conditions(&["GET"])`, `.requirements(...)`, `.arg(key, value)`). It hands on
//! `match_path` (a [`RouteMatch`] for a path) and `generate` (a URL from arguments) to the
//! mapper.

use std::fmt;
use std::sync::Arc;

use super::mapper::{Dict, RouteMatch};
use super::util::{url_quote, urlencode};
use crate::wsgi::{Application, Environ};
use regex_lite::Regex;

/// Characters that end a `:name` variable and stay in the path as text (Routes'
/// `done_chars`).
const DONE_CHARS: [char; 5] = ['/', ',', ';', '.', '#'];

/// What kind of variable a template part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    /// `{name}`, `:name` or `:(name)`: one path segment, `[^/]+?`.
    Segment,
    /// `{.name}`: an optional `.extension`, `(?:\.(?P<name>[^/.]+?))??`.
    Dot,
    /// `*name`: anything, slashes included, `.+?`.
    Star,
    /// A `{name` never closed: Routes keeps its type `{`, which matches like `*name`.
    Unclosed,
}

/// One part of a parsed template (an entry of Routes' `routelist`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Var { kind: VarKind, name: String },
}

/// A function condition: `conditions={'function': f}`, called as `f(environ, match)` after
/// the path matched; false rejects the route. It may change the match.
pub type ConditionFunction = Arc<dyn Fn(Option<&Environ>, &mut RouteMatch) -> bool + Send + Sync>;

/// What a redirect route answers: its status and the name of the static route that makes
/// the `Location` (Routes connects it as `_redirect_<id>`).
#[derive(Debug, Clone)]
pub(crate) struct Redirect {
    pub status: String,
    pub destination: String,
}

/// One route of a [`Mapper`](super::Mapper).
#[derive(Clone)]
pub struct Route {
    /// The route's name, for `url_for(name)`.
    pub name: Option<String>,
    /// The template as connected.
    pub routepath: String,
    /// The template split into text and variables.
    pub routelist: Vec<Part>,
    /// Generation only (`_static=True`): never matched; `:` and `*` are plain text.
    pub(crate) is_static: bool,
    /// A static route to another site (`://` in it): no SCRIPT_NAME in front.
    pub(crate) external: bool,
    explicit: bool,
    /// The keyword arguments that become defaults (`action='show'`, `allowed_methods=...`),
    /// in the order given; `None` is Python's `None`.
    kargs: Dict,
    controller: Option<Arc<dyn Application>>,
    /// `requirements={...}`.
    reqs: Vec<(String, String)>,
    /// Requirements written in the template (`{id:\d+}`); they win over `reqs`, as the
    /// template is parsed after `requirements` is stored in Routes.
    inline_reqs: Vec<(String, String)>,
    pub(crate) conditions: Option<Vec<String>>,
    function: Option<ConditionFunction>,
    pub(crate) redirect: Option<Redirect>,
    clist: Option<Arc<Vec<String>>>,
    // What `_setup_route` derives from the above, kept up to date by every setter.
    defaults: Dict,
    /// The whole route as one regular expression (Routes' `buildfullreg`), and the names
    /// of its groups in order.
    prog: Regex,
    names: Vec<String>,
    /// Each requirement alone, anchored, for `generate`.
    req_progs: Vec<(String, Regex)>,
    maxkeys: Vec<String>,
    minkeys: Vec<String>,
    dotkeys: Vec<String>,
    hardcoded: Vec<String>,
    prefix: String,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("name", &self.name)
            .field("routepath", &self.routepath)
            .field("defaults", &self.defaults)
            .field("controller", &self.controller.as_ref().map(|_| "<application>"))
            .field("conditions", &self.conditions)
            .field("reqs", &self.requirements_in_force())
            .finish()
    }
}

/// Routes' `_pathkeys`: splits a template into text and variables, collecting `{name:req}`
/// requirements into `reqs`. Kept as close to the Python as Rust allows, since its quirks
/// decide what a template means: `-` ends a `:name` and is dropped; an unknown `\x` escape
/// keeps its backslash; `{a:b:c}` keeps only `b`.
pub fn pathkeys(routepath: &str, is_static: bool, reqs: &mut Vec<(String, String)>) -> Vec<Part> {
    let mut collecting = false;
    let mut escaping = false;
    let mut current = String::new();
    // `}` for `{name}`, `)` for `:(name)`, the done chars and `-` for `:name`.
    let mut done_on: &[char] = &[];
    const COLON_DONE: [char; 6] = ['/', ',', ';', '.', '#', '-'];
    let mut var_type = ' ';
    let mut just_started = false;
    let mut routelist = Vec::new();
    for c in routepath.chars() {
        if escaping {
            if matches!(c, '\\' | ':' | '*' | '{' | '}') {
                current.push(c);
            } else {
                current.push('\\');
                current.push(c);
            }
            escaping = false;
        } else if c == '\\' {
            escaping = true;
        } else if (matches!(c, ':' | '*' | '{') && !collecting && !is_static) || (c == '{' && !collecting) {
            just_started = true;
            collecting = true;
            var_type = c;
            if c == '{' {
                done_on = &['}'];
                just_started = false;
            }
            if !current.is_empty() {
                routelist.push(Part::Text(std::mem::take(&mut current)));
            }
        } else if collecting && just_started {
            just_started = false;
            if c == '(' {
                done_on = &[')'];
            } else {
                current = c.to_string();
                done_on = &COLON_DONE;
            }
        } else if collecting && !done_on.contains(&c) {
            current.push(c);
        } else if collecting {
            collecting = false;
            let mut kind = match var_type {
                '*' => VarKind::Star,
                _ => VarKind::Segment,
            };
            if var_type == '{' {
                if let Some(rest) = current.strip_prefix('.') {
                    kind = VarKind::Dot;
                    current = rest.to_owned();
                }
                let opts: Vec<&str> = current.split(':').collect();
                if opts.len() > 1 {
                    let (name, req) = (opts[0].to_owned(), opts[1].to_owned());
                    reqs.retain(|(k, _)| *k != name);
                    reqs.push((name.clone(), req));
                    current = name;
                }
            }
            routelist.push(Part::Var {
                kind,
                name: std::mem::take(&mut current),
            });
            if DONE_CHARS.contains(&c) {
                routelist.push(Part::Text(c.to_string()));
            }
            done_on = &[];
            var_type = ' ';
        } else {
            current.push(c);
        }
    }
    if collecting {
        let kind = match var_type {
            '*' => VarKind::Star,
            '{' => VarKind::Unclosed,
            _ => VarKind::Segment,
        };
        routelist.push(Part::Var { kind, name: current });
    } else if !current.is_empty() {
        routelist.push(Part::Text(current));
    }
    routelist
}

fn dict_get<'a>(dict: &'a Dict, key: &str) -> Option<&'a Option<String>> {
    dict.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn dict_set(dict: &mut Dict, key: &str, value: Option<String>) {
    match dict.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => dict.push((key.to_owned(), value)),
    }
}

/// Python's `make_unicode(v)` for comparing values: `None` reads as `"None"`.
fn unicode(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("None")
}

/// A name Python accepts for a regex group (`str.isidentifier`, near enough).
fn is_identifier(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && name.chars().all(|c| c == '_' || c.is_alphanumeric())
}

impl Route {
    pub(crate) fn new(
        name: Option<&str>,
        routepath: &str,
        is_static: bool,
        explicit: bool,
        clist: Option<Arc<Vec<String>>>,
    ) -> Route {
        let mut inline_reqs = Vec::new();
        let routelist = pathkeys(routepath, is_static, &mut inline_reqs);
        let mut route = Route {
            name: name.map(str::to_owned),
            routepath: routepath.to_owned(),
            routelist,
            is_static,
            external: is_static && routepath.contains("://"),
            explicit,
            kargs: Vec::new(),
            controller: None,
            reqs: Vec::new(),
            inline_reqs,
            conditions: None,
            function: None,
            redirect: None,
            clist,
            defaults: Vec::new(),
            prog: Regex::new("^$").expect("an empty pattern"),
            names: Vec::new(),
            req_progs: Vec::new(),
            maxkeys: Vec::new(),
            minkeys: Vec::new(),
            dotkeys: Vec::new(),
            hardcoded: Vec::new(),
            prefix: String::new(),
        };
        route.setup();
        route
    }

    /// `controller=app`: the application (usually a [`Resource`](super::Resource)) the
    /// [`Router`](super::Router) calls for this route.
    pub fn controller(&mut self, app: impl Application) -> &mut Route {
        self.controller = Some(Arc::new(app));
        self.kargs.retain(|(k, _)| k != "controller");
        self.setup();
        self
    }

    /// `controller=app` for an application already shared by other routes.
    pub fn controller_arc(&mut self, app: Arc<dyn Application>) -> &mut Route {
        self.controller = Some(app);
        self.kargs.retain(|(k, _)| k != "controller");
        self.setup();
        self
    }

    /// `action='show'`: the controller method a [`Resource`](super::Resource) calls.
    pub fn action(&mut self, action: &str) -> &mut Route {
        self.arg("action", action)
    }

    /// Any other keyword argument (`allowed_methods='GET, POST'`, `body_reject=True`,
    /// `section='home'`, `controller='blog'` as a string): a default that every match of
    /// this route carries and generation must agree with.
    pub fn arg(&mut self, key: &str, value: &str) -> &mut Route {
        self.set_arg(key, Some(value.to_owned()))
    }

    /// A keyword argument set to `None` (`id=None`).
    pub fn arg_none(&mut self, key: &str) -> &mut Route {
        self.set_arg(key, None)
    }

    fn set_arg(&mut self, key: &str, value: Option<String>) -> &mut Route {
        if key == "controller" {
            self.controller = None;
        }
        dict_set(&mut self.kargs, key, value);
        self.setup();
        self
    }

    /// `conditions={'method': [...]}`: the request methods this route matches.
    pub fn conditions(&mut self, methods: &[&str]) -> &mut Route {
        self.conditions = Some(methods.iter().map(|m| (*m).to_owned()).collect());
        self
    }

    /// `conditions={'function': f}`.
    pub fn condition_function(
        &mut self,
        f: impl Fn(Option<&Environ>, &mut RouteMatch) -> bool + Send + Sync + 'static,
    ) -> &mut Route {
        self.function = Some(Arc::new(f));
        self
    }

    /// `requirements={'var': regex, ...}`, in Python's `re` syntax as regex-lite reads it
    /// (classes, groups, alternation, greedy and lazy quantifiers; no look-around or
    /// back-references, and `\w`, `\d` are ASCII).
    ///
    /// # Panics
    ///
    /// When a requirement uses syntax regex-lite does not have, as Python raises `re.error`
    /// for a bad pattern: a route table is code, and a wrong one should stop the program
    /// at start-up rather than route requests another way.
    pub fn requirements(&mut self, reqs: &[(&str, &str)]) -> &mut Route {
        for (name, req) in reqs {
            self.reqs.retain(|(k, _)| k != name);
            self.reqs.push(((*name).to_owned(), (*req).to_owned()));
        }
        self.setup();
        self
    }

    /// `_redirect_code='301 Moved Permanently'` for a route made by
    /// [`Mapper::redirect`](super::Mapper::redirect).
    ///
    /// # Panics
    ///
    /// On a route that is not a redirect.
    pub fn redirect_code(&mut self, status: &str) -> &mut Route {
        match &mut self.redirect {
            Some(redirect) => redirect.status = status.to_owned(),
            None => panic!("route {:?} is not a redirect route", self.routepath),
        }
        self
    }

    /// The route's defaults: its keyword arguments, with Routes' implicit ones when the
    /// mapper is not explicit.
    pub fn defaults(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.defaults.iter().map(|(k, v)| (k.as_str(), v.as_deref()))
    }

    /// The methods of `conditions={'method': [...]}`, if any.
    pub fn methods(&self) -> Option<&[String]> {
        self.conditions.as_deref()
    }

    /// The application given as `controller`, if any.
    pub fn controller_app(&self) -> Option<&Arc<dyn Application>> {
        self.controller.as_ref()
    }

    /// True for a route made by [`Mapper::redirect`](super::Mapper::redirect).
    pub fn is_redirect(&self) -> bool {
        self.redirect.is_some()
    }

    /// The text before the first variable, without trailing slashes: Routes tries routes
    /// with a longer such prefix first.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn set_clist(&mut self, clist: Option<Arc<Vec<String>>>) {
        self.clist = clist;
        self.setup();
    }

    pub(crate) fn make_redirect(&mut self, destination: String) {
        self.redirect = Some(Redirect {
            status: "302 Found".into(),
            destination,
        });
    }

    /// The requirements in force: `requirements=` overlaid by the template's own.
    fn requirements_in_force(&self) -> Vec<(String, String)> {
        let mut reqs: Vec<(String, String)> = self
            .reqs
            .iter()
            .filter(|(k, _)| !self.inline_reqs.iter().any(|(i, _)| i == k))
            .cloned()
            .collect();
        reqs.extend(self.inline_reqs.iter().cloned());
        reqs
    }

    fn requirement(&self, var: &str) -> Option<String> {
        self.inline_reqs
            .iter()
            .chain(&self.reqs)
            .find(|(k, _)| k == var)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    }

    /// Routes' `_setup_route` and `makeregexp`: derives the defaults, the key sets and the
    /// programs from what the route was given.
    fn setup(&mut self) {
        let routekeys: Vec<String> = self
            .routelist
            .iter()
            .filter_map(|p| match p {
                Part::Var { name, .. } => Some(name.clone()),
                Part::Text(_) => None,
            })
            .collect();
        self.dotkeys = self
            .routelist
            .iter()
            .filter_map(|p| match p {
                Part::Var {
                    kind: VarKind::Dot,
                    name,
                } => Some(name.clone()),
                _ => None,
            })
            .collect();

        // _defaults
        let mut kargs = self.kargs.clone();
        let has = |kargs: &Dict, key: &str| {
            dict_get(kargs, key).is_some() || (key == "controller" && self.controller.is_some())
        };
        if !self.explicit {
            if !routekeys.iter().any(|k| k == "controller") && !has(&kargs, "controller") {
                kargs.push(("controller".into(), Some("content".into())));
            }
            if !routekeys.iter().any(|k| k == "action") && !has(&kargs, "action") {
                kargs.push(("action".into(), Some("index".into())));
            }
            if routekeys.iter().any(|k| k == "action") && !has(&kargs, "action") {
                kargs.push(("action".into(), Some("index".into())));
            }
            if routekeys.iter().any(|k| k == "id") && dict_get(&kargs, "id").is_none() {
                kargs.push(("id".into(), None));
            }
        }
        self.defaults = kargs;

        let mut maxkeys: Vec<String> = self.defaults.iter().map(|(k, _)| k.clone()).collect();
        for k in &routekeys {
            if !maxkeys.contains(k) {
                maxkeys.push(k.clone());
            }
        }
        self.maxkeys = maxkeys;
        self.minkeys = routekeys.clone();
        self.hardcoded = self
            .defaults
            .iter()
            .filter(|(k, v)| !routekeys.contains(k) && v.is_some())
            .map(|(k, _)| k.clone())
            .collect();

        let mut prefix = String::new();
        for part in &self.routelist {
            match part {
                Part::Text(t) => prefix.push_str(t),
                Part::Var { .. } => break,
            }
        }
        self.prefix = prefix.trim_end_matches('/').to_owned();

        let reqs = self.requirements_in_force();
        self.req_progs = reqs
            .iter()
            .map(|(k, v)| {
                let prog = Regex::new(&format!("^(?:{v})\\n?$"))
                    .unwrap_or_else(|e| panic!("route {:?}: requirement for {k:?}: {e}", self.routepath));
                (k.clone(), prog)
            })
            .collect();
        let (prog, names) = self
            .build_program()
            .unwrap_or_else(|e| panic!("route {:?}: {e}", self.routepath));
        self.prog = prog;
        self.names = names;
    }

    /// Routes' `buildfullreg`: the regular expression of the whole route: `^`, the
    /// template's text escaped, each variable a named group (its requirement, or `[^/]+?`
    /// by default), `$`. regex-lite matches leftmost-first, as Python's `re` does, so a
    /// route splits a path into the same variables as Routes.
    fn build_program(&self) -> Result<(Regex, Vec<String>), String> {
        let mut names: Vec<String> = Vec::new();
        let mut pattern = String::from("^");
        for part in &self.routelist {
            let (kind, name) = match part {
                Part::Text(text) => {
                    pattern.push_str(&regex_lite::escape(text));
                    continue;
                }
                Part::Var { kind, name } => (*kind, name),
            };
            if !is_identifier(name) {
                return Err(format!("bad variable name {name:?}"));
            }
            if names.contains(name) {
                return Err(format!("redefinition of variable {name:?}"));
            }
            names.push(name.clone());
            let inner = match (&self.clist, self.requirement(name)) {
                // Routes matches {controller} against the known controllers, before any
                // requirement (`create_regs(clist)`).
                (Some(clist), _) if name == "controller" => clist
                    .iter()
                    .map(|c| regex_lite::escape(c))
                    .collect::<Vec<_>>()
                    .join("|"),
                (_, Some(req)) => {
                    Regex::new(&req).map_err(|e| format!("requirement for {name:?}: {e}"))?;
                    req
                }
                (_, None) => match kind {
                    VarKind::Star | VarKind::Unclosed => ".+?".to_owned(),
                    VarKind::Dot => "[^/.]+?".to_owned(),
                    _ => "[^/]+?".to_owned(),
                },
            };
            let group = format!("(?P<{name}>{inner})");
            if kind == VarKind::Dot {
                pattern.push_str(&format!("(?:\\.{group})??"));
            } else {
                pattern.push_str(&group);
            }
        }
        // Python's `$` also matches before a final newline.
        pattern.push_str("\\n?$");
        let prog = Regex::new(&pattern).map_err(|e| e.to_string())?;
        // Groups named inside requirements count too, as in Python's groupdict().
        let names = prog.capture_names().flatten().map(str::to_owned).collect();
        Ok((prog, names))
    }

    /// Routes' `Route.match`: the match dict for `url` (as characters), or `None`.
    /// `method` is the request's; `None` (no environ) skips the method condition, as Routes
    /// does when matching a bare URL.
    pub(crate) fn match_path(&self, url: &str, method: Option<&str>, environ: Option<&Environ>) -> Option<RouteMatch> {
        if self.is_static {
            return None;
        }
        let caps = self.prog.captures(url)?;
        if let (Some(methods), Some(method)) = (&self.conditions, method) {
            if !methods.iter().any(|m| m == method) {
                return None;
            }
        }
        let mut args: Dict = Vec::with_capacity(self.names.len() + self.defaults.len());
        for name in &self.names {
            let val: Option<String> = caps.name(name).map(|m| m.as_str().to_owned());
            let default = dict_get(&self.defaults, name)
                .and_then(|d| d.clone())
                .filter(|d| !d.is_empty());
            let empty = val.as_deref().is_none_or(str::is_empty);
            args.push((name.clone(), if empty && default.is_some() { default } else { val }));
        }
        for (key, value) in &self.defaults {
            if !self.names.contains(key) {
                args.push((key.clone(), value.clone()));
            }
        }
        let mut result = RouteMatch::new(args, self.controller.clone());
        if let Some(f) = &self.function {
            if !f(environ, &mut result) {
                return None;
            }
        }
        Some(result)
    }

    /// True when the path alone matches (no conditions): for the methods a 405 lists.
    pub(crate) fn matches_path(&self, url: &str) -> bool {
        !self.is_static && self.prog.is_match(url)
    }

    /// Routes' `Route.generate` (non-minimized): the URL for `kargs`, or `None`.
    pub(crate) fn generate(&self, mut kargs: Dict) -> Option<String> {
        for (key, prog) in &self.req_progs {
            if let Some(Some(val)) = dict_get(&kargs, key) {
                if !val.is_empty() && !prog.is_match(val) {
                    return None;
                }
            }
        }
        if let Some(Some(meth)) = dict_get(&kargs, "method").cloned() {
            if !meth.is_empty() {
                if let Some(methods) = &self.conditions {
                    if !methods.contains(&meth.to_uppercase()) {
                        return None;
                    }
                }
                kargs.retain(|(k, _)| k != "method");
            }
        }

        // generate_non_minimized: every default outside the path must be given as it is...
        for k in self.maxkeys.iter().filter(|k| !self.minkeys.contains(k)) {
            let given = dict_get(&kargs, k)?;
            if unicode(given) != unicode(dict_get(&self.defaults, k)?) {
                return None;
            }
        }
        // ... and every variable of the path given (an optional `{.format}` may be left out).
        for arg in &self.minkeys {
            if dict_get(&kargs, arg).is_none_or(Option::is_none) {
                if self.dotkeys.contains(arg) {
                    dict_set(&mut kargs, arg, Some(String::new()));
                } else {
                    return None;
                }
            }
        }
        let mut url = String::new();
        for part in &self.routelist {
            match part {
                Part::Text(text) => url.push_str(text),
                Part::Var { kind, name } => {
                    let val = dict_get(&kargs, name).and_then(|v| v.as_deref()).unwrap_or("");
                    if *kind == VarKind::Dot {
                        if !val.is_empty() {
                            url.push_str(&url_quote(&format!(".{val}")));
                        }
                    } else {
                        url.push_str(&url_quote(val));
                    }
                }
            }
        }
        if !url.starts_with('/') && !self.is_static {
            url.insert(0, '/');
        }
        let fragments: Vec<(&str, &str)> = kargs
            .iter()
            .filter(|(k, _)| !self.maxkeys.contains(k) && k != "action" && k != "controller")
            .map(|(k, v)| (k.as_str(), unicode(v)))
            .collect();
        if !fragments.is_empty() {
            url.push('?');
            url.push_str(&urlencode(&fragments));
        }
        Some(url)
    }

    /// Routes' `minkeys - dotkeys`: the variables a generation must be given.
    pub(crate) fn required_keys(&self) -> impl Iterator<Item = &String> {
        self.minkeys.iter().filter(|k| !self.dotkeys.contains(k))
    }

    pub(crate) fn maxkeys(&self) -> &[String] {
        &self.maxkeys
    }

    /// The value of a hardcoded default (a default not in the path and not None).
    pub(crate) fn hardcoded(&self, key: &str) -> Option<&str> {
        if self.hardcoded.iter().any(|k| k == key) {
            dict_get(&self.defaults, key).and_then(|v| v.as_deref())
        } else {
            None
        }
    }

    pub(crate) fn hardcoded_keys(&self) -> &[String] {
        &self.hardcoded
    }

    pub(crate) fn string_defaults(&self) -> &Dict {
        &self.defaults
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Part {
        Part::Text(s.into())
    }

    fn var(kind: VarKind, name: &str) -> Part {
        Part::Var {
            kind,
            name: name.into(),
        }
    }

    fn parts(template: &str) -> Vec<Part> {
        pathkeys(template, false, &mut Vec::new())
    }

    use VarKind::*;

    #[test]
    fn templates_split_as_routes_splits_them() {
        // From Routes' tests/test_units/test_route_escapes.py and its docstrings.
        assert_eq!(parts("/foo/bar"), vec![text("/foo/bar")]);
        assert_eq!(parts("/foo\\\\bar"), vec![text("/foo\\bar")]);
        assert_eq!(parts("\\/f\\oo\\/ba\\r"), vec![text("\\/f\\oo\\/ba\\r")]);
        assert_eq!(
            parts("/foo:bar/baz"),
            vec![text("/foo"), var(Segment, "bar"), text("/"), text("baz")]
        );
        assert_eq!(parts("/foo\\:bar/baz"), vec![text("/foo:bar/baz")]);
        assert_eq!(
            parts("/prefix/escaped\\:escaped/foo=:notescaped/bar=42"),
            vec![
                text("/prefix/escaped:escaped/foo="),
                var(Segment, "notescaped"),
                text("/"),
                text("bar=42")
            ]
        );
        assert_eq!(
            parts("/hmm\\:\\*\\{\\}*star/{brackets}/:colon"),
            vec![
                text("/hmm:*{}"),
                var(Star, "star"),
                text("/"),
                var(Segment, "brackets"),
                text("/"),
                var(Segment, "colon")
            ]
        );
        // Glance's templates.
        assert_eq!(
            parts("/v2/images/{image_id}/tags/{tag_value}"),
            vec![
                text("/v2/images/"),
                var(Segment, "image_id"),
                text("/tags/"),
                var(Segment, "tag_value")
            ]
        );
        assert_eq!(
            parts("/songs/{title}{.format}"),
            vec![text("/songs/"), var(Segment, "title"), var(Dot, "format")]
        );
        // ":(name)" ends at ")", ":name" at a done char or "-" (which is dropped).
        assert_eq!(
            parts(":(action).:(id)"),
            vec![var(Segment, "action"), text("."), var(Segment, "id")]
        );
        assert_eq!(parts("/:a-:b"), vec![text("/"), var(Segment, "a"), var(Segment, "b")]);
        // An unclosed brace keeps going to the end.
        assert_eq!(parts("/x/{rest"), vec![text("/x/"), var(Unclosed, "rest")]);
        assert_eq!(parts(""), vec![]);
    }

    #[test]
    fn inline_requirements() {
        let mut reqs = Vec::new();
        let p = pathkeys("/{controller}/{action}/{id:\\d\\d}", false, &mut reqs);
        assert_eq!(p.last(), Some(&var(Segment, "id")));
        assert_eq!(reqs, vec![("id".to_owned(), "\\d\\d".to_owned())]);
        let mut reqs = Vec::new();
        pathkeys("/stories/{slug:[^./]+?}{.format:pdf}", false, &mut reqs);
        assert_eq!(
            reqs,
            vec![("slug".into(), "[^./]+?".into()), ("format".into(), "pdf".into())]
        );
        // Braces in a requirement must be escaped, as in Routes.
        let mut reqs = Vec::new();
        pathkeys("/y/{year:\\d\\{4\\}}", false, &mut reqs);
        assert_eq!(reqs, vec![("year".into(), "\\d{4}".into())]);
    }

    #[test]
    fn static_routes_keep_colons_and_stars() {
        let mut reqs = Vec::new();
        assert_eq!(
            pathkeys("http://www.google.co.jp/search", true, &mut reqs),
            vec![text("http://www.google.co.jp/search")]
        );
        assert_eq!(
            pathkeys("/static/faq/{section}.html", true, &mut reqs),
            vec![text("/static/faq/"), var(Segment, "section"), text(".html")]
        );
    }

    #[test]
    #[should_panic(expected = "look-around")]
    fn unsupported_requirements_panic_at_connect() {
        Route::new(None, "/x/{id}", false, true, None).requirements(&[("id", "[^\\/]+(?<!\\\\)")]);
    }

    #[test]
    #[should_panic(expected = "bad variable name")]
    fn bad_variable_names_panic_at_connect() {
        Route::new(None, "/x/{image-id}", false, true, None);
    }
}
