// Command gen writes the Rust crate's typed events (clients/rust/src/events.rs)
// from the JSON Schema of the events (schema/events.schema.json), which
// package event generates. The schema is the one input: the types, their
// fields, which are required, their shapes and which types are critical
// (the "Critical:" mark of a type's description) all come from it. A shape
// the generator does not know makes it fail rather than guess.
//
//	go generate ./clients/rust/gen
//
// A test regenerates the file and fails when the committed one differs, and
// the crate's own test (tests/schema.rs) compares the tables the generated
// file carries with the schema.
package main

//go:generate go run . -schema ../../../schema/events.schema.json -out ../src/events.rs

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

func main() {
	schemaPath := flag.String("schema", "schema/events.schema.json", "the events' JSON Schema")
	out := flag.String("out", "clients/rust/src/events.rs", "the Rust file to write")
	flag.Parse()
	src, err := os.ReadFile(*schemaPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	code, err := Generate(src)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, code, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// criticalMark is how the schema's description of a type says that the
// sealer seals it before replying (package event writes it).
const criticalMark = "Critical: made durable and sealed at once."

// object is a JSON object decoded with its numbers kept as written.
type object = map[string]any

// typeInfo is one client event type as the schema states it.
type typeInfo struct {
	name        string
	rustName    string
	description string
	critical    bool
	fields      []field
}

// field is one property of an event type or of a shared object (actor,
// resource).
type field struct {
	name     string
	required bool
	nullable bool // anyOf [X, null]
	rust     string
	schema   object // the property's schema, as written
}

// enumType is a string enum, named after the first property that uses it.
type enumType struct {
	name   string
	values []string
}

type generator struct {
	defs    object
	enums   []*enumType
	byValue map[string]*enumType
	used    map[string]bool // $defs names the client types reach
}

// Generate returns the Rust source for the schema src.
func Generate(src []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var root object
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("gen: schema: %w", err)
	}
	defs, ok := root["$defs"].(object)
	if !ok {
		return nil, errors.New("gen: schema: no $defs")
	}
	g := &generator{defs: defs, byValue: map[string]*enumType{}, used: map[string]bool{}}
	names, err := g.clientTypes()
	if err != nil {
		return nil, err
	}
	// The shared objects first, so that their enums get their names
	// (auth_method before auth.success's method).
	shared := map[string][]field{}
	for _, d := range []string{"actor", "resource"} {
		fs, err := g.objectFields(d)
		if err != nil {
			return nil, err
		}
		shared[d] = fs
		g.used[d] = true
	}
	if err := g.checkResult(); err != nil {
		return nil, err
	}
	var types []typeInfo
	for _, n := range names {
		t, err := g.eventType(n)
		if err != nil {
			return nil, err
		}
		types = append(types, t)
	}
	return g.render(types, shared), nil
}

// clientTypes returns the types a client may send, in the schema's order.
func (g *generator) clientTypes() ([]string, error) {
	ce, _ := g.defs["client_event"].(object)
	props, _ := ce["properties"].(object)
	typ, _ := props["type"].(object)
	list, ok := typ["enum"].([]any)
	if !ok || len(list) == 0 {
		return nil, errors.New("gen: schema: $defs.client_event.properties.type.enum is missing")
	}
	var names []string
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("gen: schema: client_event type %v is not a string", v)
		}
		names = append(names, s)
	}
	return names, nil
}

func (g *generator) eventType(name string) (typeInfo, error) {
	def, ok := g.defs[name].(object)
	if !ok {
		return typeInfo{}, fmt.Errorf("gen: schema: no $defs entry for type %q", name)
	}
	g.used[name] = true
	desc, _ := def["description"].(string)
	t := typeInfo{name: name, rustName: pascal(strings.NewReplacer(".", "_").Replace(name)), description: desc,
		critical: strings.Contains(desc, criticalMark)}
	props, _ := def["properties"].(object)
	if tp, _ := props["type"].(object); tp["const"] != name {
		return typeInfo{}, fmt.Errorf("gen: schema: type %q: properties.type is not const %q", name, name)
	}
	fs, err := g.fields(name, def, map[string]bool{"type": true})
	if err != nil {
		return typeInfo{}, err
	}
	t.fields = fs
	return t, nil
}

