package chain

import (
	"crypto/sha256"
	"fmt"
	"math/bits"
)

// The Merkle tree is RFC 6962's over the records of the log in sequence
// order. The leaf data of record n is its 32-byte record hash, so the leaf
// hash is SHA-256(0x00 || record hash); interior nodes are
// SHA-256(0x01 || left || right). Tree keeps the compact range itself, in a
// fixed array, so that appending allocates nothing; proofs (proof.go) are
// built with github.com/transparency-dev/merkle, and the tests check both
// against golang.org/x/mod/sumdb/tlog.

// emptyRoot is the root of the empty tree, SHA-256("").
var emptyRoot = Hash(sha256.Sum256(nil))

// LeafHash returns the Merkle leaf hash of a record with the given record hash.
func LeafHash(recordHash Hash) Hash {
	var b [1 + HashSize]byte
	b[0] = 0x00
	copy(b[1:], recordHash[:])
	return sha256.Sum256(b[:])
}

// NodeHash returns the hash of an interior node with the given children.
func NodeHash(left, right Hash) Hash {
	var b [1 + 2*HashSize]byte
	b[0] = 0x01
	copy(b[1:], left[:])
	copy(b[1+HashSize:], right[:])
	return sha256.Sum256(b[:])
}

// Tree is the Merkle tree over records [0, Size) kept as a compact range:
// the roots of the perfect subtrees that cover [0, Size), one per 1 bit of
// Size, largest first; never the whole tree. A Tree is not safe for
// concurrent use.
type Tree struct {
	size uint64
	n    int      // number of hashes in use: bits.OnesCount64(size)
	h    [64]Hash // h[:n], left to right
}

// NewTree returns the empty tree.
func NewTree() *Tree { return &Tree{} }

// TreeFromState rebuilds a tree of size records from its State.
func TreeFromState(size uint64, state []Hash) (*Tree, error) {
	if want := bits.OnesCount64(size); len(state) != want {
		return nil, fmt.Errorf("chain: tree state for size %d: %d hashes, want %d", size, len(state), want)
	}
	t := &Tree{size: size, n: len(state)}
	copy(t.h[:], state)
	return t, nil
}

// Append adds the record with the given record hash as the next leaf.
func (t *Tree) Append(recordHash Hash) { t.AppendLeaf(LeafHash(recordHash)) }

// AppendLeaf adds the next leaf by its leaf hash (LeafHash of the record
// hash), for callers that computed the leaf hash elsewhere.
func (t *Tree) AppendLeaf(leaf Hash) {
	if t.size == 1<<64-1 {
		panic("chain: tree is full")
	}
	// Each trailing 1 bit of size is a perfect subtree of the same height
	// as the new one: merge them, right to left.
	h := leaf
	for s := t.size; s&1 == 1; s >>= 1 {
		t.n--
		h = NodeHash(t.h[t.n], h)
	}
	t.h[t.n] = h
	t.n++
	t.size++
}

// Size returns the number of leaves.
func (t *Tree) Size() uint64 { return t.size }

// Root returns the RFC 6962 root hash (the hash of the empty string for an
// empty tree).
func (t *Tree) Root() Hash {
	if t.n == 0 {
		return emptyRoot
	}
	r := t.h[t.n-1]
	for i := t.n - 2; i >= 0; i-- {
		r = NodeHash(t.h[i], r)
	}
	return r
}

// State returns the compact range: the roots of the perfect subtrees that
// cover [0, Size), left to right.
func (t *Tree) State() []Hash { return append([]Hash(nil), t.h[:t.n]...) }

// Clone returns an independent copy of t.
func (t *Tree) Clone() *Tree {
	c := *t
	return &c
}

// EqualState reports whether t's compact range is exactly state.
func (t *Tree) EqualState(state []Hash) bool {
	if len(state) != t.n {
		return false
	}
	for i := range state {
		if t.h[i] != state[i] {
			return false
		}
	}
	return true
}
