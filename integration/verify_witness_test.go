package integration

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/witness"
)

// witnessedRun runs the real sealer with two real litewitness instances
// (as TestSealerWitnessed does): a first run creates the log, the
// witnesses learn its origin and key, a second run with them in its
// configuration takes events from two clients for three seconds, waits
// for the last checkpoints to be witnessed and stops. It returns the data
// directory, the witnesses and the configuration file.
func witnessedRun(t *testing.T) (string, []*litewitness, string) {
	t.Helper()
	requireTool(t, "ssh-agent")
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket)
	if err := d.stop(); err != nil {
		t.Fatalf("first run: %v\n%s", err, d.stderr)
	}
	cpFile, err := os.ReadFile(filepath.Join(dataDir, storage.CheckpointFile))
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
	var conf strings.Builder
	for i, w := range ws {
		fmt.Fprintf(&conf, "[[witness]]\nname = \"w%d\"\nurl = %q\nvkey = %q\n\n", i+1, w.client.URL, w.client.Verifier.String())
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
	if err := d.stop(); err != nil {
		t.Fatalf("audit-sealer: %v\n%s", err, d.stderr)
	}
	if strings.Contains(d.stderr.String(), "SPLIT VIEW") {
		t.Fatalf("the sealer's log:\n%s", d.stderr)
	}
	return dataDir, ws, confPath
}

// witnessArgs are the --witness flags that list the witnesses.
func witnessArgs(ws []*litewitness) []string {
	var args []string
	for _, w := range ws {
		args = append(args, "--witness", w.client.Verifier.String())
	}
	return args
}

// verifyReason runs audit-verify --json with args and returns its exit
// status, the reason of its first failure ("" for none) and the report.
func verifyReason(t *testing.T, args ...string) (int, string, map[string]any) {
	t.Helper()
	code, rep := auditVerifyArgs(t, append([]string{"--json"}, args...)...)
	reason := ""
	if f, ok := rep["first_failure"].(map[string]any); ok {
		reason, _ = f["reason"].(string)
	}
	return code, reason, rep
}

