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

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/witness"
	"golang.org/x/mod/sumdb/note"
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
	sealerWitnessed(t, startWitness, startWitness)
}

// TestSealerWitnessedByOmniwitness is TestSealerWitnessed with one of the
// two witnesses an omniwitness (github.com/transparency-dev/witness, the
// witness of the transparency.dev witness network), started by
// scripts/witness/omniwitness.sh: another implementation of C2SP
// tlog-witness cosigns the sealer's checkpoints, extension lines included.
func TestSealerWitnessedByOmniwitness(t *testing.T) {
	requireTool(t, "ssh-agent")
	sealerWitnessed(t, startWitness, startOmniwitness)
}

// sealerWitnessed runs TestSealerWitnessed with witnesses w1 and w2
// started by start1 and start2.
func sealerWitnessed(t *testing.T, start1, start2 func(t *testing.T, name, origin, vkey string) *litewitness) {
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
		start1(t, "witness.test/w1", origin, vkey),
		start2(t, "witness.test/w2", origin, vkey),
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

	by := checkRecordedCosignatures(t, dataDir, keys)
	t.Logf("cosignatures recorded: %v", by)
	if by["w1"] == 0 || by["w2"] == 0 {
		t.Fatalf("cosignatures recorded: %v\nthe sealer's log:\n%s", by, d.stderr)
	}
	code, rep := auditVerify(t, exportKey(t, dataDir), dataDir)
	if code != 0 || rep["verdict"] != "intact" {
		t.Fatalf("audit-verify: exit %d, verdict %v, %v", code, rep["verdict"], rep["first_failure"])
	}
}

