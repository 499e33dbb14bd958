package verify_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
	"github.com/audit-sealer/audit-sealer/witness"
)

// policyOf returns the witness policy of the vector: its witnesses, all of
// them required, the default freshness.
func policyOf(t testing.TB, v testkit.Vector) *verify.WitnessPolicy {
	t.Helper()
	var ws []*witness.Verifier
	for _, k := range v.Witnesses {
		w, err := witness.ParseVerifierKey(k)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	p, err := witness.NewPolicy(ws, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &verify.WitnessPolicy{Policy: p, MaxAge: verify.DefaultWitnessMaxAge}
}

// policy returns the policy of the test witnesses labels with a quorum
// (0: all) and a freshness bound.
func policy(t testing.TB, quorum int, maxAge time.Duration, labels ...string) *verify.WitnessPolicy {
	t.Helper()
	var ws []*witness.Verifier
	for _, l := range labels {
		ws = append(ws, testkit.WitnessKey(l).Verifier())
	}
	p, err := witness.NewPolicy(ws, quorum)
	if err != nil {
		t.Fatal(err)
	}
	return &verify.WitnessPolicy{Policy: p, MaxAge: maxAge}
}

// TestWitnessVectors: every witness vector verifies with its witness
// policy to the reason it states, with one worker and with several, and
// the report's witness part agrees.
func TestWitnessVectors(t *testing.T) {
	n := 0
	for _, v := range vectors {
		if v.Witnesses == nil {
			continue
		}
		n++
		t.Run(v.Name, func(t *testing.T) {
			for _, workers := range []int{1, 4} {
				opts := optionsFor(t, v)
				opts.Workers = workers
				opts.Witness = policyOf(t, v)
				rep, err := verify.Dir(context.Background(), v.Dir, opts)
				if err != nil {
					t.Fatalf("workers=%d: could not check: %v", workers, err)
				}
				wr := rep.Witnessing
				if wr == nil || wr.Quorum != 2 || len(wr.Witnesses) != 2 || wr.LogSize != rep.Records || wr.Unwitnessed != wr.LogSize-wr.WitnessedSize {
					t.Fatalf("witnessing %+v, %d records", wr, rep.Records)
				}
				if v.WitnessExpect == "" {
					if rep.Verdict != verify.Intact {
						t.Fatalf("workers=%d: verdict %s (%v), want intact", workers, rep.Verdict, rep.FirstFailure)
					}
					if wr.WitnessedSize == 0 || wr.WitnessedSize > wr.LogSize {
						t.Fatalf("witnessed size %d of %d", wr.WitnessedSize, wr.LogSize)
					}
					for _, w := range wr.Witnesses {
						if w.Latest == nil || !w.Latest.Fresh || w.Latest.Size != wr.WitnessedSize || w.Cosignatures == 0 {
							t.Fatalf("witness %+v", w)
						}
					}
					continue
				}
				if rep.FirstFailure == nil || string(rep.FirstFailure.Reason) != v.WitnessExpect {
					t.Fatalf("workers=%d: %s %v, want %s", workers, rep.Verdict, rep.FirstFailure, v.WitnessExpect)
				}
				if rep.Verdict != verify.Tampered || rep.Verdict.ExitCode() != 1 || rep.FirstFailure.Detail == "" {
					t.Fatalf("verdict %s, %+v", rep.Verdict, rep.FirstFailure)
				}
			}
		})
	}
	if n < 5 {
		t.Fatalf("%d witness vectors", n)
	}
}

// TestWitnessPolicyVariants: the same logs under other policies: a quorum
// of one, a witness the log never saw, no freshness bound, a verifier
// clock before the cosignatures.
func TestWitnessPolicyVariants(t *testing.T) {
	for _, tc := range []struct {
		vector string
		pol    *verify.WitnessPolicy
		want   verify.Reason // "" intact
	}{
		{"witness_quorum_missing", policy(t, 1, time.Hour, "w1", "w2"), ""},
		{"witness_quorum_missing", policy(t, 1, time.Hour, "w2", "w3"), verify.ReasonUnwitnessed},
		{"witnessed", policy(t, 3, time.Hour, "w1", "w2", "w3"), verify.ReasonUnwitnessed},
		{"witnessed", policy(t, 2, time.Hour, "w1", "w2", "w3"), ""},
		{"witness_stale", policy(t, 0, 0, "w1", "w2"), ""},
		{"witness_stale", policy(t, 0, 3*time.Hour, "w1", "w2"), ""},
		{"witness_stale", policy(t, 0, 90*time.Minute, "w1", "w2"), verify.ReasonUnwitnessed},
		// Without the record about it, a fork is no concern of a policy
		// that lists only w2 (the forged cosignature is w1's).
		{"witness_fork", policy(t, 0, time.Hour, "w2"), ""},
		// An alarm about w1 while only w2 is listed: an exception only.
		{"witness_alarm", policy(t, 0, time.Hour, "w2"), ""},
	} {
		v := vector(t, tc.vector)
		opts := optionsFor(t, v)
		opts.Witness = tc.pol
		rep, err := verify.Dir(context.Background(), v.Dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		got := verify.Reason("")
		if rep.FirstFailure != nil {
			got = rep.FirstFailure.Reason
		}
		if got != tc.want {
			t.Errorf("%s with %s (max age %s): %s %v, want %q", tc.vector, tc.pol.Policy, tc.pol.MaxAge, rep.Verdict, rep.FirstFailure, tc.want)
		}
	}

	// Cosignatures dated more than the skew after the verifier's clock
	// do not count, and a warning says so.
	v := vector(t, "witnessed")
	opts := optionsFor(t, v)
	opts.Witness = policy(t, 0, time.Hour, "w1", "w2")
	opts.Witness.Now = func() time.Time { return time.Date(2026, 11, 2, 8, 50, 0, 0, time.UTC) }
	rep, err := verify.Dir(context.Background(), v.Dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.FirstFailure == nil || rep.FirstFailure.Reason != verify.ReasonUnwitnessed || !strings.Contains(strings.Join(rep.Warnings, "\n"), "in the future") {
		t.Fatalf("cosignatures from the future: %v, warnings %q", rep.FirstFailure, rep.Warnings)
	}
	opts.Witness.Now = func() time.Time { return time.Date(2026, 11, 2, 8, 57, 0, 0, time.UTC) } // within the skew
	if rep, err = verify.Dir(context.Background(), v.Dir, opts); err != nil || rep.Verdict != verify.Intact {
		t.Fatalf("cosignatures within the skew: %v %v", err, rep.FirstFailure)
	}
}

// TestWitnessAlarmException: the split-view alarm the sealer recorded is
// an exception of every report, with or without a policy.
func TestWitnessAlarmException(t *testing.T) {
	v := vector(t, "witness_alarm")
	rep, err := verify.Dir(context.Background(), v.Dir, optionsFor(t, v))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != verify.Intact || rep.ExceptionCounts["witness_alarm"] != 1 || rep.Witnessing != nil {
		t.Fatalf("%s %v, exceptions %v, witnessing %+v", rep.Verdict, rep.FirstFailure, rep.ExceptionCounts, rep.Witnessing)
	}
	for _, x := range rep.Exceptions {
		if x.Code == "witness_alarm" && !strings.Contains(x.Detail, `witness "w1"`) {
			t.Fatalf("exception %+v", x)
		}
	}
}

// witnessedCopy builds a witnessed log (w1 and w2 cosign every seal) in a
// temporary directory.
func witnessedCopy(t *testing.T) (*testkit.WitnessedLog, verify.Options) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	wl, err := testkit.BuildWitnessedLog(dir, testkit.WitnessedSpec{Events: 40, SealEvery: 6, Segment: 5000, Witnesses: []string{"w1", "w2"}, CosignedFile: true})
	if err != nil {
		t.Fatal(err)
	}
	return wl, verify.Options{Keys: testkit.Keys("main")}
}

// forkNote returns a cosigned checkpoint (w1 and w2) of another history
// of the log witnessedCopy builds, with the size of one of its checkpoints.
func forkNote(t *testing.T) []byte {
	t.Helper()
	fork, err := testkit.BuildWitnessedLog(filepath.Join(t.TempDir(), "fork"), testkit.WitnessedSpec{Events: 40, SealEvery: 6, Segment: 5000,
		Witnesses: []string{"w1", "w2"}, Event: func(i int, now time.Time) (string, []byte) { return testkit.EventJSON(i+3, now) }})
	if err != nil {
		t.Fatal(err)
	}
	return fork.Cosigned[2]
}

func verifyReason(t *testing.T, dir string, opts verify.Options) (verify.Reason, *verify.Report) {
	t.Helper()
	rep, err := verify.Dir(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.FirstFailure == nil {
		return "", rep
	}
	return rep.FirstFailure.Reason, rep
}

// TestCosignedFiles: the checkpoint file and the auditor's checkpoint may
// carry cosignature lines after the log's signature line. Without a policy
// they are not counted; with one, they count, and a cosigned checkpoint of
// another history is inconsistent_with_witness rather than the reason a
// plain checkpoint gets.
func TestCosignedFiles(t *testing.T) {
	wl, opts := witnessedCopy(t)
	withPolicy := opts
	withPolicy.Witness = policy(t, 0, time.Hour, "w1", "w2")
	file := filepath.Join(wl.Dir, storage.CheckpointFile)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := witness.ParseSignedNote(data); err != nil || len(n.Lines) != 3 {
		t.Fatalf("the checkpoint file: %v", err)
	}
	for _, o := range []verify.Options{opts, withPolicy} {
		if r, rep := verifyReason(t, wl.Dir, o); r != "" || len(rep.Warnings) != 0 {
			t.Fatalf("cosigned checkpoint file: %s, warnings %q", r, rep.Warnings)
		}
	}
	// The auditor's checkpoint with cosignature lines: an earlier one.
	trusted := opts
	trusted.Trusted = wl.Cosigned[1]
	if r, rep := verifyReason(t, wl.Dir, trusted); r != "" || !rep.TrustedCheckpoint.Consistent {
		t.Fatalf("cosigned --checkpoint: %s", r)
	}
	// Only the file and the auditor's checkpoint: the log's records with
	// the cosignatures deleted would be needed to test that; instead, a
	// policy that the records alone do not meet but the file does not
	// change either: the file's cosignatures are the latest records'.
	fork := forkNote(t)
	// A fork as the checkpoint file.
	if err := os.WriteFile(file, fork, 0o600); err != nil {
		t.Fatal(err)
	}
	if r, _ := verifyReason(t, wl.Dir, opts); r != verify.ReasonCheckpointMismatch {
		t.Fatalf("forked checkpoint file without a policy: %s", r)
	}
	if r, rep := verifyReason(t, wl.Dir, withPolicy); r != verify.ReasonInconsistentWithWitness || rep.FirstFailure.Segment != storage.CheckpointFile {
		t.Fatalf("forked checkpoint file with a policy: %s %v", r, rep.FirstFailure)
	}
	// A policy of witnesses that did not cosign the fork keeps the old
	// reason.
	w3 := opts
	w3.Witness = policy(t, 1, time.Hour, "w3")
	if r, _ := verifyReason(t, wl.Dir, w3); r != verify.ReasonCheckpointMismatch {
		t.Fatalf("forked checkpoint file, cosigned by witnesses not listed: %s", r)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	// A fork as the auditor's checkpoint.
	trusted.Trusted = fork
	if r, _ := verifyReason(t, wl.Dir, trusted); r != verify.ReasonInconsistent {
		t.Fatalf("forked --checkpoint without a policy: %s", r)
	}
	trusted.Witness = withPolicy.Witness
	if r, _ := verifyReason(t, wl.Dir, trusted); r != verify.ReasonInconsistentWithWitness {
		t.Fatalf("forked --checkpoint with a policy: %s", r)
	}
}

// appendWitnessed appends audit.checkpoint_witnessed records of the text
// cosigned by the given witnesses (sealer name = label) to the log, and
// seals it.
func appendWitnessed(t *testing.T, wl *testkit.WitnessedLog, text []byte, size uint64, labels ...string) {
	t.Helper()
	var evs []func(time.Time) event.Event
	for _, l := range labels {
		s := testkit.WitnessKey(l)
		s.Now = func() time.Time { return wl.Clock.T }
		c, err := s.Cosign(text)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, func(now time.Time) event.Event {
			return &event.CheckpointWitnessed{Timestamp: now, Witness: l, Size: size, Checkpoint: string(text), Cosignature: strings.TrimSuffix(c.Line(), "\n")}
		})
	}
	if err := testkit.AppendSealerEvents(wl.Dir, wl.Clock, "appended", evs...); err != nil {
		t.Fatal(err)
	}
}

// checkpointText returns the note text of a checkpoint of the log in dir
// of the given size with the given root, at the given time, as the log's
// key would sign it.
func checkpointText(t *testing.T, dir string, size uint64, root chain.Hash) []byte {
	t.Helper()
	var first []byte
	testkit.Records(dir, func(rec chain.Record) bool {
		if rec.Kind == chain.KindCheckpoint {
			first = rec.Checkpoint
		}
		return first == nil
	})
	c, _, _, err := chain.PeekCheckpoint(first)
	if err != nil {
		t.Fatal(err)
	}
	c.Size, c.Root = size, root
	return []byte(c.Text())
}

// TestWitnessedRecordsCompared: a cosigned checkpoint that a record of the
// log carries is compared with the log's tree of its size, also at a size
// where the log has no checkpoint (the tree is read again) and beyond the
// log's end; one that agrees counts.
func TestWitnessedRecordsCompared(t *testing.T) {
	root := func(dir string, size uint64) chain.Hash {
		_, r, _, err := verify.TreesFromLog(dir, 0, size)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	pol := policy(t, 0, time.Hour, "w1", "w2")
	// Agrees, at a size that is no checkpoint's: counts (here it is larger
	// than any the log's records cosigned, so it is the witnessed size).
	wl, opts := witnessedCopy(t)
	opts.Witness = pol
	_, rep := verifyReason(t, wl.Dir, opts)
	before := rep.Witnessing.WitnessedSize
	sizes := map[uint64]bool{}
	testkit.Records(wl.Dir, func(rec chain.Record) bool {
		if rec.Kind == chain.KindCheckpoint {
			c, _, _, _ := chain.PeekCheckpoint(rec.Checkpoint)
			sizes[c.Size] = true
		}
		return true
	})
	size := rep.Records - 1
	for sizes[size] {
		size--
	}
	appendWitnessed(t, wl, checkpointText(t, wl.Dir, size, root(wl.Dir, size)), size, "w1", "w2")
	r, rep := verifyReason(t, wl.Dir, opts)
	if r != "" || rep.Witnessing.WitnessedSize != size || size <= before {
		t.Fatalf("agreeing cosignature at size %d (before: %d): %s %v, witnessed %d", size, before, r, rep.FirstFailure, rep.Witnessing.WitnessedSize)
	}

	// Another root at a size where the log has no checkpoint.
	wl, opts = witnessedCopy(t)
	opts.Witness = pol
	appendWitnessed(t, wl, checkpointText(t, wl.Dir, 17, chain.Hash{1}), 17, "w1")
	if r, rep := verifyReason(t, wl.Dir, opts); r != verify.ReasonInconsistentWithWitness || rep.FirstFailure.Seq == nil {
		t.Fatalf("another root at size 17: %s %v", r, rep.FirstFailure)
	}
	if r, _ := verifyReason(t, wl.Dir, verify.Options{Keys: opts.Keys}); r != "" {
		t.Fatalf("the same without a policy: %s", r)
	}

	// Beyond the log's end.
	wl, opts = witnessedCopy(t)
	opts.Witness = pol
	appendWitnessed(t, wl, checkpointText(t, wl.Dir, 5000, chain.Hash{2}), 5000, "w2")
	if r, rep := verifyReason(t, wl.Dir, opts); r != verify.ReasonInconsistentWithWitness || !strings.Contains(rep.FirstFailure.Detail, "more records than the log has") {
		t.Fatalf("beyond the end: %s %v", r, rep.FirstFailure)
	}

	// A cosignature by a listed key that does not verify, and one of a
	// checkpoint of another log: warned about, not counted.
	wl, opts = witnessedCopy(t)
	opts.Witness = pol
	text := checkpointText(t, wl.Dir, 17, root(wl.Dir, 17))
	c, _ := testkit.WitnessKey("w1").Cosign(append(bytes.Clone(text), "x\n"...))
	other := bytes.Replace(text, []byte("audit-sealer/"), []byte("audit-sealer/0"), 1)
	other = append([]byte("audit-sealer/00000000000000000000000000000000"), other[bytes.IndexByte(other, '\n'):]...)
	c2, _ := testkit.WitnessKey("w2").Cosign(other)
	if err := testkit.AppendSealerEvents(wl.Dir, wl.Clock, "bad", func(now time.Time) event.Event {
		return &event.CheckpointWitnessed{Timestamp: now, Witness: "w1", Size: 17, Checkpoint: string(text), Cosignature: strings.TrimSuffix(c.Line(), "\n")}
	}, func(now time.Time) event.Event {
		return &event.CheckpointWitnessed{Timestamp: now, Witness: "w2", Size: 17, Checkpoint: string(other), Cosignature: strings.TrimSuffix(c2.Line(), "\n")}
	}); err != nil {
		t.Fatal(err)
	}
	r, rep = verifyReason(t, wl.Dir, opts)
	warnings := strings.Join(rep.Warnings, "\n")
	if r != "" || !strings.Contains(warnings, "does not verify") || !strings.Contains(warnings, "not of this log") {
		t.Fatalf("bad cosignatures: %s %v, warnings %q", r, rep.FirstFailure, rep.Warnings)
	}
}

// TestProveCosigned: a record that a cosigned checkpoint covers is proven
// in its tree, and the bundle carries its cosignature lines; a later one
// in the last checkpoint's. The policy then holds for the first bundle
// only.
func TestProveCosigned(t *testing.T) {
	wl, opts := witnessedCopy(t)
	last := wl.Cosigned[len(wl.Cosigned)-1]
	n, err := witness.ParseSignedNote(last)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := chain.ParseCheckpointText(string(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Dir(context.Background(), wl.Dir, opts)
	if err != nil || rep.Verdict != verify.Intact {
		t.Fatal(err, rep.FirstFailure)
	}
	// With the records alone (no cosigned checkpoint file) too.
	for _, withFile := range []bool{true, false} {
		if !withFile {
			if err := os.Remove(filepath.Join(wl.Dir, storage.CheckpointFile)); err != nil {
				t.Fatal(err)
			}
		}
		seqs := []uint64{3, cp.Size - 1, cp.Size, rep.LastCheckpoint.Size - 1}
		bundles, err := verify.ProveRecords(wl.Dir, seqs)
		if err != nil {
			t.Fatal(err)
		}
		pol := policy(t, 0, time.Hour, "w1", "w2")
		for i, b := range bundles {
			d, err := verify.CheckInclusion(b, opts)
			if err != nil || d.Record.Seq != seqs[i] {
				t.Fatalf("record %d: %v", seqs[i], err)
			}
			w, err := pol.CheckCheckpoint(b.Checkpoint)
			covered := seqs[i] < cp.Size
			if covered {
				if b.TreeSize != cp.Size || !bytes.Equal(b.Checkpoint, last) || err != nil || len(w.Cosigners) != 2 {
					t.Fatalf("file %v, record %d: tree size %d (want %d), %v", withFile, seqs[i], b.TreeSize, cp.Size, err)
				}
			} else if b.TreeSize != rep.LastCheckpoint.Size || !errors.Is(err, verify.ErrUnwitnessed) {
				t.Fatalf("record %d: tree size %d, %v", seqs[i], b.TreeSize, err)
			}
		}
	}
	// One witness listed, quorum 1; then a third that did not cosign.
	b, err := verify.Prove(wl.Dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policy(t, 1, 0, "w2", "w3").CheckCheckpoint(b.Checkpoint); err != nil {
		t.Fatal(err)
	}
	if _, err := policy(t, 0, 0, "w1", "w2", "w3").CheckCheckpoint(b.Checkpoint); !errors.Is(err, verify.ErrUnwitnessed) {
		t.Fatalf("three witnesses: %v", err)
	}
	// A verifier clock an hour before the cosignatures: they are in the
	// future.
	p := policy(t, 0, 0, "w1", "w2")
	p.Now = func() time.Time { return time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC) }
	if _, err := p.CheckCheckpoint(b.Checkpoint); !errors.Is(err, verify.ErrUnwitnessed) || !strings.Contains(err.Error(), "in the future") {
		t.Fatalf("future cosignatures: %v", err)
	}
	// The bundle still checks with the log's key alone, ignoring the
	// cosignature lines, as a verifier without the policy does.
	if _, err := verify.CheckInclusion(b, verify.Options{Keys: signer.Verifiers{testkit.Key("main").Public()}}); err != nil {
		t.Fatal(err)
	}
}