func (g *generator) objectFields(def string) ([]field, error) {
	d, ok := g.defs[def].(object)
	if !ok {
		return nil, fmt.Errorf("gen: schema: no $defs.%s", def)
	}
	return g.fields(def, d, nil)
}

// fields returns the properties of an object schema in their JSON order
// (required ones in the order "required" lists them, then the optional
// ones in name order), skipping those in skip.
func (g *generator) fields(owner string, def object, skip map[string]bool) ([]field, error) {
	if def["type"] != "object" || def["additionalProperties"] != false {
		return nil, fmt.Errorf("gen: schema: %s is not a closed object", owner)
	}
	for k := range def {
		switch k {
		case "title", "description", "type", "required", "properties", "additionalProperties":
		default:
			return nil, fmt.Errorf("gen: schema: %s: keyword %q is not handled", owner, k)
		}
	}
	props, _ := def["properties"].(object)
	required := map[string]bool{}
	var order []string
	req, _ := def["required"].([]any)
	for _, r := range req {
		s := r.(string)
		required[s] = true
		order = append(order, s)
	}
	var optional []string
	for k := range props {
		if !required[k] {
			optional = append(optional, k)
		}
	}
	sort.Strings(optional)
	order = append(order, optional...)
	var out []field
	for _, name := range order {
		if skip[name] {
			continue
		}
		ps, ok := props[name].(object)
		if !ok {
			return nil, fmt.Errorf("gen: schema: %s: required field %q has no schema", owner, name)
		}
		f := field{name: name, required: required[name], schema: ps}
		inner := ps
		if any, ok := ps["anyOf"].([]any); ok && len(ps) == 1 && len(any) == 2 {
			if n, _ := any[1].(object); len(n) == 1 && n["type"] == "null" {
				inner, _ = any[0].(object)
				f.nullable = true
			}
		}
		rt, err := g.rustType(owner+"."+name, name, inner)
		if err != nil {
			return nil, err
		}
		f.rust = rt
		if !f.required || f.nullable {
			if f.required {
				return nil, fmt.Errorf("gen: schema: %s.%s: a required field that may be null is not handled", owner, name)
			}
			f.rust = "Option<" + rt + ">"
		}
		out = append(out, f)
	}
	return out, nil
}

// stringDefs are the $defs whose values are strings with rules of their
// own (length, characters, pattern) that Rust's String holds.
var stringDefs = map[string]bool{
	"text": true, "details": true, "identifier": true, "user_ref": true, "attempted": true,
	"file_name": true, "free_text": true, "hex64": true, "fingerprint": true, "hex": true,
	"base64": true, "certificate": true, "ip": true,
}

// rustType maps a property schema to a Rust type.
func (g *generator) rustType(where, prop string, s object) (string, error) {
	if ref, ok := s["$ref"].(string); ok && len(s) == 1 {
		def := strings.TrimPrefix(ref, "#/$defs/")
		if def == ref {
			return "", fmt.Errorf("gen: schema: %s: $ref %q is not local", where, ref)
		}
		g.used[def] = true
		switch {
		case def == "timestamp" || def == "expiry_time":
			return "Timestamp", nil
		case def == "actor":
			return "Actor", nil
		case def == "resource":
			return "Resource", nil
		case def == "result":
			return "Outcome", nil
		case def == "u32":
			return "u32", nil
		case def == "u64":
			return "u64", nil
		case def == "free_object":
			g.used["free_text"], g.used["free_value"] = true, true
			return "JsonObject", nil
		case stringDefs[def]:
			return "String", nil
		}
		return "", fmt.Errorf("gen: schema: %s: $defs.%s is not a known shape", where, def)
	}
	if vals, ok := s["enum"].([]any); ok && len(s) == 1 {
		return g.enum(prop, vals)
	}
	if s["type"] == "array" && len(s) == 2 {
		items, _ := s["items"].(object)
		it, err := g.rustType(where+"[]", prop, items)
		if err != nil {
			return "", err
		}
		return "Vec<" + it + ">", nil
	}
	if s["type"] == "integer" && len(s) == 3 && s["minimum"] == json.Number("0") {
		if m, ok := s["maximum"].(json.Number); ok {
			if n, err := strconv.ParseUint(string(m), 10, 64); err == nil && n <= 255 {
				return "u8", nil
			}
		}
	}
	b, _ := json.Marshal(s)
	return "", fmt.Errorf("gen: schema: %s: the shape %s is not handled", where, b)
}

