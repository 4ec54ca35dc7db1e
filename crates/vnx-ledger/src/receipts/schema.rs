//! The published receipt schema (`receipts/schema/receipt.v2.schema.json`), generated: the
//! chain's envelope (written by hand in `envelope.json`: line links, epoch markers, repair
//! records, attestations) plus one definition per receipt kind, generated from the types in
//! this module and applied by `event_type`.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::*;

/// The envelope every line shares, as written by hand.
const ENVELOPE: &str = include_str!("envelope.json");

/// The schema document, as `receipts/schema/receipt.v2.schema.json` holds it.
pub fn document() -> Value {
    let mut doc: Value = serde_json::from_str(ENVELOPE).unwrap_or_default();
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/$defs".into())
        .into_generator();
    let kinds = kind_schemas(&mut generator);
    let defs: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    if let Some(d) = doc.get_mut("$defs").and_then(Value::as_object_mut) {
        d.extend(defs);
    }
    if let Some(all) = doc.get_mut("allOf").and_then(Value::as_array_mut) {
        for (event, reference) in kinds {
            all.push(json!({
                "$comment": format!("`{event}` receipts have the members of their kind."),
                "if": {"properties": {"event_type": {"const": event}}, "required": ["event_type"]},
                "then": reference.to_value(),
            }));
        }
    }
    doc
}

/// The document as the file holds it: pretty-printed, with a final newline.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}
