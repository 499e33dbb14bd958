package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/event"
)

// TestSchemaCommand: audit-sealer schema prints the committed catalogue,
// schema TYPE that type's schema, schema request and reply the envelopes,
// and --list every type, critical ones marked C.
func TestSchemaCommand(t *testing.T) {
	committed, err := os.ReadFile("../../schema/events.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := execute(t, "schema"); got != string(committed) {
		t.Error("audit-sealer schema does not print schema/events.schema.json; run go generate ./event")
	}
	one, err := event.JSONSchema(event.TypeAuthFailure)
	if err != nil {
		t.Fatal(err)
	}
	if got := execute(t, "schema", event.TypeAuthFailure); got != string(one) {
		t.Errorf("audit-sealer schema auth.failure printed\n%s", got)
	}
	for _, name := range []string{"request", "reply"} {
		committed, err := os.ReadFile("../../schema/" + name + ".schema.json")
		if err != nil {
			t.Fatal(err)
		}
		if got := execute(t, "schema", name); got != string(committed) {
			t.Errorf("audit-sealer schema %s does not print schema/%s.schema.json", name, name)
		}
	}
	list := execute(t, "schema", "--list")
	if n := strings.Count(list, "\n"); n != len(event.Types())+len(event.SealerTypes()) {
		t.Errorf("--list printed %d lines:\n%s", n, list)
	}
	if !strings.Contains(list, "auth.failure\tauthentication\tC\n") || !strings.Contains(list, "auth.success\tauthentication\n") {
		t.Errorf("--list does not mark critical types:\n%s", list)
	}
}

// TestSchemaUnknownType: an unknown type exits with status 2 and says how
// to see the types.
func TestSchemaUnknownType(t *testing.T) {
	root := newRoot()
	root.SetArgs([]string{"schema", "auth.maybe"})
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.Execute()
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("schema auth.maybe: %v, want exit status 2", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `"auth.maybe"`) || !strings.Contains(msg, "schema --list") {
		t.Errorf("error %q does not name the type and how to list the types", msg)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q", out.String())
	}
}
