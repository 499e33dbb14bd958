package sealer

import (
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// TestFromDisk: the roots and consistency proofs verify.TreesFromLog computes from the
// segment holding the old size on are those of the whole log, across
// segment boundaries, at a boundary, and from size 0.
func TestFromDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	if _, err := testkit.BuildLargeLog(dir, 600, 16<<10); err != nil {
		t.Fatal(err)
	}
	segs, err := storage.ListSegments(dir)
	if err != nil || len(segs) < 4 {
		t.Fatalf("%d segments, %v; want at least 4", len(segs), err)
	}
	var hashes []chain.Hash
	if err := testkit.Records(dir, func(rec chain.Record) bool { hashes = append(hashes, rec.Hash); return true }); err != nil {
		t.Fatal(err)
	}
	root := func(n uint64) chain.Hash {
		tr := chain.NewTree()
		for _, h := range hashes[:n] {
			tr.Append(h)
		}
		return tr.Root()
	}
	n := uint64(len(hashes))
	b1, b2 := segs[1].FirstSeq, segs[2].FirstSeq
	for _, c := range [][2]uint64{{0, 5}, {0, b1}, {1, n}, {b1, b2}, {b1 - 1, b1 + 1}, {b1 + 3, n - 1}, {b2, b2}, {n - 2, n}} {
		a, b := c[0], c[1]
		ra, rb, p, err := verify.TreesFromLog(dir, a, b)
		if err != nil {
			t.Fatalf("%d -> %d: %v", a, b, err)
		}
		if ra != root(a) || rb != root(b) {
			t.Fatalf("%d -> %d: other roots", a, b)
		}
		if a == 0 || a == b {
			if p != nil {
				t.Fatalf("%d -> %d: a proof", a, b)
			}
			continue
		}
		want, err := verify.ConsistencyProof(dir, a, b)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != len(want) || chain.VerifyConsistency(a, b, p, ra, rb) != nil {
			t.Fatalf("%d -> %d: proof %d hashes, want %d", a, b, len(p), len(want))
		}
		for i := range p {
			if p[i] != want[i] {
				t.Fatalf("%d -> %d: proof differs at %d", a, b, i)
			}
		}
	}
	if _, _, _, err := verify.TreesFromLog(dir, 3, n+1); err == nil {
		t.Fatal("a size beyond the log")
	}
}
