package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStorageFaults injects write and fdatasync failures into the running
// sealer with strace (only on its segment file), then stops injecting: while
// the disk fails, durable emits get an error and no ack; afterwards the
// sealer cuts what it could not make durable (kept aside), records
// audit.storage_recovered, and accepts events again; every acknowledged
// event is in the log once and the log verifies.
func TestStorageFaults(t *testing.T) {
	requireTool(t, "strace")
	for _, fault := range []struct{ name, inject string }{
		{"ENOSPC on write", "write:error=ENOSPC"},
		{"EIO on fdatasync", "fdatasync:error=EIO"},
	} {
		t.Run(fault.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			socket := filepath.Join(shortSocketDir(t), "s.sock")
			d := startDaemon(t, dataDir, socket, "--segment-size", "100000000")
			c, err := net.Dial("unix", socket)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReader(c)
			n := 0
			emit := func() map[string]any {
				n++
				ev := fmt.Sprintf(`{"type":"seal.verified","timestamp":"%s","shard_id":"f-%d","worker_id":"w"}`, time.Now().UTC().Format(time.RFC3339Nano), n)
				fmt.Fprintf(c, `{"op":"emit","durable":true,"event":%s}`+"\n", ev)
				c.SetReadDeadline(time.Now().Add(20 * time.Second))
				line, err := r.ReadBytes('\n')
				if err != nil {
					t.Fatalf("reply: %v\n%s", err, d.stderr)
				}
				var m map[string]any
				json.Unmarshal(line, &m)
				m["marker"] = fmt.Sprintf("f-%d", n)
				return m
			}
			var acked []ack
			keep := func(m map[string]any) {
				if m["ok"] == true {
					acked = append(acked, ack{Seq: uint64(m["seq"].(float64)), AuditID: m["audit_id"].(string), Marker: m["marker"].(string)})
				}
			}
			for i := 0; i < 5; i++ {
				m := emit()
				if m["ok"] != true {
					t.Fatalf("emit before the fault: %v", m)
				}
				keep(m)
			}
			segs, _ := filepath.Glob(filepath.Join(dataDir, "*.seg"))
			seg := segs[len(segs)-1]
			st := exec.Command("strace", "-f", "-qq", "-p", strconv.Itoa(d.cmd.Process.Pid), "-P", seg, "-e", "trace="+strings.SplitN(fault.inject, ":", 2)[0], "-e", "inject="+fault.inject)
			if err := st.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond) // strace attaches to every thread
			failed := 0
			for i := 0; i < 5; i++ {
				m := emit()
				if m["ok"] == true {
					keep(m)
					continue
				}
				failed++
				if code := m["error"].(map[string]any)["code"]; code != "unavailable" {
					t.Fatalf("durable emit while the disk fails: code %v, want unavailable", code)
				}
			}
			if failed == 0 {
				t.Fatalf("no emit failed while %s was injected", fault.inject)
			}
			st.Process.Signal(syscall.SIGINT) // strace detaches cleanly
			st.Wait()
			deadline := time.Now().Add(15 * time.Second)
			for {
				m := emit()
				if m["ok"] == true {
					keep(m)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the sealer did not recover after the fault stopped: %v\n%s", m, d.stderr)
				}
				time.Sleep(200 * time.Millisecond)
			}
			for i := 0; i < 5; i++ {
				m := emit()
				if m["ok"] != true {
					t.Fatalf("emit after recovery: %v", m)
				}
				keep(m)
			}
			c.Close()
			if err := d.stop(); err != nil {
				t.Fatalf("stop: %v\n%s", err, d.stderr)
			}
			code, rep := auditVerify(t, exportKey(t, dataDir), dataDir)
			if code != 0 {
				t.Fatalf("audit-verify: %v", rep)
			}
			checkAcksPresentOnce(t, dataDir, acked)
			recovered := 0
			for _, e := range readEvents(t, dataDir) {
				if e.Type == "audit.storage_recovered" {
					recovered++
				}
			}
			if recovered == 0 {
				t.Fatal("no audit.storage_recovered record")
			}
			if !strings.Contains(d.stderr.String(), "THE LOG CANNOT BE WRITTEN") {
				t.Fatalf("the failure was not logged loudly:\n%s", d.stderr)
			}
		})
	}
}