func (g *generator) enum(prop string, vals []any) (string, error) {
	var values []string
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("gen: schema: enum of %s has a non-string value", prop)
		}
		values = append(values, s)
	}
	key := strings.Join(values, "\x00")
	if e, ok := g.byValue[key]; ok {
		return e.name, nil
	}
	name := pascal(prop)
	for _, e := range g.enums {
		if e.name == name {
			return "", fmt.Errorf("gen: schema: two different enums named %s", name)
		}
	}
	e := &enumType{name: name, values: values}
	g.enums = append(g.enums, e)
	g.byValue[key] = e
	return name, nil
}

// checkResult checks that $defs.result is the three-form outcome the crate's
// Outcome enum writes.
func (g *generator) checkResult() error {
	r, _ := g.defs["result"].(object)
	props, _ := r["properties"].(object)
	st, _ := props["status"].(object)
	vals, _ := st["enum"].([]any)
	if len(props) != 3 || props["reason"] == nil || props["details"] == nil ||
		fmt.Sprint(vals) != "[success failure partial_success]" {
		return errors.New("gen: schema: $defs.result is no longer {status: success|failure|partial_success, reason, details}: update Outcome")
	}
	g.used["text"], g.used["details"] = true, true
	return nil
}

func (g *generator) render(types []typeInfo, shared map[string][]field) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("// Code generated by clients/rust/gen from schema/events.schema.json; DO NOT EDIT.\n")
	p("// Regenerate with: go generate ./clients/rust/gen\n\n")
	p("//! The typed events: one struct per event type a service may send, the\n")
	p("//! [`Event`] enum over them, the enums and shared objects they use, and the\n")
	p("//! tables ([`EVENT_TYPES`], [`SCHEMA_DEFS`]) that a test compares with the\n")
	p("//! schema.\n\n")
	p("#![allow(clippy::large_enum_variant)]\n\n")
	p("use crate::event::{JsonObject, ObjectWriter, Outcome, RawEvent, Timestamp, WireValue};\n\n")

	for _, e := range g.enums {
		p("/// One of %s.\n", quoteList(e.values))
		p("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\npub enum %s {\n", e.name)
		for _, v := range e.values {
			p("    /// `%s`\n    %s,\n", v, pascal(v))
		}
		p("}\n\nimpl %s {\n    /// The value as the wire writes it.\n    pub fn as_str(self) -> &'static str {\n        match self {\n", e.name)
		for _, v := range e.values {
			p("            %s::%s => %q,\n", e.name, pascal(v), v)
		}
		p("        }\n    }\n}\n\nimpl WireValue for %s {\n    fn write_json(&self, out: &mut String) {\n        crate::json::write_str(out, self.as_str());\n    }\n}\n\n", e.name)
	}

	for _, d := range []string{"actor", "resource"} {
		def := g.defs[d].(object)
		desc, _ := def["description"].(string)
		writeStruct(&b, pascal(d), desc, "", shared[d])
		p("impl WireValue for %s {\n    fn write_json(&self, out: &mut String) {\n        let mut w = ObjectWriter::new(out);\n", pascal(d))
		writeFields(&b, shared[d])
		p("        w.end();\n    }\n}\n\n")
	}

	for _, t := range types {
		writeStruct(&b, t.rustName, t.description, t.name, t.fields)
		p("impl %s {\n    /// The event's type on the wire.\n    pub const TYPE: &'static str = %q;\n", t.rustName, t.name)
		p("    /// Whether the sealer seals this type before replying.\n    pub const CRITICAL: bool = %v;\n\n", t.critical)
		p("    pub(crate) fn write_fields(&self, w: &mut ObjectWriter<'_>) {\n")
		writeFields(&b, t.fields)
		p("    }\n}\n\n")
		p("impl From<%s> for Event {\n    fn from(e: %s) -> Event {\n        Event::%s(e)\n    }\n}\n\n", t.rustName, t.rustName, t.rustName)
	}

	p("/// An audit event a service may send: one variant per type of the\n")
	p("/// schema, and [`Event::Raw`] for an event given as JSON (for example a\n")
	p("/// type newer than this crate, or one built with serde).\n")
	p("#[derive(Debug, Clone, PartialEq)]\npub enum Event {\n")
	for _, t := range types {
		p("    /// `%s`\n    %s(%s),\n", t.name, t.rustName, t.rustName)
	}
	p("    /// An event given as a JSON object (see [`RawEvent`]).\n    Raw(RawEvent),\n}\n\n")
	p("impl Event {\n    /// The event's type, for example `\"vram.sealed\"`.\n    pub fn event_type(&self) -> &str {\n        match self {\n")
	for _, t := range types {
		p("            Event::%s(_) => %s::TYPE,\n", t.rustName, t.rustName)
	}
	p("            Event::Raw(r) => r.event_type(),\n        }\n    }\n\n")
	p("    /// Whether the sealer makes this event durable and seals it before\n    /// replying (the types marked critical in EVENTS.md).\n")
	p("    pub fn is_critical(&self) -> bool {\n        is_critical_type(self.event_type())\n    }\n\n")
	p("    /// Appends the event's JSON object (`type`, `timestamp`, then the\n    /// type's fields) to `out`. An unset timestamp is written as now.\n")
	p("    pub fn write_json(&self, out: &mut String) {\n        if let Event::Raw(r) = self {\n            out.push_str(r.json());\n            return;\n        }\n")
	p("        let mut w = ObjectWriter::new(out);\n        w.field(\"type\", &self.event_type());\n        match self {\n")
	for _, t := range types {
		p("            Event::%s(e) => e.write_fields(&mut w),\n", t.rustName)
	}
	p("            Event::Raw(_) => {}\n        }\n        w.end();\n    }\n}\n\n")

	p("/// Whether `event_type` is one of the critical types of this crate's schema.\n")
	p("pub fn is_critical_type(event_type: &str) -> bool {\n    matches!(\n        event_type,\n")
	var crit []string
	for _, t := range types {
		if t.critical {
			crit = append(crit, strconv.Quote(t.name))
		}
	}
	p("        %s\n    )\n}\n\n", strings.Join(crit, "\n            | "))

	p("/// One field of an event type, as the schema states it.\n#[derive(Debug, Clone, Copy)]\npub struct FieldInfo {\n")
	p("    /// The field's name on the wire.\n    pub name: &'static str,\n    /// Whether the schema requires it.\n    pub required: bool,\n")
	p("    /// Its schema, as canonical JSON (keys sorted, no spaces).\n    pub schema: &'static str,\n}\n\n")
	p("/// One event type, as the schema states it.\n#[derive(Debug, Clone, Copy)]\npub struct EventTypeInfo {\n")
	p("    /// The type's name, for example `\"vram.sealed\"`.\n    pub name: &'static str,\n    /// Whether it is critical.\n    pub critical: bool,\n")
	p("    /// Its fields other than `type`, in the order the crate writes them.\n    pub fields: &'static [FieldInfo],\n}\n\n")
	p("/// Every type a service may send, in the schema's order.\npub static EVENT_TYPES: &[EventTypeInfo] = &[\n")
	for _, t := range types {
		p("    EventTypeInfo {\n        name: %q,\n        critical: %v,\n        fields: &[\n", t.name, t.critical)
		for _, f := range t.fields {
			p("            FieldInfo {\n                name: %q,\n                required: %v,\n                schema: %s,\n            },\n", f.name, f.required, rustStr(canonical(f.schema)))
		}
		p("        ],\n    },\n")
	}
	p("];\n\n")
	var used []string
	for d := range g.used {
		used = append(used, d)
	}
	sort.Strings(used)
	p("/// The schema's `$defs` that the types above use, as canonical JSON.\npub static SCHEMA_DEFS: &[(&str, &str)] = &[\n")
	for _, d := range used {
		p("    (%q, %s),\n", d, rustStr(canonical(g.defs[d])))
	}
	p("];\n")
	return b.Bytes()
}