// TestECDSALogWitnessedOnSoftHSM: witnesses verify Ed25519 log signatures
// only. A log whose key on the token is ECDSA P-256 gets a second, Ed25519
// key on the same token ([witnessing] key_label) that signs what is sent to
// the witnesses, under the log's origin; `keys export-public --witness-key`
// prints its note verifier key, which is what the witnesses are given. The
// sealer refuses to start with witnesses and no such key. With it, both
// litewitness instances cosign the texts of the ECDSA-signed checkpoint
// records, the cosigned checkpoint file carries the ECDSA log line and the
// cosignatures, and the log verifies.
func TestECDSALogWitnessedOnSoftHSM(t *testing.T) {
	requireTool(t, "ssh-agent")
	env := softHSM(t, "ecdsa-p256")
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	env = append(env, "AUDIT_SEALER_DATA_DIR="+dataDir, "AUDIT_SEALER_SOCKET="+socket)
	if out, err := sealerCmd(env, "keys", "generate", "--algorithm", "ed25519", "--label", "witness").CombinedOutput(); err != nil {
		t.Fatalf("keys generate: %v\n%s", err, out)
	}
	serve := func(extra ...string) *daemon {
		t.Helper()
		return launch(t, sealerCmd(env, append([]string{"serve", "--segment-size", "65536"}, extra...)...), dataDir, socket)
	}
	if err := serve().stop(); err != nil {
		t.Fatal(err)
	}
	writeConf := func(ws []*litewitness, keyLabel string) string {
		var conf strings.Builder
		for i, w := range ws {
			fmt.Fprintf(&conf, "[[witness]]\nname = \"w%d\"\nurl = %q\nvkey = %q\n\n", i+1, w.client.URL, w.client.Verifier.String())
		}
		conf.WriteString("[witnessing]\ninterval = \"500ms\"\nmax_requests_per_second = 10\ntimeout = \"5s\"\n")
		if keyLabel != "" {
			fmt.Fprintf(&conf, "key_label = %q\n", keyLabel)
		}
		p := filepath.Join(t.TempDir(), "sealer.toml")
		if err := os.WriteFile(p, []byte(conf.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyOnly := writeConf(nil, "witness")
	out, err := sealerCmd(env, "keys", "export-public", "--witness-key", "--config", keyOnly).Output()
	if err != nil {
		t.Fatalf("export-public --witness-key: %v", err)
	}
	vkey := strings.TrimSpace(string(out))
	cpFile, err := os.ReadFile(filepath.Join(dataDir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	origin, _, _ := strings.Cut(string(cpFile), "\n")
	if !strings.HasPrefix(vkey, origin+"+") {
		t.Fatalf("the witnessing key %q is not named after the origin %q", vkey, origin)
	}
	ws := []*litewitness{startWitness(t, "witness.test/w1", origin, vkey), startWitness(t, "witness.test/w2", origin, vkey)}

	cmd := sealerCmd(env, "serve", "--config", writeConf(ws, ""))
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "key_label") {
		t.Fatalf("serve with witnesses, an ECDSA log key and no witnessing key: %v\n%s", err, out)
	}

	d := serve("--config", writeConf(ws, "witness"))
	if acks := runClients(socket, 2, "ecdsa", closedAfter(time.Second)); len(acks) == 0 {
		t.Fatalf("no event was acknowledged\n%s", d.stderr)
	}
	time.Sleep(2 * time.Second)
	if err := d.stop(); err != nil {
		t.Fatalf("audit-sealer: %v\n%s", err, d.stderr)
	}
	if strings.Contains(d.stderr.String(), "SPLIT VIEW") || strings.Contains(d.stderr.String(), "cannot get a cosignature") {
		t.Errorf("the sealer's log:\n%s", d.stderr)
	}
	by := checkRecordedCosignatures(t, dataDir, map[string]*witness.Verifier{"w1": ws[0].client.Verifier, "w2": ws[1].client.Verifier})
	for _, e := range witnessEventsOnly(t, dataDir) {
		if !strings.Contains(e.Checkpoint, "ecdsa-p256") {
			t.Fatalf("%s cosigned a checkpoint text that does not name the ECDSA log key:\n%s", e.Witness, e.Checkpoint)
		}
	}
	if by["w1"] == 0 || by["w2"] == 0 {
		t.Fatalf("cosignatures recorded: %v\n%s", by, d.stderr)
	}
	file, err := os.ReadFile(filepath.Join(dataDir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(file, note.VerifierList(ws[0].client.Verifier, ws[1].client.Verifier))
	if err != nil || len(n.Sigs) != 2 || len(n.UnverifiedSigs) != 1 {
		t.Fatalf("the checkpoint file: %v\n%s", err, file)
	}
	pem := filepath.Join(t.TempDir(), "key.pem")
	out, err = sealerCmd(env, "keys", "export-public", "--current").Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pem, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, rep := auditVerify(t, pem, dataDir); code != 0 || rep["verdict"] != "intact" {
		t.Fatalf("audit-verify: exit %d, %v", code, rep["first_failure"])
	}
}

// checkRecordedCosignatures checks every audit.checkpoint_witnessed record
// of the log in dir: its checkpoint text is the text of a checkpoint record
// of the log of the size it says, and its cosignature verifies over that
// text with the key of the witness it names. It returns how many each
// witness has.
func checkRecordedCosignatures(t *testing.T, dir string, keys map[string]*witness.Verifier) map[string]int {
	t.Helper()
	texts := map[string]uint64{}
	for _, cp := range checkpointsOf(t, dir) {
		texts[string(cp[:bytes.LastIndex(cp, []byte("\n\n"))+1])] = sizeOf(t, cp)
	}
	by := map[string]int{}
	for _, e := range witnessEventsOnly(t, dir) {
		if size, ok := texts[e.Checkpoint]; !ok || size != e.Size {
			t.Fatalf("%s: the recorded checkpoint text (size %d) is not a checkpoint of the log", e.Witness, e.Size)
		}
		c, err := witness.ParseCosignature(e.Cosignature)
		if err != nil {
			t.Fatal(err)
		}
		v := keys[e.Witness]
		if v == nil {
			t.Fatalf("a cosignature by unknown witness %q", e.Witness)
		}
		if err := v.VerifyCosignature([]byte(e.Checkpoint), c); err != nil {
			t.Fatalf("%s: %v", e.Witness, err)
		}
		by[e.Witness]++
	}
	return by
}

// witnessEventsOnly returns the audit.checkpoint_witnessed records of the
// log in dir.
func witnessEventsOnly(t *testing.T, dir string) []*event.CheckpointWitnessed {
	t.Helper()
	ws, _ := witnessEvents(t, dir)
	return ws
}
