package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// immutable sets or clears the immutable attribute (chattr +i), which even
// root cannot write through: the way to make a directory read-only for a
// test that runs as root.
func immutable(t *testing.T, on bool, paths ...string) {
	t.Helper()
	flag := "-i"
	if on {
		flag = "+i"
	}
	out, err := exec.Command("chattr", append([]string{flag}, paths...)...).CombinedOutput()
	if on && err == nil {
		// Never leave an immutable directory behind, whatever happens.
		t.Cleanup(func() { exec.Command("chattr", append([]string{"-i"}, paths...)...).Run() })
	}
	if err != nil {
		if on {
			t.Skipf("chattr +i does not work here (%v: %s); skipping", err, out)
		}
		t.Fatalf("chattr -i: %v: %s", err, out)
	}
}

// TestReadOnlyDataDir: a data directory that cannot be written stops the
// sealer at start with a message that says so; one that becomes read-only
// while the sealer runs makes it refuse events loudly (no acks) until it
// can write again, then it resumes and the log verifies.
func TestReadOnlyDataDir(t *testing.T) {
	requireTool(t, "chattr")
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket)
	runClients(socket, 1, "ro", closedAfter(100*time.Millisecond))
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}

	// At start: everything read-only.
	files, _ := filepath.Glob(filepath.Join(dataDir, "*"))
	immutable(t, true, append([]string{dataDir}, files...)...)
	out, err := exec.Command(filepath.Join(bin, "audit-sealer"), "serve", "--dev", "--data-dir", dataDir, "--socket", socket).CombinedOutput()
	immutable(t, false, append([]string{dataDir}, files...)...)
	if err == nil || !strings.Contains(string(out), "operation not permitted") {
		t.Fatalf("serve on a read-only data directory: %v\n%s", err, out)
	}

	// Mid-run: the directory becomes read-only (no file can be created or
	// renamed in it), then writable again.
	d = startDaemon(t, dataDir, socket, "--seal-interval", "50ms")
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	n := 0
	var acked []ack
	emit := func() map[string]any {
		n++
		marker := fmt.Sprintf("ro-%d", n)
		fmt.Fprintf(c, `{"op":"emit","durable":true,"event":{"type":"seal.verified","timestamp":"%s","shard_id":"%s","worker_id":"w"}}`+"\n",
			time.Now().UTC().Format(time.RFC3339Nano), marker)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		line, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("reply: %v\n%s", err, d.stderr)
		}
		var m map[string]any
		json.Unmarshal(line, &m)
		if m["ok"] == true {
			acked = append(acked, ack{Seq: uint64(m["seq"].(float64)), AuditID: m["audit_id"].(string), Marker: marker})
		}
		return m
	}
	emit()
	immutable(t, true, dataDir)
	refused := false
	for i := 0; i < 100 && !refused; i++ {
		if m := emit(); m["ok"] != true {
			refused = true
			if code := m["error"].(map[string]any)["code"]; code != "unavailable" {
				immutable(t, false, dataDir)
				t.Fatalf("emit into a read-only directory: %v", m)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	immutable(t, false, dataDir)
	if !refused {
		t.Fatalf("the sealer never noticed the read-only directory\n%s", d.stderr)
	}
	deadline := time.Now().Add(15 * time.Second)
	for emit()["ok"] != true {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after the directory became writable\n%s", d.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.Close()
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	if !strings.Contains(d.stderr.String(), "THE LOG CANNOT BE WRITTEN") {
		t.Fatal("the read-only directory was not reported loudly")
	}
	code, rep := auditVerify(t, exportKey(t, dataDir), dataDir)
	if code != 0 {
		t.Fatalf("audit-verify: %v", rep)
	}
	checkAcksPresentOnce(t, dataDir, acked)
}