func writeStruct(b *bytes.Buffer, name, desc, typ string, fields []field) {
	if desc != "" {
		fmt.Fprintf(b, "/// %s\n", desc)
	}
	if typ != "" {
		if desc != "" {
			b.WriteString("///\n")
		}
		fmt.Fprintf(b, "/// Wire type `%s`.\n", typ)
	}
	fmt.Fprintf(b, "#[derive(Debug, Clone, PartialEq)]\npub struct %s {\n", name)
	for _, f := range fields {
		doc := "required"
		if !f.required {
			doc = "optional"
		}
		fmt.Fprintf(b, "    /// `%s` (%s).\n    pub %s: %s,\n", f.name, doc, rustIdent(f.name), f.rust)
	}
	b.WriteString("}\n\n")
}

func writeFields(b *bytes.Buffer, fields []field) {
	for _, f := range fields {
		if strings.HasPrefix(f.rust, "Option<") {
			fmt.Fprintf(b, "        w.opt_field(%q, &self.%s);\n", f.name, rustIdent(f.name))
		} else {
			fmt.Fprintf(b, "        w.field(%q, &self.%s);\n", f.name, rustIdent(f.name))
		}
	}
}

// pascal turns snake_case into PascalCase.
func pascal(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// rustIdent returns a field name as a Rust identifier.
func rustIdent(s string) string {
	switch s {
	case "type", "match", "ref", "mod", "use", "fn", "impl", "self", "struct", "enum", "move", "loop", "in", "as":
		return "r#" + s
	}
	return s
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "`" + v + "`"
	}
	return strings.Join(q, ", ")
}

