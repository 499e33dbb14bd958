package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"

	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// daemon is a running audit-sealer serve process.
type daemon struct {
	t       *testing.T
	cmd     *exec.Cmd
	dataDir string
	socket  string
	stderr  *bytes.Buffer
	done    chan error
}

// startDaemon runs `audit-sealer serve --dev` on dataDir with small segments.
func startDaemon(t *testing.T, dataDir, socket string, extra ...string) *daemon {
	t.Helper()
	args := append([]string{"serve", "--dev", "--data-dir", dataDir, "--socket", socket, "--segment-size", "65536"}, extra...)
	return launch(t, exec.Command(filepath.Join(bin, "audit-sealer"), args...), dataDir, socket)
}

// startDaemonEnv runs `audit-sealer serve` configured by environment
// variables only (AUDIT_SEALER_DATA_DIR and AUDIT_SEALER_SOCKET among them).
func startDaemonEnv(t *testing.T, env []string) *daemon {
	t.Helper()
	var dataDir, socket string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "AUDIT_SEALER_DATA_DIR="); ok {
			dataDir = v
		}
		if v, ok := strings.CutPrefix(kv, "AUDIT_SEALER_SOCKET="); ok {
			socket = v
		}
	}
	cmd := exec.Command(filepath.Join(bin, "audit-sealer"), "serve", "--segment-size", "65536")
	cmd.Env = append(os.Environ(), env...)
	return launch(t, cmd, dataDir, socket)
}

func launch(t *testing.T, cmd *exec.Cmd, dataDir, socket string) *daemon {
	t.Helper()
	d := &daemon{t: t, cmd: cmd, dataDir: dataDir, socket: socket, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", socket); err == nil {
			c.Close()
			return d
		}
		select {
		case err := <-d.done:
			t.Fatalf("audit-sealer exited at start: %v\n%s", err, d.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	d.cmd.Process.Kill()
	t.Fatalf("audit-sealer did not open its socket\n%s", d.stderr)
	return nil
}

// stop sends SIGTERM and returns the exit error (nil for status 0).
func (d *daemon) stop() error {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		return err
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		return fmt.Errorf("audit-sealer did not stop within 30 s after SIGTERM")
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (d *daemon) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// ack is one durable acknowledgement a client received.
type ack struct {
	Seq     uint64
	AuditID string
	Marker  string
}

// durableClient sends durable seal.verified events whose shard_id is a
// unique marker, pipelining up to 16, until stop is closed or the connection
// breaks, and returns the acknowledgements it received.
func durableClient(socket, name string, stop <-chan struct{}) []ack {
	c, err := net.Dial("unix", socket)
	if err != nil {
		return nil
	}
	defer c.Close()
	markers := make(chan string, 16)
	go func() {
		defer close(markers)
		w := bufio.NewWriter(c)
		for i := 0; ; i++ {
			select {
			case <-stop:
				w.Flush()
				return
			default:
			}
			marker := fmt.Sprintf("%s-%06d", name, i)
			line := fmt.Sprintf(`{"op":"emit","durable":true,"event":{"type":"seal.verified","timestamp":"%s","shard_id":"%s","worker_id":"worker-gpu-0"}}`+"\n",
				time.Now().UTC().Format(time.RFC3339Nano), marker)
			if _, err := w.WriteString(line); err != nil {
				return
			}
			// Flush before waiting for room: a reply can only come for a
			// request that left the buffer.
			if w.Flush() != nil {
				return
			}
			select {
			case markers <- marker:
			case <-stop:
				return
			}
		}
	}()
	r := bufio.NewReader(c)
	var acks []ack
	for m := range markers {
		line, err := r.ReadBytes('\n')
		if err != nil {
			// The sealer died: drain the sender and report what was acknowledged.
			c.Close()
			for range markers {
			}
			return acks
		}
		var rep struct {
			OK      bool   `json:"ok"`
			Seq     uint64 `json:"seq"`
			AuditID string `json:"audit_id"`
		}
		if json.Unmarshal(line, &rep) == nil && rep.OK {
			acks = append(acks, ack{Seq: rep.Seq, AuditID: rep.AuditID, Marker: m})
		}
	}
	return acks
}

// runClients runs n durable clients until stop closes and returns all acks.
func runClients(socket string, n int, round string, stop <-chan struct{}) []ack {
	var mu sync.Mutex
	var all []ack
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a := durableClient(socket, fmt.Sprintf("%s-c%d", round, i), stop)
			mu.Lock()
			all = append(all, a...)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	return all
}

// exportKey writes the dev public key of dataDir to a PEM file.
func exportKey(t *testing.T, dataDir string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(bin, "audit-sealer"), "keys", "export-public", "--current", "--dev", "--data-dir", dataDir).Output()
	if err != nil {
		t.Fatalf("export-public: %v", err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(path, out, 0o600)
	return path
}

// auditVerify runs the audit-verify binary and returns its exit code and JSON report.
func auditVerify(t *testing.T, key, dataDir string) (int, map[string]any) {
	t.Helper()
	return auditVerifyArgs(t, "--key", key, "--json", dataDir)
}

// auditVerifyArgs runs audit-verify with args (which must include --json).
func auditVerifyArgs(t *testing.T, args ...string) (int, map[string]any) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "audit-verify"), args...)
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("audit-verify output: %v\n%s", err, out)
	}
	return code, rep
}

func shortSocketDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "as")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestStopWithSIGTERMSealsAndExitsZero(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket)
	stop := make(chan struct{})
	time.AfterFunc(300*time.Millisecond, func() { close(stop) })
	acks := runClients(socket, 3, "term", stop)
	if len(acks) == 0 {
		t.Fatalf("no acknowledgements\n%s", d.stderr)
	}
	if err := d.stop(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, d.stderr)
	}
	code, rep := auditVerify(t, exportKey(t, dataDir), dataDir)
	if code != 0 || rep["verdict"] != "intact" {
		t.Fatalf("audit-verify exit %d: %v", code, rep)
	}
	if !strings.Contains(d.stderr.String(), "DEVELOPMENT MODE") {
		t.Fatal("--dev is not flagged in the log")
	}
	checkAcksPresentOnce(t, dataDir, acks)
}

// TestKillNineLosesNothingAcknowledged kills the sealer with SIGKILL under
// load several times; every event acknowledged as durable is in the log
// exactly once afterwards and the log verifies.
func TestKillNineLosesNothingAcknowledged(t *testing.T) {
	iterations := 3
	if v := os.Getenv("AUDIT_SEALER_KILL_ITERATIONS"); v != "" {
		fmt.Sscan(v, &iterations)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	var all []ack
	for it := 0; it < iterations; it++ {
		d := startDaemon(t, dataDir, socket)
		stop := make(chan struct{})
		result := make(chan []ack)
		go func() { result <- runClients(socket, 4, fmt.Sprintf("k%d", it), stop) }()
		// Kill at a varying point in the stream.
		time.Sleep(time.Duration(150+97*it%300) * time.Millisecond)
		d.kill()
		close(stop)
		acks := <-result
		if len(acks) == 0 {
			t.Fatalf("iteration %d: no acknowledgements before the kill\n%s", it, d.stderr)
		}
		all = append(all, acks...)
	}
	d := startDaemon(t, dataDir, socket) // recovers the last crash
	if err := d.stop(); err != nil {
		t.Fatalf("final stop: %v\n%s", err, d.stderr)
	}
	code, rep := auditVerify(t, exportKey(t, dataDir), dataDir)
	if code != 0 || rep["verdict"] != "intact" {
		t.Fatalf("audit-verify exit %d: %v", code, rep)
	}
	checkAcksPresentOnce(t, dataDir, all)
	t.Logf("%d iterations, %d durable acknowledgements, all present once", iterations, len(all))
}

// checkAcksPresentOnce reads every record of the log and checks that each
// acknowledged marker is there exactly once, at the acknowledged sequence
// number with the acknowledged audit_id.
func checkAcksPresentOnce(t *testing.T, dataDir string, acks []ack) {
	t.Helper()
	records := readEvents(t, dataDir)
	count := map[string]int{}
	where := map[string]eventRecord{}
	for _, r := range records {
		var ev struct {
			ShardID string `json:"shard_id"`
		}
		if json.Unmarshal(r.Event, &ev) == nil && ev.ShardID != "" {
			count[ev.ShardID]++
			where[ev.ShardID] = r
		}
	}
	for _, a := range acks {
		if count[a.Marker] != 1 {
			t.Fatalf("acknowledged event %s (seq %d) is in the log %d times", a.Marker, a.Seq, count[a.Marker])
		}
		r := where[a.Marker]
		if r.Seq != a.Seq || r.AuditID != a.AuditID {
			t.Fatalf("event %s: acknowledged as seq %d / %s, stored as seq %d / %s", a.Marker, a.Seq, a.AuditID, r.Seq, r.AuditID)
		}
	}
	for m, n := range count {
		if n != 1 {
			t.Fatalf("event %s is in the log %d times", m, n)
		}
	}
}
