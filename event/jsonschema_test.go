package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// The committed schemas are checked here by an independent validator
// (santhosh-tekuri/jsonschema, formats asserted) against the events the
// event package accepts and a set it refuses. The validator is a test
// dependency only: it is not linked into any binary.

// committedSchemas compiles schema/*.schema.json as committed (not as
// generated: TestContractFiles checks that they are the same) and returns
// the catalogue, the request and the reply schemas.
func committedSchemas(t *testing.T) (events, request, reply *jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, name := range []string{"events", "request", "reply"} {
		doc := loadJSON(t, "../schema/"+name+".schema.json")
		if err := c.AddResource(event.SchemaBaseURI+name+".schema.json", doc); err != nil {
			t.Fatal(err)
		}
	}
	compile := func(name string) *jsonschema.Schema {
		s, err := c.Compile(event.SchemaBaseURI + name + ".schema.json")
		if err != nil {
			t.Fatalf("%s.schema.json: %v", name, err)
		}
		return s
	}
	return compile("events"), compile("request"), compile("reply")
}

func loadJSON(t *testing.T, path string) any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

func instance(t *testing.T, raw string) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, raw)
	}
	return v
}

// typeSchema compiles event.JSONSchema(typ), the schema that audit-sealer
// schema TYPE prints.
func typeSchema(t *testing.T, typ string) *jsonschema.Schema {
	t.Helper()
	data, err := event.JSONSchema(typ)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	url := "mem:///" + typ + ".schema.json"
	if err := c.AddResource(url, instance(t, string(data))); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("JSONSchema(%q): %v", typ, err)
	}
	return s
}

// acceptedEvents returns every example event the repository has, by name,
// each as sent and in canonical form. It fails the test if the event
// package refuses one.
func acceptedEvents(t *testing.T) [][2]string {
	var out [][2]string
	add := func(name, raw string, now time.Time) {
		ev, err := event.Decode([]byte(raw), event.DecodeOptions{Now: now, AllowSealerEvents: true})
		if err != nil {
			t.Fatalf("%s: the event package refuses an example: %v", name, err)
		}
		canon, err := event.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, [2]string{name, raw}, [2]string{name + " (canonical)", string(canon)})
	}
	for _, ex := range event.ValidExampleJSON() {
		add(ex[0], ex[1], event.TestNow)
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for i := range 16 {
		_, raw := testkit.EventJSON(i, now)
		add("testkit.EventJSON", string(raw), now)
		_, raw = testkit.EscapeEvent(i, now)
		add("testkit.EscapeEvent", string(raw), now)
	}
	add("testkit.LargeEvent", string(testkit.LargeEvent(7, now)), now)
	return out
}

// TestSchemaAcceptsEveryExample: every example event of the repository,
// which the event package accepts, is valid against the committed
// catalogue and against its type's own schema; a client type's is also
// valid as the event of an emit request. Every type has an example.
func TestSchemaAcceptsEveryExample(t *testing.T) {
	events, request, _ := committedSchemas(t)
	perType := map[string]*jsonschema.Schema{}
	for _, ex := range acceptedEvents(t) {
		name, raw := ex[0], ex[1]
		v := instance(t, raw)
		typ := v.(map[string]any)["type"].(string)
		if err := events.Validate(v); err != nil {
			t.Errorf("%s: events.schema.json refuses it: %v", name, err)
		}
		if perType[typ] == nil {
			perType[typ] = typeSchema(t, typ)
		}
		if err := perType[typ].Validate(v); err != nil {
			t.Errorf("%s: JSONSchema(%q) refuses it: %v", name, typ, err)
		}
		if !strings.HasPrefix(typ, "audit.") {
			req := instance(t, `{"op":"emit","id":"1","durable":true,"event":`+raw+`}`)
			if err := request.Validate(req); err != nil {
				t.Errorf("%s: request.schema.json refuses it in an emit: %v", name, err)
			}
		}
	}
	for _, typ := range append(event.Types(), event.SealerTypes()...) {
		if perType[typ] == nil {
			t.Errorf("%s: no example event; add one to examples_test.go", typ)
		}
	}
}

