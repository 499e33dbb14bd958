package integration

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExportFollow: audit-sealer export --follow writes records from a live
// sealer once they are sealed, one JSON line each, in sequence order.
func TestExportFollow(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket, "--seal-interval", "50ms")
	defer d.stop()
	exp := exec.Command(filepath.Join(bin, "audit-sealer"), "export", "--dev", "--data-dir", dataDir, "--format", "jsonl", "--follow", "--poll", "50ms")
	stdout, _ := exp.StdoutPipe()
	if err := exp.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { exp.Process.Kill(); exp.Wait() }()
	acks := runClients(socket, 2, "exp", closedAfter(300*time.Millisecond))
	want := map[string]bool{}
	for _, a := range acks {
		want[a.Marker] = true
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var last uint64
	deadline := time.After(20 * time.Second)
	for len(want) > 0 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("export stopped")
			}
			var m struct {
				Seq   uint64          `json:"seq"`
				Event json.RawMessage `json:"event"`
			}
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("not a JSON line: %q", l)
			}
			if m.Seq <= last {
				t.Fatalf("seq %d after %d", m.Seq, last)
			}
			last = m.Seq
			for marker := range want {
				if strings.Contains(string(m.Event), `"`+marker+`"`) {
					delete(want, marker)
				}
			}
		case <-deadline:
			t.Fatalf("%d acknowledged events never exported", len(want))
		}
	}
}
