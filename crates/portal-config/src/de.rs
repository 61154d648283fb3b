//! Deserialising the merged tree (`layers::Node`) into the settings structs.
//!
//! Values from the file and flags are already typed; text from the environment is typed by the
//! setting it is read into, so `PORTAL_RULES_CLUSTER_ENABLED=false` is a boolean,
//! `PORTAL_RULES_FOLDERS=/a,/b` a list and `PORTAL_KUBERNETES_CONTEXT=true` a string.

use serde::de::value::{Error, MapAccessDeserializer, SeqDeserializer, StrDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Unexpected, Visitor};

use crate::layers::{Node, Value};

/// Deserialises one node of the tree. Errors are plain messages; `serde_path_to_error` adds the
/// path and the tree gives the path its source.
pub(crate) struct NodeDeserializer<'a>(pub(crate) &'a Node);

/// Sends a typed request to a scalar's own deserializer; sections and lists answer for
/// themselves, as `deserialize_any` does.
macro_rules! forward_to_leaf {
    ($($method:ident($($arg:ident: $type:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $type,)* visitor: V) -> Result<V::Value, Error> {
            match &self.0.value {
                Value::Scalar(json) => json.clone().$method($($arg,)* visitor).map_err(de::Error::custom),
                Value::Text(text) => TextDeserializer(text).$method($($arg,)* visitor),
                Value::Map(_) | Value::Seq(_) => self.deserialize_any(visitor),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for NodeDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.0.value {
            Value::Map(entries) => visitor.visit_map(EntriesAccess { entries: entries.iter(), next: None }),
            Value::Seq(items) => visitor.visit_seq(ItemsAccess(items.iter())),
            Value::Scalar(json) => json.clone().deserialize_any(visitor).map_err(de::Error::custom),
            Value::Text(text) => TextDeserializer(text).deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.0.value {
            Value::Map(_) | Value::Seq(_) => visitor.visit_some(self),
            Value::Scalar(json) => json.clone().deserialize_option(visitor).map_err(de::Error::custom),
            Value::Text(text) => TextDeserializer(text).deserialize_option(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Error> {
        match &self.0.value {
            Value::Map(_) | Value::Seq(_) => visitor.visit_newtype_struct(self),
            Value::Scalar(json) => json.clone().deserialize_newtype_struct(name, visitor).map_err(de::Error::custom),
            Value::Text(text) => TextDeserializer(text).deserialize_newtype_struct(name, visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match &self.0.value {
            // `{variant: value}`, the externally tagged form.
            Value::Map(entries) => {
                visitor.visit_enum(MapAccessDeserializer::new(EntriesAccess { entries: entries.iter(), next: None }))
            }
            Value::Seq(_) => self.deserialize_any(visitor),
            Value::Scalar(json) => json.clone().deserialize_enum(name, variants, visitor).map_err(de::Error::custom),
            Value::Text(text) => TextDeserializer(text).deserialize_enum(name, variants, visitor),
        }
    }

    forward_to_leaf! {
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }
}

struct EntriesAccess<'a> {
    entries: std::slice::Iter<'a, (String, Node)>,
    next: Option<&'a Node>,
}

impl<'de> MapAccess<'de> for EntriesAccess<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some((key, node)) = self.entries.next() else { return Ok(None) };
        self.next = Some(node);
        let key: StrDeserializer<'_, Error> = key.as_str().into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.next.take() {
            Some(node) => seed.deserialize(NodeDeserializer(node)),
            None => Err(de::Error::custom("a value was read before its key (a bug in Portal)")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct ItemsAccess<'a>(std::slice::Iter<'a, Node>);

impl<'de> SeqAccess<'de> for ItemsAccess<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.0.next().map(|node| seed.deserialize(NodeDeserializer(node))).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// Text from an environment variable, read as the type asked for: `true`/`false` for
/// booleans, numbers for numbers, comma-separated items for lists, empty for "not set"
/// (`null`) in optional settings.
struct TextDeserializer<'a>(&'a str);

/// Parses the text as a number of the type asked for.
macro_rules! parse_number {
    ($($method:ident => $visit:ident,)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0.trim().parse() {
                Ok(number) => visitor.$visit(number),
                Err(_) => Err(de::Error::invalid_value(Unexpected::Str(self.0), &visitor)),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for TextDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(self.0)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.trim().to_ascii_lowercase().as_str() {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(de::Error::invalid_value(Unexpected::Str(self.0), &"true or false")),
        }
    }

    parse_number! {
        deserialize_i8 => visit_i8,
        deserialize_i16 => visit_i16,
        deserialize_i32 => visit_i32,
        deserialize_i64 => visit_i64,
        deserialize_i128 => visit_i128,
        deserialize_u8 => visit_u8,
        deserialize_u16 => visit_u16,
        deserialize_u32 => visit_u32,
        deserialize_u64 => visit_u64,
        deserialize_u128 => visit_u128,
        deserialize_f32 => visit_f32,
        deserialize_f64 => visit_f64,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // An empty variable unsets an optional setting (`PORTAL_KUBERNETES_CONTEXT=`).
        if self.0.trim().is_empty() { visitor.visit_none() } else { visitor.visit_some(self) }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.0.trim().is_empty() {
            visitor.visit_unit()
        } else {
            Err(de::Error::invalid_value(Unexpected::Str(self.0), &"nothing"))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // `a, b,` is `[a, b]`; an empty variable is an empty list.
        let items = self.0.split(',').map(str::trim).filter(|item| !item.is_empty()).map(TextDeserializer);
        let mut items = SeqDeserializer::new(items);
        let value = visitor.visit_seq(&mut items)?;
        items.end()?;
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let variant: StrDeserializer<'_, Error> = self.0.trim().into_deserializer();
        visitor.visit_enum(variant)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf map struct identifier
    }
}

impl<'de> IntoDeserializer<'de, Error> for TextDeserializer<'_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}
