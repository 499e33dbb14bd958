package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// requireTool skips when a command-line tool is missing on a developer's
// machine, and fails under CI=true, where scripts/test.sh installs it.
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; scripts/test.sh installs it", name)
		}
		t.Skipf("%s is not installed (apt-get install %s); skipping", name, name)
	}
}

// TestProtocolSocatExample runs the socat example of PROTOCOL.md exactly as
// written (only the socket path changes) against the real sealer.
func TestProtocolSocatExample(t *testing.T) {
	requireTool(t, "socat")
	doc, err := os.ReadFile("../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Example with socat\\s+```sh\\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("PROTOCOL.md has no socat example")
	}
	script := string(m[1])
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket)
	defer d.stop()
	script = strings.ReplaceAll(script, "/run/audit-sealer/audit.sock", socket)
	out, err := exec.Command("bash", "-c", script).Output()
	if err != nil {
		t.Fatalf("the example failed: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 reply lines, got %d:\n%s", len(lines), out)
	}
	for i, l := range lines {
		var rep map[string]any
		if err := json.Unmarshal([]byte(l), &rep); err != nil || rep["ok"] != true {
			t.Fatalf("reply %d is not ok: %s", i+1, l)
		}
	}
	var flush struct {
		CheckpointSize uint64 `json:"checkpoint_size"`
	}
	var emit struct {
		Seq uint64 `json:"seq"`
	}
	json.Unmarshal([]byte(lines[1]), &emit)
	json.Unmarshal([]byte(lines[2]), &flush)
	if flush.CheckpointSize <= emit.Seq {
		t.Fatalf("flush returned checkpoint size %d, which does not cover the emitted seq %d", flush.CheckpointSize, emit.Seq)
	}
}

// TestProtocolPythonExample runs the Python example of PROTOCOL.md exactly
// as written (only the socket path changes) against the real sealer, with
// python3 and nothing beyond its standard library.
func TestProtocolPythonExample(t *testing.T) {
	requireTool(t, "python3")
	doc, err := os.ReadFile("../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Example in Python\\s+.*?```python\\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("PROTOCOL.md has no Python example")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket)
	defer d.stop()
	script := strings.ReplaceAll(string(m[1]), "/run/audit-sealer/audit.sock", socket)
	cmd := exec.Command("python3", "-I", "-") // isolated: no site packages, no user environment
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the example failed: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 reply lines, got %d:\n%s", len(lines), out)
	}
	var emit struct {
		ID      string `json:"id"`
		Seq     uint64 `json:"seq"`
		AuditID string `json:"audit_id"`
		Durable bool   `json:"durable"`
	}
	var flush struct {
		ID             string `json:"id"`
		CheckpointSize uint64 `json:"checkpoint_size"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &emit); err != nil || emit.ID != "1" || !emit.Durable || emit.AuditID == "" {
		t.Fatalf("emit reply: %s (%v)", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &flush); err != nil || flush.ID != "2" || flush.CheckpointSize <= emit.Seq {
		t.Fatalf("flush reply %s does not cover the emitted seq %d (%v)", lines[1], emit.Seq, err)
	}
	// The refusal path of the example: an event the sealer refuses makes
	// it exit non-zero with the error's code.
	bad := strings.Replace(script, `"shard_id": "shard-1", `, "", 1)
	cmd = exec.Command("python3", "-I", "-")
	cmd.Stdin = strings.NewReader(bad)
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "invalid_event") {
		t.Fatalf("the example with a refused event: %v\n%s", err, out)
	}
}
