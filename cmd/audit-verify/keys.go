package main

import (
	"bytes"
	"fmt"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// trust is what the auditor gave with --key: public keys (PEM or note
// verifier keys) and key history bundles (FORMAT.md §5.5), told apart by
// content.
type trust struct {
	// keys are the keys given and the root of each key history: where the
	// walk of a data directory starts, which then trusts later keys only
	// through the endorsements the log itself holds.
	keys signer.Verifiers
	// ring is keys plus every key the histories' endorsements make trusted,
	// with the checkpoint at which each endorsing key retired: what proof
	// and consistency bundles are checked with.
	ring *verify.KeyRing
	// histories are the key history bundles given, endorsements checked.
	histories []*chain.KeyHistory
}

// trust reads the --key files. A key history bundle is followed from its
// root at once: one whose endorsements do not check is refused like a bad
// key file (exit 2).
func (c *common) trust() (*trust, error) {
	if len(c.keyFiles) == 0 {
		return nil, fmt.Errorf("no --key given: name the public key(s) you trust, or the key history bundle of audit-sealer keys export-public")
	}
	t := &trust{}
	for _, f := range c.keyFiles {
		data, err := storage.ReadFileMax(f, maxBundleFile)
		if err != nil {
			return nil, fmt.Errorf("--key: %w", err)
		}
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			h, err := chain.ParseKeyHistory(data)
			if err != nil {
				return nil, fmt.Errorf("--key %s: %w", f, err)
			}
			root, _ := h.RootKey() // ParseKeyHistory checked it
			t.keys, t.histories = append(t.keys, root), append(t.histories, h)
			continue
		}
		if len(data) > maxKeyFile {
			return nil, fmt.Errorf("--key %s: %d bytes, more than a public key (at most %d)", f, len(data), maxKeyFile)
		}
		k, err := signer.ParsePublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("--key %s: %w", f, err)
		}
		t.keys = append(t.keys, k)
	}
	t.ring = verify.NewKeyRing(t.keys)
	for i, h := range t.histories {
		if err := t.ring.Follow(h.Origin, h.Endorsements); err != nil {
			return nil, fmt.Errorf("--key: key history %d: %w", i+1, err)
		}
	}
	return t, nil
}

// checkHistories compares each endorsement of the key histories with the
// log in dir: the log must hold, at that seq, the very record the
// endorsement names (when that segment is present). A trusted key that
// signed both would have signed two histories.
func (t *trust) checkHistories(dir string) error {
	var seqs []uint64
	type named struct {
		history, index int
		rec            chain.Record
	}
	var all []named
	for hi, h := range t.histories {
		for i, e := range h.Endorsements {
			rec, err := chain.Decode(e.Record) // Follow decoded it already
			if err != nil {
				return fmt.Errorf("--key: key history %d: endorsement %d: %w", hi+1, i, err)
			}
			seqs = append(seqs, rec.Seq)
			all = append(all, named{hi + 1, i, rec})
		}
	}
	got, err := verify.RecordHashes(dir, seqs)
	if err != nil {
		return err
	}
	for _, n := range all {
		h, ok := got[n.rec.Seq]
		if ok && h != n.rec.Hash {
			return fmt.Errorf("--key: key history %d (log %s): endorsement %d names record %d with hash %s, but the log's record %d has hash %s",
				n.history, t.histories[n.history-1].Origin, n.index, n.rec.Seq, n.rec.Hash, n.rec.Seq, h)
		}
	}
	return nil
}
