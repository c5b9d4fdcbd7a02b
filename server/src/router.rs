//! `Router`: route templates (`/ws/{client_id}`, `/files/{*path}`), nesting under a prefix,
//! and the lookup that picks the most specific route for a request path. What does not live
//! here: decoding of parameter values and the query (in `params.rs`) and anything that
//! reads a socket (the serve loop).

use std::borrow::Cow;
use std::fmt;

use crate::params::{percent_decode, Params};

/// One segment of a route template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Matches exactly this text (compared with the percent-decoded path segment).
    Literal(String),
    /// `{name}`: matches any one non-empty segment.
    Param(String),
    /// `{*name}`: matches the rest of the path, one segment or more; last only.
    CatchAll(String),
}

impl Segment {
    /// How specific a segment is: a literal beats a parameter, which beats a catch-all.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 2,
            Segment::Param(_) => 1,
            Segment::CatchAll(_) => 0,
        }
    }

    fn name(&self) -> Option<&str> {
        match self {
            Segment::Literal(_) => None,
            Segment::Param(name) | Segment::CatchAll(name) => Some(name),
        }
    }
}

/// Why a route template was refused when the router was built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TemplateError {
    /// A template (or a nesting prefix) must start with `/`.
    MissingLeadingSlash(String),
    /// A segment mixes text and a parameter (`/file-{id}`), or has an unbalanced brace:
    /// a parameter is always a whole segment.
    PartialSegment(String),
    /// A parameter name is empty or not an identifier (`[A-Za-z_][A-Za-z0-9_]*`).
    InvalidName(String),
    /// The same parameter name appears twice in one route (prefixes included).
    DuplicateName(String),
    /// A catch-all `{*name}` is not the last segment, or ends a nesting prefix.
    CatchAllNotLast(String),
    /// A nesting prefix ends with `/` (the nested routes bring their own).
    TrailingSlashPrefix(String),
    /// Another route already has this shape: the two could never be told apart.
    Conflict {
        /// The template being added.
        template: String,
        /// The template already in the router.
        existing: String,
    },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::MissingLeadingSlash(t) => write!(f, "route template {t:?} must start with '/'"),
            TemplateError::PartialSegment(t) => {
                write!(f, "route template {t:?}: a parameter must be a whole segment, with balanced braces")
            }
            TemplateError::InvalidName(t) => write!(f, "route template {t:?}: parameter names are identifiers"),
            TemplateError::DuplicateName(t) => write!(f, "route template {t:?} names a parameter twice"),
            TemplateError::CatchAllNotLast(t) => {
                write!(f, "route template {t:?}: a catch-all parameter must be the last segment of a route")
            }
            TemplateError::TrailingSlashPrefix(t) => write!(f, "nesting prefix {t:?} must not end with '/'"),
            TemplateError::Conflict { template, existing } => {
                write!(f, "route template {template:?} has the same shape as {existing:?}")
            }
        }
    }
}

impl std::error::Error for TemplateError {}

/// Why no route answered a path; [`status`](NoMatch::status) is the HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoMatch {
    /// No route matches the path (404).
    NotFound,
    /// A path segment holds a bad percent-encoding or is not UTF-8 once decoded (400).
    InvalidEncoding,
}

impl NoMatch {
    /// The HTTP status to answer with: 404 or 400.
    pub fn status(self) -> u16 {
        match self {
            NoMatch::NotFound => 404,
            NoMatch::InvalidEncoding => 400,
        }
    }
}

impl fmt::Display for NoMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoMatch::NotFound => f.write_str("no route matches the path"),
            NoMatch::InvalidEncoding => f.write_str("the path is not valid percent-encoded UTF-8"),
        }
    }
}

impl std::error::Error for NoMatch {}

#[derive(Debug, Clone)]
struct Route<H> {
    template: String,
    segments: Vec<Segment>,
    handler: H,
}

