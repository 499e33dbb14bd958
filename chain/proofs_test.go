package chain

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestInclusionProofsMatchSingleProofs: for trees of many shapes, the
// proofs built in one pass for a set of leaves are the proofs ProofBuilder
// builds one leaf at a time, and each verifies against the tree's root.
func TestInclusionProofsMatchSingleProofs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	leaf := func(i uint64) Hash {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], i)
		return sha256.Sum256(b[:])
	}
	for _, size := range []uint64{1, 2, 3, 7, 8, 9, 100, 1023, 1024, 1025, 4099} {
		indexes := []uint64{0, size - 1, size / 2, size - 1} // the last leaf twice
		for range 20 {
			indexes = append(indexes, rng.Uint64N(size))
		}
		multi, err := NewInclusionProofsBuilder(indexes, size)
		if err != nil {
			t.Fatal(err)
		}
		tree := NewTree()
		for i := uint64(0); i < size; i++ {
			multi.Add(leaf(i))
			tree.Append(leaf(i))
		}
		multi.Add(leaf(size)) // past the tree: ignored
		proofs, err := multi.Proofs()
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		for k, index := range indexes {
			single, err := NewInclusionBuilder(index, size)
			if err != nil {
				t.Fatal(err)
			}
			for i := uint64(0); i < size; i++ {
				single.Add(leaf(i))
			}
			want, err := single.Proof()
			if err != nil {
				t.Fatal(err)
			}
			if len(proofs[k]) != len(want) {
				t.Fatalf("size %d leaf %d: %d hashes, want %d", size, index, len(proofs[k]), len(want))
			}
			for j := range want {
				if proofs[k][j] != want[j] {
					t.Fatalf("size %d leaf %d: hash %d differs", size, index, j)
				}
			}
			if err := VerifyInclusion(index, size, leaf(index), proofs[k], tree.Root()); err != nil {
				t.Fatalf("size %d leaf %d: %v", size, index, err)
			}
		}
	}
}

func TestInclusionProofsNeedEveryLeaf(t *testing.T) {
	b, err := NewInclusionProofsBuilder([]uint64{3}, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		b.Add(Hash{byte(i)})
	}
	if _, err := b.Proofs(); err == nil {
		t.Fatal("proofs of a tree of 10 from 9 leaves")
	}
	if _, err := NewInclusionProofsBuilder([]uint64{10}, 10); err == nil {
		t.Fatal("a proof of leaf 10 in a tree of 10")
	}
}
