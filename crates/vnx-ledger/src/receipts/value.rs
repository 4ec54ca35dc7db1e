//! The bridge between typed receipts and the ledger's JSON values: a serde serializer that
//! writes any plain-data type straight into a ledger [`Value`] (no JSON text in between), and
//! the conversion back into `serde_json` values for reading receipts into their types.
//!
//! The serializer cannot fail: map keys that are not strings become their canonical text (as
//! `serde_json` does for numbers), non-finite floats become `null` (the ledger never holds
//! NaN), and bytes become an array of numbers. The only error serde lets a type raise is a
//! custom one from a hand-written `Serialize` impl (the receipt types derive theirs, so none
//! of them can); such a value is written as the string `<unserializable: why>` in its place,
//! visibly, rather than failing the receipt or dropping it.

use std::borrow::Cow;

use serde::ser::{self, Serialize};

use crate::json::{self, Object, Value};

/// Why a value could not be serialized: only a hand-written `Serialize` impl can say so.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SerializeError(String);

impl ser::Error for SerializeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        SerializeError(msg.to_string())
    }
}

/// Serializes plain data into a ledger value.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Value<'static> {
    value
        .serialize(ValueSerializer)
        .unwrap_or_else(|e| Value::string(format!("<unserializable: {e}>")))
}

/// A ledger value as a `serde_json` value, for deserializing into a type. Integers outside
/// the 64-bit ranges become floats and strings with lone surrogates are replaced lossily:
/// neither occurs in a receipt a type describes.
pub fn to_json(value: &Value<'_>) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(text) => {
            if let Ok(n) = text.parse::<i64>() {
                n.into()
            } else if let Ok(n) = text.parse::<u64>() {
                n.into()
            } else {
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
        }
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::Str(bytes) => serde_json::Value::String(String::from_utf8_lossy(bytes).into()),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Object(o) => serde_json::Value::Object(
            o.iter()
                .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), to_json(v)))
                .collect(),
        ),
    }
}

struct ValueSerializer;

/// The serializer's methods for the integers `Value::int` takes, one line each.
macro_rules! integers {
    ($($method:ident: $t:ty),* $(,)?) => {$(
        fn $method(self, v: $t) -> Result<Self::Ok, Self::Error> {
            Ok(Value::int(v))
        }
    )*};
}

