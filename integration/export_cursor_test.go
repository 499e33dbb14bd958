package integration

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestExportCursorSurvivesSIGKILL: a sealer takes a steady load while
// `audit-sealer export --follow --cursor-file F --sink hec` delivers to a
// collector over mutual TLS, and the exporter is killed with SIGKILL again
// and again (at random moments, and three times just after the collector
// took a batch and before its confirmation reached the exporter) and
// started again on the same cursor file. In the end the collector holds
// every record a one-shot export of the log gives, in order: each record
// arrived once unmarked and never before, or again marked redelivered
// after a copy that arrived earlier; no record is missing, none arrives
// twice unmarked, and no unmarked record arrives out of order.
func TestExportCursorSurvivesSIGKILL(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket, "--seal-interval", "20ms")
	defer d.stop()
	pki := newExportPKI(t)
	col := startHECCollector(t, pki, "tok-export")
	col.delay = 3 * time.Millisecond
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("tok-export\n"), 0o600)
	cursor := filepath.Join(t.TempDir(), "hec.cursor")

	stopLoad := make(chan struct{})
	acked := steadyLoad(t, socket, 2*time.Millisecond, stopLoad)

	var stderr bytes.Buffer
	start := func() *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, "audit-sealer"), "export", "--dev", "--data-dir", dataDir, "--format", "ocsf",
			"--follow", "--poll", "30ms", "--cursor-file", cursor, "--batch", "25",
			"--sink", "hec", "--sink-address", col.srv.URL, "--hec-token-file", tokenFile,
			"--sink-ca", pki.CA, "--sink-cert", pki.ClientCert, "--sink-key", pki.ClientKey, "--retry-max", "200ms")
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill timing seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 1))
	const kills = 9
	held := 0
	for i := 0; i < kills; i++ {
		cmd := start()
		if i%3 == 1 {
			// Kill it while the collector holds a batch it has taken.
			h, release := col.holdNext()
			select {
			case <-h:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("run %d delivered nothing in 20 s\n%s", i, stderr.String())
			}
			cmd.Process.Kill()
			cmd.Wait()
			close(release)
			held++
		} else {
			time.Sleep(time.Duration(100+rnd.IntN(400)) * time.Millisecond)
			cmd.Process.Kill()
			cmd.Wait()
		}
		time.Sleep(time.Duration(rnd.IntN(100)) * time.Millisecond)
	}
	// The last run: the load stops, and it catches up.
	last := start()
	time.Sleep(300 * time.Millisecond)
	close(stopLoad)
	n := <-acked
	if n < 200 {
		t.Fatalf("the sealer acknowledged only %d events under load", n)
	}
	deadline := time.Now().Add(30 * time.Second)
	var want []uint64
	for {
		want = exportedSeqs(t, dataDir)
		evs := col.snapshot()
		if len(want) > 0 && len(evs) > 0 && evs[len(evs)-1].Seq >= want[len(want)-1] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector did not catch up: %d records exported, last %d\n%s", len(want), want[len(want)-1], stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	last.Process.Signal(os.Interrupt)
	if err := last.Wait(); err != nil {
		t.Fatalf("the last export, stopped with SIGINT: %v\n%s", err, stderr.String())
	}

	evs := col.snapshot()
	seen := map[string]bool{}
	var order []uint64
	var lastUnmarked uint64
	marked, dup := 0, 0
	for i, ev := range evs {
		if ev.AuditID == "" || !strings.HasSuffix(ev.AuditID, fmt.Sprintf("-%d", ev.Seq)) || !bytes.Contains(ev.Event, []byte(`"uid":"`+ev.AuditID+`"`)) {
			t.Fatalf("event %d: audit_id %q does not name seq %d, or the OCSF event is not its record", i, ev.AuditID, ev.Seq)
		}
		if ev.Redelivered {
			marked++
		}
		if seen[ev.AuditID] {
			if !ev.Redelivered {
				t.Fatalf("record %d arrived twice, the second time (event %d) not marked redelivered", ev.Seq, i)
			}
			dup++
			continue
		}
		if !ev.Redelivered {
			if ev.Seq <= lastUnmarked {
				t.Fatalf("record %d arrived after record %d", ev.Seq, lastUnmarked)
			}
			lastUnmarked = ev.Seq
		}
		seen[ev.AuditID] = true
		order = append(order, ev.Seq)
	}
	if !slices.Equal(order, want) {
		var missing []uint64
		for _, s := range want {
			if !slices.Contains(order, s) {
				missing = append(missing, s)
			}
		}
		t.Fatalf("the collector holds %d distinct records, the log %d: missing %v (first ones), or out of order", len(order), len(want), missing[:min(len(missing), 10)])
	}
	if dup == 0 || held == 0 {
		t.Fatalf("no batch was taken twice (%d held kills): the kills did not hit a delivery", held)
	}
	t.Logf("%d records, %d deliveries (%d marked redelivered, %d of them copies), %d kills (%d while the collector held a batch), %d requests",
		len(want), len(evs), marked, dup, kills, held, col.requests)
	if !strings.Contains(stderr.String(), "marked redelivered") {
		t.Errorf("no run said it was sending records again:\n%s", stderr.String())
	}
}
