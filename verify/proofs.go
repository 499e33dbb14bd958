package verify

import (
	"bytes"
	"fmt"

	"github.com/audit-sealer/audit-sealer/chain"
)

// ProveRecords is Prove for many records at once: it reads the log in dir
// once, up to its last checkpoint, and returns one bundle per sequence
// number, in the order given, each checkable on its own with
// CheckInclusion, and each carrying the endorsements of the keys the log
// introduced up to that checkpoint (found in the same read; their proofs
// take one more read when the log introduced a key). A page of query results gets its proofs this way. Memory
// holds the k records and O(k log n) hashes.
func ProveRecords(dir string, seqs []uint64) ([]*chain.InclusionBundle, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	note, size, err := lastCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	wanted := make(map[uint64][]byte, len(seqs))
	for _, seq := range seqs {
		if seq >= size {
			return nil, fmt.Errorf("%w: record %d (the last checkpoint covers records 0 to %d)", ErrNoSuchRecord, seq, size-1)
		}
		wanted[seq] = nil
	}
	b, err := chain.NewInclusionProofsBuilder(seqs, size)
	if err != nil {
		return nil, err
	}
	intros := introFinder{upTo: size}
	err = forEachRecord(dir, func(rec *chain.Record, enc []byte) bool {
		if _, ok := wanted[rec.Seq]; ok {
			wanted[rec.Seq] = bytes.Clone(enc)
		}
		intros.add(rec, enc)
		b.Add(rec.Hash)
		return !b.Done()
	})
	if err != nil {
		return nil, fmt.Errorf("verify: prove: %w", err)
	}
	proofs, err := b.Proofs()
	if err != nil {
		return nil, err
	}
	// The read stopped before the last checkpoint record: a key introduced
	// so late that only a checkpoint after the read covers it needs a
	// read of its own.
	found := intros.intros[:intros.open]
	if !intros.complete() {
		if found, err = findIntroductions(dir, size); err != nil {
			return nil, err
		}
	}
	ends, err := proveIntroductions(dir, found)
	if err != nil {
		return nil, err
	}
	out := make([]*chain.InclusionBundle, len(seqs))
	for i, seq := range seqs {
		if wanted[seq] == nil {
			return nil, fmt.Errorf("%w: record %d", ErrNoSuchRecord, seq)
		}
		out[i] = &chain.InclusionBundle{Format: chain.InclusionBundleFormat, Record: wanted[seq], TreeSize: size, Proof: proofs[i], Checkpoint: note, Endorsements: ends}
	}
	return out, nil
}
