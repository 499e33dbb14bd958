package event

import (
	"fmt"
	"math"
	"strconv"
)

//go:generate go run ../internal/testkit/cmd/event-contract -root ..

// The JSON Schemas (draft 2020-12) of the events are generated from the
// registry: the field specs that Decode and CheckCanonical follow are the
// only description of a type, so the schemas cannot drift from validation.
// JSON Schema cannot state every rule; what it cannot is said in the
// schemas' descriptions and $comment (see schemaComment), and a value the
// schema accepts may still be refused by the sealer. The reverse must never
// happen: every event the sealer accepts is valid against its schema.

// SchemaBaseURI is the base of the $id of the generated schemas. The files
// are schema/*.schema.json in the repository; the URI names them, it is not
// fetched by anything.
const SchemaBaseURI = "https://github.com/audit-sealer/audit-sealer/schema/"

const draft202012 = "https://json-schema.org/draft/2020-12/schema"

// schemaComment says once, at the top of the catalogue, what its schemas
// cannot express.
const schemaComment = "What JSON Schema cannot express, and the sealer still checks: " +
	"(1) length limits are in bytes of UTF-8 while maxLength counts characters, so a string of non-ASCII characters can pass maxLength and be refused (too_long); " +
	"(2) a word shaped like a credential (Bearer token, JWT, sk-, ghp_, github_pat_, glpat-, xox?-, an AWS key id, a -----BEGIN block) is refused (looks_like_credential); " +
	"(3) a user_id, attempted_user or subject that starts with token: must be a token fingerprint; " +
	"(4) integers are plain digits: 1.0, 1e3 and -0 are refused although type integer accepts them; " +
	"(5) timestamps may not be more than 24 hours (expires_at: 100 years) ahead of the sealer's clock, and format date-time (calendar dates) is checked only by validators that assert formats, as are the ipv4 and ipv6 formats of ip fields (net/netip, no zone); " +
	"(6) free-form objects (changes, filters) nest at most 4 levels and hold at most 4 KiB once canonical; " +
	"(7) an event is at most 64 KiB encoded, JSON nests at most 16 levels, keys may not repeat (also when spelled with escapes), and strings must be valid UTF-8; " +
	"(8) the canonical form (key order, escapes, number spelling) that the log stores is the sealer's to write and is not a rule for emitters."

// Patterns. The character classes hold the refused characters themselves
// (not \u escapes, which the Go and ECMA-262 regular expression dialects
// spell differently); the generated files show them as JSON \u escapes.
const (
	// refusedAlways: C0 controls but tab and line feed, DEL, C1 controls,
	// the bidirectional controls and U+FEFF.
	refusedAlways = "\x00-\x08\x0b-\x1f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff"
	// patternBase64 is canonical standard base64 with padding: the last
	// symbol before the padding carries no unused bits.
	patternBase64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$"
	// patternTime is the accepted RFC 3339 subset, UTC, years from 2000.
	patternTime = `^(?:2[0-9]{3}|[3-9][0-9]{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?(?:Z|\+00:00)$`
)

// exactPatterns state the classes whose rule is a pattern exactly.
var exactPatterns = map[textClass]string{
	classHex64:       "^[0-9a-f]{64}$",
	classFingerprint: "^token:[0-9a-f]{6,64}$",
	classHex:         "^[0-9a-f]{8,128}$",
}

// textDefs names the text rules in $defs, in output order.
var textDefs = []struct {
	name string
	rule *textRule
}{
	{"text", &ruleText},
	{"details", &ruleDetails},
	{"identifier", &ruleIdent},
	{"user_ref", &ruleUserRef},
	{"attempted", &ruleAttempted},
	{"file_name", &ruleFileName},
	{"free_text", &ruleFree},
	{"hex64", &ruleHex64},
	{"fingerprint", &ruleFingerprint},
	{"hex", &ruleHex},
	{"base64", &ruleBase64},
	{"certificate", &ruleCertificate},
}

// textDefName returns the $defs name of rule r.
func textDefName(r *textRule) string {
	for _, d := range textDefs {
		if d.rule == r {
			return d.name
		}
	}
	panic("event: schema: a text rule has no $defs name")
}

