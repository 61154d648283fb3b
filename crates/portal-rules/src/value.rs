//! JSON to CEL values, the way Kubernetes does it: integers are `int` (so
//! `object.spec.replicas + 1` works), strings are borrowed from the JSON, not copied.

use std::collections::HashMap;

use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString};
use cel::common::value::Val;
use serde_json::Value as Json;

use crate::shared::Shared;

/// A CEL value that may borrow strings from the JSON it was built from.
pub(crate) type BoxedVal<'a> = Box<dyn Val + 'a>;

/// Converts a JSON value into a CEL value borrowing from it.
pub(crate) fn to_val(json: &Json) -> BoxedVal<'_> {
    match json {
        Json::Null => Box::new(CelNull),
        Json::Bool(b) => Box::new(CelBool::from(*b)),
        Json::Number(n) => number(n),
        Json::String(s) => Box::new(CelString::from(s.as_str())),
        Json::Array(items) => list(items.iter().map(to_val).collect()),
        Json::Object(fields) => Box::new(Shared::new(CelMap::from(
            fields.iter().map(|(key, value)| (CelMapKey::from(key.as_str()), to_val(value))).collect::<HashMap<_, _>>(),
        ))),
    }
}

/// Converts a JSON value into a CEL value of its own (strings copied), which can outlive the JSON
/// and be shared across evaluations: objects read by cluster lookups.
pub(crate) fn to_owned_val(json: &Json) -> Box<dyn Val> {
    match json {
        Json::Null => Box::new(CelNull),
        Json::Bool(b) => Box::new(CelBool::from(*b)),
        Json::Number(n) => number(n),
        Json::String(s) => Box::new(CelString::from(s.clone())),
        Json::Array(items) => Box::new(Shared::new(CelList::from(items.iter().map(to_owned_val).collect::<Vec<_>>()))),
        Json::Object(fields) => Box::new(Shared::new(CelMap::from(
            fields
                .iter()
                .map(|(key, value)| (CelMapKey::from(key.clone()), to_owned_val(value)))
                .collect::<HashMap<_, _>>(),
        ))),
    }
}

/// An integer that fits 64 signed bits is `int`; any other number is `double`, as the API server
/// decodes JSON (`sigs.k8s.io/json`: int64 when possible, float64 otherwise). A `uint` never comes
/// from an object.
fn number<'a>(n: &serde_json::Number) -> BoxedVal<'a> {
    match n.as_i64() {
        Some(i) => Box::new(CelInt::from(i)),
        None => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
    }
}

/// An owned string value.
pub(crate) fn string<'a>(s: impl Into<String>) -> BoxedVal<'a> {
    Box::new(CelString::from(s.into()))
}

/// A borrowed string value.
pub(crate) fn str_val(s: &str) -> BoxedVal<'_> {
    Box::new(CelString::from(s))
}

pub(crate) fn null<'a>() -> BoxedVal<'a> {
    Box::new(CelNull)
}

/// A map built from named fields.
pub(crate) fn map<'a>(fields: Vec<(&'a str, BoxedVal<'a>)>) -> BoxedVal<'a> {
    Box::new(Shared::new(CelMap::from(
        fields.into_iter().map(|(key, value)| (CelMapKey::from(key), value)).collect::<HashMap<_, _>>(),
    )))
}

pub(crate) fn list<'a>(items: Vec<BoxedVal<'a>>) -> BoxedVal<'a> {
    Box::new(Shared::new(CelList::from(items)))
}

/// Converts a CEL result back to JSON, for `portal eval` and messages.
pub fn to_json(value: &cel::Value) -> Json {
    use cel::Value;
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => Json::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or_else(|| non_finite(*f), Json::Number),
        Value::String(s) => Json::String(s.as_str().to_owned()),
        Value::Bytes(b) => Json::Array(b.iter().map(|byte| Json::from(*byte)).collect()),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => Json::Object(map.map.iter().map(|(key, value)| (key_string(key), to_json(value))).collect()),
        Value::Duration(d) => Json::String(format!("{}s", d.num_milliseconds() as f64 / 1000.0)),
        Value::Timestamp(t) => Json::String(t.to_rfc3339()),
        other => Json::String(format!("{other:?}")),
    }
}

/// A double JSON has no number for, as the proto3 JSON mapping (CEL's own JSON form of
/// `google.protobuf.Value`) writes it: `"Infinity"`, `"-Infinity"` or `"NaN"`.
fn non_finite(f: f64) -> Json {
    Json::String(
        match (f.is_nan(), f.is_sign_positive()) {
            (true, _) => "NaN",
            (false, true) => "Infinity",
            (false, false) => "-Infinity",
        }
        .to_owned(),
    )
}

fn key_string(key: &cel::objects::Key) -> String {
    use cel::objects::Key;
    match key {
        Key::String(s) => s.as_str().to_owned(),
        Key::Int(i) => i.to_string(),
        Key::Uint(u) => u.to_string(),
        Key::Bool(b) => b.to_string(),
    }
}
