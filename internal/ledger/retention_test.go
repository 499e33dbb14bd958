package ledger_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// TestRetention: segments older than the cut-off are archived and deleted
// only after the deletion is recorded and sealed; the pruned log verifies,
// and a further missing segment does not.
func TestRetention(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	archiveDir := filepath.Join(t.TempDir(), "archive")
	clock := testkit.NewClock()
	l, _, err := ledger.Open(config(t, dir, clock))
	if err != nil {
		t.Fatal(err)
	}
	// Ten days of records: one segment a day (rotation at UTC midnight).
	for day := 0; day < 10; day++ {
		appendN(t, l, clock, day*5, 5)
		clock.T = clock.T.Add(24 * time.Hour)
		if _, err := l.RotateIfDue(); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := storage.ListSegments(dir)
	if len(before) < 10 {
		t.Fatalf("%d segments, want one a day", len(before))
	}
	originals := map[string][]byte{}
	for _, s := range before {
		originals[s.Name], _ = os.ReadFile(filepath.Join(dir, s.Name))
	}
	cutoff := clock.T.Add(-4*24*time.Hour - time.Hour)
	res, err := l.Prune(cutoff, 3, archiveDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Segments) < 4 || res.FirstSeq != 0 {
		t.Fatalf("pruned %+v", res)
	}
	if _, err := l.Prune(cutoff, 3, archiveDir); !errors.Is(err, ledger.ErrNothingToPrune) {
		t.Fatalf("second prune: %v", err)
	}
	l.Close()
	after, _ := storage.ListSegments(dir)
	if len(after) != len(before)-len(res.Segments) || after[0].FirstSeq != res.LastSeq+1 {
		t.Fatalf("segments after pruning: %+v", after)
	}
	for _, name := range res.Segments {
		f, err := os.Open(filepath.Join(archiveDir, name+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		zr, _ := gzip.NewReader(f)
		got, _ := io.ReadAll(zr)
		f.Close()
		if !bytes.Equal(got, originals[name]) {
			t.Fatalf("archive of %s differs from the segment", name)
		}
	}
	rep := verifyDir(t, dir)
	if rep.Verdict != verify.Intact || rep.PrunedBefore != res.LastSeq+1 {
		t.Fatalf("pruned log: %s %v pruned_before %d", rep.Verdict, rep.FirstFailure, rep.PrunedBefore)
	}
	// Deleting one more segment by hand is not retention.
	os.Chmod(filepath.Join(dir, after[0].Name), 0o600)
	os.Remove(filepath.Join(dir, after[0].Name))
	rep = verifyDir(t, dir)
	if rep.FirstFailure == nil || rep.FirstFailure.Reason != verify.ReasonSegmentMissing {
		t.Fatalf("a segment deleted by hand: %+v", rep.FirstFailure)
	}
}

// TestRetentionRemovesIndexes: a pruned segment's index file goes with it;
// the indexes of the segments kept stay and are still usable.
func TestRetentionRemovesIndexes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	l, _, err := ledger.Open(config(t, dir, clock))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for day := 0; day < 6; day++ {
		appendN(t, l, clock, day*5, 5)
		clock.T = clock.T.Add(24 * time.Hour)
		if _, err := l.RotateIfDue(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := index.Update(context.Background(), dir, false); err != nil {
		t.Fatal(err)
	}
	closed, _ := index.Closed(dir)
	for _, s := range closed {
		if _, err := os.Stat(index.Path(dir, s.Name)); err != nil {
			t.Fatalf("no index for %s before pruning: %v", s.Name, err)
		}
	}
	res, err := l.Prune(clock.T.Add(-3*24*time.Hour-time.Hour), 3, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Segments) == 0 || len(res.Segments) >= len(closed) {
		t.Fatalf("pruned %d of %d closed segments, want some but not all", len(res.Segments), len(closed))
	}
	for _, name := range res.Segments {
		if _, err := os.Stat(index.Path(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the index of pruned segment %s is still there (%v)", name, err)
		}
	}
	for _, s := range closed[len(res.Segments):] {
		if _, err := index.Usable(dir, s); err != nil {
			t.Fatalf("the index of kept segment %s: %v", s.Name, err)
		}
	}
	// The verifier neither refuses nor reads the index files beside the
	// segments, and the ledger reopens the directory with them.
	l.Close()
	if rep := verifyDir(t, dir); rep.Verdict != verify.Intact {
		t.Fatalf("a pruned log with index files: %s %v", rep.Verdict, rep.FirstFailure)
	}
	l2, _, err := ledger.Open(config(t, dir, clock))
	if err != nil {
		t.Fatalf("reopening a directory with index files: %v", err)
	}
	l2.Close()
}