fn float(f: f64) -> Value<'static> {
    if f.is_finite() {
        Value::Float(f)
    } else {
        Value::Null
    }
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value<'static>;
    type Error = SerializeError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = VariantBuilder<SeqBuilder>;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = VariantBuilder<MapBuilder>;

    fn serialize_bool(self, v: bool) -> Result<Self::Ok, Self::Error> {
        Ok(Value::Bool(v))
    }
    integers!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
    );
    fn serialize_u128(self, v: u128) -> Result<Self::Ok, Self::Error> {
        Ok(Value::Int(Cow::Owned(v.to_string())))
    }
    fn serialize_f32(self, v: f32) -> Result<Self::Ok, Self::Error> {
        Ok(float(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Self::Ok, Self::Error> {
        Ok(float(v))
    }
    fn serialize_char(self, v: char) -> Result<Self::Ok, Self::Error> {
        Ok(Value::string(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Self::Ok, Self::Error> {
        Ok(Value::string(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Self::Ok, Self::Error> {
        Ok(Value::Array(v.iter().map(|b| Value::int(*b)).collect()))
    }
    fn serialize_none(self) -> Result<Self::Ok, Self::Error> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Self::Ok, Self::Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Self::Ok, Self::Error> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Self::Ok, Self::Error> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Self::Ok, Self::Error> {
        Ok(Value::string(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Self::Ok, Self::Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Self::Ok, Self::Error> {
        let mut o = Object::default();
        o.insert(variant, to_value(value));
        Ok(Value::Object(o))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, Self::Error> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, Self::Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, Self::Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, Self::Error> {
        Ok(VariantBuilder {
            variant,
            inner: SeqBuilder(Vec::with_capacity(len)),
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Self::Error> {
        Ok(MapBuilder::default())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Self::Error> {
        Ok(MapBuilder::default())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Self::Error> {
        Ok(VariantBuilder {
            variant,
            inner: MapBuilder::default(),
        })
    }
}

struct SeqBuilder(Vec<Value<'static>>);

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Value<'static>;
    type Error = SerializeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        self.0.push(to_value(value));
        Ok(())
    }
    fn end(self) -> Result<Self::Ok, Self::Error> {
        Ok(Value::Array(self.0))
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Value<'static>;
    type Error = SerializeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Self::Ok, Self::Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Value<'static>;
    type Error = SerializeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Self::Ok, Self::Error> {
        ser::SerializeSeq::end(self)
    }
}

#[derive(Default)]
struct MapBuilder {
    object: Object<'static>,
    key: Option<String>,
}

/// A map key as text: strings as they are, anything else as its canonical JSON.
fn key_text(key: Value<'static>) -> String {
    match key {
        Value::Str(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        other => String::from_utf8_lossy(&json::to_canonical(&other)).into_owned(),
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value<'static>;
    type Error = SerializeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Self::Error> {
        self.key = Some(key_text(to_value(key)));
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        let key = self.key.take().unwrap_or_default();
        self.object.insert(&key, to_value(value));
        Ok(())
    }
    fn end(self) -> Result<Self::Ok, Self::Error> {
        Ok(Value::Object(self.object))
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Value<'static>;
    type Error = SerializeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        self.object.insert(key, to_value(value));
        Ok(())
    }
    fn end(self) -> Result<Self::Ok, Self::Error> {
        Ok(Value::Object(self.object))
    }
}

struct VariantBuilder<B> {
    variant: &'static str,
    inner: B,
}

impl<B> VariantBuilder<B> {
    fn wrap(variant: &str, value: Value<'static>) -> Value<'static> {
        let mut o = Object::default();
        o.insert(variant, value);
        Value::Object(o)
    }
}

impl ser::SerializeTupleVariant for VariantBuilder<SeqBuilder> {
    type Ok = Value<'static>;
    type Error = SerializeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        ser::SerializeSeq::serialize_element(&mut self.inner, value)
    }
    fn end(self) -> Result<Self::Ok, Self::Error> {
        let inner = ser::SerializeSeq::end(self.inner)?;
        Ok(Self::wrap(self.variant, inner))
    }
}

impl ser::SerializeStructVariant for VariantBuilder<MapBuilder> {
    type Ok = Value<'static>;
    type Error = SerializeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        ser::SerializeStruct::serialize_field(&mut self.inner, key, value)
    }
    fn end(self) -> Result<Self::Ok, Self::Error> {
        let inner = ser::SerializeStruct::end(self.inner)?;
        Ok(Self::wrap(self.variant, inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(serde::Serialize)]
    struct Sample {
        text: String,
        n: u64,
        neg: i32,
        f: f64,
        list: Vec<Option<bool>>,
        map: std::collections::BTreeMap<u8, String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        absent: Option<String>,
    }

    #[test]
    fn plain_data_becomes_the_same_canonical_json_as_through_text() {
        let s = Sample {
            text: "café \u{1F600} \"q\"".into(),
            n: u64::MAX,
            neg: -7,
            f: 0.1,
            list: vec![Some(true), None],
            map: [(3, "three".into())].into(),
            absent: None,
        };
        let direct = json::to_canonical(&to_value(&s));
        let text = serde_json::to_string(&s).unwrap();
        let through = json::to_canonical(&json::parse(&text, json::Mode::Strict).unwrap());
        assert_eq!(direct, through);
    }

    #[test]
    fn non_finite_floats_become_null() {
        assert_eq!(to_value(&f64::NAN), Value::Null);
        assert_eq!(to_value(&f64::INFINITY), Value::Null);
    }

    proptest! {
        #[test]
        fn strings_and_numbers_round_trip(s in any::<String>(), n in any::<i64>(), f in any::<f64>()) {
            let v = to_value(&(s.clone(), n, f));
            let back = to_json(&v);
            prop_assert_eq!(back[0].as_str(), Some(s.as_str()));
            prop_assert_eq!(back[1].as_i64(), Some(n));
            if f.is_finite() {
                prop_assert_eq!(back[2].as_f64(), Some(f));
            } else {
                prop_assert!(back[2].is_null());
            }
        }
    }
}
