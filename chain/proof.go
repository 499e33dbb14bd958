package chain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/audit-sealer/audit-sealer/internal/strictjson"
)

// rangeFactory builds the compact ranges of proofs (Tree keeps its own).
var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// ProofBuilder computes an RFC 6962 inclusion or consistency proof while the
// records of the log stream past it, so that proving needs O(log n) memory
// and no stored tree. Feed it the record hashes of records 0, 1, 2, … with
// Add, then call Proof.
type ProofBuilder struct {
	nodes  proof.Nodes
	want   map[compact.NodeID]int
	hashes [][]byte
	found  int
	tree   *compact.Range
	size   uint64
}

// NewInclusionBuilder prepares the inclusion proof of leaf index in the tree
// of size leaves.
func NewInclusionBuilder(index, size uint64) (*ProofBuilder, error) {
	n, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	return newBuilder(n, size), nil
}

// NewConsistencyBuilder prepares the consistency proof from the tree of size1
// leaves to the tree of size2 leaves.
func NewConsistencyBuilder(size1, size2 uint64) (*ProofBuilder, error) {
	if size1 == 0 {
		return nil, errors.New("chain: no consistency proof from the empty tree")
	}
	n, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	return newBuilder(n, size2), nil
}

// NewConsistencyBuilderFrom prepares the consistency proof from the tree of
// size1 leaves to the tree of size2 leaves, to be fed the record hashes from
// record start on (start <= size1) instead of from record 0: state is the
// compact range of the tree over records [0, start), as the segment_start
// record of a segment beginning at start carries it (FORMAT.md §3.2). So
// proving reads the segments from the one holding record size1 on, not the
// whole log, and works on a log whose first segments were pruned. Every
// node of the proof below size1 is a node of the compact range of
// [0, size1) and so either one of state's or made from it and later leaves.
func NewConsistencyBuilderFrom(size1, size2, start uint64, state []Hash) (*ProofBuilder, error) {
	if start > size1 {
		return nil, fmt.Errorf("chain: a consistency proof from size %d cannot start at leaf %d", size1, start)
	}
	b, err := NewConsistencyBuilder(size1, size2)
	if err != nil {
		return nil, err
	}
	ids := compact.RangeNodes(0, start, nil)
	if len(ids) != len(state) {
		return nil, fmt.Errorf("chain: a tree of %d leaves has %d compact range hashes, not %d", start, len(ids), len(state))
	}
	hashes := make([][]byte, len(state))
	for i := range state {
		hashes[i] = bytes.Clone(state[i][:])
		if j, ok := b.want[ids[i]]; ok && b.hashes[j] == nil {
			b.hashes[j] = hashes[i]
			b.found++
		}
	}
	if b.tree, err = rangeFactory.NewRange(0, start, hashes); err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	return b, nil
}

func newBuilder(n proof.Nodes, size uint64) *ProofBuilder {
	b := &ProofBuilder{nodes: n, want: make(map[compact.NodeID]int, len(n.IDs)),
		hashes: make([][]byte, len(n.IDs)), tree: rangeFactory.NewEmptyRange(0), size: size}
	for i, id := range n.IDs {
		b.want[id] = i
	}
	return b
}

// Done reports whether every leaf the proof needs has been added.
func (b *ProofBuilder) Done() bool { return b.tree.End() >= b.size }

// Add feeds the record hash of the next record.
func (b *ProofBuilder) Add(recordHash Hash) {
	if b.Done() {
		return
	}
	leaf := LeafHash(recordHash)
	err := b.tree.Append(leaf[:], func(id compact.NodeID, h []byte) {
		if i, ok := b.want[id]; ok && b.hashes[i] == nil {
			b.hashes[i] = bytes.Clone(h)
			b.found++
		}
	})
	if err != nil {
		panic("chain: compact range append: " + err.Error())
	}
}

// Proof returns the proof hashes, in the order RFC 6962 (and sumdb/tlog)
// expect them.
func (b *ProofBuilder) Proof() ([]Hash, error) {
	if !b.Done() {
		return nil, fmt.Errorf("chain: proof needs %d leaves, got %d", b.size, b.tree.End())
	}
	if b.found != len(b.hashes) {
		return nil, fmt.Errorf("chain: proof builder found %d of %d nodes", b.found, len(b.hashes))
	}
	hs := make([][]byte, len(b.hashes))
	copy(hs, b.hashes)
	hs, err := b.nodes.Rehash(hs, rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	out := make([]Hash, len(hs))
	for i := range hs {
		out[i] = Hash(hs[i])
	}
	return out, nil
}

// VerifyInclusion checks that the record with recordHash is leaf index of the
// tree of size leaves with root hash root.
func VerifyInclusion(index, size uint64, recordHash Hash, p []Hash, root Hash) error {
	leaf := LeafHash(recordHash)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, leaf[:], toBytes(p), root[:]); err != nil {
		return fmt.Errorf("chain: inclusion proof: %w", err)
	}
	return nil
}

