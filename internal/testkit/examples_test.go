package testkit_test

import (
	"os"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/storage"
)

// TestFormatExamples keeps FORMAT.md true to the code: each worked example
// in it is exactly what the code produces today.
func TestFormatExamples(t *testing.T) {
	doc, err := os.ReadFile("../../FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := testkit.FormatExamples()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"segment-header", "genesis-record", "event-record", "checkpoint", "commit-record", "index-file", "key-history", "cosignature", "witnessed-bundle"} {
		block := "```\n" + ex[name] + "```\n"
		if !strings.Contains(string(doc), block) {
			t.Errorf("FORMAT.md does not hold the current %q example; run go run ./internal/testkit/cmd/format-examples and paste it:\n%s", name, block)
		}
	}
}

// TestVectorsAreDeterministic: generating the vectors twice gives the same
// bytes, so they can be compared across machines and implementations.
func TestVectorsAreDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	va, err := testkit.Generate(a)
	if err != nil {
		t.Fatal(err)
	}
	vb, err := testkit.Generate(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range va {
		ea, _ := os.ReadDir(va[i].Dir)
		for _, e := range ea {
			if e.Name() == storage.LockFile { // holds the writer's PID
				continue
			}
			x, _ := os.ReadFile(va[i].Dir + "/" + e.Name())
			y, err := os.ReadFile(vb[i].Dir + "/" + e.Name())
			if err != nil || string(x) != string(y) {
				t.Fatalf("%s/%s differs between two generations", va[i].Name, e.Name())
			}
		}
	}
}
