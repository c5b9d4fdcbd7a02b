//! Typed access to what a request names: path parameters (`Params`) and the query string
//! (`Query`), with their percent-decoding. What does not live here: matching routes (in
//! `router.rs`).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// Why a parameter could not be read as the asked type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamError {
    /// No parameter (or query field) of this name.
    Missing(String),
    /// The value does not parse as the asked type.
    Invalid {
        /// The parameter's name.
        name: String,
        /// The decoded value that did not parse.
        value: String,
    },
}

impl ParamError {
    /// The HTTP status that answers it: 400.
    pub fn status(&self) -> u16 {
        400
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamError::Missing(name) => write!(f, "missing parameter {name:?}"),
            ParamError::Invalid { name, value } => write!(f, "parameter {name:?} has an invalid value {value:?}"),
        }
    }
}

impl std::error::Error for ParamError {}

/// The path parameters of a matched route, percent-decoded, in template order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params<'r, 'p> {
    pairs: Vec<(Cow<'r, str>, Cow<'p, str>)>,
}

impl<'r, 'p> Params<'r, 'p> {
    pub(crate) fn push(&mut self, name: &'r str, value: Cow<'p, str>) {
        self.pairs.push((Cow::Borrowed(name), value));
    }

    /// The same parameters, owned: for a task that outlives the router lookup (the serve
    /// loop hands them to a connection's handler this way).
    pub fn into_owned(self) -> Params<'static, 'static> {
        Params {
            pairs: self
                .pairs
                .into_iter()
                .map(|(n, v)| (Cow::Owned(n.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
        }
    }

    /// A parameter's decoded value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_ref())
    }

    /// A parameter parsed as `T` (`u64`, `uuid::Uuid`, any `FromStr`).
    ///
    /// # Errors
    /// [`ParamError::Missing`] if the route has no such parameter, [`ParamError::Invalid`]
    /// if the value does not parse.
    pub fn get_as<T: FromStr>(&self, name: &str) -> Result<T, ParamError> {
        parse_value(name, self.get(name))
    }

    /// Every `(name, value)` pair, in template order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }

    /// How many parameters the route has.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether the route has no parameters.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// A query string (`a=1&b=two+words&flag`), decoded as an HTML form does
/// (`application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte, UTF-8 required).
///
/// ```
/// use tether_server::Query;
///
/// let query = Query::parse(Some("name=Ada+L&room=caf%C3%A9&tag=a&tag=b&flag")).unwrap();
/// assert_eq!(query.get("name"), Some("Ada L"));
/// assert_eq!(query.get("room"), Some("café"));
/// assert_eq!(query.get_all("tag").collect::<Vec<_>>(), ["a", "b"]);
/// assert_eq!(query.get("flag"), Some(""));
/// assert_eq!(query.get_as::<u32>("limit").unwrap_err().status(), 400);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query<'q> {
    pairs: Vec<(Cow<'q, str>, Cow<'q, str>)>,
}

/// A query string that is not valid form encoding: a bad `%` escape, or bytes that are not
/// UTF-8 once decoded. Answer it with 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidQuery;

impl InvalidQuery {
    /// The HTTP status that answers it: 400.
    pub fn status(self) -> u16 {
        400
    }
}

impl fmt::Display for InvalidQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the query string is not valid form encoding")
    }
}

impl std::error::Error for InvalidQuery {}

