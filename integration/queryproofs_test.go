package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// TestQueryResultsCarryProofs: audit-sealer query --json --proofs gives
// every result its inclusion proof, audit-verify proof accepts each result
// line with only the public key, and refuses a line whose event, seq or
// audit_id was edited after the query.
func TestQueryResultsCarryProofs(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket, "--seal-interval", "50ms", "--segment-size", "200000")
	runClients(socket, 2, "qp", closedAfter(400*time.Millisecond))
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	key := exportKey(t, dataDir)
	const limit = 40
	out, err := exec.Command(filepath.Join(bin, "audit-sealer"), "query", "--dev", "--data-dir", dataDir, "--type", "seal.verified",
		"--after", "100", "--json", "--proofs", "--limit", "40").Output()
	if err != nil {
		t.Fatalf("query --proofs: %v", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), `{"summary"`) {
			lines = append(lines, sc.Text())
		}
	}
	if len(lines) != limit {
		t.Fatalf("%d results, want %d", len(lines), limit)
	}
	dir := t.TempDir()
	check := func(name, line string) (int, map[string]any) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		return auditVerifyArgs(t, "proof", "--key", key, "--json", path)
	}
	for i, line := range lines {
		var m struct {
			Seq float64 `json:"seq"`
		}
		json.Unmarshal([]byte(line), &m)
		code, rep := check("result.json", line)
		if code != 0 || rep["verdict"] != "valid" || rep["seq"] != m.Seq {
			t.Fatalf("result %d (seq %v): exit %d, %v", i, m.Seq, code, rep)
		}
	}
	// Edits a reader could make to a result, each of which must fail.
	line := lines[limit/2]
	var m map[string]json.RawMessage
	json.Unmarshal([]byte(line), &m)
	edits := map[string]func(map[string]json.RawMessage){
		"event": func(m map[string]json.RawMessage) {
			m["event"] = bytes.Replace(m["event"], []byte("worker-gpu-0"), []byte("worker-gpu-1"), 1)
		},
		"seq":      func(m map[string]json.RawMessage) { m["seq"] = json.RawMessage("7") },
		"audit_id": func(m map[string]json.RawMessage) { m["audit_id"] = json.RawMessage(`"forged-1"`) },
		"type":     func(m map[string]json.RawMessage) { m["type"] = json.RawMessage(`"seal.verification_failed"`) },
		"critical": func(m map[string]json.RawMessage) { m["critical"] = json.RawMessage(`true`) },
	}
	for name, edit := range edits {
		c := map[string]json.RawMessage{}
		for k, v := range m {
			c[k] = v
		}
		edit(c)
		data, _ := json.Marshal(c)
		if bytes.Equal(data, []byte(line)) {
			t.Fatalf("edit %s changed nothing", name)
		}
		if code, rep := check("edited-"+name+".json", string(data)); code != 1 || rep["verdict"] != "invalid" {
			t.Fatalf("result with an edited %s: exit %d, %v", name, code, rep)
		}
	}
}

// TestQueryProofsKeepCanonicalEvents: events full of characters encoders
// rewrite (<, >, &, U+2028, non-ASCII, escaped quotes) survive
// audit-sealer query --json --proofs byte for byte, so audit-verify proof
// accepts every line; a line given a repeated member inside its event, or a
// case variant of a member, is refused as not well formed (exit 2).
func TestQueryProofsKeepCanonicalEvents(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	const n = 30
	key, err := testkit.BuildLogOf(dataDir, n, testkit.EscapeEvent)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(bin, "audit-sealer"), "query", "--key", key, "--data-dir", dataDir, "--json", "--proofs", "--limit", "100").Output()
	if err != nil {
		t.Fatalf("query --proofs: %v", err)
	}
	var lines [][]byte
	for line := range bytes.Lines(out) {
		if !bytes.HasPrefix(line, []byte(`{"summary"`)) {
			lines = append(lines, line)
		}
	}
	if len(lines) != n {
		t.Fatalf("%d results, want %d", len(lines), n)
	}
	dir := t.TempDir()
	check := func(line []byte) (int, string) {
		t.Helper()
		path := filepath.Join(dir, "result.json")
		if err := os.WriteFile(path, line, 0o600); err != nil {
			t.Fatal(err)
		}
		return auditVerifyArgsRaw(t, "proof", "--key", key, path)
	}
	for i, line := range lines {
		if code, out := check(line); code != 0 || !strings.Contains(out, "every field of the query result line is the proven record's") {
			t.Fatalf("result %d: exit %d\n%s\n%s", i, code, out, line)
		}
	}
	for _, tc := range []struct{ old, new, want string }{
		{`"reason":"`, `"reason":"nothing to see","reason":"`, `duplicate member "reason" in event`},
		{`"service":`, `"SERVICE":"forged","service":`, `unknown member "SERVICE"`},
	} {
		forged := bytes.Replace(lines[0], []byte(tc.old), []byte(tc.new), 1)
		if code, out := check(forged); code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want 2\n%s", tc.new, code, out)
		}
	}
}
