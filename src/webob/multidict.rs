//! `webob.multidict.MultiDict`: an ordered list of `(key, value)` pairs where a key may
//! repeat, as a query string or a form has them (`?tag=a&tag=b`). `req.GET`, `req.POST` and
//! `req.params` hand one on; the query-string parser that fills it (`webob.util
//! .parse_qsl_text`) is here too.
//!
//! As in WebOb, [`MultiDict::get`] gives the *last* value of a key (what `d[key]` gives in
//! Python), [`MultiDict::getall`] every value in order, and [`MultiDict::getone`] the only
//! value or an error when there are several.

use std::fmt;

use super::util::percent_decode;

/// An ordered multi-valued map, `webob.multidict.MultiDict`.
#[derive(Clone, PartialEq, Eq)]
pub struct MultiDict<V = String> {
    items: Vec<(String, V)>,
}

impl<V> Default for MultiDict<V> {
    fn default() -> Self {
        MultiDict { items: Vec::new() }
    }
}

/// [`MultiDict::getone`] found more than one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipleValues(pub String);

impl fmt::Display for MultipleValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "multiple values match {:?}", self.0)
    }
}

impl std::error::Error for MultipleValues {}

impl<V> MultiDict<V> {
    pub fn new() -> Self {
        MultiDict::default()
    }

    /// `d.add(key, value)`: appends, keeping earlier values of the key.
    pub fn add(&mut self, key: impl Into<String>, value: V) {
        self.items.push((key.into(), value));
    }

    /// `d[key] = value`: replaces every value of the key by this one.
    pub fn set(&mut self, key: impl Into<String>, value: V) {
        let key = key.into();
        self.items.retain(|(k, _)| *k != key);
        self.items.push((key, value));
    }

    /// `d[key]` / `d.get(key)`: the last value of the key.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.items.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// `d.getall(key)`: every value of the key, in order.
    pub fn getall(&self, key: &str) -> Vec<&V> {
        self.items.iter().filter(|(k, _)| k == key).map(|(_, v)| v).collect()
    }

    /// `d.getone(key)`: the value when there is exactly one; `Ok(None)` when there is none.
    pub fn getone(&self, key: &str) -> Result<Option<&V>, MultipleValues> {
        let mut found = self.items.iter().filter(|(k, _)| k == key).map(|(_, v)| v);
        let first = found.next();
        if found.next().is_some() {
            return Err(MultipleValues(key.to_owned()));
        }
        Ok(first)
    }

    /// `key in d`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.items.iter().any(|(k, _)| k == key)
    }

    /// `del d[key]`: removes every value of the key; returns how many there were.
    pub fn remove(&mut self, key: &str) -> usize {
        let before = self.items.len();
        self.items.retain(|(k, _)| k != key);
        before - self.items.len()
    }

    /// `d.items()`: every pair, in order.
    pub fn items(&self) -> impl Iterator<Item = (&str, &V)> {
        self.items.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// `d.keys()`: the key of every pair, repeats included.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|(k, _)| k.as_str())
    }

    /// `d.values()`.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.items.iter().map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// `d.extend(other)`.
    pub fn extend(&mut self, other: impl IntoIterator<Item = (String, V)>) {
        self.items.extend(other);
    }

    /// The pairs, moved out.
    pub fn into_vec(self) -> Vec<(String, V)> {
        self.items
    }
}

/// A value with text to give: a query's `String`, a form's text field
/// ([`FormValue::Text`](super::FormValue); a file upload has none).
pub trait TextValue {
    fn text(&self) -> Option<&str>;
}

impl TextValue for String {
    fn text(&self) -> Option<&str> {
        Some(self)
    }
}

impl<V: TextValue> MultiDict<V> {
    /// `d.get(key)` as text: the last value of the key, `None` when there is none (or it is
    /// a file).
    pub fn get_text(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(TextValue::text)
    }

    /// `d.get(key, default)`: the last value's text, else `default`. Spares a port the
    /// `.map(String::as_str).unwrap_or(..)` of every `req.GET.get('who', '')`.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get_text(key).unwrap_or(default)
    }
}

impl<V> FromIterator<(String, V)> for MultiDict<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        MultiDict {
            items: iter.into_iter().collect(),
        }
    }
}

