package chain_test

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/audit-sealer/audit-sealer/chain"
)

func recordHash(i int) chain.Hash {
	return chain.Hash(sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))))
}

// tlogTree builds sumdb/tlog's stored hashes for n records whose record data
// is the 32-byte record hash, as FORMAT.md defines the leaves.
func tlogTree(t *testing.T, n int) tlog.HashReaderFunc {
	var stored []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i := 0; i < n; i++ {
		h := recordHash(i)
		hs, err := tlog.StoredHashes(int64(i), h[:], r)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	return r
}

// TestTreeMatchesTlog: our compact-range roots equal sumdb/tlog's tree hashes,
// and our inclusion and consistency proofs are accepted by sumdb/tlog.
func TestTreeMatchesTlog(t *testing.T) {
	const n = 70
	r := tlogTree(t, n)
	tree := chain.NewTree()
	roots := []chain.Hash{tree.Root()}
	for i := 0; i < n; i++ {
		tree.Append(recordHash(i))
		roots = append(roots, tree.Root())
		th, err := tlog.TreeHash(int64(i+1), r)
		if err != nil {
			t.Fatal(err)
		}
		if chain.Hash(th) != tree.Root() {
			t.Fatalf("size %d: root differs from sumdb/tlog", i+1)
		}
		// The state round-trips.
		again, err := chain.TreeFromState(tree.Size(), tree.State())
		if err != nil || again.Root() != tree.Root() {
			t.Fatalf("size %d: TreeFromState: %v", i+1, err)
		}
	}
	for _, size := range []uint64{1, 2, 3, 7, 8, 33, 64, 70} {
		for _, idx := range []uint64{0, 1, size / 2, size - 1} {
			if idx >= size {
				continue
			}
			b, err := chain.NewInclusionBuilder(idx, size)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; !b.Done(); i++ {
				b.Add(recordHash(i))
			}
			p, err := b.Proof()
			if err != nil {
				t.Fatal(err)
			}
			rh := recordHash(int(idx))
			if err := tlog.CheckRecord(toTlog(p), int64(size), tlog.Hash(roots[size]), int64(idx), tlog.RecordHash(rh[:])); err != nil {
				t.Fatalf("tlog rejects our inclusion proof of %d in %d: %v", idx, size, err)
			}
			if err := chain.VerifyInclusion(idx, size, rh, p, roots[size]); err != nil {
				t.Fatalf("VerifyInclusion: %v", err)
			}
			if err := chain.VerifyInclusion(idx, size, recordHash(999), p, roots[size]); err == nil {
				t.Fatal("inclusion proof verifies for another record")
			}
		}
		for _, old := range []uint64{1, size / 3, size - 1} {
			if old == 0 || old >= size {
				continue
			}
			b, err := chain.NewConsistencyBuilder(old, size)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; !b.Done(); i++ {
				b.Add(recordHash(i))
			}
			p, err := b.Proof()
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(toTlog(p), int64(size), tlog.Hash(roots[size]), int64(old), tlog.Hash(roots[old])); err != nil {
				t.Fatalf("tlog rejects our consistency proof %d -> %d: %v", old, size, err)
			}
			if err := chain.VerifyConsistency(old, size, p, roots[old], roots[size]); err != nil {
				t.Fatalf("VerifyConsistency: %v", err)
			}
			if err := chain.VerifyConsistency(old, size, p, roots[old+1], roots[size]); err == nil && roots[old+1] != roots[old] {
				t.Fatal("consistency proof verifies for another old root")
			}
		}
	}
}

func toTlog(p []chain.Hash) []tlog.Hash {
	out := make([]tlog.Hash, len(p))
	for i := range p {
		out[i] = tlog.Hash(p[i])
	}
	return out
}

func BenchmarkTreeAppend(b *testing.B) {
	tree := chain.NewTree()
	h := recordHash(1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		tree.Append(h)
	}
}

func BenchmarkRecordHash(b *testing.B) {
	r := chain.Record{Kind: chain.KindEvent, Seq: 6, TimeNano: 3, Service: []byte("queen-rbee"), AuditID: []byte("0102030405060708-6"),
		Type: []byte("data.inference_executed"), Event: make([]byte, 450)}
	enc, _ := r.Encode(nil)
	hasher := chain.NewHasher()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		hasher.Check(enc)
	}
}