/// Route templates mapped to handlers of any type `H` (a closure, an enum, a boxed trait
/// object): the serve loop looks a request path up and hands the handler the pending
/// upgrade and the [`Params`].
///
/// Templates are `/`-separated segments; a segment is literal text, a parameter `{name}`
/// (one non-empty segment), or, last only, a catch-all `{*name}` (one segment or more,
/// slashes included). When several routes match, the most specific wins, segment by
/// segment from the left: literal before parameter before catch-all — so `/rooms/new`
/// beats `/rooms/{room}` wherever they were added. Two routes of the same shape are refused
/// when added. Matching compares percent-decoded segments, case-sensitively, and a trailing
/// slash is significant (`/ws/` does not match `/ws`).
///
/// ```
/// use tether_server::Router;
///
/// let router = Router::new()
///     .route("/ws/{client_id}", 1)
///     .route("/ws/admin", 2)
///     .nest("/rooms/{room}", Router::new().route("/live", 3).route("/", 4));
/// let found = router.at("/rooms/a%20b/live").unwrap();
/// assert_eq!((*found.handler(), found.params().get("room")), (3, Some("a b")));
/// assert_eq!(*router.at("/ws/admin").unwrap().handler(), 2);
/// assert_eq!(*router.at("/rooms/lobby").unwrap().handler(), 4);
/// assert_eq!(router.at("/nowhere").unwrap_err().status(), 404);
/// ```
#[derive(Debug, Clone)]
pub struct Router<H> {
    routes: Vec<Route<H>>,
}

impl<H> Default for Router<H> {
    fn default() -> Self {
        Router { routes: Vec::new() }
    }
}

impl<H> Router<H> {
    /// A router with no routes.
    pub fn new() -> Self {
        Router::default()
    }

    /// Adds a route, or says why its template is refused.
    ///
    /// # Errors
    /// A [`TemplateError`] for a malformed template or one with the same shape as a route
    /// already added. The router is consumed either way: routes are fixed at startup.
    pub fn try_route(mut self, template: &str, handler: H) -> Result<Self, TemplateError> {
        let segments = parse_template(template)?;
        self.insert(template.to_owned(), segments, handler)?;
        Ok(self)
    }

    /// Adds a route.
    ///
    /// # Panics
    /// On a template [`try_route`](Router::try_route) refuses: templates are written by the
    /// program, not received, so a bad one is a bug to fix at startup.
    #[track_caller]
    pub fn route(self, template: &str, handler: H) -> Self {
        match self.try_route(template, handler) {
            Ok(router) => router,
            Err(err) => panic!("{err}"),
        }
    }

    /// Adds every route of `router` under `prefix` (itself a template without a catch-all,
    /// e.g. `/api` or `/orgs/{org}`); a nested route `/` answers the prefix itself.
    ///
    /// # Errors
    /// A [`TemplateError`] for a malformed prefix, a parameter name used by both the prefix
    /// and a nested route, or a resulting shape that is already routed.
    pub fn try_nest(mut self, prefix: &str, router: Router<H>) -> Result<Self, TemplateError> {
        if prefix.len() > 1 && prefix.ends_with('/') {
            return Err(TemplateError::TrailingSlashPrefix(prefix.to_owned()));
        }
        let prefix_segments = if prefix == "/" { Vec::new() } else { parse_template(prefix)? };
        if matches!(prefix_segments.last(), Some(Segment::CatchAll(_))) {
            return Err(TemplateError::CatchAllNotLast(prefix.to_owned()));
        }
        let prefix = if prefix == "/" { "" } else { prefix };
        for route in router.routes {
            // A nested `/` answers the prefix itself (`/api`, not `/api/`).
            let at_prefix = route.template == "/" && !prefix.is_empty();
            let mut segments = prefix_segments.clone();
            let template = if at_prefix {
                prefix.to_owned()
            } else {
                segments.extend(route.segments);
                format!("{prefix}{}", route.template)
            };
            check_names(&template, &segments)?;
            self.insert(template, segments, route.handler)?;
        }
        Ok(self)
    }

    /// Adds every route of `router` under `prefix`.
    ///
    /// # Panics
    /// On a prefix or a combination [`try_nest`](Router::try_nest) refuses.
    #[track_caller]
    pub fn nest(self, prefix: &str, router: Router<H>) -> Self {
        match self.try_nest(prefix, router) {
            Ok(router) => router,
            Err(err) => panic!("{err}"),
        }
    }

