package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/hsm"
	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
)

// execute runs audit-sealer with args and returns what it printed.
func execute(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	if err := root.Execute(); err != nil {
		t.Fatalf("audit-sealer %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// TestVersion: audit-sealer --version and audit-sealer version print the
// same text, naming the build's version, the Go version, and PKCS#11
// (with cgo) and the TPM as built in; version --json says the same as one
// JSON document.
func TestVersion(t *testing.T) {
	text := execute(t, "--version")
	if sub := execute(t, "version"); sub != text {
		t.Errorf("version printed\n%s\n--version printed\n%s", sub, text)
	}
	pkcs11 := "not built in"
	if hsm.Supported {
		pkcs11 = "built in"
	}
	for _, line := range []string{"audit-sealer " + buildinfo.Version() + "\n", "go:          " + runtime.Version() + "\n",
		"pkcs11:      " + pkcs11 + "\n", "tpm:         built in\n"} {
		if !strings.Contains(text, line) {
			t.Errorf("--version: no %q in\n%s", line, text)
		}
	}

	var got buildinfo.Info
	if err := json.Unmarshal([]byte(execute(t, "version", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	want := buildinfo.Read()
	want.Hardware = buildinfo.Hardware{PKCS11: hsm.Supported, TPM: true}
	if got != want {
		t.Errorf("version --json: got %+v, want %+v", got, want)
	}
}
