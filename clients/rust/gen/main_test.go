package main

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/audit-sealer/audit-sealer/event"
)

// TestGeneratedRustIsCurrent fails when clients/rust/src/events.rs is not
// what the generator writes from the committed schema: run
// go generate ./clients/rust/gen.
func TestGeneratedRustIsCurrent(t *testing.T) {
	src, err := os.ReadFile("../../../schema/events.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../src/events.rs")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("clients/rust/src/events.rs differs from what the generator writes from schema/events.schema.json: run go generate ./clients/rust/gen")
	}
}

// TestGeneratedTypesMatchThePackage: the schema's "Critical:" mark, which
// the generator reads, says what package event says, and every client type
// gets a struct.
func TestGeneratedTypesMatchThePackage(t *testing.T) {
	src, err := os.ReadFile("../../../schema/events.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	code, err := Generate(src)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^        name: "([^"]+)",\n        critical: (true|false),`)
	var names []string
	for _, m := range re.FindAllSubmatch(code, -1) {
		name, critical := string(m[1]), string(m[2]) == "true"
		names = append(names, name)
		if critical != event.IsCritical(name) {
			t.Errorf("%s: generated critical = %v, package event says %v", name, critical, event.IsCritical(name))
		}
	}
	if !slices.Equal(names, event.Types()) {
		t.Errorf("generated types %v, package event's client types %v", names, event.Types())
	}
}

// TestGenerateRefusesUnknownShapes: a field shape the generator does not
// know is an error, not a guess.
func TestGenerateRefusesUnknownShapes(t *testing.T) {
	src, err := os.ReadFile("../../../schema/events.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to string }{
		{`"gpu_device": {
          "$ref": "#/$defs/u32"
        }`, `"gpu_device": {
          "type": "number"
        }`},
		{`"$ref": "#/$defs/hex64"`, `"$ref": "#/$defs/nowhere"`},
	} {
		if !bytes.Contains(src, []byte(c.from)) {
			t.Fatalf("the schema no longer contains %s", c.from)
		}
		bad := bytes.Replace(src, []byte(c.from), []byte(c.to), 1)
		if _, err := Generate(bad); err == nil {
			t.Errorf("Generate accepted a schema with %s", c.to)
		}
	}
}

// TestCanonical: the canonical form the crate's test writes too.
func TestCanonical(t *testing.T) {
	got := canonical(object{"b": "\u202a\U0001F600\"\\\n", "a": []any{true, nil}})
	want := `{"a":[true,null],"b":"\u202a\ud83d\ude00\"\\\u000a"}`
	if got != want {
		t.Errorf("canonical = %s, want %s", got, want)
	}
}
