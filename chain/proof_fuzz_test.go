package chain_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
)

// FuzzParseInclusionBundle: the bundle parser never panics, and whatever it
// accepts survives a JSON round trip unchanged.
func FuzzParseInclusionBundle(f *testing.F) {
	good, _ := json.Marshal(chain.InclusionBundle{Format: chain.InclusionBundleFormat, Record: []byte{1, 2}, TreeSize: 3,
		Proof: []chain.Hash{{1}, {2}}, Checkpoint: []byte("note")})
	f.Add(good)
	f.Add([]byte(`{"format":"audit-sealer inclusion proof v1","proof":null}`))
	f.Add([]byte(`{"format":"audit-sealer inclusion proof v1","record":"AQ==","tree_size":3,"proof":[],"checkpoint":"bm90ZQ=="}`))
	withEnd, _ := json.Marshal(chain.InclusionBundle{Format: chain.InclusionBundleFormat, Record: []byte{1}, TreeSize: 3,
		Endorsements: []chain.Endorsement{{Record: []byte{7}, Proof: []chain.Hash{{3}}, Checkpoint: []byte("cp")}}})
	f.Add(withEnd)
	f.Add(bytes.Replace(good, []byte(`"tree_size":3`), []byte(`"tree_size":3,"tree_size":4`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := chain.ParseInclusionBundle(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := chain.ParseInclusionBundle(again)
		if err != nil || b2.Format != b.Format || b2.TreeSize != b.TreeSize || len(b2.Proof) != len(b.Proof) || string(b2.Record) != string(b.Record) ||
			len(b2.Endorsements) != len(b.Endorsements) {
			t.Fatalf("round trip changed the bundle: %v", err)
		}
	})
}

// FuzzParseConsistencyBundle: the consistency bundle parser never panics,
// and whatever it accepts survives a JSON round trip unchanged.
func FuzzParseConsistencyBundle(f *testing.F) {
	good, _ := json.Marshal(chain.ConsistencyBundle{Format: chain.ConsistencyBundleFormat, OldSize: 2, TreeSize: 3,
		Proof: []chain.Hash{{1}, {2}}, Checkpoint: []byte("note")})
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"old_size":2`), []byte(`"old_size":2,"OLD_SIZE":1`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := chain.ParseConsistencyBundle(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := chain.ParseConsistencyBundle(again)
		if err != nil || b2.OldSize != b.OldSize || b2.TreeSize != b.TreeSize || len(b2.Proof) != len(b.Proof) || !bytes.Equal(b2.Checkpoint, b.Checkpoint) {
			t.Fatalf("round trip changed the bundle: %v", err)
		}
	})
}

// FuzzParseKeyHistory: the key history parser never panics, and whatever
// it accepts survives a JSON round trip unchanged.
func FuzzParseKeyHistory(f *testing.F) {
	good, _ := json.Marshal(chain.KeyHistory{Format: chain.KeyHistoryFormat, Origin: "audit-sealer/00", Root: testRootPEM,
		Endorsements: []chain.Endorsement{{Record: []byte{1}, Proof: []chain.Hash{{2}}, Checkpoint: []byte("note")}}})
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"root":`), []byte(`"root":"x","Root":`), 1))
	f.Add([]byte(`{"format":"audit-sealer key history v1","endorsements":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := chain.ParseKeyHistory(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		h2, err := chain.ParseKeyHistory(again)
		if err != nil || h2.Origin != h.Origin || h2.Root != h.Root || len(h2.Endorsements) != len(h.Endorsements) {
			t.Fatalf("round trip changed the key history: %v", err)
		}
		for i := range h.Endorsements {
			a, b := h.Endorsements[i], h2.Endorsements[i]
			if !bytes.Equal(a.Record, b.Record) || !bytes.Equal(a.Checkpoint, b.Checkpoint) || len(a.Proof) != len(b.Proof) {
				t.Fatalf("round trip changed endorsement %d", i)
			}
		}
	})
}
