package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/verify"
)

// writeJSON writes v as JSON to root/name and returns the path.
func writeJSON(t *testing.T, root, name string, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeKey writes the PEM of test key label to root and returns the path.
func writeKey(t *testing.T, root, label string) string {
	t.Helper()
	path := filepath.Join(root, label+".pem")
	if err := os.WriteFile(path, testkit.Key(label).Public().MarshalPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKeyHistoryFlag: for a log rotated twice (main -> second -> third),
// --key takes the key history bundle and the log verifies from its root;
// a proof made after both rotations (a bundle, or a query result line)
// verifies with the first key's PEM alone, the middle key's, or the
// history;
// a key nobody endorsed cannot check it (exit 2, naming the signer's key
// id); a history whose endorsement names another record than the log
// holds is refused (exit 2, naming it).
func TestKeyHistoryFlag(t *testing.T) {
	root := t.TempDir()
	rot := generatedVector(t, root, "intact_key_rotation")
	h, err := verify.KeyHistoryOf(rot.Dir, testkit.Keys("main"))
	if err != nil {
		t.Fatal(err)
	}
	history := writeJSON(t, root, "history.json", h)
	if code, out, stderr := runCLI("--key", history, rot.Dir); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("--key history.json: exit %d\n%s%s", code, out, stderr)
	}
	b, err := verify.Prove(rot.Dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	proof := writeJSON(t, root, "proof.json", b)
	for _, key := range []string{writeKey(t, root, "main"), writeKey(t, root, "second"), history} {
		if code, out, stderr := runCLI("proof", "--key", key, proof); code != 0 || !strings.Contains(out, "proof valid") {
			t.Fatalf("proof --key %s: exit %d\n%s%s", key, code, out, stderr)
		}
	}
	// The result line of query --proofs carries the same bundle.
	line := filepath.Join(root, "result.json")
	os.WriteFile(line, resultLine(t, b), 0o600)
	if code, out, stderr := runCLI("proof", "--key", writeKey(t, root, "main"), line); code != 0 || !strings.Contains(out, "every field of the query result line") {
		t.Fatalf("result line, --key main.pem: exit %d\n%s%s", code, out, stderr)
	}
	third := testkit.Key("third").Public().ID()
	if code, out, _ := runCLI("proof", "--key", writeKey(t, root, "attacker"), proof); code != 2 || !strings.Contains(out, "cannot verify") || !strings.Contains(out, third) {
		t.Fatalf("proof with an unrelated key: exit %d\n%s", code, out)
	}
	// The key history of another log by the same first key: trusted
	// endorsements, but of records this log does not hold.
	un := generatedVector(t, t.TempDir(), "key_unendorsed")
	other, err := verify.KeyHistoryOf(un.Dir, testkit.Keys("main"))
	if err != nil {
		t.Fatal(err)
	}
	wrong := writeJSON(t, root, "other-history.json", other)
	if code, out, stderr := runCLI("--key", wrong, rot.Dir); code != 2 || !strings.Contains(stderr, "endorsement 0 names record") {
		t.Fatalf("history of another log: exit %d\n%s%s", code, out, stderr)
	}
	// A history whose endorsement a trusted key signed but that proves
	// nothing is refused like a bad key file.
	h.Endorsements[0].Proof[0][0] ^= 1
	bad := writeJSON(t, root, "bad-history.json", h)
	if code, _, stderr := runCLI("--key", bad, rot.Dir); code != 2 || !strings.Contains(stderr, "invalid key endorsement") {
		t.Fatalf("forged history: exit %d\n%s", code, stderr)
	}
}