impl<V> IntoIterator for MultiDict<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<V: fmt::Debug> fmt::Debug for MultiDict<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MultiDict(")?;
        f.debug_list().entries(self.items.iter()).finish()?;
        f.write_str(")")
    }
}

/// `webob.util.parse_qsl_text`: a query string (or an urlencoded form) as pairs. `+` is a
/// space, pairs split on `&` and `;`, empty pairs are skipped, a pair without `=` has an
/// empty value, and the percent-decoded bytes are read as UTF-8 (U+FFFD for bad bytes,
/// where Python raises). `qs` is environ text: its chars up to U+00FF are the raw bytes.
pub fn parse_qsl(qs: &str) -> MultiDict {
    parse_qsl_bytes(&super::util::latin1_bytes(qs))
}

/// [`parse_qsl`] over raw bytes (an `application/x-www-form-urlencoded` body).
pub fn parse_qsl_bytes(bytes: &[u8]) -> MultiDict {
    let mut out = MultiDict::new();
    for pair in bytes.split(|&b| b == b'&' || b == b';') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        out.add(decode_component(name), decode_component(value));
    }
    out
}

fn decode_component(raw: &[u8]) -> String {
    let spaced: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    String::from_utf8_lossy(&percent_decode(&spaced)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(d: &MultiDict) -> Vec<(String, String)> {
        d.items().map(|(k, v)| (k.to_owned(), v.clone())).collect()
    }

    #[test]
    fn get_is_last_getall_is_all() {
        let d = parse_qsl("a=1&b=2&a=3");
        assert_eq!(d.get("a").map(String::as_str), Some("3"));
        assert_eq!(d.getall("a"), vec!["1", "3"]);
        assert!(d.getone("a").is_err());
        assert_eq!(d.getone("b"), Ok(Some(&"2".to_owned())));
        assert_eq!(d.getone("c"), Ok(None));
        assert_eq!(d.keys().collect::<Vec<_>>(), vec!["a", "b", "a"]);
    }

    #[test]
    fn text_getters_take_defaults_as_python_get_does() {
        let d = parse_qsl("who=ann&who=bob&empty=");
        assert_eq!(d.get_text("who"), Some("bob"));
        assert_eq!(d.get_or("who", "stranger"), "bob");
        assert_eq!(d.get_or("nobody", "stranger"), "stranger");
        assert_eq!(d.get_or("empty", "x"), "", "an empty value is a value");
        let mut form: MultiDict<super::super::FormValue> = MultiDict::new();
        form.add("name", super::super::FormValue::Text("tea".into()));
        assert_eq!((form.get_or("name", ""), form.get_text("file")), ("tea", None));
    }

    #[test]
    fn set_and_remove() {
        let mut d = parse_qsl("a=1&b=2&a=3");
        d.set("a", "9".into());
        assert_eq!(pairs(&d), vec![("b".into(), "2".into()), ("a".into(), "9".into())]);
        assert_eq!(d.remove("a"), 1);
        assert!(!d.contains_key("a"));
    }

    #[test]
    fn query_strings_like_webob() {
        let d = parse_qsl("a=1;b=x+y&&c&=e&d=%41%2B%zz&e=caf%C3%A9&f=a=b");
        assert_eq!(
            pairs(&d),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "".into()),
                ("".into(), "e".into()),
                ("d".into(), "A+%zz".into()),
                ("e".into(), "café".into()),
                ("f".into(), "a=b".into()),
            ]
        );
        assert!(parse_qsl("").is_empty());
        // Raw non-ASCII bytes arrive as latin-1 chars and are read back as UTF-8.
        assert_eq!(parse_qsl("x=caf\u{c3}\u{a9}").get("x").unwrap(), "café");
    }

    #[test]
    fn query_strings_split_anywhere() {
        // The parser takes a whole string; what matters is that any prefix parses to a
        // prefix of the pairs (no pair is lost or invented at a cut).
        let qs = "a=1&b=2;c=%20&d";
        let all = pairs(&parse_qsl(qs));
        for cut in 0..=qs.len() {
            let head = pairs(&parse_qsl(&qs[..cut]));
            let tail = pairs(&parse_qsl(&qs[cut..]));
            assert!(head.len() + tail.len() >= all.len().saturating_sub(1), "cut {cut}");
            for (i, (k, _)) in head.iter().enumerate().take(head.len().saturating_sub(1)) {
                assert_eq!(k, &all[i].0);
            }
        }
    }
}