// TestVerifyWitnessed checks the witness policy of audit-verify against a
// log the real sealer wrote while two real litewitness instances cosigned
// its checkpoints: the log verifies with both witnesses required (exit
// 0); a third witness that never saw the log, all three required, is
// unwitnessed (exit 1); a disclosed record's bundle carries the cosigned
// checkpoint and verifies with the policy. Then two copies rewritten after
// a witnessed checkpoint and re-sealed with the development key, which
// verify as intact without a policy: one rewritten in place (an event
// changed, everything after it re-sealed, the cosignatures the log
// recorded kept) is inconsistent_with_witness; one cut back and re-sealed
// offline (the later cosignatures dropped) is, as FORMAT.md §9 says,
// beyond what the witnesses can see until the sealer runs on it: the
// witnesses then refuse its checkpoints, the sealer records the split-view
// alarm, and the copy is inconsistent_with_witness.
func TestVerifyWitnessed(t *testing.T) {
	dataDir, ws, confPath := witnessedRun(t)
	key := exportKey(t, dataDir)
	wargs := witnessArgs(ws)

	// Both witnesses, both required.
	code, reason, rep := verifyReason(t, append(append([]string{"--key", key}, wargs...), "--witness-quorum", "2", dataDir)...)
	wit, _ := rep["witnessing"].(map[string]any)
	if code != 0 || reason != "" || wit == nil {
		t.Fatalf("audit-verify with both witnesses: exit %d, %s %v", code, reason, rep["first_failure"])
	}
	witnessed, logSize := uint64(wit["witnessed_size"].(float64)), uint64(wit["log_size"].(float64))
	t.Logf("witnessed size %d of %d; %v", witnessed, logSize, wit["witnesses"])
	if witnessed == 0 || witnessed > logSize {
		t.Fatalf("witnessed size %d of %d", witnessed, logSize)
	}

	// A third witness the log never saw, all three required.
	seed := sha256.Sum256([]byte("a witness that never saw this log"))
	w3, err := witness.NewSigner("witness.test/w3", ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	three := append(append([]string{"--key", key}, wargs...), "--witness", w3.Verifier().String(), "--witness-quorum", "3", dataDir)
	if code, reason, rep := verifyReason(t, three...); code != 1 || reason != "unwitnessed" {
		t.Fatalf("with an unknown third witness, quorum 3: exit %d, %s %v", code, reason, rep["first_failure"])
	}

	// A disclosed record: its bundle carries the cosigned checkpoint.
	bundle := filepath.Join(t.TempDir(), "record.json")
	if out, err := exec.Command(filepath.Join(bin, "audit-sealer"), "prove", "--data-dir", dataDir, "--seq", "5", "--out", bundle).CombinedOutput(); err != nil {
		t.Fatalf("prove: %v\n%s", err, out)
	}
	proof := exec.Command(filepath.Join(bin, "audit-verify"), append(append([]string{"proof", "--key", key, "--json"}, wargs...), "--witness-quorum", "2", bundle)...)
	out, err := proof.Output()
	if err != nil || !strings.Contains(string(out), `"verdict": "valid"`) || strings.Count(string(out), `"witness": "witness.test/w`) != 2 {
		t.Fatalf("audit-verify proof --witness: %v\n%s", err, out)
	}
	out, err = exec.Command(filepath.Join(bin, "audit-verify"), append(append([]string{"proof", "--key", key, "--json"}, wargs...),
		"--witness", w3.Verifier().String(), bundle)...).Output()
	if code := exitOf(err); code != 1 || !strings.Contains(string(out), `"verdict":"unwitnessed"`) {
		t.Fatalf("audit-verify proof with an unknown third witness: exit %d\n%s", code, out)
	}

	// The rewrites start after a witnessed checkpoint, inside a tree the
	// witnesses cosigned later.
	plan := planRewrite(t, dataDir)
	policy := append(append([]string{"--key", key}, wargs...), "--witness-quorum", "2")

	// In place: an event changed, every record after it re-sealed with the
	// development key, the sealer events kept as they were.
	inPlace := filepath.Join(t.TempDir(), "in-place")
	plan.cutAndReseal(t, dataDir, inPlace, true)
	if code, reason, rep := verifyReason(t, "--key", key, inPlace); code != 0 {
		t.Fatalf("the rewritten copy without a policy: exit %d, %s %v", code, reason, rep["first_failure"])
	}
	code, reason, rep = verifyReason(t, append(policy, inPlace)...)
	if code != 1 || reason != "inconsistent_with_witness" {
		t.Fatalf("the rewritten copy with the policy: exit %d, %s %v", code, reason, rep["first_failure"])
	}
	t.Logf("rewritten in place: %v", rep["first_failure"])

	// Cut back and re-sealed offline, the later cosignatures dropped: the
	// cosignatures it keeps agree with it and are recent (FORMAT.md §9:
	// what the log key alone can present); then the sealer runs on it.
	cut := filepath.Join(t.TempDir(), "cut")
	plan.cutAndReseal(t, dataDir, cut, false)
	if code, reason, rep := verifyReason(t, append(policy, cut)...); code != 0 {
		t.Fatalf("the cut copy, before the sealer ran on it: exit %d, %s %v", code, reason, rep["first_failure"])
	}
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, cut, socket, "--config", confPath)
	// Wait for the alarm through status (the sealer's stderr may only be
	// read once it has exited).
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := exec.Command(filepath.Join(bin, "audit-sealer"), "status", "--socket", socket).Output()
		if strings.Contains(strings.ToLower(string(out)), "split view") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // the alarm recorded and sealed
	if err := d.stop(); err != nil {
		t.Fatalf("audit-sealer on the cut copy: %v\n%s", err, d.stderr)
	}
	if !strings.Contains(d.stderr.String(), "SPLIT VIEW") {
		t.Fatalf("the sealer raised no split-view alarm on the cut copy:\n%s", d.stderr)
	}
	code, reason, rep = verifyReason(t, append(policy, cut)...)
	if code != 1 || reason != "inconsistent_with_witness" {
		t.Fatalf("the cut copy after the sealer ran: exit %d, %s %v", code, reason, rep["first_failure"])
	}
	t.Logf("cut and re-sealed, then run: %v", rep["first_failure"])
	// Without a policy it is intact, the alarm an exception.
	code, reason, rep = verifyReason(t, "--key", key, cut)
	if counts, _ := rep["exception_counts"].(map[string]any); code != 0 || counts["witness_alarm"] == nil {
		t.Fatalf("the cut copy without a policy: exit %d, %s, exceptions %v", code, reason, rep["exception_counts"])
	}
}