    /// The templates routed, in the order they were added.
    pub fn templates(&self) -> impl Iterator<Item = &str> + '_ {
        self.routes.iter().map(|route| route.template.as_str())
    }

    /// The most specific route for `path` (the request target's path, without the query),
    /// with its parameters percent-decoded.
    ///
    /// # Errors
    /// [`NoMatch::NotFound`] when no route matches, [`NoMatch::InvalidEncoding`] when a
    /// segment is not valid percent-encoded UTF-8.
    pub fn at<'r, 'p>(&'r self, path: &'p str) -> Result<Match<'r, 'p, H>, NoMatch> {
        let Some(rest) = path.strip_prefix('/') else {
            return Err(NoMatch::NotFound);
        };
        // Each raw segment with its offset in `rest`, so a catch-all can take the raw rest.
        let raw: Vec<(usize, &'p str)> = split_segments(rest);
        let decoded: Vec<Cow<'p, str>> = raw
            .iter()
            .map(|&(_, s)| percent_decode(s, false))
            .collect::<Option<_>>()
            .ok_or(NoMatch::InvalidEncoding)?;

        let mut best: Option<&'r Route<H>> = None;
        for route in &self.routes {
            if matches(&route.segments, &decoded) && best.is_none_or(|b| more_specific(&route.segments, &b.segments)) {
                best = Some(route);
            }
        }
        let route = best.ok_or(NoMatch::NotFound)?;

        let mut params = Params::default();
        for (i, segment) in route.segments.iter().enumerate() {
            match segment {
                Segment::Literal(_) => {}
                Segment::Param(name) => params.push(name, decoded[i].clone()),
                Segment::CatchAll(name) => {
                    let tail = &rest[raw[i].0..];
                    params.push(name, percent_decode(tail, false).ok_or(NoMatch::InvalidEncoding)?);
                }
            }
        }
        Ok(Match { template: &route.template, handler: &route.handler, params })
    }

    fn insert(&mut self, template: String, segments: Vec<Segment>, handler: H) -> Result<(), TemplateError> {
        if let Some(existing) = self.routes.iter().find(|route| same_shape(&route.segments, &segments)) {
            return Err(TemplateError::Conflict { template, existing: existing.template.clone() });
        }
        self.routes.push(Route { template, segments, handler });
        Ok(())
    }
}

/// A route found for a path: its handler, its template and the decoded parameters.
#[derive(Debug)]
pub struct Match<'r, 'p, H> {
    template: &'r str,
    handler: &'r H,
    params: Params<'r, 'p>,
}

impl<'r, 'p, H> Match<'r, 'p, H> {
    /// The handler registered for the route.
    pub fn handler(&self) -> &'r H {
        self.handler
    }

    /// The route's template as written (with any nesting prefix), e.g. `/ws/{client_id}`:
    /// a low-cardinality label for logs and metrics.
    pub fn template(&self) -> &'r str {
        self.template
    }

    /// The path parameters, decoded.
    pub fn params(&self) -> &Params<'r, 'p> {
        &self.params
    }

    /// The path parameters, owned by the caller.
    pub fn into_params(self) -> Params<'r, 'p> {
        self.params
    }
}

fn split_segments(rest: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b) in rest.bytes().enumerate() {
        if b == b'/' {
            out.push((start, &rest[start..i]));
            start = i + 1;
        }
    }
    out.push((start, &rest[start..]));
    out
}

fn parse_template(template: &str) -> Result<Vec<Segment>, TemplateError> {
    let err = |make: fn(String) -> TemplateError| make(template.to_owned());
    let rest = template.strip_prefix('/').ok_or_else(|| err(TemplateError::MissingLeadingSlash))?;
    let parts: Vec<&str> = rest.split('/').collect();
    let mut segments = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let segment = if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            let (catch_all, name) = match inner.strip_prefix('*') {
                Some(name) => (true, name),
                None => (false, inner),
            };
            if name.contains(['{', '}']) {
                return Err(err(TemplateError::PartialSegment));
            }
            if !is_identifier(name) {
                return Err(err(TemplateError::InvalidName));
            }
            if catch_all {
                if i + 1 != parts.len() {
                    return Err(err(TemplateError::CatchAllNotLast));
                }
                Segment::CatchAll(name.to_owned())
            } else {
                Segment::Param(name.to_owned())
            }
        } else if part.contains(['{', '}']) {
            return Err(err(TemplateError::PartialSegment));
        } else {
            Segment::Literal((*part).to_owned())
        };
        segments.push(segment);
    }
    check_names(template, &segments)?;
    Ok(segments)
}

