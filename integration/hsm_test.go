package integration

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// softHSM creates a throwaway SoftHSM token with a key through
// scripts/softhsm/setup.sh and returns the environment it prints.
func softHSM(t *testing.T, algorithm string) []string {
	t.Helper()
	requireTool(t, "softhsm2-util")
	dir := filepath.Join(t.TempDir(), "hsm")
	cmd := exec.Command("bash", "../scripts/softhsm/setup.sh", dir, "--algorithm", algorithm)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("setup.sh: %v", err)
	}
	env := parseExports(t, string(out))
	if len(env) < 5 {
		t.Fatalf("setup.sh printed %d export lines", len(env))
	}
	return env
}

// sealerCmd runs the audit-sealer binary with extra environment.
func sealerCmd(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, "audit-sealer"), args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// TestProductionModeOnSoftHSM: with nothing but the environment printed by
// scripts/softhsm/setup.sh, `audit-sealer serve` (no --dev) signs on the
// token; the exported public key verifies the log with --require-hardware;
// rotating to a second key on the token keeps the log verifiable from the
// first key alone.
func TestProductionModeOnSoftHSM(t *testing.T) {
	for _, alg := range []string{"ed25519", "ecdsa-p256"} {
		t.Run(alg, func(t *testing.T) {
			env := softHSM(t, alg)
			dataDir := filepath.Join(t.TempDir(), "data")
			socket := filepath.Join(shortSocketDir(t), "s.sock")
			env = append(env, "AUDIT_SEALER_DATA_DIR="+dataDir, "AUDIT_SEALER_SOCKET="+socket)
			d := startDaemonEnv(t, env)
			stop := make(chan struct{})
			time.AfterFunc(200*time.Millisecond, func() { close(stop) })
			acks := runClients(socket, 2, "hsm", stop)
			if err := d.stop(); err != nil {
				t.Fatalf("stop: %v\n%s", err, d.stderr)
			}
			key := filepath.Join(t.TempDir(), "key.pem")
			out, err := sealerCmd(env, "keys", "export-public", "--current").Output()
			if err != nil {
				t.Fatalf("export-public: %v", err)
			}
			os.WriteFile(key, out, 0o600)
			code, rep := auditVerifyArgs(t, "--key", key, "--require-hardware", "--json", dataDir)
			if code != 0 {
				t.Fatalf("audit-verify --require-hardware: exit %d %v", code, rep)
			}
			if lc, _ := rep["last_checkpoint"].(map[string]any); lc["signer_kind"] != "pkcs11" || lc["algorithm"] != alg {
				t.Fatalf("last checkpoint %v", lc)
			}
			checkAcksPresentOnce(t, dataDir, acks)
			thirdPartyChecks(t, env, alg, key, filepath.Join(dataDir, "checkpoint"))

			// Rotate to a second key on the token, then run on it.
			if out, err := sealerCmd(env, "keys", "generate", "--algorithm", alg, "--label", "next").CombinedOutput(); err != nil {
				t.Fatalf("keys generate: %v\n%s", err, out)
			}
			if out, err := sealerCmd(env, "keys", "rotate", "--to-label", "next").CombinedOutput(); err != nil {
				t.Fatalf("keys rotate: %v\n%s", err, out)
			}
			// The old label no longer starts the sealer: it is not the key in force.
			next := append(append([]string(nil), env...), "AUDIT_SEALER_PKCS11_KEY_LABEL=next")
			d = startDaemonEnv(t, next)
			runClients(socket, 1, "after", closedAfter(100*time.Millisecond))
			if err := d.stop(); err != nil {
				t.Fatalf("stop after rotation: %v\n%s", err, d.stderr)
			}
			code, rep = auditVerifyArgs(t, "--key", key, "--require-hardware", "--json", dataDir)
			if code != 0 {
				t.Fatalf("after rotation, from the first key alone: exit %d %v", code, rep)
			}
			out, err = sealerCmd(env, "serve").CombinedOutput()
			if err == nil || !strings.Contains(string(out), "did not sign this log's last checkpoint") {
				t.Fatalf("serve with the retired key: %v\n%s", err, out)
			}
		})
	}
}

