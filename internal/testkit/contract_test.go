package testkit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// TestContractFiles keeps the committed event contract (schema/*.json,
// EVENTS.md) exactly what package event generates, so that it cannot drift
// from validation.
func TestContractFiles(t *testing.T) {
	files, err := testkit.ContractFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(f.Path)))
		if err != nil {
			t.Errorf("%s: %v; run go generate ./event", f.Path, err)
			continue
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("%s differs from what package event generates; run go generate ./event and commit the result", f.Path)
		}
	}
}