// rustStr returns s as a Rust raw string literal.
func rustStr(s string) string {
	hashes := "#"
	for strings.Contains(s, "\""+hashes) {
		hashes += "#"
	}
	return "r" + hashes + "\"" + s + "\"" + hashes
}

// canonical writes v as JSON with sorted keys and no spaces, numbers as
// written, and strings escaped only where JSON requires it (quote,
// backslash, and every character outside printable ASCII as \uxxxx, in
// UTF-16 as JSON spells it): the same form the crate's test writes, and
// one that keeps the bidi controls of the patterns out of the Rust source.
func canonical(v any) string {
	var b strings.Builder
	writeCanonical(&b, v)
	return b.String()
}

func writeCanonical(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case json.Number:
		b.WriteString(string(x))
	case string:
		b.WriteByte('"')
		for i := 0; i < len(x); {
			r, n := utf8.DecodeRuneInString(x[i:])
			switch {
			case r == '"' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r < 0x20 || r >= 0x7f && r <= 0xffff:
				fmt.Fprintf(b, "\\u%04x", r)
			case r > 0xffff:
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(b, "\\u%04x\\u%04x", r1, r2)
			default:
				b.WriteString(x[i : i+n])
			}
			i += n
		}
		b.WriteByte('"')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
	case object:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, k)
			b.WriteByte(':')
			writeCanonical(b, x[k])
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("gen: canonical: unexpected %T", v))
	}
}
