// Package integration runs the real audit-sealer and audit-verify binaries:
// it starts the daemon, talks to it over its socket from several clients,
// kills it with SIGKILL in the middle of a stream, restarts it, and checks
// with audit-verify and by reading the log that every event acknowledged as
// durable is present exactly once.
package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
)

var bin string // directory holding the built binaries

func TestMain(m *testing.M) {
	if socket := os.Getenv(floodSocketEnv); socket != "" {
		os.Exit(floodInvalid(socket)) // this process is a hostile peer (fairness_test.go)
	}
	// Every audit-sealer command reads /etc/audit-sealer/audit-sealer.toml
	// when it exists; the binaries these tests run (which inherit this
	// environment) read the built-in defaults instead, whatever is
	// installed on the machine. A test that sets AUDIT_SEALER_CONFIG
	// itself overrides this.
	os.Setenv("AUDIT_SEALER_CONFIG", os.DevNull)
	dir, err := os.MkdirTemp("", "audit-sealer-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	bin = dir
	// go build inherits this process's environment: GOFIPS140 selects the
	// Go Cryptographic Module the binaries link, as it did for this test
	// binary, and GODEBUG (fips140=on or only) reaches every binary the
	// tests run. checkFIPSBuild makes sure of both.
	for _, c := range []struct{ out, pkg string }{{"audit-sealer", "../cmd/audit-sealer"}, {"audit-verify", "../cmd/audit-verify"}} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, c.out), c.pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if c.out == "audit-verify" {
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // the auditor's build
		}
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", c.pkg, err)
			os.RemoveAll(dir)
			os.Exit(2)
		}
	}
	if err := checkFIPSBuild(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	removeLargeLog()
	os.RemoveAll(dir)
	os.Exit(code)
}

// checkFIPSBuild checks that both binaries run with the Go Cryptographic
// Module, and in the mode, of this test process: a FIPS pass
// (GOFIPS140=v1.0.0 GODEBUG=fips140=only go test ./integration, as
// scripts/test.sh runs it) must test binaries in FIPS 140-only mode, never
// quietly the default build.
func checkFIPSBuild(dir string) error {
	want := buildinfo.Read()
	for _, name := range []string{"audit-sealer", "audit-verify"} {
		out, err := exec.Command(filepath.Join(dir, name), "version", "--json").Output()
		if err != nil {
			return fmt.Errorf("%s version --json: %v", name, err)
		}
		var got buildinfo.Info
		if err := json.Unmarshal(out, &got); err != nil {
			return fmt.Errorf("%s version --json: %v", name, err)
		}
		if got.FIPS140Mode != want.FIPS140Mode || got.FIPS140Module != want.FIPS140Module {
			return fmt.Errorf("%s runs the Go Cryptographic Module %s in mode %s, but the tests run %s in mode %s (GOFIPS140=%q GODEBUG=%q)",
				name, got.FIPS140Module, got.FIPS140Mode, want.FIPS140Module, want.FIPS140Mode, os.Getenv("GOFIPS140"), os.Getenv("GODEBUG"))
		}
	}
	if want.FIPS140Mode != buildinfo.FIPSOff {
		fmt.Fprintf(os.Stderr, "integration: binaries built with the Go Cryptographic Module %s, running in FIPS 140-3 mode %q\n", want.FIPS140Module, want.FIPS140Mode)
	}
	return nil
}
