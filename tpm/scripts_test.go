package tpm_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/evidence"
	"github.com/audit-sealer/audit-sealer/tpm"
	"github.com/audit-sealer/audit-sealer/tpm/swtpmtest"
)

// script returns a command that runs a script with bash, killed if it has
// not finished within a minute (a hung tpm2-tools must not hang the tests).
func script(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	t.Cleanup(cancel)
	return exec.CommandContext(sctx, "bash", args...)
}

// requireTool skips the test when a program is missing, or fails it under
// CI=true.
func requireTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed, and CI=true: CI must install it (apt-get install %s)", name, pkg)
		}
		t.Skipf("%s is not installed (apt-get install %s)", name, pkg)
	}
}

// startScript runs scripts/swtpm/start.sh dir and returns the variables it
// exports.
func startScript(t *testing.T, dir string) map[string]string {
	t.Helper()
	cmd := script(t, "../scripts/swtpm/start.sh", dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("start.sh: %v\n%s", err, stderr.String())
	}
	env := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "export ")
		k, v, ok2 := strings.Cut(line, "=")
		if !ok || !ok2 || len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
			t.Fatalf("start.sh printed %q, not an export line", sc.Text())
		}
		env[k] = v[1 : len(v)-1]
	}
	for _, k := range []string{"AUDIT_SEALER_TPM", "AUDIT_SEALER_TPM_INDEX", "AUDIT_SEALER_TPM_AUTH_FILE", "TPM2TOOLS_TCTI"} {
		if env[k] == "" {
			t.Fatalf("start.sh did not export %s:\n%s", k, out)
		}
	}
	return env
}

func stopScript(t *testing.T, dir string) {
	t.Helper()
	if out, err := script(t, "../scripts/swtpm/stop.sh", dir).CombinedOutput(); err != nil {
		t.Errorf("stop.sh: %v\n%s", err, out)
	}
}

// nvread runs scripts/swtpm/nvread.sh with env (and, if ownerRead, without
// the auth file, so that the owner hierarchy reads).
func nvread(t *testing.T, env map[string]string, ownerRead bool) uint64 {
	t.Helper()
	cmd := script(t, "../scripts/swtpm/nvread.sh")
	cmd.Env = os.Environ()
	for k, v := range env {
		if ownerRead && k == "AUDIT_SEALER_TPM_AUTH_FILE" {
			continue
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nvread.sh: %v\n%s", err, stderr.String())
	}
	v, err := strconv.ParseUint(strings.TrimSuffix(string(out), "\n"), 10, 64)
	if err != nil || !strings.HasSuffix(string(out), "\n") {
		t.Fatalf("nvread.sh printed %q, not a decimal number and a newline", out)
	}
	return v
}

// TestScripts: start.sh starts swtpm on TCP; the tpm package provisions and
// increments the counter through the printed transport (tcp:HOST:PORT),
// index and auth file; tpm2-tools, through nvread.sh, reads the same value
// with the index auth and with the owner's; the state survives stop.sh and
// start.sh on the same directory, with the same auth file.
func TestScripts(t *testing.T) {
	swtpmtest.Require(t)
	requireTool(t, "tpm2_nvread", "tpm2-tools")
	requireTool(t, "swtpm_setup", "swtpm-tools")
	dir := t.TempDir()
	env := startScript(t, dir)
	t.Cleanup(func() { stopScript(t, dir) })

	if !strings.HasPrefix(env["AUDIT_SEALER_TPM"], "tcp:127.0.0.1:") || env["AUDIT_SEALER_TPM_INDEX"] != "0x01500100" ||
		env["AUDIT_SEALER_TPM_AUTH_FILE"] != filepath.Join(dir, "auth") ||
		env["TPM2TOOLS_TCTI"] != "swtpm:host=127.0.0.1,port="+strings.TrimPrefix(env["AUDIT_SEALER_TPM"], "tcp:127.0.0.1:") {
		t.Errorf("start.sh exported %v", env)
	}
	fi, err := os.Stat(env["AUDIT_SEALER_TPM_AUTH_FILE"])
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("auth file: %v, %v", fi, err)
	}
	authBytes, err := tpm.AuthFromFile(env["AUDIT_SEALER_TPM_AUTH_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	index, err := strconv.ParseUint(env["AUDIT_SEALER_TPM_INDEX"], 0, 32)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tpm.Config{Transport: env["AUDIT_SEALER_TPM"], Index: uint32(index), Auth: authBytes}

	if v, err := tpm.Provision(cfg); err != nil || v != 1 {
		t.Fatalf("Provision = %d, %v", v, err)
	}
	c, err := tpm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for range 3 {
		last = increment(t, c)
	}
	if got := nvread(t, env, false); got != last {
		t.Errorf("nvread.sh with the index auth printed %d, the tpm package returned %d", got, last)
	}
	if got := nvread(t, env, true); got != last {
		t.Errorf("nvread.sh with the owner's authorization printed %d, want %d", got, last)
	}
	// Certify over TCP too.
	n := []byte("scripts test nonce")
	data, err := tpm.Certify(ctx, c, n)
	if err != nil {
		t.Fatal(err)
	}
	e, err := evidence.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.Verify(n); err != nil || res.Counter != last {
		t.Errorf("evidence over TCP: %+v, %v", res, err)
	}
	// The TPM was manufactured with an EK certificate by the local CA
	// whose certificates start.sh exported.
	der, err := tpm.ReadEKCertificate(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := evidence.ParseEKCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(env["AUDIT_SEALER_TPM_EK_CA"])
	if err != nil {
		t.Fatalf("AUDIT_SEALER_TPM_EK_CA: %v", err)
	}
	anchors, inter, err := evidence.ParseCAFile(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.VerifyEKCertificate(cert, anchors, inter, time.Now()); err != nil {
		t.Errorf("the EK certificate does not chain to the exported CA: %v", err)
	}
	c.Close()

	// Restart on the same directory: same state, same auth, a new port.
	stopScript(t, dir)
	env2 := startScript(t, dir)
	if env2["AUDIT_SEALER_TPM_AUTH_FILE"] != env["AUDIT_SEALER_TPM_AUTH_FILE"] || env2["AUDIT_SEALER_TPM_EK_CA"] != env["AUDIT_SEALER_TPM_EK_CA"] {
		t.Errorf("auth file or EK CA moved: %v", env2)
	}
	cfg.Transport = env2["AUDIT_SEALER_TPM"]
	if v, err := tpm.Provision(cfg); v != last || err == nil {
		t.Errorf("Provision after a restart = %d, %v; want %d, already provisioned", v, err, last)
	}
	if got := nvread(t, env2, false); got != last {
		t.Errorf("nvread.sh after a restart printed %d, want %d", got, last)
	}

	// A second start.sh on a running DIR refuses.
	if out, err := script(t, "../scripts/swtpm/start.sh", dir).CombinedOutput(); err == nil || !strings.Contains(string(out), "already running") {
		t.Errorf("second start.sh: %v\n%s", err, out)
	}
}
