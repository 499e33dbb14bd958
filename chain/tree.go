package chain

import (
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The Merkle tree is RFC 6962's over the records of the log in sequence
// order. The leaf data of record n is its 32-byte record hash, so the leaf
// hash is SHA-256(0x00 || record hash); interior nodes are
// SHA-256(0x01 || left || right). All tree hashing is done by
// github.com/transparency-dev/merkle.

var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// LeafHash returns the Merkle leaf hash of a record with the given record hash.
func LeafHash(recordHash Hash) Hash {
	return Hash(rfc6962.DefaultHasher.HashLeaf(recordHash[:]))
}

// Tree is the Merkle tree over records [0, Size) kept as a compact range:
// O(log n) hashes, never the whole tree.
type Tree struct{ r *compact.Range }

// NewTree returns the empty tree.
func NewTree() *Tree { return &Tree{r: rangeFactory.NewEmptyRange(0)} }

// TreeFromState rebuilds a tree of size records from its State.
func TreeFromState(size uint64, state []Hash) (*Tree, error) {
	hashes := make([][]byte, len(state))
	for i := range state {
		hashes[i] = state[i][:]
	}
	r, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("chain: tree state for size %d: %w", size, err)
	}
	return &Tree{r: r}, nil
}

// Append adds the record with the given record hash as the next leaf.
func (t *Tree) Append(recordHash Hash) {
	leaf := LeafHash(recordHash)
	if err := t.r.Append(leaf[:], nil); err != nil {
		panic("chain: compact range append: " + err.Error()) // only fails on misuse of the range
	}
}

// Size returns the number of leaves.
func (t *Tree) Size() uint64 { return t.r.End() }

// Root returns the RFC 6962 root hash (the hash of the empty string for an
// empty tree).
func (t *Tree) Root() Hash {
	if t.r.End() == 0 {
		return Hash(rfc6962.DefaultHasher.EmptyRoot())
	}
	h, err := t.r.GetRootHash(nil)
	if err != nil {
		panic("chain: root of compact range: " + err.Error())
	}
	return Hash(h)
}

// State returns the compact range: the roots of the perfect subtrees that
// cover [0, Size), left to right.
func (t *Tree) State() []Hash {
	hs := t.r.Hashes()
	out := make([]Hash, len(hs))
	for i := range hs {
		out[i] = Hash(hs[i])
	}
	return out
}

// Clone returns an independent copy of t.
func (t *Tree) Clone() *Tree {
	c, err := TreeFromState(t.Size(), t.State())
	if err != nil {
		panic(err)
	}
	return c
}

// EqualState reports whether t's compact range is exactly state.
func (t *Tree) EqualState(state []Hash) bool {
	hs := t.r.Hashes()
	if len(hs) != len(state) {
		return false
	}
	for i := range hs {
		if Hash(hs[i]) != state[i] {
			return false
		}
	}
	return true
}