// exitOf returns the exit status an exec error carries (0 for none).
func exitOf(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// rewritePlan says where a rewrite of a witnessed log starts: the log is
// cut right after checkpoint record cutAfter (in segment segment, whose
// next frame starts at offset), which follows cosignatures by both
// witnesses, and the event at target, after it, lies inside a tree the
// witnesses cosigned later (of size witnessed).
type rewritePlan struct {
	cutAfter  uint64
	segment   string
	offset    int64
	target    uint64
	witnessed uint64
}

// planRewrite finds where to rewrite the log in dir.
func planRewrite(t *testing.T, dir string) *rewritePlan {
	t.Helper()
	type cpAt struct {
		seq, off uint64
		seg      string
		next     int64
	}
	var recs []chain.Record
	var cps []cpAt
	var witnessedSizes []uint64
	seen := map[string]uint64{} // witness name -> first checkpoint_witnessed seq
	segs, err := storage.ListSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range segs {
		var pending *cpAt
		err := testkit.SegmentRecords(filepath.Join(dir, s.Name), i == len(segs)-1, func(rec chain.Record, off int64) bool {
			if pending != nil {
				pending.next = off
				cps = append(cps, *pending)
				pending = nil
			}
			recs = append(recs, rec)
			switch {
			case rec.Kind == chain.KindCheckpoint:
				pending = &cpAt{seq: rec.Seq, seg: s.Name, next: -1}
			case rec.Kind == chain.KindSealerEvent && string(rec.Type) == event.TypeCheckpointWitnessed:
				ev, err := event.Decode(rec.Event, event.DecodeOptions{AllowSealerEvents: true, Now: rec.Time()})
				if err != nil {
					t.Fatal(err)
				}
				cw := ev.(*event.CheckpointWitnessed)
				witnessedSizes = append(witnessedSizes, cw.Size)
				if _, ok := seen[cw.Witness]; !ok {
					seen[cw.Witness] = rec.Seq
				}
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if pending != nil {
			info, _ := os.Stat(filepath.Join(dir, s.Name))
			pending.next = info.Size()
			cps = append(cps, *pending)
		}
	}
	if len(witnessedSizes) == 0 || seen["w1"] == 0 || seen["w2"] == 0 {
		t.Fatalf("the log records cosignatures of sizes %v, by %v", witnessedSizes, seen)
	}
	last := witnessedSizes[len(witnessedSizes)-1]
	after := max(seen["w1"], seen["w2"])
	// The last event inside the tree the witnesses cosigned last, after
	// both witnesses' first cosignatures and after a checkpoint.
	for i := len(recs) - 1; i >= 0; i-- {
		r := &recs[i]
		if r.Kind != chain.KindEvent || r.Seq >= last || r.Seq <= after {
			continue
		}
		for j := len(cps) - 1; j >= 0; j-- {
			if cps[j].seq < r.Seq && cps[j].seq > after {
				return &rewritePlan{cutAfter: cps[j].seq, segment: cps[j].seg, offset: cps[j].next, target: r.Seq, witnessed: last}
			}
		}
	}
	t.Fatalf("no event to rewrite between the first cosignatures (record %d) and the last witnessed size %d", after, last)
	return nil
}

// cutAndReseal copies the log in src to dst, cuts it after the plan's
// checkpoint, and re-seals it with the development key (dev-signing.key):
// inPlace appends every later record again, the plan's target event
// changed (its shard or user), and seals where the log had checkpoints; otherwise
// it appends three other events. The checkpoint file and the index files
// are removed (the attacker would not leave a file that covers more than
// the log).
func (p *rewritePlan) cutAndReseal(t *testing.T, src, dst string, inPlace bool) {
	t.Helper()
	if err := testkit.CopyDir(src, dst); err != nil {
		t.Fatal(err)
	}
	segs, err := storage.ListSegments(dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		switch {
		case s.Name > p.segment:
			os.Remove(filepath.Join(dst, s.Name))
		case s.Name == p.segment:
			if err := os.Truncate(filepath.Join(dst, s.Name), p.offset); err != nil {
				t.Fatal(err)
			}
		}
	}
	ents, _ := os.ReadDir(dst)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".idx") || e.Name() == storage.CheckpointFile {
			os.Remove(filepath.Join(dst, e.Name()))
		}
	}
	key, err := signer.LoadSoftwareSigner(filepath.Join(dst, "dev-signing.key"), "audit-sealer")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	l, _, err := ledger.Open(ledger.Config{Dir: dst, Signer: key, KeyName: "audit-sealer", Dev: true, SegmentSize: 65536,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("reopen the cut copy: %v", err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	if !inPlace {
		for i := 0; i < 3; i++ {
			service, raw := testkit.EventJSON(i, now)
			appendRaw(t, l, service, raw, now)
		}
		if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	err = testkit.Records(src, func(rec chain.Record) bool {
		if rec.Seq <= p.cutAfter {
			return true
		}
		now = rec.Time()
		switch rec.Kind {
		case chain.KindEvent:
			body := rec.Event
			if rec.Seq == p.target {
				for _, field := range []string{`"shard_id":"`, `"user_id":"`} {
					body = []byte(strings.Replace(string(body), field, field+"forged-", 1))
				}
				if string(body) == string(rec.Event) {
					t.Fatalf("record %d: nothing to change in %s", rec.Seq, rec.Event)
				}
			}
			appendRaw(t, l, string(rec.Service), body, now)
		case chain.KindSealerEvent:
			ev, err := event.Decode(rec.Event, event.DecodeOptions{AllowSealerEvents: true, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.AppendSealerEvent(ev); err != nil {
				t.Fatal(err)
			}
		case chain.KindCheckpoint:
			if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.RotateIfDue(); err != nil {
			t.Fatal(err)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
		t.Fatal(err)
	}
}

// appendRaw appends a client event, validated and canonical, at now.
func appendRaw(t *testing.T, l *ledger.Ledger, service string, raw []byte, now time.Time) {
	t.Helper()
	ev, err := event.Decode(raw, event.DecodeOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	body, err := event.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Append(chain.KindEvent, service, ev.EventType(), body, now); err != nil {
		t.Fatal(err)
	}
}
