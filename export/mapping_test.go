package export_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/export"
)

var updateMappings = flag.Bool("update-mappings", false, "rewrite docs/export-mappings.md from mapping.go")

// TestMappingsDoc: docs/export-mappings.md is what mapping.go says, and
// it lists every event type with a mapping.
func TestMappingsDoc(t *testing.T) {
	path := filepath.Join("..", "docs", "export-mappings.md")
	want := export.MappingsMarkdown()
	if *updateMappings {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date: go test ./export -run TestMappingsDoc -update-mappings", path)
	}
	if bytes.Contains(want, []byte("(not mapped)")) {
		t.Fatalf("a type has no mapping:\n%s", want)
	}
	for _, typ := range append(event.Types(), event.SealerTypes()...) {
		if !bytes.Contains(want, []byte("| `"+typ+"` |")) {
			t.Errorf("%s is not in the table", typ)
		}
	}
}
