package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoHardwareDependencies keeps the offline verifier what the auditor
// needs it to be: a static binary that builds without cgo and links no
// code that talks to an HSM or a TPM. `go test ./...` fails the moment
// any package it imports, directly or not, does.
func TestNoHardwareDependencies(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		t.Fatalf("the go command is needed to list the verifier's dependencies: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}} {{len .CgoFiles}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps with CGO_ENABLED=0: %v\n%s", err, out)
	}
	forbidden := []string{"github.com/miekg/pkcs11", "github.com/google/go-tpm", "github.com/audit-sealer/audit-sealer/hsm", "github.com/audit-sealer/audit-sealer/tpm"}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 20 {
		t.Fatalf("go list printed %d packages; expected the verifier's whole dependency graph:\n%s", len(lines), out)
	}
	for _, line := range lines {
		path, cgoFiles, _ := strings.Cut(line, " ")
		for _, f := range forbidden {
			if path == f || strings.HasPrefix(path, f+"/") {
				t.Errorf("audit-verify depends on %s: the offline verifier must not link hardware code", path)
			}
		}
		if cgoFiles != "0" {
			t.Errorf("audit-verify depends on %s, which has cgo files even with CGO_ENABLED=0", path)
		}
	}
}
