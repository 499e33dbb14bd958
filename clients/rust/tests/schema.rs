//! The generated types against the schema they were generated from: a
//! change to schema/events.schema.json that was not followed by
//! `go generate ./clients/rust/gen` fails here (and in the generator's Go
//! test).

use std::collections::BTreeSet;

use audit_sealer_client::events::{EVENT_TYPES, SCHEMA_DEFS};
use audit_sealer_client::Json;

fn schema() -> Json {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/events.schema.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {}", path, e));
    Json::parse(&text).expect("the schema is JSON")
}

#[test]
fn generated_types_match_the_schema() {
    let schema = schema();
    let defs = schema.get("$defs").expect("$defs");
    let names: Vec<&str> = defs
        .get("client_event")
        .and_then(|c| c.get("properties"))
        .and_then(|p| p.get("type"))
        .and_then(|t| t.get("enum"))
        .and_then(Json::as_array)
        .expect("client_event's type enum")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let generated: Vec<&str> = EVENT_TYPES.iter().map(|t| t.name).collect();
    assert_eq!(generated, names, "the generated types are not the schema's client types");
    assert_eq!(names.len(), 35);

    for t in EVENT_TYPES {
        let def = defs.get(t.name).unwrap_or_else(|| panic!("no $defs entry for {}", t.name));
        let desc = def.get("description").and_then(Json::as_str).unwrap_or("");
        assert_eq!(t.critical, desc.contains("Critical:"), "{}: critical", t.name);
        let props = def.get("properties").and_then(Json::as_object).expect("properties");
        let required: BTreeSet<&str> =
            def.get("required").and_then(Json::as_array).unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let schema_fields: BTreeSet<&str> = props.iter().map(|(k, _)| k.as_str()).filter(|k| *k != "type").collect();
        let gen_fields: BTreeSet<&str> = t.fields.iter().map(|f| f.name).collect();
        assert_eq!(gen_fields, schema_fields, "{}: fields", t.name);
        for f in t.fields {
            assert_eq!(f.required, required.contains(f.name), "{}.{}: required", t.name, f.name);
            let s = props.iter().find(|(k, _)| k == f.name).unwrap().1.canonical();
            assert_eq!(f.schema, s, "{}.{}: schema", t.name, f.name);
        }
    }
}

#[test]
fn generated_defs_match_the_schema() {
    let schema = schema();
    let defs = schema.get("$defs").expect("$defs");
    assert!(SCHEMA_DEFS.len() > EVENT_TYPES.len());
    for (name, canonical) in SCHEMA_DEFS {
        let def = defs.get(name).unwrap_or_else(|| panic!("the schema has no $defs.{}", name));
        assert_eq!(*canonical, def.canonical(), "$defs.{} changed since the types were generated", name);
    }
}