// VerifyConsistency checks that the tree of size2 with root2 extends the tree
// of size1 with root1.
func VerifyConsistency(size1, size2 uint64, p []Hash, root1, root2 Hash) error {
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, size1, size2, toBytes(p), root1[:], root2[:]); err != nil {
		return fmt.Errorf("chain: consistency proof: %w", err)
	}
	return nil
}

func toBytes(p []Hash) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = p[i][:]
	}
	return out
}

// Format lines of an InclusionBundle. Version 2 adds the endorsements;
// version 1 bundles are still accepted.
const (
	InclusionBundleFormat   = "audit-sealer inclusion proof v2"
	InclusionBundleFormatV1 = "audit-sealer inclusion proof v1"
)

// InclusionBundle discloses one record with what an auditor needs to check
// it against nothing but the public key: the record's encoding, its Merkle
// inclusion proof, the signed checkpoint the proof leads to, and the
// endorsements of every key the log introduced up to that checkpoint, so
// that a bundle made after key rotations checks with the log's first key
// (or any later one). It is a JSON document; byte fields are base64.
type InclusionBundle struct {
	Format       string        `json:"format"`
	Record       []byte        `json:"record"`       // the record's encoding (a frame payload)
	TreeSize     uint64        `json:"tree_size"`    // the checkpoint's tree size
	Proof        []Hash        `json:"proof"`        // inclusion proof of leaf Record.Seq
	Checkpoint   []byte        `json:"checkpoint"`   // signed checkpoint note
	Endorsements []Endorsement `json:"endorsements"` // v2: key endorsements in log order
}

// inclusionBundleV1 is the shape of a version 1 bundle: no endorsements.
type inclusionBundleV1 struct {
	Format     string `json:"format"`
	Record     []byte `json:"record"`
	TreeSize   uint64 `json:"tree_size"`
	Proof      []Hash `json:"proof"`
	Checkpoint []byte `json:"checkpoint"`
}

// MarshalJSON writes a version 1 bundle without endorsements, and a
// version 2 bundle with a list (empty, never null).
func (b InclusionBundle) MarshalJSON() ([]byte, error) {
	if b.Format == InclusionBundleFormatV1 {
		return json.Marshal(inclusionBundleV1{Format: b.Format, Record: b.Record, TreeSize: b.TreeSize, Proof: b.Proof, Checkpoint: b.Checkpoint})
	}
	type plain InclusionBundle
	p := plain(b)
	p.Endorsements = listed(p.Endorsements)
	return json.Marshal(p)
}

// MarshalJSON encodes a hash as base64, like every hash in the format.
func (h Hash) MarshalJSON() ([]byte, error) { return json.Marshal(h[:]) }

// UnmarshalJSON decodes a base64 hash; it leaves h untouched on error.
func (h *Hash) UnmarshalJSON(data []byte) error {
	var b []byte
	if err := json.Unmarshal(data, &b); err != nil {
		return err
	}
	if len(b) != HashSize {
		return fmt.Errorf("chain: hash of %d bytes", len(b))
	}
	copy(h[:], b)
	return nil
}

// ErrBadBundle is wrapped by errors from ParseInclusionBundle,
// ParseConsistencyBundle and ParseKeyHistory. An error from the strict JSON check wraps the
// strictjson sentinel too (strictjson.ErrDuplicate, ErrUnknown, …).
var ErrBadBundle = errors.New("chain: malformed proof bundle")

// MaxBundleSize bounds a bundle: a record is at most about 66 KiB (§3.1 of
// FORMAT.md), a checkpoint note 16 KiB, a proof 64 or 128 hashes.
const MaxBundleSize = 1 << 20

// parseBundle decodes a bundle of any kind strictly (package
// strictjson): one JSON object with exactly the members of v's type, each
// once, names matched case-sensitively, nothing after it.
func parseBundle(data []byte, v any) error {
	if len(data) > MaxBundleSize {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrBadBundle, len(data), MaxBundleSize)
	}
	if err := strictjson.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadBundle, err)
	}
	return nil
}

