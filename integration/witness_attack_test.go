package integration

import (
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
)

// witnessEvents returns the audit.checkpoint_witnessed and
// audit.witness_alarm records of the log in dir.
func witnessEvents(t *testing.T, dir string) (witnessed []*event.CheckpointWitnessed, alarms []*event.WitnessAlarm) {
	t.Helper()
	err := testkit.Records(dir, func(rec chain.Record) bool {
		if rec.Kind != chain.KindSealerEvent {
			return true
		}
		switch string(rec.Type) {
		case event.TypeCheckpointWitnessed, event.TypeWitnessAlarm:
			ev, err := event.Decode(rec.Event, event.DecodeOptions{AllowSealerEvents: true, Now: rec.Time()})
			if err != nil {
				t.Fatal(err)
			}
			switch e := ev.(type) {
			case *event.CheckpointWitnessed:
				witnessed = append(witnessed, e)
			case *event.WitnessAlarm:
				alarms = append(alarms, e)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return witnessed, alarms
}

// witnessedBy returns the largest size each witness cosigned in the log.
func witnessedBy(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	ws, _ := witnessEvents(t, dir)
	got := map[string]uint64{}
	for _, e := range ws {
		got[e.Witness] = max(got[e.Witness], e.Size)
	}
	return got
}

// TestWitnessesCatchRewrittenHistory is the attack witnesses exist for
// (FORMAT.md §5.6, §9): root on the host, holding the real HSM key, puts
// back an old copy of the data directory and goes on from it with other
// records, every checkpoint signed by the real key. The TPM counter says
// the copy is old; root overrides that (--accept-rollback, as an operator
// could). The two witnesses (real litewitness instances) cosigned the
// honest history beyond the copy, so they refuse every checkpoint of the
// rewritten one: the sealer raises the split-view alarm (logged at error,
// recorded in the chain as audit.witness_alarm for each witness) and
// records no cosignature of the rewritten history. audit-verify with the
// auditor's witness policy (both witnesses, quorum 2) finds the honest log
// intact and the rewritten one inconsistent_with_witness, which the log
// key alone cannot tell; the honest cosigned checkpoint an auditor kept
// fails the rewritten log too.
func TestWitnessesCatchRewrittenHistory(t *testing.T) {
	requireTool(t, "ssh-agent")
	hsmEnv := softHSM(t, "ed25519")
	tpmEnv, _ := swtpm(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	env := append(append(hsmEnv, tpmEnv...), "AUDIT_SEALER_DATA_DIR="+dataDir, "AUDIT_SEALER_SOCKET="+socket, "AUDIT_SEALER_ANCHOR_INTERVAL=200ms")
	if out, err := sealerCmd(env, "tpm", "provision").CombinedOutput(); err != nil {
		t.Fatalf("tpm provision: %v\n%s", err, out)
	}
	serve := func(extra ...string) *daemon {
		t.Helper()
		return launch(t, sealerCmd(env, append([]string{"serve", "--segment-size", "65536"}, extra...)...), dataDir, socket)
	}
	stopOK := func(d *daemon) {
		t.Helper()
		if err := d.stop(); err != nil {
			t.Fatalf("audit-sealer: %v\n%s", err, d.stderr)
		}
	}

	// The log, created without witnesses, registered with two.
	stopOK(serve())
	cpFile, err := os.ReadFile(filepath.Join(dataDir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	origin, _, _ := strings.Cut(string(cpFile), "\n")
	out, err := sealerCmd(env, "keys", "export-public", "--current", "--format", "note").Output()
	if err != nil {
		t.Fatalf("export-public --format note: %v", err)
	}
	vkey := strings.TrimSpace(string(out))
	ws := []*litewitness{startWitness(t, "witness.test/w1", origin, vkey), startWitness(t, "witness.test/w2", origin, vkey)}
	bundle := filepath.Join(t.TempDir(), "key-history.json")
	if out, err := sealerCmd(env, "keys", "export-public").Output(); err != nil {
		t.Fatalf("keys export-public: %v", err)
	} else if err := os.WriteFile(bundle, out, 0o600); err != nil {
		t.Fatal(err)
	}
	// The auditor's policy: both witnesses.
	policy := []string{"--key", bundle, "--require-hardware", "--json",
		"--witness", ws[0].client.Verifier.String(), "--witness", ws[1].client.Verifier.String(), "--witness-quorum", "2"}
	var conf strings.Builder
	for i, w := range ws {
		fmt.Fprintf(&conf, "[[witness]]\nname = \"w%d\"\nurl = %q\nvkey = %q\n\n", i+1, w.client.URL, w.client.Verifier.String())
	}
	conf.WriteString("[witnessing]\nquorum = 2\ninterval = \"200ms\"\nmax_requests_per_second = 10\ntimeout = \"5s\"\n")
	confPath := filepath.Join(t.TempDir(), "sealer.toml")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	witnessedRun := func(round string, extra ...string) *daemon {
		t.Helper()
		d := serve(append([]string{"--config", confPath}, extra...)...)
		if acks := runClients(socket, 2, round, closedAfter(time.Second)); len(acks) == 0 {
			t.Fatalf("%s: no event was acknowledged\n%s", round, d.stderr)
		}
		time.Sleep(1500 * time.Millisecond) // the last checkpoints reach the witnesses
		return d
	}

	// Honest history, part 1; root's backup of it.
	stopOK(witnessedRun("honest-1"))
	backup := filepath.Join(t.TempDir(), "backup")
	copyTree(t, dataDir, backup)
	before := witnessedBy(t, dataDir)
	if before["w1"] == 0 || before["w2"] == 0 {
		t.Fatalf("nothing witnessed in the first run: %v", before)
	}
	// Honest history, part 2: the witnesses cosign past the backup.
	stopOK(witnessedRun("honest-2"))
	honest := witnessedBy(t, dataDir)
	if honest["w1"] <= before["w1"] || honest["w2"] <= before["w2"] {
		t.Fatalf("the second run was not witnessed past the first: %v, then %v", before, honest)
	}
	if code, rep := auditVerifyArgs(t, append(policy, dataDir)...); code != 0 || rep["verdict"] != "intact" {
		t.Fatalf("audit-verify --witness on the honest log: exit %d, %v %v", code, rep["verdict"], rep["first_failure"])
	}
	// What an auditor (or anyone) kept of the honest history: the latest
	// cosigned checkpoint, as the sealer keeps it in the checkpoint file.
	kept := filepath.Join(t.TempDir(), "kept-checkpoint")
	if b, err := os.ReadFile(filepath.Join(dataDir, "checkpoint")); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(kept, b, 0o600); err != nil {
		t.Fatal(err)
	}

	// The attack: the backup restored, the rollback overridden, other
	// records sealed with the real key.
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	copyTree(t, backup, dataDir)
	d := witnessedRun("rewritten", "--accept-rollback")
	alarmed := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(alarmed) < 2 {
		text, _ := exec.Command(filepath.Join(bin, "audit-sealer"), "status", "--socket", socket).Output()
		for _, name := range []string{"w1", "w2"} {
			for _, line := range strings.Split(string(text), "\n") {
				if strings.Contains(line, "witness "+name+":") && strings.Contains(strings.ToLower(line), "split view") {
					alarmed[name] = true
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	stopOK(d)
	if len(alarmed) != 2 {
		t.Errorf("status shows a split view for %v, want w1 and w2", alarmed)
	}
	if n := strings.Count(d.stderr.String(), "SPLIT VIEW"); n < 2 {
		t.Errorf("the sealer logged %d split-view alarms, want one per witness:\n%s", n, d.stderr)
	}
	witnessed, alarms := witnessEvents(t, dataDir)
	by := map[string]bool{}
	for _, a := range alarms {
		by[a.Witness] = true
		known := "none"
		if a.KnownSize != nil {
			known = fmt.Sprint(*a.KnownSize)
		}
		t.Logf("audit.witness_alarm: %s old_size %d size %d known_size %s: %s", a.Witness, a.OldSize, a.Size, known, a.Answer)
	}
	if !by["w1"] || !by["w2"] {
		t.Fatalf("audit.witness_alarm recorded for %v, want w1 and w2", by)
	}
	for _, e := range witnessed {
		if e.Size > before[e.Witness] {
			t.Fatalf("%s cosigned size %d of the rewritten history (the backup ended at %d)", e.Witness, e.Size, before[e.Witness])
		}
	}

	// The rewritten copy, signed by the real key, fails the witness
	// policy: the alarms the sealer recorded name witnesses whose
	// cosignatures the log holds.
	code, rep := auditVerifyArgs(t, append(policy, dataDir)...)
	ff, _ := rep["first_failure"].(map[string]any)
	t.Logf("audit-verify --witness on the rewritten log: exit %d, %v: %v", code, rep["verdict"], ff["detail"])
	if code != 1 || ff["reason"] != "inconsistent_with_witness" {
		t.Fatalf("audit-verify --witness on the rewritten log: exit %d, %v", code, ff)
	}
	// Without the policy the key alone cannot tell (every signature is the
	// real key's), but the override is an exception of the report.
	if code, rep := auditVerifyArgs(t, "--key", bundle, "--require-hardware", "--json", dataDir); code != 0 {
		t.Fatalf("audit-verify without a witness policy: exit %d, %v", code, rep["first_failure"])
	}
	// The honest cosigned checkpoint the auditor kept disagrees with the
	// rewritten log: another root at its size, or beyond the log's end.
	code, rep = auditVerifyArgs(t, append(policy, "--checkpoint", kept, dataDir)...)
	ff, _ = rep["first_failure"].(map[string]any)
	if code != 1 || (ff["reason"] != "inconsistent_with_witness" && ff["reason"] != "truncated") {
		t.Fatalf("audit-verify --witness --checkpoint (the honest cosigned checkpoint) on the rewritten log: exit %d, %v", code, ff)
	}
}