// TestKeyHistoryOnSoftHSM: after two rotations on a real token, keys
// export-public prints the key history bundle, with which audit-verify
// checks the log (exit 0); a proof made after both rotations checks with
// the PEM of the first key alone (exit 0), which the exported active key
// alone cannot do for the log (it did not sign the first checkpoints).
func TestKeyHistoryOnSoftHSM(t *testing.T) {
	env := softHSM(t, "ecdsa-p256")
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	env = append(env, "AUDIT_SEALER_DATA_DIR="+dataDir, "AUDIT_SEALER_SOCKET="+socket)
	d := startDaemonEnv(t, env)
	runClients(socket, 1, "first", closedAfter(100*time.Millisecond))
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	dir := t.TempDir()
	original := filepath.Join(dir, "original.pem")
	out, err := sealerCmd(env, "keys", "export-public", "--current").Output()
	if err != nil {
		t.Fatalf("export-public --current: %v", err)
	}
	os.WriteFile(original, out, 0o600)

	cur := env
	for _, label := range []string{"second", "third"} {
		if out, err := sealerCmd(cur, "keys", "generate", "--algorithm", "ecdsa-p256", "--label", label).CombinedOutput(); err != nil {
			t.Fatalf("keys generate %s: %v\n%s", label, err, out)
		}
		if out, err := sealerCmd(cur, "keys", "rotate", "--to-label", label).CombinedOutput(); err != nil {
			t.Fatalf("keys rotate --to-label %s: %v\n%s", label, err, out)
		}
		cur = append(append([]string(nil), env...), "AUDIT_SEALER_PKCS11_KEY_LABEL="+label)
	}
	bundle := filepath.Join(dir, "bundle.json")
	cmd := sealerCmd(cur, "keys", "export-public")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("export-public: %v\n%s", err, stderr.String())
	}
	os.WriteFile(bundle, out, 0o600)
	if !strings.Contains(stderr.String(), "2 key introductions") || strings.Contains(stderr.String(), "warning") {
		t.Fatalf("export-public said:\n%s", stderr.String())
	}
	if code, rep := auditVerifyArgs(t, "--key", bundle, "--require-hardware", "--json", dataDir); code != 0 {
		t.Fatalf("audit-verify --key bundle.json: exit %d %v", code, rep)
	}
	proof := filepath.Join(dir, "proof.json")
	if out, err := sealerCmd(cur, "prove", "--data-dir", dataDir, "--seq", "1", "--out", proof).CombinedOutput(); err != nil {
		t.Fatalf("prove: %v\n%s", err, out)
	}
	if code, rep := auditVerifyArgs(t, "proof", "--key", original, "--json", proof); code != 0 || rep["verdict"] != "valid" {
		t.Fatalf("audit-verify proof --key original.pem after two rotations: exit %d %v", code, rep)
	}
	active := filepath.Join(dir, "active.pem")
	out, err = sealerCmd(cur, "keys", "export-public", "--current").Output()
	if err != nil {
		t.Fatalf("export-public --current: %v", err)
	}
	os.WriteFile(active, out, 0o600)
	if code, out := auditVerifyArgsRaw(t, "--key", active, dataDir); code == 0 {
		t.Fatalf("the active key alone verified the whole log:\n%s", out)
	}
}

func closedAfter(d time.Duration) chan struct{} {
	c := make(chan struct{})
	time.AfterFunc(d, func() { close(c) })
	return c
}

// thirdPartyChecks runs scripts/softhsm/check.sh: pkcs11-tool (opensc) lists
// the key with its never-extractable attributes, and openssl verifies the
// signature of a real checkpoint with the exported PEM key.
func thirdPartyChecks(t *testing.T, env []string, alg, pemFile, checkpointFile string) {
	t.Helper()
	requireTool(t, "pkcs11-tool")
	requireTool(t, "openssl")
	note, err := os.ReadFile(checkpointFile)
	if err != nil {
		t.Fatal(err)
	}
	// A signed note: text, a blank line, "— name base64(keyid||sig)".
	i := strings.LastIndex(string(note), "\n\n")
	text := note[:i+1]
	fields := strings.Fields(string(note[i+2:]))
	raw, err := base64.StdEncoding.DecodeString(fields[len(fields)-1])
	if err != nil || len(raw) < 5 {
		t.Fatalf("checkpoint signature line: %v", err)
	}
	dir := t.TempDir()
	msg, sig := filepath.Join(dir, "msg"), filepath.Join(dir, "sig")
	os.WriteFile(msg, text, 0o600)
	os.WriteFile(sig, raw[4:], 0o600)
	cmd := exec.Command("bash", "../scripts/softhsm/check.sh", "--algorithm", alg, "--pem", pemFile, "--msg", msg, "--sig", sig)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("check.sh: %v\n%s", err, out)
	}
	// And openssl must reject a signature over other bytes.
	os.WriteFile(msg, append(text, 'x'), 0o600)
	cmd = exec.Command("bash", "../scripts/softhsm/check.sh", "--algorithm", alg, "--pem", pemFile, "--msg", msg, "--sig", sig)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("check.sh accepted a signature over a different message:\n%s", out)
	}
}
