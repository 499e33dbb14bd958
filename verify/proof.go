package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/storage"
)

// ErrNoSuchRecord is returned by Prove for a sequence number the sealed part
// of the log does not hold.
var ErrNoSuchRecord = errors.New("verify: no such sealed record")

// forEachRecord streams the records of dir in order, calling fn with each
// encoded record (valid only during the call) until fn returns false.
func forEachRecord(dir string, fn func(rec *chain.Record, encoded []byte) bool) error {
	segs, err := storage.ListSegments(dir)
	if err != nil {
		return err
	}
	for i, s := range segs {
		r, err := storage.OpenSegment(filepath.Join(dir, s.Name), i == len(segs)-1)
		if err != nil {
			return err
		}
		for {
			payload, _, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				r.Close()
				return err
			}
			rec, err := chain.Decode(payload)
			if err != nil {
				r.Close()
				return err
			}
			if !fn(&rec, payload) {
				r.Close()
				return nil
			}
		}
		r.Close()
	}
	return nil
}

// lastCheckpoint returns the note of the last checkpoint record of the log
// in dir and the tree size it covers (which may stop at a commit a few
// records before it, FORMAT.md §3.5).
func lastCheckpoint(dir string) (note []byte, size uint64, err error) {
	segs, err := storage.ListSegments(dir)
	if err != nil {
		return nil, 0, err
	}
	for i := len(segs) - 1; i >= 0 && note == nil; i-- {
		r, err := storage.OpenSegment(filepath.Join(dir, segs[i].Name), i == len(segs)-1)
		if err != nil {
			return nil, 0, err
		}
		for {
			payload, _, err := r.Next()
			if err != nil {
				break // io.EOF, or a torn tail: what came before is what counts
			}
			if rec, err := chain.Decode(payload); err == nil && rec.Kind == chain.KindCheckpoint {
				if cp, _, _, err := chain.PeekCheckpoint(rec.Checkpoint); err == nil {
					note, size = bytes.Clone(rec.Checkpoint), cp.Size
				}
			}
		}
		r.Close()
	}
	if note == nil {
		return nil, 0, errors.New("verify: the log holds no checkpoint")
	}
	return note, size, nil
}

// Prove exports record seq of the log in dir with its inclusion proof in the
// tree of the log's last checkpoint, so that one record can be disclosed and
// checked with nothing but the public key (CheckInclusion). It streams the
// log once and holds O(log n) hashes. Prove does not verify the log; the
// bundle is checked on its own terms.
func Prove(dir string, seq uint64) (*chain.InclusionBundle, error) {
	bundles, err := ProveRecords(dir, []uint64{seq})
	if err != nil {
		return nil, err
	}
	return bundles[0], nil
}

// ConsistencyProof returns the proof that the log's tree of size2 extends
// its tree of size1, computed from the log in dir (TreesFromLog: it reads
// from the segment that holds the old size, so it works on a log whose
// oldest segments retention deleted, and refuses a size whose records are
// gone).
func ConsistencyProof(dir string, size1, size2 uint64) ([]chain.Hash, error) {
	if _, err := chain.NewConsistencyBuilder(size1, size2); err != nil {
		return nil, err
	}
	if size2 == 0 {
		return nil, nil
	}
	_, _, proof, err := TreesFromLog(dir, size1, size2)
	return proof, err
}

