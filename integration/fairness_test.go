package integration

import (
	"bufio"
	"bytes"
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

// nobody is the uid and gid the flooding peer runs as.
const nobody = 65534

// TestQueueFairAcrossUIDs runs the real sealer with a small queue (256 KiB)
// and floods it from another uid (8 `audit-sealer emit` processes run as
// nobody, 1024 events in flight each) while a good client, root, emits one
// event at a time. The flood is shed (it holds its uid's share of the
// queue), and the good client's events are all accepted: a busy or hostile
// peer cannot get another peer's events shed. It needs root to run a
// process as another uid; on CI it fails instead of skipping.
func TestQueueFairAcrossUIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test runs a flooding peer as another uid and needs root; CI runs as root")
		}
		t.Skip("needs root to run a flooding peer as another uid")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	sockDir := shortSocketDir(t)
	socket := filepath.Join(sockDir, "s.sock")
	// nobody must reach the socket and run the binary.
	for _, dir := range []string{sockDir, bin} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d := startDaemonEnv(t, []string{"AUDIT_SEALER_DATA_DIR=" + dataDir, "AUDIT_SEALER_SOCKET=" + socket,
		"AUDIT_SEALER_DEV=true", "AUDIT_SEALER_SOCKET_MODE=0666", "AUDIT_SEALER_QUEUE_BYTES=262144"})

	var events bytes.Buffer
	for i := range 40000 {
		fmt.Fprintf(&events, `{"type":"seal.verified","timestamp":"%s","shard_id":"flood-%d","worker_id":"w"}`+"\n",
			time.Now().UTC().Format(time.RFC3339Nano), i)
	}
	type floodResult struct {
		out  []byte
		err  error
		code int
	}
	results := make([]floodResult, 8)
	var wg sync.WaitGroup
	for i := range results {
		cmd := exec.Command(filepath.Join(bin, "audit-sealer"), "emit", "--socket", socket)
		cmd.Stdin = bytes.NewReader(events.Bytes())
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := cmd.Output()
			results[i] = floodResult{out: append(out, stderr.Bytes()...), err: err, code: cmd.ProcessState.ExitCode()}
		}()
	}

	// The good client: one event at a time, acknowledged on acceptance,
	// until the flood is over (at least 2,000 events).
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	floodDone := make(chan struct{})
	go func() { wg.Wait(); close(floodDone) }()
	sent, refused := 0, []string{}
	for done := false; !done || sent < 2000; sent++ {
		select {
		case <-floodDone:
			done = true
		default:
		}
		fmt.Fprintf(c, `{"op":"emit","id":"g%d","event":{"type":"seal.verified","timestamp":"%s","shard_id":"good-%d","worker_id":"w"}}`+"\n",
			sent, time.Now().UTC().Format(time.RFC3339Nano), sent)
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("good client: %v", err)
		}
		if !strings.Contains(line, `"ok":true`) {
			refused = append(refused, strings.TrimSpace(line))
		}
	}
	<-floodDone

	shed, share, accepted := 0, 0, 0
	for i, res := range results {
		if res.code != 0 && res.code != 1 { // 1: some events were refused
			t.Fatalf("flooder %d: %v\n%s", i, res.err, res.out)
		}
		shed += bytes.Count(res.out, []byte(`"code":"shed"`))
		share += bytes.Count(res.out, []byte("holds its share"))
		accepted += bytes.Count(res.out, []byte(`"accepted":true`))
	}
	t.Logf("flood (uid %d): %d accepted, %d shed (%d for its share); good client (uid 0): %d sent, %d refused",
		nobody, accepted, shed, share, sent, len(refused))
	if shed == 0 {
		t.Fatal("the flood was never shed: the queue never filled, and the test shows nothing")
	}
	if len(refused) > 0 {
		t.Errorf("the good client had %d of %d events refused while another uid flooded, first: %s", len(refused), sent, refused[0])
	}
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	if code, rep := auditVerify(t, exportKey(t, dataDir), dataDir); code != 0 {
		t.Fatalf("audit-verify: %v", rep)
	}
}
