// Package integration runs the real audit-sealer and audit-verify binaries:
// it starts the daemon, talks to it over its socket from several clients,
// kills it with SIGKILL in the middle of a stream, restarts it, and checks
// with audit-verify and by reading the log that every event acknowledged as
// durable is present exactly once.
package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
	code := m.Run()
	removeLargeLog()
	os.RemoveAll(dir)
	os.Exit(code)
}