fn check_names(template: &str, segments: &[Segment]) -> Result<(), TemplateError> {
    let names: Vec<&str> = segments.iter().filter_map(Segment::name).collect();
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(TemplateError::DuplicateName(template.to_owned()));
        }
    }
    if let Some(pos) = segments.iter().position(|s| matches!(s, Segment::CatchAll(_))) {
        if pos + 1 != segments.len() {
            return Err(TemplateError::CatchAllNotLast(template.to_owned()));
        }
    }
    Ok(())
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn matches(route: &[Segment], path: &[Cow<'_, str>]) -> bool {
    for (i, segment) in route.iter().enumerate() {
        match segment {
            Segment::CatchAll(_) => return path.len() > i && path[i..].iter().any(|s| !s.is_empty()),
            Segment::Literal(text) => {
                if path.get(i).map(|s| s.as_ref()) != Some(text.as_str()) {
                    return false;
                }
            }
            Segment::Param(_) => {
                if path.get(i).is_none_or(|s| s.is_empty()) {
                    return false;
                }
            }
        }
    }
    route.len() == path.len()
}

/// Whether `a` beats `b`, both matching the same path: the first segment where their kinds
/// differ decides (literal > parameter > catch-all). Equal shapes cannot coexist.
fn more_specific(a: &[Segment], b: &[Segment]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x.rank() != y.rank() {
            return x.rank() > y.rank();
        }
    }
    false
}