// example returns the example named name as a JSON object to change.
func example(t *testing.T, name string) map[string]any {
	t.Helper()
	for _, ex := range event.ValidExampleJSON() {
		if ex[0] == name {
			var m map[string]any
			d := json.NewDecoder(strings.NewReader(ex[1]))
			d.UseNumber()
			if err := d.Decode(&m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no example %q", name)
	return nil
}

// TestSchemaRefusesWhatDecodeRefuses: events the event package refuses for
// a reason JSON Schema can express are refused by the committed catalogue
// too. Each case checks the rule Decode gives, so that the event is refused
// for the reason the case names.
func TestSchemaRefusesWhatDecodeRefuses(t *testing.T) {
	events, request, _ := committedSchemas(t)
	cases := []struct {
		name, example, rule string
		change              func(m map[string]any)
	}{
		{"missing field", "auth.success", event.RuleRequired, func(m map[string]any) { delete(m, "service_id") }},
		{"missing nested field", "authz.granted", event.RuleRequired, func(m map[string]any) { delete(m["actor"].(map[string]any), "auth_method") }},
		{"required null", "auth.success", event.RuleRequired, func(m map[string]any) { m["path"] = nil }},
		{"missing type", "auth.success", event.RuleRequired, func(m map[string]any) { delete(m, "type") }},
		{"unknown type", "auth.success", event.RuleUnknownType, func(m map[string]any) { m["type"] = "auth.maybe" }},
		{"unknown field", "auth.success", event.RuleUnknownField, func(m map[string]any) { m["extra"] = "x" }},
		{"unknown nested field", "authz.denied", event.RuleUnknownField, func(m map[string]any) { m["resource"].(map[string]any)["owner"] = "x" }},
		{"another type's field", "token.revoked", event.RuleUnknownField, func(m map[string]any) { m["scope"] = []any{"read"} }},
		{"wrong enum", "seal.verification_failed", event.RuleInvalidEnum, func(m map[string]any) { m["severity"] = "CRITICAL" }},
		{"wrong nested enum", "auth.success", event.RuleInvalidEnum, func(m map[string]any) { m["actor"].(map[string]any)["auth_method"] = "password" }},
		{"wrong type: string for integer", "task.submitted", event.RuleWrongType, func(m map[string]any) { m["max_tokens"] = "512" }},
		{"wrong type: string for array", "token.created", event.RuleWrongType, func(m map[string]any) { m["scope"] = "read" }},
		{"wrong type: number in string array", "token.created", event.RuleWrongType, func(m map[string]any) { m["scope"] = []any{json.Number("1")} }},
		{"wrong type: string for object", "pool.modified", event.RuleWrongType, func(m map[string]any) { m["changes"] = "replicas=4" }},
		{"empty string", "auth.failure", event.RuleEmpty, func(m map[string]any) { m["reason"] = "" }},
		{"above u32", "task.completed", event.RuleOutOfRange, func(m map[string]any) { m["tokens_generated"] = json.Number("4294967296") }},
		{"above u64", "task.completed", event.RuleOutOfRange, func(m map[string]any) { m["duration_ms"] = json.Number("18446744073709551616") }},
		{"negative", "vram.sealed", event.RuleOutOfRange, func(m map[string]any) { m["gpu_device"] = json.Number("-1") }},
		{"risk_score above 100", "security.suspicious_activity", event.RuleOutOfRange, func(m map[string]any) { m["risk_score"] = json.Number("101") }},
		{"upper-case hex", "task.submitted", event.RuleNotHex64, func(m map[string]any) { m["prompt_hash"] = strings.ToUpper(m["prompt_hash"].(string)) }},
		{"short digest", "vram.sealed", event.RuleNotHex64, func(m map[string]any) { m["digest"] = "abc123" }},
		{"not a fingerprint", "token.revoked", event.RuleNotFingerprint, func(m map[string]any) { m["token_fingerprint"] = "token:xyz123" }},
		{"key id not hex", "audit.key_introduced", event.RuleNotHex, func(m map[string]any) { m["key_id"] = "prod-key" }},
		{"non-canonical base64", "audit.key_introduced", event.RuleNotBase64, func(m map[string]any) {
			m["public_key"] = "LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIF="
		}},
		{"control character", "auth.failure", event.RuleControlCharacter, func(m map[string]any) { m["reason"] = "bad\u0007bell" }},
		{"C1 control", "auth.failure", event.RuleControlCharacter, func(m map[string]any) { m["reason"] = "bad\u0085" }},
		{"carriage return", "auth.failure", event.RuleCRNotAllowed, func(m map[string]any) { m["reason"] = "a\rb" }},
		{"line feed outside details", "auth.failure", event.RuleLFNotAllowed, func(m map[string]any) { m["reason"] = "a\nb" }},
		{"bidi control", "auth.failure", event.RuleBidiControl, func(m map[string]any) { m["path"] = "/v2/\u202etxt" }},
		{"byte order mark", "authz.granted", event.RuleBidiControl, func(m map[string]any) { m["action"] = "\ufeffread" }},
		{"dots in identifier", "pool.created", event.RulePathSeparator, func(m map[string]any) { m["pool_id"] = "pool..7" }},
		{"slash in identifier", "authz.granted", event.RulePathSeparator, func(m map[string]any) { m["resource"].(map[string]any)["resource_id"] = "pools/7" }},
		{"file name ..", "audit.sealer_started", event.RulePathSeparator, func(m map[string]any) { m["torn_tail_kept_as"] = ".." }},
		{"identifier too long", "auth.success", event.RuleTooLong, func(m map[string]any) { m["service_id"] = strings.Repeat("s", 257) }},
		{"text too long", "auth.failure", event.RuleTooLong, func(m map[string]any) { m["reason"] = strings.Repeat("r", 1025) }},
		{"success with a reason", "task.completed", event.RuleUnknownField, func(m map[string]any) { m["result"] = map[string]any{"status": "success", "reason": "x"} }},
		{"failure without a reason", "data.inference_executed", event.RuleRequired, func(m map[string]any) { m["result"] = map[string]any{"status": "failure"} }},
		{"partial success with a reason", "task.completed", event.RuleUnknownField, func(m map[string]any) {
			m["result"] = map[string]any{"status": "partial_success", "details": "d", "reason": "r"}
		}},
		{"timestamp with a space", "auth.success", event.RuleInvalidTimestamp, func(m map[string]any) { m["timestamp"] = "2026-11-27 10:00:00Z" }},
		{"timestamp not UTC", "auth.success", event.RuleInvalidTimestamp, func(m map[string]any) { m["timestamp"] = "2026-11-27T10:00:00+01:00" }},
		{"timestamp with ten fraction digits", "auth.success", event.RuleInvalidTimestamp, func(m map[string]any) { m["timestamp"] = "2026-11-27T10:00:00.1234567891Z" }},
		{"timestamp on February 30", "auth.success", event.RuleInvalidTimestamp, func(m map[string]any) { m["timestamp"] = "2026-02-30T10:00:00Z" }},
		{"timestamp before 2000", "auth.success", event.RuleTimestampTooOld, func(m map[string]any) { m["timestamp"] = "1999-12-31T23:59:59Z" }},
		{"not an IP address", "auth.failure", event.RuleInvalidIP, func(m map[string]any) { m["ip"] = "10.0.0.256" }},
		{"IP address with a zone", "auth.failure", event.RuleInvalidIP, func(m map[string]any) { m["ip"] = "fe80::1%eth0" }},
		{"settings value not a string", "audit.sealer_started", event.RuleWrongType, func(m map[string]any) { m["settings"] = map[string]any{"batch_max": json.Number("100")} }},
		{"control character in changes", "pool.modified", event.RuleControlCharacter, func(m map[string]any) { m["changes"] = map[string]any{"note": []any{"a\u0000b"}} }},
	}
	for _, tc := range cases {
		m := example(t, tc.example)
		tc.change(m)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
		raw := bytes.TrimSpace(buf.Bytes())
		_, err := event.Decode(raw, event.DecodeOptions{Now: event.TestNow, AllowSealerEvents: true})
		var ve *event.ValidationError
		if !errors.As(err, &ve) || ve.Rule != tc.rule {
			t.Errorf("%s: Decode gives %v, want rule %s", tc.name, err, tc.rule)
			continue
		}
		if events.Validate(instance(t, string(raw))) == nil {
			t.Errorf("%s: events.schema.json accepts an event Decode refuses (%s):\n%s", tc.name, tc.rule, raw)
		}
		if !strings.HasPrefix(tc.example, "audit.") && request.Validate(instance(t, `{"op":"emit","event":`+string(raw)+`}`)) == nil {
			t.Errorf("%s: request.schema.json accepts an emit of an event Decode refuses (%s)", tc.name, tc.rule)
		}
	}
}

// TestRequestSchemaRefusesSealerTypes: a client may not send the sealer's
// own types, in the schema as in the sealer.
func TestRequestSchemaRefusesSealerTypes(t *testing.T) {
	_, request, _ := committedSchemas(t)
	for _, ex := range event.ValidExampleJSON() {
		if !strings.HasPrefix(ex[0], "audit.") {
			continue
		}
		_, err := event.Decode([]byte(ex[1]), event.DecodeOptions{Now: event.TestNow})
		var ve *event.ValidationError
		if !errors.As(err, &ve) || ve.Rule != event.RuleSealerTypeNotAllowed {
			t.Fatalf("%s: Decode without AllowSealerEvents gives %v", ex[0], err)
		}
		if request.Validate(instance(t, `{"op":"emit","event":`+ex[1]+`}`)) == nil {
			t.Errorf("%s: request.schema.json accepts a sealer event in an emit", ex[0])
		}
	}
}

var (
	quotedLine = regexp.MustCompile(`'(\{.*\})'`)
	codeSpan   = regexp.MustCompile("`(\\{[^`]*\\})`")
)

// TestProtocolExamples: every complete request and reply line in
// PROTOCOL.md is valid against the committed request and reply schemas.
// Lines with elisions ("...") are not JSON and are skipped.
func TestProtocolExamples(t *testing.T) {
	_, request, reply := committedSchemas(t)
	doc, err := os.ReadFile("../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	var candidates []string
	for _, line := range strings.Split(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "{") {
			candidates = append(candidates, line)
		}
		for _, m := range quotedLine.FindAllStringSubmatch(line, -1) {
			candidates = append(candidates, m[1])
		}
		for _, m := range codeSpan.FindAllStringSubmatch(line, -1) {
			candidates = append(candidates, m[1])
		}
	}
	requests, replies := 0, 0
	for _, c := range candidates {
		if !json.Valid([]byte(c)) {
			continue
		}
		v := instance(t, c)
		if _, ok := v.(map[string]any)["op"]; ok {
			requests++
			if err := request.Validate(v); err != nil {
				t.Errorf("request.schema.json refuses PROTOCOL.md's %s: %v", c, err)
			}
			continue
		}
		replies++
		if err := reply.Validate(v); err != nil {
			t.Errorf("reply.schema.json refuses PROTOCOL.md's %s: %v", c, err)
		}
	}
	if requests < 6 || replies < 10 {
		t.Errorf("found %d requests and %d replies in PROTOCOL.md; the extraction is broken", requests, replies)
	}
	for _, good := range []string{
		`{"op":"ping","filter":{"usr":"x"},"event":null}`, // fields an op does not use are ignored
		`{"op":"report_dropped","count":3,"reason":""}`,
		`{"op":"query","filter":{"user":"admin","from":"2026-11-01T00:00:00+01:00"},"limit":0}`,
	} {
		if err := request.Validate(instance(t, good)); err != nil {
			t.Errorf("request.schema.json refuses %s: %v", good, err)
		}
	}
	for _, bad := range []string{
		`{"id":"1"}`,                                           // no op
		`{"op":"shout"}`,                                       // unknown op
		`{"op":"ping","extra":1}`,                              // unknown field
		`{"op":"emit","id":"1"}`,                               // emit without an event
		`{"op":"emit","event":null}`,                           // emit with a null event
		`{"op":"report_dropped","count":0}`,                    // report_dropped needs a count above 0
		`{"op":"ping","durable":"yes"}`,                        // wrong type
		`{"op":"query","filter":{"usr":"x"}}`,                  // unknown filter field
		`{"op":"ping","id":"` + strings.Repeat("i", 65) + `"}`, // id too long
		`{"op":"ping","filter":null}`,                          // null where not an event
		`{"op":"report_dropped","count":1,"reason":"a\rb"}`,    // a reason the event's text rules refuse
	} {
		if request.Validate(instance(t, bad)) == nil {
			t.Errorf("request.schema.json accepts %s", bad)
		}
	}
	for _, bad := range []string{
		`{"id":"1"}`,   // no ok
		`{"ok":false}`, // failure without an error
		`{"ok":true,"error":{"code":"internal","message":"x"}}`,
		`{"ok":false,"error":{"code":"oops","message":"x"}}`,
	} {
		if reply.Validate(instance(t, bad)) == nil {
			t.Errorf("reply.schema.json accepts %s", bad)
		}
	}
}

// TestJSONSchemaUnknownType: JSONSchema names an unknown type in its error.
func TestJSONSchemaUnknownType(t *testing.T) {
	if _, err := event.JSONSchema("auth.maybe"); err == nil || !strings.Contains(err.Error(), `"auth.maybe"`) {
		t.Fatalf("JSONSchema(unknown) = %v", err)
	}
}
