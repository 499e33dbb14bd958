package integration

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTPMGoesAwayAndComesBack: while the TPM is unreachable the sealer keeps
// accepting, sealing and acknowledging events (checkpoints are signed but
// not anchored), status shows the anchor error, the failure is logged once;
// when the TPM is back anchoring resumes by itself, and the log verifies
// with fresh evidence.
func TestTPMGoesAwayAndComesBack(t *testing.T) {
	hsmEnv := softHSM(t, "ed25519")
	tpmEnv, tpmDir := swtpm(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	env := append(append(hsmEnv, tpmEnv...), "AUDIT_SEALER_DATA_DIR="+dataDir, "AUDIT_SEALER_SOCKET="+socket,
		"AUDIT_SEALER_ANCHOR_INTERVAL=100ms", "AUDIT_SEALER_SEAL_INTERVAL=50ms")
	if out, err := sealerCmd(env, "tpm", "provision").CombinedOutput(); err != nil {
		t.Fatalf("provision: %v\n%s", err, out)
	}
	port, err := os.ReadFile(filepath.Join(tpmDir, "port"))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemonEnv(t, env)
	// status exits 1 while a dependency fails (the JSON is printed all
	// the same), 2 when it cannot ask.
	status := func() map[string]any {
		out, err := sealerCmd(env, "status", "--json", "--socket", socket).Output()
		var ee *exec.ExitError
		if err != nil && (!errors.As(err, &ee) || ee.ExitCode() != 1) {
			t.Fatalf("status: %v", err)
		}
		var m map[string]any
		json.Unmarshal(out, &m)
		if degraded := m["anchor_error"] != ""; degraded != (err != nil) {
			t.Fatalf("status exit %v with anchor_error %q", err, m["anchor_error"])
		}
		return m
	}
	acks := runClients(socket, 2, "before", closedAfter(300*time.Millisecond))

	// The TPM goes away (swtpm stopped: a power loss).
	exec.Command("bash", "../scripts/swtpm/stop.sh", tpmDir).Run()
	acks = append(acks, runClients(socket, 2, "during", closedAfter(600*time.Millisecond))...)
	st := status()
	if st["anchor_error"] == "" || st["unsealed"].(float64) > 200 || st["anchor_errors"].(float64) < 1 || st["anchor_failing_since"] == nil {
		t.Fatalf("status while the TPM is away: %v", st)
	}
	// The text status makes the failure its headline, and exits 1.
	text, err := sealerCmd(env, "status", "--socket", socket).Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.HasPrefix(string(text), "DEGRADED: tpm anchoring failing for ") ||
		!strings.Contains(string(text), "anchoring:       counter ") {
		t.Fatalf("status while the TPM is away: %v\n%s", err, text)
	}

	// It comes back on the same port and state.
	p := strings.TrimSpace(string(port))
	sw := exec.Command("swtpm", "socket", "--tpm2", "--server", "type=tcp,port="+p+",bindaddr=127.0.0.1",
		"--ctrl", "type=tcp,port="+portPlusOne(t, p)+",bindaddr=127.0.0.1", "--tpmstate", "dir="+filepath.Join(tpmDir, "state"),
		"--flags", "not-need-init,startup-clear")
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sw.Process.Kill(); sw.Wait() }()
	anchorsBefore := st["anchors_made"].(float64)
	deadline := time.Now().Add(15 * time.Second)
	for {
		runClients(socket, 1, "after", closedAfter(150*time.Millisecond))
		st = status()
		if st["anchor_error"] == "" && st["anchors_made"].(float64) > anchorsBefore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("anchoring did not resume: %v\n%s", st, d.stderr)
		}
	}
	if text, err := sealerCmd(env, "status", "--socket", socket).Output(); err != nil || !strings.HasPrefix(string(text), "OK: ") {
		t.Fatalf("status once the TPM is back: %v\n%s", err, text)
	}
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	if n := strings.Count(d.stderr.String(), "cannot anchor"); n != 1 {
		t.Fatalf("the TPM outage was logged %d times, want once:\n%s", n, d.stderr)
	}
	key := filepath.Join(t.TempDir(), "key.pem")
	pem, _ := sealerCmd(env, "keys", "export-public").Output()
	os.WriteFile(key, pem, 0o600)
	code, rep := auditVerifyArgs(t, "--key", key, "--require-hardware", "--json", dataDir)
	if code != 0 {
		t.Fatalf("audit-verify: %v", rep)
	}
	checkAcksPresentOnce(t, dataDir, acks)
}

func portPlusOne(t *testing.T, p string) string {
	t.Helper()
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(n + 1)
}
