package verify_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/verify"
)

// TestProveRecords: the bundles ProveRecords builds in one pass, for
// records across segments in any order and with repeats, each check on
// their own and hold the record asked for; a bundle given another record's
// proof does not. (chain's tests compare the one-pass proofs with proofs
// built one leaf at a time.)
func TestProveRecords(t *testing.T) {
	v := vector(t, "intact_multi")
	opts := optionsFor(t, v)
	last, err := verify.Prove(v.Dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	size := last.TreeSize
	seqs := []uint64{size - 1, 0, size / 2, 1, size / 2, size - 2}
	bundles, err := verify.ProveRecords(v.Dir, seqs)
	if err != nil {
		t.Fatal(err)
	}
	if len(bundles) != len(seqs) {
		t.Fatalf("%d bundles for %d records", len(bundles), len(seqs))
	}
	for i, seq := range seqs {
		data, _ := json.Marshal(bundles[i])
		back, err := chain.ParseInclusionBundle(data)
		if err != nil {
			t.Fatal(err)
		}
		d, err := verify.CheckInclusion(back, opts)
		if err != nil || d.Record.Seq != seq || back.TreeSize != size {
			t.Fatalf("record %d: %v", seq, err)
		}
	}
	swapped := *bundles[0]
	swapped.Proof = bundles[2].Proof
	if _, err := verify.CheckInclusion(&swapped, opts); !errors.Is(err, verify.ErrBundleProof) {
		t.Fatalf("record %d with the proof of record %d: %v", seqs[0], seqs[2], err)
	}
	if _, err := verify.ProveRecords(v.Dir, []uint64{0, size}); !errors.Is(err, verify.ErrNoSuchRecord) {
		t.Fatalf("a record past the last checkpoint: %v", err)
	}
}
