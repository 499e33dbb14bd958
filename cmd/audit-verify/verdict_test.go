package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/verify"
)

// TestUntrustedKeyIsNotTampering: a log whose key the auditor was not
// given exits 2, "cannot verify", naming the key by its key ID, with a
// full JSON report whose verdict is unverifiable (reason untrusted_key);
// a log the auditor holds the right key for but that was modified exits 1.
func TestUntrustedKeyIsNotTampering(t *testing.T) {
	root := t.TempDir()
	// Only the key the log rotated to: the first checkpoint is by a key
	// not given.
	vs, err := testkit.Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	byName := testkit.ByName(vs)
	rot := byName["intact_key_rotation"]
	third := writeKey(t, root, "third")
	code, out, stderr := runCLI("--key", third, rot.Dir)
	if code != 2 || !strings.HasPrefix(out, "audit-verify: cannot verify: untrusted_key: ") || strings.Contains(out, "TAMPERED") {
		t.Fatalf("only the current key: exit %d\n%s%s", code, out, stderr)
	}
	// The operator's unendorsed key: named by its key ID.
	un := byName["key_unendorsed"]
	code, out, stderr = runCLI("--key", un.KeyFile, "--json", un.Dir)
	var rep struct {
		Verdict      string          `json:"verdict"`
		FirstFailure *verify.Failure `json:"first_failure"`
		Records      uint64          `json:"records"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, out)
	}
	otherID := testkit.Key("other").Public().ID()
	if code != 2 || rep.Verdict != "unverifiable" || rep.FirstFailure == nil || rep.FirstFailure.Reason != verify.ReasonUntrustedKey ||
		!strings.Contains(rep.FirstFailure.Detail, otherID) || rep.Records == 0 {
		t.Fatalf("unendorsed key not given: exit %d\n%s%s", code, out, stderr)
	}
	if strings.Contains(rep.FirstFailure.Detail, "+") {
		t.Fatalf("the key is named by its note key hash: %s", rep.FirstFailure.Detail)
	}
	// Given that key too, the log verifies.
	if code, out, stderr := runCLI("--key", un.KeyFile, "--key", writeKey(t, root, "other"), un.Dir); code != 0 {
		t.Fatalf("with the unendorsed key given: exit %d\n%s%s", code, out, stderr)
	}
	// A checkpoint re-signed by a key the log never introduced, after
	// trusted checkpoints: tampered.
	rs := byName["final_checkpoint_resigned"]
	if code, out, _ := runCLI("--key", rs.KeyFile, rs.Dir); code != 1 || !strings.Contains(out, "TAMPERED: unknown_key") {
		t.Fatalf("re-signed checkpoint: exit %d\n%s", code, out)
	}
}

// TestProofAndConsistencyUntrustedKey: a bundle whose checkpoint no key
// given signed exits 2 "cannot verify" (not INVALID or INCONSISTENT), in
// text and JSON; unreadable input exits 2 as well.
func TestProofAndConsistencyUntrustedKey(t *testing.T) {
	root := t.TempDir()
	v := generatedVector(t, root, "intact_with_trusted")
	wrong := writeKey(t, root, "attacker")
	b, err := verify.Prove(v.Dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	proof := writeBundle(t, filepath.Join(root, "proof.json"), b)
	code, out, _ := runCLI("proof", "--key", wrong, proof)
	if code != 2 || !strings.HasPrefix(out, "audit-verify: cannot verify: the bundle's checkpoint is signed by") || strings.Contains(out, "INVALID") {
		t.Fatalf("proof, wrong key: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI("proof", "--key", wrong, "--json", proof)
	if code != 2 || !strings.Contains(out, `"verdict":"unverifiable"`) || !strings.Contains(out, `"reason":"untrusted_key"`) {
		t.Fatalf("proof --json, wrong key: exit %d\n%s", code, out)
	}
	cons := writeBundle(t, filepath.Join(root, "consistency.json"), consistencyFromKept(t, v))
	code, out, _ = runCLI("consistency", "--key", wrong, "--checkpoint", v.TrustedFile, cons)
	if code != 2 || !strings.HasPrefix(out, "audit-verify: cannot verify: your checkpoint is signed by") || strings.Contains(out, "INCONSISTENT") {
		t.Fatalf("consistency, wrong key: exit %d\n%s", code, out)
	}
	// Missing or unreadable input: exit 2 for every command.
	absent := filepath.Join(root, "absent")
	unreadable := filepath.Join(root, "dir-not-file")
	os.Mkdir(unreadable, 0o700)
	for _, args := range [][]string{
		{"--key", v.KeyFile, absent},
		{"--key", v.KeyFile, proof}, // a file, not a data directory
		{"proof", "--key", v.KeyFile, absent},
		{"proof", "--key", v.KeyFile, unreadable},
		{"proof", "--key", absent, proof},
		{"consistency", "--key", v.KeyFile, "--checkpoint", v.TrustedFile, absent},
		{"consistency", "--key", v.KeyFile, "--checkpoint", absent, cons},
		{"consistency", "--key", v.KeyFile, "--checkpoint", v.TrustedFile, unreadable},
	} {
		if code, out, stderr := runCLI(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s%s", args, code, out, stderr)
		}
	}
}

// writeBundle writes b as JSON to path and returns path.
func writeBundle(t *testing.T, path string, b any) string {
	t.Helper()
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// consistencyFromKept proves that v's log extends the checkpoint v keeps.
func consistencyFromKept(t *testing.T, v testkit.Vector) *chain.ConsistencyBundle {
	t.Helper()
	old, err := os.ReadFile(v.TrustedFile)
	if err != nil {
		t.Fatal(err)
	}
	cp, _, _, err := chain.PeekCheckpoint(old)
	if err != nil {
		t.Fatal(err)
	}
	b, err := verify.ProveConsistency(v.Dir, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
