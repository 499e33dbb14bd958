package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/witness"
)

// TestSealerWitnessed runs the real sealer with two real litewitness
// instances in its configuration ([[witness]]): the log is created by a
// first run, registered with both witnesses (its origin and its dev key's
// note verifier key), and the sealer started again with the witnesses.
// While clients emit, the sealer submits its checkpoints; the log then
// holds audit.checkpoint_witnessed records from both witnesses, each
// cosignature verifying with that witness's key over the checkpoint text
// recorded with it, which is the text of a checkpoint of the log; and
// audit-verify finds the log intact.
func TestSealerWitnessed(t *testing.T) {
	requireTool(t, "ssh-agent")
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket)
	if err := d.stop(); err != nil {
		t.Fatalf("first run: %v\n%s", err, d.stderr)
	}
	cpFile, err := os.ReadFile(filepath.Join(dataDir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	origin, _, _ := strings.Cut(string(cpFile), "\n")
	out, err := exec.Command(filepath.Join(bin, "audit-sealer"), "keys", "export-public", "--current", "--dev", "--data-dir", dataDir, "--format", "note").Output()
	if err != nil {
		t.Fatalf("export-public --format note: %v", err)
	}
	vkey := strings.TrimSpace(string(out))

	ws := []*litewitness{
		startWitness(t, "witness.test/w1", origin, vkey),
		startWitness(t, "witness.test/w2", origin, vkey),
	}
	keys := map[string]*witness.Verifier{}
	var conf strings.Builder
	for i, w := range ws {
		name := fmt.Sprintf("w%d", i+1)
		keys[name] = w.client.Verifier
		fmt.Fprintf(&conf, "[[witness]]\nname = %q\nurl = %q\nvkey = %q\n\n", name, w.client.URL, w.client.Verifier.String())
	}
	conf.WriteString("[witnessing]\nquorum = 2\ninterval = \"500ms\"\nmax_requests_per_second = 10\ntimeout = \"5s\"\n")
	confPath := filepath.Join(t.TempDir(), "sealer.toml")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	d = startDaemon(t, dataDir, socket, "--config", confPath)
	stop := make(chan struct{})
	acks := make(chan []ack, 1)
	go func() { acks <- runClients(socket, 2, "witnessed", stop) }()
	time.Sleep(3 * time.Second)
	close(stop)
	if n := len(<-acks); n == 0 {
		t.Fatal("no event was acknowledged")
	}
	time.Sleep(2 * time.Second) // the checkpoint after the emits, witnessed
	text, err := exec.Command(filepath.Join(bin, "audit-sealer"), "status", "--socket", socket).Output()
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	t.Logf("audit-sealer status:\n%s", text)
	for _, want := range []string{"witnessed:       size ", "by a quorum of 2", "witness w1:", "witness w2:"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("status does not say %q", want)
		}
	}
	if strings.Contains(string(text), "failing") || strings.Contains(string(text), "witnessed:       size 0 ") {
		t.Errorf("status shows the witnesses failing or nothing witnessed")
	}
	if err := d.stop(); err != nil {
		t.Fatalf("audit-sealer: %v\n%s", err, d.stderr)
	}
	if strings.Contains(d.stderr.String(), "SPLIT VIEW") || strings.Contains(d.stderr.String(), "cannot get a cosignature") {
		t.Errorf("the sealer's log:\n%s", d.stderr)
	}

	texts := map[string]uint64{}
	for _, cp := range checkpointsOf(t, dataDir) {
		texts[string(cp[:bytes.LastIndex(cp, []byte("\n\n"))+1])] = sizeOf(t, cp)
	}
	var witnessed []*event.CheckpointWitnessed
	err = testkit.Records(dataDir, func(rec chain.Record) bool {
		if rec.Kind == chain.KindSealerEvent && string(rec.Type) == event.TypeCheckpointWitnessed {
			ev, err := event.Decode(rec.Event, event.DecodeOptions{AllowSealerEvents: true, Now: rec.Time()})
			if err != nil {
				t.Fatal(err)
			}
			witnessed = append(witnessed, ev.(*event.CheckpointWitnessed))
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]int{}
	for _, e := range witnessed {
		if size, ok := texts[e.Checkpoint]; !ok || size != e.Size {
			t.Fatalf("%s: the recorded checkpoint text (size %d) is not a checkpoint of the log", e.Witness, e.Size)
		}
		c, err := witness.ParseCosignature(e.Cosignature)
		if err != nil {
			t.Fatal(err)
		}
		if err := keys[e.Witness].VerifyCosignature([]byte(e.Checkpoint), c); err != nil {
			t.Fatalf("%s: %v", e.Witness, err)
		}
		by[e.Witness]++
	}
	t.Logf("cosignatures recorded: %v", by)
	if by["w1"] == 0 || by["w2"] == 0 {
		t.Fatalf("cosignatures recorded: %v\nthe sealer's log:\n%s", by, d.stderr)
	}
	code, rep := auditVerify(t, exportKey(t, dataDir), dataDir)
	if code != 0 || rep["verdict"] != "intact" {
		t.Fatalf("audit-verify: exit %d, verdict %v, %v", code, rep["verdict"], rep["first_failure"])
	}
}
