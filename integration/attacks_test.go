package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// serveOnce runs `audit-sealer serve --dev` and expects it to refuse to
// start: it returns the exit status and what it printed.
func serveOnce(t *testing.T, dataDir, socket string, extra ...string) (int, string) {
	t.Helper()
	args := append([]string{"serve", "--dev", "--data-dir", dataDir, "--socket", socket}, extra...)
	cmd := exec.Command(filepath.Join(bin, "audit-sealer"), args...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("serve did not refuse to start within 30 s")
	}
	if err == nil {
		return 0, string(out)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	t.Fatal(err)
	return 0, ""
}

// TestForgedTailIsNeverSealed: after a clean stop, someone who can write
// the data directory but holds no key appends an auth.success of a service
// it does not hold. The sealer refuses to start, exit status 1, naming the
// records and the override; audit-verify calls them unauthenticated. With
// the operator's override the sealer keeps them aside, cuts them, records
// the decision, and the log it goes on with verifies intact without them.
func TestForgedTailIsNeverSealed(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket)
	acks := runClients(socket, 2, "before", closedAfter(200*time.Millisecond))
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	key := exportKey(t, dataDir)

	seq, err := testkit.Forge(dataDir, "queen-rbee", testkit.AuthSuccess(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	code, out := serveOnce(t, dataDir, socket)
	if code != 1 || !strings.Contains(out, "the end of the log holds records the sealer did not authenticate") ||
		!strings.Contains(out, "--accept-unauthenticated-tail") || !strings.Contains(out, "clean") {
		t.Fatalf("serve on a forged tail: exit %d\n%s", code, out)
	}
	vcode, rep := auditVerify(t, key, dataDir)
	if ff, _ := rep["first_failure"].(map[string]any); vcode != 1 || ff["reason"] != "unauthenticated_tail" || ff["seq"] != float64(seq) {
		t.Fatalf("audit-verify on the forged tail: exit %d %v", vcode, rep)
	}

	d = startDaemon(t, dataDir, socket, "--accept-unauthenticated-tail")
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	if !strings.Contains(d.stderr.String(), "OPERATOR ACCEPTED") {
		t.Errorf("the override is not logged loudly:\n%s", d.stderr)
	}
	vcode, rep = auditVerify(t, key, dataDir)
	if vcode != 0 {
		t.Fatalf("after the override: exit %d %v", vcode, rep)
	}
	var discarded *event.TailDiscarded
	for _, r := range readEvents(t, dataDir) {
		if r.Seq == seq && r.Type == event.TypeAuthSuccess {
			t.Fatalf("the forged record %d is in the log", seq)
		}
	}
	if err := testkit.Records(dataDir, func(rec chain.Record) bool {
		if string(rec.Type) == event.TypeTailDiscarded {
			ev, err := event.Decode(rec.Event, event.DecodeOptions{AllowSealerEvents: true, Now: time.Now()})
			if err == nil {
				discarded = ev.(*event.TailDiscarded)
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if discarded == nil || discarded.FirstSeq != seq || discarded.DecidedBy != event.DiscardOperator {
		t.Fatalf("audit.tail_discarded = %+v", discarded)
	}
	if _, err := os.Stat(filepath.Join(dataDir, discarded.KeptAs)); err != nil {
		t.Fatalf("the cut bytes are not kept: %v", err)
	}
	checkAcksPresentOnce(t, dataDir, acks)
}

// TestForgedAnchorIntentOnOldCopy: on a restored old copy (last anchor A,
// the TPM counter now C > A), someone appends an unsigned
// audit.anchor_state {increment_intent, counter: A, expected: C}, which
// would make a crash explain the counter. The sealer refuses to start;
// even with the operator cutting that record, it still refuses the
// rollback; audit-verify with fresh TPM evidence says rolled_back, not
// anchor_pending: an intent counts only when the sealer authenticated it.
func TestForgedAnchorIntentOnOldCopy(t *testing.T) {
	hsmEnv := softHSM(t, "ed25519")
	tpmEnv, _ := swtpm(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	env := append(append(hsmEnv, tpmEnv...), "AUDIT_SEALER_DATA_DIR="+dataDir, "AUDIT_SEALER_SOCKET="+socket, "AUDIT_SEALER_ANCHOR_INTERVAL=100ms")
	if out, err := sealerCmd(env, "tpm", "provision").CombinedOutput(); err != nil {
		t.Fatalf("tpm provision: %v\n%s", err, out)
	}
	run := func(name string) {
		t.Helper()
		dm := startDaemonEnv(t, env)
		runClients(socket, 2, name, closedAfter(300*time.Millisecond))
		if err := dm.stop(); err != nil {
			t.Fatalf("stop: %v\n%s", err, dm.stderr)
		}
	}
	run("first")
	old := filepath.Join(t.TempDir(), "old-copy")
	copyTree(t, dataDir, old)
	run("second")
	key := filepath.Join(t.TempDir(), "key.pem")
	pem, err := sealerCmd(env, "keys", "export-public").Output()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(key, pem, 0o600)
	_, rep := auditVerifyArgs(t, "--key", key, "--json", old)
	la, _ := rep["last_anchor"].(map[string]any)
	if la == nil {
		t.Fatalf("the old copy holds no anchor: %v", rep)
	}
	anchorA := uint64(la["counter"].(float64))
	out, err := sealerCmd(env, "tpm", "read").Output()
	if err != nil {
		t.Fatal(err)
	}
	var counterC uint64
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &counterC); err != nil || counterC <= anchorA+1 {
		t.Fatalf("counter %q, old anchor %d: the test needs the counter at least two past the old copy", out, anchorA)
	}
	if _, err := testkit.Forge(old, chain.SealerService, &event.AnchorState{Timestamp: time.Now().UTC(),
		Status: event.AnchorIncrementIntent, Counter: &anchorA, Expected: &counterC}); err != nil {
		t.Fatal(err)
	}

	oldEnv := append(append([]string(nil), env...), "AUDIT_SEALER_DATA_DIR="+old)
	outb, err := sealerCmd(oldEnv, "serve").CombinedOutput()
	if err == nil || !strings.Contains(string(outb), "did not authenticate") {
		t.Fatalf("serve on the old copy with a forged intent: %v\n%s", err, outb)
	}
	outb, err = sealerCmd(oldEnv, "serve", "--accept-unauthenticated-tail").CombinedOutput()
	if err == nil || !strings.Contains(string(outb), "rollback") {
		t.Fatalf("serve on the old copy, forged intent cut: %v\n%s", err, outb)
	}
	nonce := "6e6f6e63652d666f722d7468652d746573"
	ev := filepath.Join(t.TempDir(), "evidence.json")
	if out, err := sealerCmd(env, "tpm", "certify", "--nonce", nonce, "--out", ev).CombinedOutput(); err != nil {
		t.Fatalf("tpm certify: %v\n%s", err, out)
	}
	code, rep := auditVerifyArgs(t, "--key", key, "--tpm-evidence", ev, "--nonce", nonce, "--json", old)
	if ff, _ := rep["first_failure"].(map[string]any); code != 1 || ff["reason"] != "rolled_back" {
		t.Fatalf("old copy with its intent cut, fresh evidence: exit %d %v", code, rep)
	}
}
