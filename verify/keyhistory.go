package verify

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/signer"
)

// introduction is an audit.key_introduced record found in the log and the
// first checkpoint whose tree holds it.
type introduction struct {
	seq     uint64
	record  []byte
	note    []byte // nil until a checkpoint covers the record
	size    uint64
	builder *chain.ProofBuilder
}

// Endorsements returns the endorsement of every key the log in dir
// introduced whose first covering checkpoint has at most upTo records, in
// log order (FORMAT.md §5.5): the audit.key_introduced record, that
// checkpoint, and the record's inclusion proof in its tree. It reads the
// log twice (once to find them, once for the proofs) and does not verify
// it: the checker verifies each endorsement on its own terms.
func Endorsements(dir string, upTo uint64) ([]chain.Endorsement, error) {
	intros, err := findIntroductions(dir, upTo)
	if err != nil {
		return nil, err
	}
	return proveIntroductions(dir, intros)
}

// findIntroductions lists the key introductions of the log in dir that a
// checkpoint of at most upTo records covers, with that checkpoint.
func findIntroductions(dir string, upTo uint64) ([]*introduction, error) {
	f := introFinder{upTo: upTo}
	if err := forEachRecord(dir, f.add); err != nil {
		return nil, fmt.Errorf("verify: key history: %w", err)
	}
	return f.intros[:f.open], nil
}

// introFinder collects key introductions and their first covering
// checkpoint from records fed in log order, so that a caller already
// reading the log (ProveRecords) finds them in the same read.
type introFinder struct {
	upTo   uint64
	intros []*introduction
	open   int // intros[open:] wait for a covering checkpoint
	past   bool
}

// add takes the next record; it returns false once a checkpoint beyond
// upTo showed that nothing later counts.
func (f *introFinder) add(rec *chain.Record, enc []byte) bool {
	switch {
	case f.past:
	case rec.Kind == chain.KindSealerEvent && string(rec.Type) == event.TypeKeyIntroduced:
		f.intros = append(f.intros, &introduction{seq: rec.Seq, record: bytes.Clone(enc)})
	case rec.Kind == chain.KindCheckpoint && f.open < len(f.intros):
		cp, _, _, err := chain.PeekCheckpoint(rec.Checkpoint)
		if err != nil {
			break // not a checkpoint a checker could use
		}
		if cp.Size > f.upTo {
			f.past = true
			break
		}
		for ; f.open < len(f.intros) && f.intros[f.open].seq < cp.Size; f.open++ {
			f.intros[f.open].note, f.intros[f.open].size = bytes.Clone(rec.Checkpoint), cp.Size
		}
	}
	return !f.past
}

// complete reports whether every introduction fed so far has its
// checkpoint.
func (f *introFinder) complete() bool { return f.open == len(f.intros) }

// proveIntroductions computes the inclusion proof of each introduction in
// its checkpoint's tree, in one more read of the log.
func proveIntroductions(dir string, intros []*introduction) ([]chain.Endorsement, error) {
	if len(intros) == 0 {
		return nil, nil
	}
	for _, in := range intros {
		b, err := chain.NewInclusionBuilder(in.seq, in.size)
		if err != nil {
			return nil, err
		}
		in.builder = b
	}
	last := intros[len(intros)-1].builder
	err := forEachRecord(dir, func(rec *chain.Record, _ []byte) bool {
		for _, in := range intros {
			in.builder.Add(rec.Hash)
		}
		return !last.Done()
	})
	if err != nil {
		return nil, fmt.Errorf("verify: key history: %w", err)
	}
	out := make([]chain.Endorsement, len(intros))
	for i, in := range intros {
		p, err := in.builder.Proof()
		if err != nil {
			return nil, err
		}
		out[i] = chain.Endorsement{Record: in.record, Proof: p, Checkpoint: in.note}
	}
	return out, nil
}

// ErrRootUnknown is returned by KeyHistoryOf when none of the candidate
// keys signed the log's first checkpoint.
var ErrRootUnknown = errors.New("verify: the key that signed the log's first checkpoint is not among the keys given")

// KeyHistoryOf builds the key history bundle of the log in dir (FORMAT.md
// §5.5): its origin, the key that signed its first checkpoint, found among
// candidates and the keys the log introduced, and the endorsement of every
// key introduced since. The log does not hold its first key, only that
// key's signatures, so the caller supplies the candidates (the keys on
// the token, the key the operator exported before the first rotation).
func KeyHistoryOf(dir string, candidates signer.Verifiers) (*chain.KeyHistory, error) {
	var first []byte
	err := forEachRecord(dir, func(rec *chain.Record, _ []byte) bool {
		if rec.Kind == chain.KindCheckpoint {
			first = bytes.Clone(rec.Checkpoint)
		}
		return first == nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify: key history: %w", err)
	}
	if first == nil {
		return nil, errors.New("verify: key history: the log holds no checkpoint")
	}
	ends, err := Endorsements(dir, ^uint64(0))
	if err != nil {
		return nil, err
	}
	keys := append(signer.Verifiers(nil), candidates...)
	for _, e := range ends {
		if rec, err := chain.Decode(e.Record); err == nil {
			if k, err := introducedKey(rec.Event); err == nil {
				keys = append(keys, k)
			}
		}
	}
	cp, err := chain.OpenCheckpoint(first, keys)
	if errors.Is(err, chain.ErrUnknownKey) {
		_, name, _, _ := chain.PeekCheckpoint(first)
		return nil, fmt.Errorf("%w (its signature line names %q)", ErrRootUnknown, name)
	}
	if err != nil {
		return nil, fmt.Errorf("verify: key history: the log's first checkpoint: %w", err)
	}
	return &chain.KeyHistory{Format: chain.KeyHistoryFormat, Origin: cp.Origin, Root: string(cp.Key.MarshalPEM()), Endorsements: ends}, nil
}

// RecordHashes returns the hash of each record of the log in dir whose
// sequence number is in seqs and whose segment is present, reading the log
// up to the largest of them. A checker compares the records a key history
// bundle names with the log's (FORMAT.md §5.5). It does not verify the log.
func RecordHashes(dir string, seqs []uint64) (map[uint64]chain.Hash, error) {
	out := map[uint64]chain.Hash{}
	if len(seqs) == 0 {
		return out, nil
	}
	want := make(map[uint64]bool, len(seqs))
	var last uint64
	for _, s := range seqs {
		want[s], last = true, max(last, s)
	}
	err := forEachRecord(dir, func(rec *chain.Record, _ []byte) bool {
		if want[rec.Seq] {
			out[rec.Seq] = rec.Hash
		}
		return rec.Seq < last
	})
	if err != nil {
		return nil, fmt.Errorf("verify: records: %w", err)
	}
	return out, nil
}