// TreesFromLog reads the log in dir and returns the roots of its trees
// of sizes a and b (0 <= a <= b, 0 < b) and, when 0 < a < b, the
// consistency proof from a to b. It starts at the last segment that begins
// at or below a (or b, when a is 0), from the tree state its segment_start
// record carries, and reads no record at or after b: the cost is the
// records after the old size, not the log (and a pruned log works). It
// checks no signature: a caller compares the roots with a checkpoint it
// trusts, and a proof is checked by whoever receives it.
func TreesFromLog(dir string, a, b uint64) (rootA, rootB chain.Hash, proof []chain.Hash, err error) {
	segs, err := storage.ListSegments(dir)
	if err != nil {
		return rootA, rootB, nil, err
	}
	anchor := a
	if a == 0 {
		anchor = b
	}
	first := -1
	for i, seg := range segs {
		if seg.FirstSeq <= anchor {
			first = i
		}
	}
	if first < 0 {
		return rootA, rootB, nil, fmt.Errorf("verify: no segment of the log in %s holds record %d (deleted by retention?)", dir, anchor)
	}
	var t *chain.Tree
	var pb *chain.ProofBuilder
	fail := func(err error) (chain.Hash, chain.Hash, []chain.Hash, error) {
		return rootA, rootB, nil, fmt.Errorf("verify: read the log for a consistency proof from %d to %d: %w", a, b, err)
	}
	for i := first; i < len(segs) && (t == nil || t.Size() < b); i++ {
		r, err := storage.OpenSegment(filepath.Join(dir, segs[i].Name), i == len(segs)-1)
		if err != nil {
			return fail(err)
		}
		for t == nil || t.Size() < b {
			payload, _, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				r.Close()
				return fail(err)
			}
			rec, err := chain.Decode(payload)
			if err != nil {
				r.Close()
				return fail(err)
			}
			if t == nil {
				if rec.Kind != chain.KindSegmentStart || rec.Seq != segs[i].FirstSeq {
					r.Close()
					return fail(fmt.Errorf("segment %s does not start with its segment_start record", segs[i].Name))
				}
				if t, err = chain.TreeFromState(rec.Seq, rec.TreeState); err != nil {
					r.Close()
					return fail(err)
				}
				if t.Size() == a {
					rootA = t.Root()
				}
				if a > 0 && a < b {
					if pb, err = chain.NewConsistencyBuilderFrom(a, b, rec.Seq, rec.TreeState); err != nil {
						r.Close()
						return fail(err)
					}
				}
				if t.Size() >= b {
					break
				}
			}
			t.Append(rec.Hash)
			if pb != nil {
				pb.Add(rec.Hash)
			}
			if t.Size() == a {
				rootA = t.Root()
			}
		}
		r.Close()
	}
	if t == nil || t.Size() != b {
		return fail(errors.New("the log holds fewer records"))
	}
	if a == 0 {
		rootA = chain.NewTree().Root()
	}
	if pb != nil {
		if proof, err = pb.Proof(); err != nil {
			return fail(err)
		}
	}
	return rootA, t.Root(), proof, nil
}

// Disclosed is a record whose inclusion under a signed checkpoint verified.
type Disclosed struct {
	Record     chain.Record
	Checkpoint *chain.SignedCheckpoint
}

// Errors of CheckInclusion, by what failed.
var (
	ErrBundleRecord = errors.New("verify: the bundle's record is not valid")
	ErrBundleProof  = errors.New("verify: the bundle's proof does not lead to its checkpoint")
)

// CheckInclusion checks a bundle from Prove: the checkpoint's signature by a
// trusted key (opts.Keys, or a key they endorsed through the bundle's
// endorsements), the record's own hash and event schema, and the inclusion
// proof from the record to the checkpoint's root.
func CheckInclusion(bundle *chain.InclusionBundle, opts Options) (*Disclosed, error) {
	return NewKeyRing(opts.Keys).CheckInclusion(bundle)
}

// CheckInclusion is CheckInclusion with the keys of the ring: the bundle's
// endorsements extend a copy of it (r itself is unchanged, so one ring
// checks many bundles), and a checkpoint by a key the ring knows to be
// retired fails (ErrRetiredKey).
func (r *KeyRing) CheckInclusion(bundle *chain.InclusionBundle) (*Disclosed, error) {
	ring, err := r.extended(bundle.Checkpoint, bundle.Endorsements)
	if err != nil {
		return nil, err
	}
	cp, err := ring.Open(bundle.Checkpoint)
	if err != nil {
		return nil, err
	}
	if bundle.TreeSize != cp.Size {
		return nil, fmt.Errorf("%w: tree size %d, checkpoint size %d", ErrBundleProof, bundle.TreeSize, cp.Size)
	}
	rec, err := chain.Decode(bundle.Record)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundleRecord, err)
	}
	if !chain.NewHasher().Check(bundle.Record) {
		return nil, fmt.Errorf("%w: record does not match its hash", ErrBundleRecord)
	}
	if rec.Kind == chain.KindEvent || rec.Kind == chain.KindSealerEvent {
		typ, err := event.CheckCanonical(rec.Event, event.DecodeOptions{Now: rec.Time(), AllowSealerEvents: rec.Kind == chain.KindSealerEvent})
		if err != nil || typ != string(rec.Type) {
			return nil, fmt.Errorf("%w: event does not validate: %v", ErrBundleRecord, err)
		}
	}
	if rec.Seq >= cp.Size {
		return nil, fmt.Errorf("%w: record %d is not covered by a checkpoint of size %d", ErrBundleProof, rec.Seq, cp.Size)
	}
	if err := chain.VerifyInclusion(rec.Seq, cp.Size, rec.Hash, bundle.Proof, cp.Root); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundleProof, err)
	}
	return &Disclosed{Record: rec, Checkpoint: cp}, nil
}