fn same_shape(a: &[Segment], b: &[Segment]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Segment::Literal(p), Segment::Literal(q)) => p == q,
            (Segment::Param(_), Segment::Param(_)) | (Segment::CatchAll(_), Segment::CatchAll(_)) => true,
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    type Found = (&'static str, Vec<(String, String)>);

    fn lookup(router: &Router<&'static str>, path: &str) -> Result<Found, NoMatch> {
        let found = router.at(path)?;
        let params = found.params().iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        Ok((*found.handler(), params))
    }

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn parameters_are_whole_segments_and_decoded() {
        let router = Router::new().route("/ws/{client_id}", "ws").route("/rooms/{room}/live", "live");
        assert_eq!(lookup(&router, "/ws/42"), Ok(("ws", p(&[("client_id", "42")]))));
        assert_eq!(lookup(&router, "/rooms/caf%C3%A9/live"), Ok(("live", p(&[("room", "café")]))));
        // An encoded slash stays inside its segment.
        assert_eq!(lookup(&router, "/ws/a%2Fb"), Ok(("ws", p(&[("client_id", "a/b")]))));
        // '+' is a plus sign in a path (form decoding applies to queries only).
        assert_eq!(lookup(&router, "/ws/a+b"), Ok(("ws", p(&[("client_id", "a+b")]))));
        assert_eq!(lookup(&router, "/ws/"), Err(NoMatch::NotFound), "a parameter is never empty");
        assert_eq!(lookup(&router, "/ws/1/2"), Err(NoMatch::NotFound));
        assert_eq!(lookup(&router, "/ws"), Err(NoMatch::NotFound));
        assert_eq!(lookup(&router, "/rooms/x/live/"), Err(NoMatch::NotFound), "a trailing slash is significant");
        assert_eq!(lookup(&router, "ws/1"), Err(NoMatch::NotFound));
        assert_eq!(lookup(&router, ""), Err(NoMatch::NotFound));
    }

    #[test]
    fn bad_encodings_are_400_not_404() {
        let router = Router::new().route("/ws/{id}", "ws");
        for path in ["/ws/%", "/ws/%4", "/ws/%zz", "/ws/%FF", "/ws/%C3", "/nowhere/%C3%28"] {
            let err = lookup(&router, path).unwrap_err();
            assert_eq!((err, err.status()), (NoMatch::InvalidEncoding, 400), "{path}");
        }
        assert_eq!(NoMatch::NotFound.status(), 404);
    }

    #[test]
    fn literals_compare_decoded_and_case_sensitive() {
        let router = Router::new().route("/ws", "ws");
        assert!(lookup(&router, "/w%73").is_ok(), "%73 is 's'");
        assert_eq!(lookup(&router, "/WS"), Err(NoMatch::NotFound));
    }

    #[test]
    fn the_most_specific_route_wins_whatever_the_order() {
        let routes = [
            ("/rooms/{room}", "param"),
            ("/rooms/new", "literal"),
            ("/rooms/{*rest}", "catch-all"),
            ("/{section}/new", "leading-param"),
        ];
        // Every rotation of the insertion order gives the same answers.
        for start in 0..routes.len() {
            let mut router = Router::new();
            for k in 0..routes.len() {
                let (template, name) = routes[(start + k) % routes.len()];
                router = router.route(template, name);
            }
            assert_eq!(lookup(&router, "/rooms/new").unwrap().0, "literal");
            assert_eq!(lookup(&router, "/rooms/lobby").unwrap().0, "param");
            assert_eq!(lookup(&router, "/rooms/a/b").unwrap(), ("catch-all", p(&[("rest", "a/b")])));
            assert_eq!(lookup(&router, "/users/new").unwrap(), ("leading-param", p(&[("section", "users")])));
        }
    }

    #[test]
    fn catch_all_takes_the_rest_but_never_nothing() {
        let router = Router::new().route("/files/{*path}", "files");
        assert_eq!(lookup(&router, "/files/a/b%20c/d"), Ok(("files", p(&[("path", "a/b c/d")]))));
        assert_eq!(lookup(&router, "/files/x"), Ok(("files", p(&[("path", "x")]))));
        assert_eq!(lookup(&router, "/files/"), Err(NoMatch::NotFound));
        assert_eq!(lookup(&router, "/files"), Err(NoMatch::NotFound));
        assert_eq!(lookup(&router, "/files/a/"), Ok(("files", p(&[("path", "a/")]))));
    }

    #[test]
    fn nesting_joins_prefixes_and_parameters() {
        let api = Router::new().route("/", "root").route("/users/{id}", "user");
        let router = Router::new()
            .route("/", "home")
            .nest("/orgs/{org}", api)
            .nest("/", Router::new().route("/health", "health"));
        assert_eq!(lookup(&router, "/"), Ok(("home", p(&[]))));
        assert_eq!(lookup(&router, "/orgs/acme"), Ok(("root", p(&[("org", "acme")]))));
        assert_eq!(lookup(&router, "/orgs/acme/"), Err(NoMatch::NotFound));
        assert_eq!(lookup(&router, "/orgs/acme/users/7"), Ok(("user", p(&[("org", "acme"), ("id", "7")]))));
        assert_eq!(lookup(&router, "/health"), Ok(("health", p(&[]))));
        let found = router.at("/orgs/acme/users/7").unwrap();
        assert_eq!(found.template(), "/orgs/{org}/users/{id}");
        assert_eq!(router.templates().collect::<Vec<_>>(), ["/", "/orgs/{org}", "/orgs/{org}/users/{id}", "/health"]);
    }

    #[test]
    fn malformed_templates_are_refused_with_their_reason() {
        type Make = fn(String) -> TemplateError;
        let cases: &[(&str, Make)] = &[
            ("ws", TemplateError::MissingLeadingSlash),
            ("/file-{id}", TemplateError::PartialSegment),
            ("/{id", TemplateError::PartialSegment),
            ("/id}", TemplateError::PartialSegment),
            ("/{a{b}}", TemplateError::PartialSegment),
            ("/{}", TemplateError::InvalidName),
            ("/{*}", TemplateError::InvalidName),
            ("/{1a}", TemplateError::InvalidName),
            ("/{a-b}", TemplateError::InvalidName),
            ("/{id}/{id}", TemplateError::DuplicateName),
            ("/{*rest}/x", TemplateError::CatchAllNotLast),
        ];
        for (template, make) in cases {
            let err = Router::new().try_route(template, ()).unwrap_err();
            assert_eq!(err, make((*template).to_owned()), "{template}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn same_shapes_conflict_and_nesting_checks_its_prefix() {
        let router = Router::new().route("/ws/{id}", ());
        let err = router.clone().try_route("/ws/{other}", ()).unwrap_err();
        assert_eq!(err, TemplateError::Conflict { template: "/ws/{other}".into(), existing: "/ws/{id}".into() });
        assert!(router.clone().try_route("/ws/{id}/x", ()).is_ok());
        assert!(router.clone().try_route("/ws/{*id}", ()).is_ok(), "a catch-all is another shape");

        let inner = || Router::new().route("/{id}", ());
        assert_eq!(
            Router::new().try_nest("/a/", inner()).unwrap_err(),
            TemplateError::TrailingSlashPrefix("/a/".into())
        );
        assert_eq!(
            Router::new().try_nest("/a/{*rest}", inner()).unwrap_err(),
            TemplateError::CatchAllNotLast("/a/{*rest}".into())
        );
        assert_eq!(
            Router::new().try_nest("/{id}", inner()).unwrap_err(),
            TemplateError::DuplicateName("/{id}/{id}".into())
        );
        assert_eq!(
            router.try_nest("/ws", inner()).unwrap_err(),
            TemplateError::Conflict { template: "/ws/{id}".into(), existing: "/ws/{id}".into() }
        );
    }

    #[test]
    fn the_leftmost_differing_segment_decides_precedence() {
        // `/api/v1/{id}` has fewer literals than `/api/{version}/users/me` would, but its
        // literal comes first: the leftmost difference decides, not the count.
        let router = Router::new()
            .route("/api/{version}/users", "any-version")
            .route("/api/v1/{resource}", "v1")
            .route("/{*rest}", "fallback");
        assert_eq!(lookup(&router, "/api/v1/users").unwrap().0, "v1");
        assert_eq!(lookup(&router, "/api/v2/users"), Ok(("any-version", p(&[("version", "v2")]))));
        assert_eq!(lookup(&router, "/api/v2/other"), Ok(("fallback", p(&[("rest", "api/v2/other")]))));
        assert_eq!(lookup(&router, "/"), Err(NoMatch::NotFound), "a catch-all never matches nothing");
    }

    #[test]
    fn nesting_twice_keeps_prefixes_parameters_and_precedence() {
        let rooms = Router::new().route("/", "room").route("/{*path}", "room-files").route("/live", "live");
        let orgs = Router::new().nest("/rooms/{room}", rooms).route("/rooms/new", "new-room");
        let router = Router::new().nest("/orgs/{org}", orgs).route("/orgs/{org}/rooms/{room}/live/extra", "extra");
        assert_eq!(lookup(&router, "/orgs/a/rooms/b"), Ok(("room", p(&[("org", "a"), ("room", "b")]))));
        assert_eq!(lookup(&router, "/orgs/a/rooms/b/live"), Ok(("live", p(&[("org", "a"), ("room", "b")]))));
        assert_eq!(lookup(&router, "/orgs/a/rooms/new"), Ok(("new-room", p(&[("org", "a")]))));
        assert_eq!(
            lookup(&router, "/orgs/a/rooms/b/x/y"),
            Ok(("room-files", p(&[("org", "a"), ("room", "b"), ("path", "x/y")])))
        );
        assert_eq!(lookup(&router, "/orgs/a/rooms/b/live/extra").unwrap().0, "extra");
        assert_eq!(router.at("/orgs/a/rooms/b/live").unwrap().template(), "/orgs/{org}/rooms/{room}/live");
        // A nested `/` and a route at the prefix are the same shape.
        let clash = Router::new().route("/api", "direct").try_nest("/api", Router::new().route("/", "nested"));
        assert_eq!(clash.unwrap_err(), TemplateError::Conflict { template: "/api".into(), existing: "/api".into() });
    }

    #[test]
    #[should_panic(expected = "must start with '/'")]
    fn route_panics_on_a_bad_template() {
        let _ = Router::new().route("ws", ());
    }

    #[test]
    fn long_hostile_paths_are_answered_without_trouble() {
        let router = Router::new().route("/{a}/{b}", ()).route("/x/{*rest}", ());
        let many = "/x".repeat(4000);
        assert!(router.at(&many).is_ok());
        let slashes = "/".repeat(8000);
        assert_eq!(router.at(&slashes).unwrap_err(), NoMatch::NotFound);
        let percents = "/%".repeat(4000);
        assert_eq!(router.at(&percents).unwrap_err(), NoMatch::InvalidEncoding);
    }
}