// describeText says in words what rule r accepts; EVENTS.md uses it too.
func describeText(r *textRule) string {
	switch r.class {
	case classEnum:
		return r.enumDetail
	case classHex64:
		return "exactly 64 lower-case hex digits"
	case classFingerprint:
		return "token: followed by 6 to 64 lower-case hex digits"
	case classHex:
		return "8 to 128 lower-case hex digits"
	case classBase64:
		return "canonical standard base64 with padding, at most " + strconv.Itoa(base64Max(r)) + " bytes"
	case classFileName:
		return "a file name: at most " + strconv.Itoa(maxIdentLen) + ` bytes, no "/" or "\", not "." or ".."`
	}
	var d string
	switch r.class {
	case classIdent, classUserRef:
		d = "identifier: at most " + strconv.Itoa(maxIdentLen) + ` bytes, no "..", "/" or "\"`
	default:
		d = "free text: at most " + strconv.Itoa(maxTextLen) + " bytes"
	}
	if r.allowLF {
		d += ", line feed allowed"
	}
	if r.allowEmpty {
		d += ", may be empty"
	}
	if r.class == classUserRef || r.class == classAttempted {
		d += "; a token: value must be a token fingerprint"
	}
	return d
}

func base64Max(r *textRule) int {
	if r.maxLen > 0 {
		return r.maxLen
	}
	return maxTextLen
}

// textSchema returns the schema of a string under rule r.
func textSchema(r *textRule) *jsonObject {
	switch r.class {
	case classEnum:
		return object("enum", r.enum)
	case classHex64, classFingerprint, classHex:
		return object("type", "string", "description", describeText(r), "pattern", exactPatterns[r.class])
	case classBase64:
		// Base64 is ASCII: maxLength counts bytes here, exactly.
		return object("type", "string", "description", describeText(r), "minLength", 4, "maxLength", base64Max(r), "pattern", patternBase64)
	}
	refused := refusedAlways
	if !r.allowLF {
		refused += "\n"
	}
	maxLen, pattern := maxTextLen, ""
	switch r.class {
	case classIdent, classUserRef:
		// No "/" or "\", and no two dots in a row.
		maxLen = maxIdentLen
		c := "[^" + refused + `/\\.]`
		pattern = `^\.?(?:` + c + `+\.)*` + c + `*$`
	case classFileName:
		maxLen = maxIdentLen
		pattern = "^[^" + refused + `/\\]*$`
	default:
		pattern = "^[^" + refused + "]*$"
	}
	o := object("type", "string", "description", describeText(r))
	if !r.allowEmpty {
		o.set("minLength", 1)
	}
	o.set("maxLength", maxLen)
	o.set("pattern", pattern)
	if r.class == classFileName {
		o.set("not", object("enum", []string{".", ".."}))
	}
	o.set("$comment", "maxLength counts characters; the limit is "+strconv.Itoa(maxLen)+" bytes of UTF-8. Credential-shaped words are refused (see the catalogue's $comment).")
	return o
}

// schemaBuilder builds schemas and records which shared $defs they use.
type schemaBuilder struct {
	used map[string]bool
}

func (b *schemaBuilder) ref(name string) *jsonObject {
	if b.used == nil {
		b.used = map[string]bool{}
	}
	b.used[name] = true
	return object("$ref", "#/$defs/"+name)
}

// sharedDefs lists the shared $defs in output order, with their builders.
var sharedDefs []struct {
	name  string
	build func(*schemaBuilder) *jsonObject
}

