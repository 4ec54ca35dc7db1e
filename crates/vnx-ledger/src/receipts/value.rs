//! The bridge between typed receipts and the ledger's JSON values: any plain-data type into a
//! ledger [`Value`] through `serde_json`'s value (no JSON text in between), and the ledger's
//! values back into `serde_json` values for reading receipts into their types.
//!
//! Writing cannot fail: map keys that are not strings become their text (as `serde_json`
//! makes them), non-finite floats become `null` (the ledger never holds NaN), and bytes
//! become an array of numbers. What `serde_json` refuses (a custom error from a hand-written
//! `Serialize` impl, an integer beyond 64 bits: the receipt types have neither) is written as
//! the string `<unserializable: why>` in the value's place, visibly, rather than failing the
//! receipt or dropping it.

use serde::Serialize;

use crate::json::{Object, Value};

/// Serializes plain data into a ledger value.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Value<'static> {
    serde_json::to_value(value).map_or_else(
        |e| Value::string(format!("<unserializable: {e}>")),
        from_json,
    )
}

/// A `serde_json` value as a ledger value.
fn from_json(value: serde_json::Value) -> Value<'static> {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i128() {
            Some(i) => Value::int(i),
            None => n.as_f64().map_or(Value::Null, Value::Float),
        },
        serde_json::Value::String(s) => Value::string(s),
        serde_json::Value::Array(items) => Value::Array(items.into_iter().map(from_json).collect()),
        serde_json::Value::Object(members) => {
            let mut o = Object::default();
            for (key, v) in members {
                o.insert(&key, from_json(v));
            }
            Value::Object(o)
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
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