// ParseInclusionBundle decodes a bundle strictly: every member present once
// under its exact name, no other member, the format line, nothing after the
// object.
//
// A version 1 bundle (no endorsements member) parses to a bundle with
// Format InclusionBundleFormatV1 and no endorsements.
func ParseInclusionBundle(data []byte) (*InclusionBundle, error) {
	var b InclusionBundle
	if bundleFormat(data) == InclusionBundleFormatV1 {
		var v1 inclusionBundleV1
		if err := parseBundle(data, &v1); err != nil {
			return nil, err
		}
		b = InclusionBundle{Format: v1.Format, Record: v1.Record, TreeSize: v1.TreeSize, Proof: v1.Proof, Checkpoint: v1.Checkpoint}
	} else if err := parseBundle(data, &b); err != nil {
		return nil, err
	}
	if b.Format != InclusionBundleFormat && b.Format != InclusionBundleFormatV1 {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrBadBundle, b.Format, InclusionBundleFormat)
	}
	if len(b.Proof) > 64 {
		return nil, fmt.Errorf("%w: proof of %d hashes", ErrBadBundle, len(b.Proof))
	}
	if err := checkEndorsements(b.Endorsements); err != nil {
		return nil, err
	}
	return &b, nil
}

// bundleFormat returns the format member of a bundle, read leniently only
// to choose the shape that the strict parse then enforces ("" if none).
func bundleFormat(data []byte) string {
	var f struct {
		Format string `json:"format"`
	}
	if len(data) > MaxBundleSize || json.Unmarshal(data, &f) != nil {
		return ""
	}
	return f.Format
}

// Format lines of a ConsistencyBundle. Version 2 adds the endorsements;
// version 1 bundles are still accepted.
const (
	ConsistencyBundleFormat   = "audit-sealer consistency proof v2"
	ConsistencyBundleFormatV1 = "audit-sealer consistency proof v1"
)

// ConsistencyBundle shows an auditor who kept an earlier checkpoint that the
// log has only grown since: the RFC 6962 consistency proof from the tree of
// OldSize leaves to the tree of the bundle's signed checkpoint, with the
// endorsements of every key the log introduced up to it (v2).
type ConsistencyBundle struct {
	Format       string        `json:"format"`
	OldSize      uint64        `json:"old_size"`
	TreeSize     uint64        `json:"tree_size"`
	Proof        []Hash        `json:"proof"`
	Checkpoint   []byte        `json:"checkpoint"`   // the newer signed checkpoint note
	Endorsements []Endorsement `json:"endorsements"` // v2: key endorsements in log order
}

// consistencyBundleV1 is the shape of a version 1 bundle.
type consistencyBundleV1 struct {
	Format     string `json:"format"`
	OldSize    uint64 `json:"old_size"`
	TreeSize   uint64 `json:"tree_size"`
	Proof      []Hash `json:"proof"`
	Checkpoint []byte `json:"checkpoint"`
}

// MarshalJSON writes a version 1 bundle without endorsements, and a
// version 2 bundle with a list (empty, never null).
func (b ConsistencyBundle) MarshalJSON() ([]byte, error) {
	if b.Format == ConsistencyBundleFormatV1 {
		return json.Marshal(consistencyBundleV1{Format: b.Format, OldSize: b.OldSize, TreeSize: b.TreeSize, Proof: b.Proof, Checkpoint: b.Checkpoint})
	}
	type plain ConsistencyBundle
	p := plain(b)
	p.Endorsements = listed(p.Endorsements)
	return json.Marshal(p)
}

// ParseConsistencyBundle decodes a bundle strictly, as ParseInclusionBundle
// does.
func ParseConsistencyBundle(data []byte) (*ConsistencyBundle, error) {
	var b ConsistencyBundle
	if bundleFormat(data) == ConsistencyBundleFormatV1 {
		var v1 consistencyBundleV1
		if err := parseBundle(data, &v1); err != nil {
			return nil, err
		}
		b = ConsistencyBundle{Format: v1.Format, OldSize: v1.OldSize, TreeSize: v1.TreeSize, Proof: v1.Proof, Checkpoint: v1.Checkpoint}
	} else if err := parseBundle(data, &b); err != nil {
		return nil, err
	}
	if b.Format != ConsistencyBundleFormat && b.Format != ConsistencyBundleFormatV1 {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrBadBundle, b.Format, ConsistencyBundleFormat)
	}
	if len(b.Proof) > 128 {
		return nil, fmt.Errorf("%w: proof of %d hashes", ErrBadBundle, len(b.Proof))
	}
	if err := checkEndorsements(b.Endorsements); err != nil {
		return nil, err
	}
	return &b, nil
}