func init() {
	add := func(name string, build func(*schemaBuilder) *jsonObject) {
		sharedDefs = append(sharedDefs, struct {
			name  string
			build func(*schemaBuilder) *jsonObject
		}{name, build})
	}
	for _, sh := range sharedShapes {
		add(sh.name, func(b *schemaBuilder) *jsonObject {
			o := b.shape(sh.sch, "", sh.doc)
			if sh.sch == &resultSchema {
				o.set("allOf", resultShapeRules())
			}
			return o
		})
	}
	add("timestamp", func(*schemaBuilder) *jsonObject { return timeSchema(timeEvent) })
	add("expiry_time", func(*schemaBuilder) *jsonObject { return timeSchema(timeExpiry) })
	for _, d := range textDefs {
		add(d.name, func(*schemaBuilder) *jsonObject { return textSchema(d.rule) })
	}
	add("ip", func(*schemaBuilder) *jsonObject {
		return object("type", "string", "description", "an IPv4 or IPv6 address as net/netip parses it, without a zone",
			"anyOf", []any{object("format", "ipv4"), object("format", "ipv6")})
	})
	add("u32", func(*schemaBuilder) *jsonObject { return uintSchema(math.MaxUint32) })
	add("u64", func(*schemaBuilder) *jsonObject { return uintSchema(math.MaxUint64) })
	add("free_object", func(b *schemaBuilder) *jsonObject {
		return object("type", "object", "description", "a JSON object: nesting depth at most 4, at most 4 KiB once canonical; keys and strings are free text and may be empty",
			"propertyNames", b.ref("free_text"), "additionalProperties", b.ref("free_value"))
	})
	add("free_value", func(b *schemaBuilder) *jsonObject {
		return object("anyOf", []any{
			object("type", []string{"number", "boolean", "null"}),
			b.ref("free_text"),
			b.ref("free_object"),
			object("type", "array", "items", b.ref("free_value")),
		})
	})
	add("settings", func(b *schemaBuilder) *jsonObject {
		return object("type", "object", "description", "string to string, at most "+strconv.Itoa(maxSettings)+" entries; keys may not be empty, values may",
			"maxProperties", maxSettings, "propertyNames", b.ref("text"), "additionalProperties", b.ref("free_text"))
	})
}

// resultShapeRules are checkResultShape's rules: which of reason and
// details each status requires and allows (an absent key may be null).
func resultShapeRules() []any {
	null, str := object("type", "null"), object("type", "string")
	when := func(status ResultStatus, then *jsonObject) *jsonObject {
		return object("if", object("properties", object("status", object("const", status))), "then", then)
	}
	return []any{
		when(StatusSuccess, object("properties", object("reason", null, "details", null))),
		when(StatusFailure, object("required", []string{"reason"}, "properties", object("reason", str, "details", null))),
		when(StatusPartialSuccess, object("required", []string{"details"}, "properties", object("reason", null, "details", str))),
	}
}

func timeSchema(r timeRule) *jsonObject {
	d := "RFC 3339 in UTC (Z or +00:00), at most 9 fraction digits, not before 2000-01-01, at most 24 hours ahead of the sealer's clock"
	if r == timeExpiry {
		d = "RFC 3339 in UTC (Z or +00:00), at most 9 fraction digits, not before 2000-01-01, at most 100 years ahead of the sealer's clock"
	}
	return object("type", "string", "description", d, "format", "date-time", "pattern", patternTime)
}

func uintSchema(max uint64) *jsonObject {
	return object("type", "integer", "minimum", 0, "maximum", max)
}

// fieldSchema returns the schema of field f.
func (b *schemaBuilder) fieldSchema(f *fieldSpec) *jsonObject {
	var s *jsonObject
	switch f.kind {
	case kindTime:
		s = b.ref("timestamp")
		if f.time == timeExpiry {
			s = b.ref("expiry_time")
		}
	case kindString:
		if f.text.class == classEnum {
			s = textSchema(f.text)
		} else {
			s = b.ref(textDefName(f.text))
		}
	case kindU32:
		s = b.ref("u32")
		if f.max != math.MaxUint32 {
			s = uintSchema(f.max)
		}
	case kindU64, kindOptU64:
		s = b.ref("u64")
	case kindIP:
		s = b.ref("ip")
	case kindActor:
		s = b.ref("actor")
	case kindResource:
		s = b.ref("resource")
	case kindResult, kindOptResult:
		s = b.ref("result")
	case kindStrings:
		s = object("type", "array", "items", b.fieldSchema(&fieldSpec{kind: kindString, text: f.text}))
	case kindU32s:
		s = object("type", "array", "items", b.ref("u32"))
	case kindObject:
		s = b.ref("free_object")
	case kindStringMap:
		s = b.ref("settings")
	default:
		panic("event: schema: unknown field kind")
	}
	if f.optional {
		// An absent optional field may also be sent as null.
		s = object("anyOf", []any{s, object("type", "null")})
	}
	return s
}

