//! `glance/api/v2/schemas.py` (`Controller.image`, `Controller.images`), `glance/schema.py`
//! (`Schema.validate`, `PermissiveSchema`, `CollectionSchema`) and the image schema of
//! `glance/api/v2/images.py` (`get_base_properties`, `_get_base_links`, `get_schema`).
//!
//! The schema is data: `schema-image.json` is `get_schema().raw()` as Glance 33 serves it
//! (the same 4071 bytes, keys in Glance's order), and `schema-image-pformat.json` holds
//! `pprint.pformat(subschema, width=72, sort_dicts=False)` of each property, which
//! jsonschema prints in its error messages; both were written out once from Glance's own
//! definitions. [`validate`] does what `jsonschema.validate` does with this schema (types,
//! enums, lengths, the id pattern, `additionalProperties: {"type": "string"}`) and words its
//! error as `str(ValidationError)`. Hands on to the images deserializer and the schemas
//! resource.

use std::sync::OnceLock;

use may_wsgi::routes::{Fault, NoBodyDeserializer, Resource, RouteMatch, Serializer};
use may_wsgi::{Body, Environ, StartResponse};
use serde_json::{Map, Value};

/// `images.get_schema().raw()`, as `json.dumps` writes it.
pub const IMAGE_SCHEMA: &str = include_str!("schema-image.json");
const PFORMAT: &str = include_str!("schema-image-pformat.json");

/// `images.get_collection_schema().raw()`.
pub fn images_schema() -> String {
    format!(
        concat!(
            r#"{{"name": "images", "properties": {{"images": {{"type": "array", "items": {}}}, "#,
            r#""first": {{"type": "string"}}, "next": {{"type": "string"}}, "schema": {{"type": "string"}}}}, "#,
            r#""links": [{{"rel": "first", "href": "{{first}}"}}, {{"rel": "next", "href": "{{next}}"}}, "#,
            r#"{{"rel": "describedby", "href": "{{schema}}"}}]}}"#
        ),
        IMAGE_SCHEMA
    )
}

struct Parsed {
    properties: Map<String, Value>,
    pformat: Map<String, Value>,
}

fn parsed() -> &'static Parsed {
    static PARSED: OnceLock<Parsed> = OnceLock::new();
    PARSED.get_or_init(|| {
        let schema: Value = serde_json::from_str(IMAGE_SCHEMA).expect("the image schema is JSON");
        let pformat: Value = serde_json::from_str(PFORMAT).expect("the pformat table is JSON");
        Parsed {
            properties: schema["properties"].as_object().cloned().unwrap_or_default(),
            pformat: pformat.as_object().cloned().unwrap_or_default(),
        }
    })
}

/// Python's `repr` of a JSON value, as jsonschema's messages show instances.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str_repr(s),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", py_str_repr(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn type_matches(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => true,
    }
}

/// One failed check: what jsonschema's `ValidationError` carries.
struct Failure {
    message: String,
    validator: &'static str,
    schema_path: String,
    pformat_key: String,
    instance_path: String,
    instance: Value,
}

impl Failure {
    /// `str(ValidationError)`.
    fn to_text(&self) -> String {
        let pretty = parsed()
            .pformat
            .get(&self.pformat_key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .replace('\n', "\n    ");
        format!(
            "{}\n\nFailed validating '{}' in {}:\n    {}\n\nOn {}:\n    {}",
            self.message,
            self.validator,
            self.schema_path,
            pretty,
            self.instance_path,
            py_repr(&self.instance)
        )
    }
}

/// The keywords of one subschema, in the order jsonschema meets them.
fn check(v: &Value, schema: &Value, schema_path: &str, pformat_key: &str, instance_path: &str) -> Option<Failure> {
    let fail = |message: String, validator: &'static str| Failure {
        message,
        validator,
        schema_path: schema_path.to_owned(),
        pformat_key: pformat_key.to_owned(),
        instance_path: instance_path.to_owned(),
        instance: v.clone(),
    };
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types.iter().any(|t| type_matches(v, t)) {
            let names: Vec<String> = types.iter().map(|t| format!("'{t}'")).collect();
            return Some(fail(
                format!("{} is not of type {}", py_repr(v), names.join(", ")),
                "type",
            ));
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum") {
        if !options.contains(v) {
            return Some(fail(
                format!(
                    "{} is not one of {}",
                    py_repr(v),
                    py_repr(&Value::Array(options.clone()))
                ),
                "enum",
            ));
        }
    }
    if let (Some(max), Some(s)) = (schema.get("maxLength").and_then(Value::as_u64), v.as_str()) {
        if s.chars().count() as u64 > max {
            return Some(fail(format!("{} is too long", py_repr(v)), "maxLength"));
        }
    }
    if let (Some(pattern), Some(s)) = (schema.get("pattern").and_then(Value::as_str), v.as_str()) {
        // The only pattern in the image schema is the id's uuid pattern.
        if !crate::timeutils::is_uuid(s) {
            return Some(fail(
                format!("{} does not match {}", py_repr(v), py_str_repr(pattern)),
                "pattern",
            ));
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), v.as_array()) {
        for (i, item) in list.iter().enumerate() {
            let f = check(
                item,
                items,
                &format!("{schema_path}['items']"),
                &format!("{pformat_key}.items"),
                &format!("{instance_path}[{i}]"),
            );
            if f.is_some() {
                return f;
            }
        }
    }
    None
}