impl<'q> Query<'q> {
    /// Decodes a query string (the part after `?`; `None` or empty gives no fields). Empty
    /// pieces (`a=1&&b=2`) are skipped; a piece without `=` is a field with an empty value.
    ///
    /// # Errors
    /// [`InvalidQuery`] on a bad escape or non-UTF-8 result.
    pub fn parse(query: Option<&'q str>) -> Result<Self, InvalidQuery> {
        let mut pairs = Vec::new();
        for piece in query.unwrap_or("").split('&').filter(|piece| !piece.is_empty()) {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            let name = percent_decode(name, true).ok_or(InvalidQuery)?;
            let value = percent_decode(value, true).ok_or(InvalidQuery)?;
            pairs.push((name, value));
        }
        Ok(Query { pairs })
    }

    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_ref())
    }

    /// Every value of a field, in order (`tag=a&tag=b`).
    pub fn get_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.pairs.iter().filter(move |(n, _)| n == name).map(|(_, v)| v.as_ref())
    }

    /// The first value of a field parsed as `T`.
    ///
    /// # Errors
    /// [`ParamError::Missing`] if the field is absent, [`ParamError::Invalid`] if its value
    /// does not parse.
    pub fn get_as<T: FromStr>(&self, name: &str) -> Result<T, ParamError> {
        parse_value(name, self.get(name))
    }

    /// Every `(name, value)` pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }
}

fn parse_value<T: FromStr>(name: &str, value: Option<&str>) -> Result<T, ParamError> {
    let value = value.ok_or_else(|| ParamError::Missing(name.to_owned()))?;
    value.parse().map_err(|_| ParamError::Invalid { name: name.to_owned(), value: value.to_owned() })
}

/// Percent-decodes `s` (and `+` as a space when `plus_as_space`), borrowing when there is
/// nothing to decode. `None` for a `%` not followed by two hex digits, or a result that is
/// not UTF-8.
pub(crate) fn percent_decode(s: &str, plus_as_space: bool) -> Option<Cow<'_, str>> {
    if !s.bytes().any(|b| b == b'%' || (plus_as_space && b == b'+')) {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = hex(*bytes.get(i + 1)?)?;
                let lo = hex(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_borrows_when_it_can_and_refuses_bad_escapes() {
        assert!(matches!(percent_decode("plain", false), Some(Cow::Borrowed("plain"))));
        assert_eq!(percent_decode("a%20b%2fc", false).as_deref(), Some("a b/c"));
        assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(percent_decode("a+b", true).as_deref(), Some("a b"));
        assert_eq!(percent_decode("%2B", true).as_deref(), Some("+"));
        for bad in ["%", "%2", "%g0", "%0g", "%FF", "%C3", "%ED%A0%80"] {
            assert_eq!(percent_decode(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn query_fields_in_order_with_repeats_and_flags() {
        let query = Query::parse(Some("a=1&&b=two+words&a=3&flag&=empty-name&c=x=y")).unwrap();
        assert_eq!(
            query.iter().collect::<Vec<_>>(),
            [("a", "1"), ("b", "two words"), ("a", "3"), ("flag", ""), ("", "empty-name"), ("c", "x=y")]
        );
        assert_eq!(query.get("a"), Some("1"));
        assert_eq!(query.get_all("a").collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(query.get("missing"), None);
        assert_eq!(query.get_as::<u8>("a"), Ok(1));
        assert_eq!(query.get_as::<u8>("b"), Err(ParamError::Invalid { name: "b".into(), value: "two words".into() }));
        assert_eq!(query.get_as::<u8>("zz"), Err(ParamError::Missing("zz".into())));
        assert_eq!(Query::parse(None).unwrap().iter().count(), 0);
        assert_eq!(Query::parse(Some("")).unwrap().iter().count(), 0);
        assert_eq!(Query::parse(Some("a=%zz")), Err(InvalidQuery));
        assert_eq!(Query::parse(Some("%FF=1")), Err(InvalidQuery));
    }

    #[test]
    fn params_parse_typed_values() {
        let mut params = Params::default();
        params.push("id", Cow::Borrowed("42"));
        params.push("name", Cow::Owned("a b".to_owned()));
        assert_eq!(params.get_as::<u64>("id"), Ok(42));
        assert_eq!(params.get("name"), Some("a b"));
        assert_eq!(params.get_as::<u64>("name").unwrap_err().status(), 400);
        assert_eq!(params.get_as::<u64>("nope"), Err(ParamError::Missing("nope".into())));
        assert_eq!((params.len(), params.is_empty()), (2, false));
    }
}