// ProveConsistency returns the bundle that shows the log's tree of oldSize
// leaves is a prefix of the tree of its last checkpoint, with the
// endorsements of the keys the log introduced up to it.
func ProveConsistency(dir string, oldSize uint64) (*chain.ConsistencyBundle, error) {
	note, size, err := lastCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	if oldSize == 0 || oldSize > size {
		return nil, fmt.Errorf("verify: no consistency proof from size %d to the last checkpoint's size %d", oldSize, size)
	}
	var p []chain.Hash
	if oldSize < size {
		if p, err = ConsistencyProof(dir, oldSize, size); err != nil {
			return nil, err
		}
	}
	ends, err := Endorsements(dir, size)
	if err != nil {
		return nil, err
	}
	return &chain.ConsistencyBundle{Format: chain.ConsistencyBundleFormat, OldSize: oldSize, TreeSize: size, Proof: p, Checkpoint: note, Endorsements: ends}, nil
}

// CheckConsistency checks a bundle against the checkpoint the auditor kept
// (old): both are signed by trusted keys (opts.Keys, or keys they endorsed
// through the bundle's endorsements: old may be signed by an earlier key
// than the newer checkpoint), of the same log, and the proof leads from
// old's root to the newer root. It returns the newer checkpoint.
func CheckConsistency(bundle *chain.ConsistencyBundle, old []byte, opts Options) (*chain.SignedCheckpoint, error) {
	return NewKeyRing(opts.Keys).CheckConsistency(bundle, old)
}

// CheckConsistency is CheckConsistency with the keys of the ring, as
// KeyRing.CheckInclusion is.
func (r *KeyRing) CheckConsistency(bundle *chain.ConsistencyBundle, old []byte) (*chain.SignedCheckpoint, error) {
	ring, err := r.extended(bundle.Checkpoint, bundle.Endorsements)
	if err != nil {
		return nil, err
	}
	prev, err := ring.Open(old)
	if err != nil {
		return nil, fmt.Errorf("verify: your checkpoint: %w", err)
	}
	cur, err := ring.Open(bundle.Checkpoint)
	if err != nil {
		return nil, fmt.Errorf("verify: the bundle's checkpoint: %w", err)
	}
	switch {
	case prev.Origin != cur.Origin:
		return nil, fmt.Errorf("%w: checkpoints of two logs (%s, %s)", ErrBundleProof, prev.Origin, cur.Origin)
	case bundle.OldSize != prev.Size || bundle.TreeSize != cur.Size:
		return nil, fmt.Errorf("%w: the bundle proves %d -> %d, the checkpoints are %d and %d", ErrBundleProof, bundle.OldSize, bundle.TreeSize, prev.Size, cur.Size)
	case cur.Size < prev.Size:
		return nil, fmt.Errorf("%w: the log shrank from %d to %d", ErrBundleProof, prev.Size, cur.Size)
	case cur.Size == prev.Size:
		if cur.Root != prev.Root {
			return nil, fmt.Errorf("%w: two different trees of size %d (a fork)", ErrBundleProof, cur.Size)
		}
		return cur, nil
	}
	if err := chain.VerifyConsistency(prev.Size, cur.Size, bundle.Proof, prev.Root, cur.Root); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundleProof, err)
	}
	return cur, nil
}
