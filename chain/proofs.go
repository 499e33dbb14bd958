package chain

import (
	"bytes"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// InclusionProofsBuilder computes the inclusion proofs of many leaves of one
// tree while the records stream past it once, as ProofBuilder does for one
// leaf: a page of query results gets its proofs in one read of the log
// instead of one read per result. It holds O(k log n) hashes for k leaves.
type InclusionProofsBuilder struct {
	nodes   []proof.Nodes
	want    map[compact.NodeID][]proofSlot
	hashes  [][][]byte
	missing int
	tree    *compact.Range
	size    uint64
}

// proofSlot is the place of one node hash in one proof.
type proofSlot struct{ proof, pos int }

// NewInclusionProofsBuilder prepares the inclusion proofs of the given leaf
// indexes (in any order, duplicates allowed) in the tree of size leaves.
func NewInclusionProofsBuilder(indexes []uint64, size uint64) (*InclusionProofsBuilder, error) {
	b := &InclusionProofsBuilder{nodes: make([]proof.Nodes, len(indexes)), want: map[compact.NodeID][]proofSlot{},
		hashes: make([][][]byte, len(indexes)), tree: rangeFactory.NewEmptyRange(0), size: size}
	for i, index := range indexes {
		n, err := proof.Inclusion(index, size)
		if err != nil {
			return nil, fmt.Errorf("chain: leaf %d: %w", index, err)
		}
		b.nodes[i], b.hashes[i] = n, make([][]byte, len(n.IDs))
		for pos, id := range n.IDs {
			b.want[id] = append(b.want[id], proofSlot{i, pos})
		}
		b.missing += len(n.IDs)
	}
	return b, nil
}

// Done reports whether every leaf the proofs need has been added.
func (b *InclusionProofsBuilder) Done() bool { return b.tree.End() >= b.size }

// Add feeds the record hash of the next record.
func (b *InclusionProofsBuilder) Add(recordHash Hash) {
	if b.Done() {
		return
	}
	leaf := LeafHash(recordHash)
	err := b.tree.Append(leaf[:], func(id compact.NodeID, h []byte) {
		slots, ok := b.want[id]
		if !ok {
			return
		}
		c := bytes.Clone(h)
		for _, s := range slots {
			b.hashes[s.proof][s.pos] = c
		}
		b.missing -= len(slots)
		delete(b.want, id)
	})
	if err != nil {
		panic("chain: compact range append: " + err.Error())
	}
}

// Proofs returns the proofs in the order of the indexes given to
// NewInclusionProofsBuilder, each in the order RFC 6962 expects.
func (b *InclusionProofsBuilder) Proofs() ([][]Hash, error) {
	if !b.Done() {
		return nil, fmt.Errorf("chain: proofs need %d leaves, got %d", b.size, b.tree.End())
	}
	if b.missing != 0 {
		return nil, fmt.Errorf("chain: proofs builder lacks %d node hashes", b.missing)
	}
	out := make([][]Hash, len(b.nodes))
	for i, n := range b.nodes {
		hs, err := n.Rehash(append([][]byte(nil), b.hashes[i]...), rfc6962.DefaultHasher.HashChildren)
		if err != nil {
			return nil, fmt.Errorf("chain: %w", err)
		}
		out[i] = make([]Hash, len(hs))
		for j := range hs {
			out[i][j] = Hash(hs[j])
		}
	}
	return out, nil
}