// shape returns the schema of an event type (typeName set) or a shared
// shape: every field of sch, the required ones required, nothing else.
func (b *schemaBuilder) shape(sch *schema, typeName, description string) *jsonObject {
	o := object()
	if typeName != "" {
		o.set("title", typeName)
	}
	o.set("description", description)
	o.set("type", "object")
	props := object()
	required := []string{}
	if typeName != "" {
		props.set("type", object("const", typeName))
		required = append(required, "type")
	}
	for i := range sch.fields {
		f := &sch.fields[i]
		props.set(f.name, b.fieldSchema(f))
		if !f.optional {
			required = append(required, f.name)
		}
	}
	o.set("required", required)
	o.set("properties", props)
	o.set("additionalProperties", false)
	return o
}

// typeSchema returns the schema of one event type.
func (b *schemaBuilder) typeSchema(ti *typeInfo) *jsonObject {
	return b.shape(&ti.schema, ti.name, typeSummary(ti))
}

// typeSummary is the one-line description of a type with what follows
// from its registry entry.
func typeSummary(ti *typeInfo) string {
	d := typeDocs[ti.name]
	if ti.critical {
		d += " Critical: made durable and sealed at once."
	}
	if ti.sealer {
		d += " Written by the sealer only; clients may not send it."
	}
	return d
}

// union returns the schema of an event of one of types, dispatched on
// "type".
func (b *schemaBuilder) union(types []string, description string) *jsonObject {
	var branches []any
	for _, t := range types {
		branches = append(branches, object(
			"if", object("required", []string{"type"}, "properties", object("type", object("const", t))),
			"then", b.ref(t)))
	}
	return object("description", description, "type", "object", "required", []string{"type"},
		"properties", object("type", object("enum", types)), "allOf", branches)
}

// defs returns the $defs object: first the types of typeDefs (in order),
// then every shared definition the builder used, in sharedDefs order.
func (b *schemaBuilder) defs(typeDefs *jsonObject) *jsonObject {
	built := map[string]*jsonObject{}
	for grew := true; grew; {
		grew = false
		for _, d := range sharedDefs {
			if b.used[d.name] && built[d.name] == nil {
				built[d.name] = d.build(b)
				grew = true
			}
		}
	}
	for _, d := range sharedDefs {
		if s := built[d.name]; s != nil {
			typeDefs.set(d.name, s)
		}
	}
	return typeDefs
}

// JSONSchema returns the JSON Schema (draft 2020-12) of one event type,
// client or sealer, with the shared definitions it uses under $defs. The
// output is deterministic. An event the event package accepts is valid
// against it; some it refuses are valid too (see CatalogueSchema).
func JSONSchema(typ string) ([]byte, error) {
	ti := typesByName[typ]
	if ti == nil {
		return nil, fmt.Errorf("event: schema: unknown event type %q", typ)
	}
	var b schemaBuilder
	s := object("$schema", draft202012)
	t := b.typeSchema(ti)
	for i, k := range t.keys {
		s.set(k, t.vals[i])
	}
	s.set("$comment", schemaComment)
	s.set("$defs", b.defs(object()))
	return marshalDocument(s)
}

// CatalogueSchema returns the JSON Schema (draft 2020-12) of every event
// type, schema/events.schema.json: each type under $defs by its dotted
// name, $defs/client_event for what a client may send (PROTOCOL.md's emit
// refers to it), $defs/sealer_event for the sealer's own types, and at the
// root any event the log may hold. The output is deterministic.
func CatalogueSchema() ([]byte, error) {
	var b schemaBuilder
	sealer := SealerTypes()
	typeDefs := object(
		"client_event", b.union(Types(), "An event a client may send."),
		"sealer_event", b.union(sealer, "An event the sealer writes about itself; clients may not send these."),
	)
	for _, ti := range registry {
		typeDefs.set(ti.name, b.typeSchema(ti))
	}
	s := object(
		"$schema", draft202012,
		"$id", SchemaBaseURI+"events.schema.json",
		"title", "audit-sealer events",
		"description", "An audit event as the sealer accepts it and stores it in the log (EVENTS.md describes each type). Generated from package event; do not edit.",
		"$comment", schemaComment,
		"if", object("required", []string{"type"}, "properties", object("type", object("enum", sealer))),
		"then", object("$ref", "#/$defs/sealer_event"),
		"else", object("$ref", "#/$defs/client_event"),
		"$defs", b.defs(typeDefs),
	)
	return marshalDocument(s)
}