// TestTreeMatchesCompactRange: Tree's roots and states equal those of
// transparency-dev/merkle's compact range (which Tree used before) at every
// size, also when rebuilt from a state at odd sizes.
func TestTreeMatchesCompactRange(t *testing.T) {
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	cr := rf.NewEmptyRange(0)
	tree := chain.NewTree()
	for i := 0; i < 1100; i++ {
		rh := recordHash(i)
		leaf := rfc6962.DefaultHasher.HashLeaf(rh[:])
		if chain.LeafHash(rh) != chain.Hash(leaf) {
			t.Fatalf("leaf %d: LeafHash differs", i)
		}
		if err := cr.Append(leaf, nil); err != nil {
			t.Fatal(err)
		}
		tree.Append(rh)
		root, err := cr.GetRootHash(nil)
		if err != nil {
			t.Fatal(err)
		}
		if tree.Root() != chain.Hash(root) || tree.Size() != cr.End() {
			t.Fatalf("size %d: root differs from the compact range", i+1)
		}
		hs := cr.Hashes()
		state := tree.State()
		if len(hs) != len(state) || !tree.EqualState(state) {
			t.Fatalf("size %d: %d state hashes, compact range has %d", i+1, len(state), len(hs))
		}
		for k := range hs {
			if chain.Hash(hs[k]) != state[k] {
				t.Fatalf("size %d: state hash %d differs", i+1, k)
			}
		}
		if i%97 == 0 {
			again, err := chain.TreeFromState(tree.Size(), state)
			if err != nil {
				t.Fatal(err)
			}
			c := tree.Clone()
			next := recordHash(i + 1)
			again.Append(next)
			c.Append(next)
			if again.Root() != c.Root() {
				t.Fatalf("size %d: rebuilt tree diverges", i+1)
			}
		}
	}
	if _, err := chain.TreeFromState(3, []chain.Hash{{}}); err == nil {
		t.Fatal("TreeFromState accepts 1 hash for size 3")
	}
	if _, err := chain.TreeFromState(0, []chain.Hash{{}}); err == nil {
		t.Fatal("TreeFromState accepts a hash for size 0")
	}
	if chain.NewTree().Root() != chain.Hash(rfc6962.DefaultHasher.EmptyRoot()) {
		t.Fatal("empty root differs")
	}
}

func TestTreeAppendAllocs(t *testing.T) {
	tree := chain.NewTree()
	h := recordHash(1)
	if n := testing.AllocsPerRun(1000, func() { tree.Append(h) }); n != 0 {
		t.Fatalf("Append allocates %v times", n)
	}
}

// TestConsistencyBuilderFrom: a consistency proof built from a tree state
// at any start up to the old size, fed the leaves from there on, is the
// proof built from leaf 0.
func TestConsistencyBuilderFrom(t *testing.T) {
	for size := uint64(2); size <= 70; size++ {
		for old := uint64(1); old < size; old++ {
			full, err := chain.NewConsistencyBuilder(old, size)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; !full.Done(); i++ {
				full.Add(recordHash(i))
			}
			want, err := full.Proof()
			if err != nil {
				t.Fatal(err)
			}
			for start := uint64(0); start <= old; start++ {
				tr := chain.NewTree()
				for i := uint64(0); i < start; i++ {
					tr.Append(recordHash(int(i)))
				}
				b, err := chain.NewConsistencyBuilderFrom(old, size, start, tr.State())
				if err != nil {
					t.Fatal(err)
				}
				for i := start; !b.Done(); i++ {
					b.Add(recordHash(int(i)))
				}
				got, err := b.Proof()
				if err != nil {
					t.Fatalf("%d -> %d from %d: %v", old, size, start, err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%d -> %d from %d: another proof", old, size, start)
				}
			}
		}
	}
	if _, err := chain.NewConsistencyBuilderFrom(3, 9, 4, nil); err == nil {
		t.Error("a start above the old size is accepted")
	}
	if _, err := chain.NewConsistencyBuilderFrom(3, 9, 2, nil); err == nil {
		t.Error("a state of the wrong length is accepted")
	}
}