/// `Schema('image').validate(obj)`: `Err` is `InvalidObject`'s message,
/// `Provided object does not match schema 'image': <str(ValidationError)>`.
pub fn validate(obj: &Value) -> Result<(), String> {
    let invalid = |reason: String| format!("Provided object does not match schema 'image': {reason}");
    let Some(map) = obj.as_object() else {
        return Err(invalid(format!("{} is not of type 'object'", py_repr(obj))));
    };
    let properties = &parsed().properties;
    for (name, schema) in properties {
        if name == "locations" {
            continue; // not in the port's subset; its add/replace answers 400 elsewhere
        }
        if let Some(v) = map.get(name) {
            let key = py_str_repr(name);
            if let Some(f) = check(
                v,
                schema,
                &format!("schema['properties'][{key}]"),
                name,
                &format!("instance[{key}]"),
            ) {
                return Err(invalid(f.to_text()));
            }
        }
    }
    let additional = serde_json::json!({"type": "string"});
    for (name, v) in map {
        if !properties.contains_key(name) {
            let key = py_str_repr(name);
            if let Some(f) = check(
                v,
                &additional,
                "schema['additionalProperties']",
                "additionalProperties",
                &format!("instance[{key}]"),
            ) {
                return Err(invalid(f.to_text()));
            }
        }
    }
    Ok(())
}

/// `glance.api.v2.schemas.Controller`: the two image schemas.
pub struct Controller {
    image_schema: String,
    image_collection_schema: String,
}

impl Controller {
    pub fn new() -> Controller {
        Controller {
            image_schema: IMAGE_SCHEMA.to_owned(),
            image_collection_schema: images_schema(),
        }
    }

    /// `image(self, req)`.
    pub fn image(&self, _req: &mut Environ, _args: &RouteMatch, _: ()) -> Result<String, Fault> {
        Ok(self.image_schema.clone())
    }

    /// `images(self, req)`.
    pub fn images(&self, _req: &mut Environ, _args: &RouteMatch, _: ()) -> Result<String, Fault> {
        Ok(self.image_collection_schema.clone())
    }
}

/// `wsgi.JSONResponseSerializer.default`: the result is already JSON text.
pub struct JSONResponseSerializer;

impl Serializer for JSONResponseSerializer {
    type Input = String;

    fn serialize(&self, _action: &str, result: String, _req: &mut Environ, start_response: &mut StartResponse) -> Body {
        let length = result.len().to_string();
        start_response.call(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", &length)],
        );
        Body::from(result)
    }
}

/// `schemas.create_resource()`.
pub fn create_resource() -> Resource<Controller, NoBodyDeserializer, JSONResponseSerializer> {
    Resource::new(Controller::new(), NoBodyDeserializer, JSONResponseSerializer)
        .action("image", Controller::image)
        .action("images", Controller::images)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_schema_is_glances() {
        assert_eq!(IMAGE_SCHEMA.len(), 4071);
        let images: Value = serde_json::from_str(&images_schema()).unwrap();
        assert_eq!(images["properties"]["images"]["items"]["name"], "image");
    }

    #[test]
    fn errors_read_as_jsonschemas() {
        // Compared with jsonschema 4.26's str(ValidationError) for the same input.
        let e = validate(&json!({"prop": 5})).unwrap_err();
        assert_eq!(
            e,
            "Provided object does not match schema 'image': 5 is not of type 'string'\n\nFailed validating 'type' in schema['additionalProperties']:\n    {'type': 'string'}\n\nOn instance['prop']:\n    5"
        );
        let e = validate(&json!({"tags": [1]})).unwrap_err();
        assert!(e.ends_with("1 is not of type 'string'\n\nFailed validating 'type' in schema['properties']['tags']['items']:\n    {'type': 'string', 'maxLength': 255}\n\nOn instance['tags'][0]:\n    1"), "{e}");
        let e = validate(&json!({"disk_format": "nope"})).unwrap_err();
        assert!(e.contains("'nope' is not one of [None, 'ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop']\n\nFailed validating 'enum' in schema['properties']['disk_format']:\n    {'type': ['null', 'string'],\n     'description': 'Format of the disk',\n     'enum': [None,\n              'ami',"), "{e}");
        let e = validate(&json!({"id": "abc"})).unwrap_err();
        assert!(e.contains("'abc' does not match '^([0-9a-fA-F]){8}-"), "{e}");
        let e = validate(&json!({"min_disk": "big"})).unwrap_err();
        assert!(e.contains("'big' is not of type 'integer'"), "{e}");
        assert!(validate(&json!({"name": "x".repeat(256)}))
            .unwrap_err()
            .contains("is too long"));
        assert!(validate(&json!({"name": null, "disk_format": "raw", "min_ram": 1, "tags": ["a"], "x": "y"})).is_ok());
    }
}
