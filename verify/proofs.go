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
// introduced up to its checkpoint (found in the same read; their proofs
// take one more read when the log introduced a key). A page of query
// results gets its proofs this way. Memory holds the k records and O(k log
// n) hashes.
//
// A record that a checkpoint cosigned by witnesses covers is proven in
// that checkpoint's tree, and its bundle carries the checkpoint with the
// cosignature lines (CosignedCheckpoints: the most witnesses, then the
// largest), so that the record is witnessed on its own (FORMAT.md §6);
// any other record is proven in the tree of the log's last checkpoint.
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
	cosigned, err := CosignedCheckpoints(dir)
	if err != nil {
		return nil, err
	}
	// The cosigned checkpoint of each record, and the proofs in its tree.
	type cosignedTree struct {
		cp      *CosignedCheckpoint
		seqs    []uint64
		idx     []int // indexes into seqs
		builder *chain.InclusionProofsBuilder
	}
	var trees []*cosignedTree
	byNote := map[*CosignedCheckpoint]*cosignedTree{}
	for i, seq := range seqs {
		c := bestCosigned(cosigned, seq, size)
		if c == nil {
			continue
		}
		t := byNote[c]
		if t == nil {
			t = &cosignedTree{cp: c}
			byNote[c] = t
			trees = append(trees, t)
		}
		t.seqs, t.idx = append(t.seqs, seq), append(t.idx, i)
	}
	for _, t := range trees {
		if t.builder, err = chain.NewInclusionProofsBuilder(t.seqs, t.cp.Size); err != nil {
			return nil, err
		}
	}
	intros := introFinder{upTo: size}
	err = forEachRecord(dir, func(rec *chain.Record, enc []byte) bool {
		if _, ok := wanted[rec.Seq]; ok {
			wanted[rec.Seq] = bytes.Clone(enc)
		}
		intros.add(rec, enc)
		b.Add(rec.Hash)
		for _, t := range trees {
			t.builder.Add(rec.Hash)
		}
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
	for _, t := range trees {
		ps, err := t.builder.Proofs()
		if err != nil {
			return nil, err
		}
		// Only the endorsements a checkpoint of at most its size makes.
		var tends []chain.Endorsement
		for j, in := range found {
			if in.size <= t.cp.Size {
				tends = append(tends, ends[j])
			}
		}
		for j, seq := range t.seqs {
			rec, err := chain.Decode(wanted[seq])
			if err != nil {
				return nil, err
			}
			if chain.VerifyInclusion(seq, t.cp.Size, rec.Hash, ps[j], t.cp.Root) != nil {
				continue // the log's tree of that size is not the cosigned one: keep the last checkpoint's proof
			}
			out[t.idx[j]] = &chain.InclusionBundle{Format: chain.InclusionBundleFormat, Record: wanted[seq], TreeSize: t.cp.Size,
				Proof: ps[j], Checkpoint: bytes.Clone(t.cp.Note), Endorsements: tends}
		}
	}
	return out, nil
}

// bestCosigned returns the cosigned checkpoint that covers record seq (of
// at most size records) with the most cosigners, the largest of them on a
// tie, or nil.
func bestCosigned(cs []*CosignedCheckpoint, seq, size uint64) *CosignedCheckpoint {
	var best *CosignedCheckpoint
	for _, c := range cs {
		if c.Size <= seq || c.Size > size {
			continue
		}
		if best == nil || c.Cosigners > best.Cosigners || c.Cosigners == best.Cosigners && c.Size > best.Size {
			best = c
		}
	}
	return best
}
