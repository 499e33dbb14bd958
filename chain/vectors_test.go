package chain_test

import (
	"bytes"
	"io"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/storage"
)

// TestVectorRecords walks the shared test vectors: in every intact log each
// record decodes, re-encodes to the same bytes, checks its hash and links to
// the previous one; in the tampered ones the record-level damage is exactly
// where the vector says.
func TestVectorRecords(t *testing.T) {
	root := t.TempDir()
	vs, err := testkit.Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			badHash, badLink := 0, 0
			var prev chain.Hash
			first := true
			walk(t, v.Dir, func(payload []byte) {
				rec, err := chain.Decode(payload)
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				enc, err := rec.Encode(nil)
				if err != nil || !bytes.Equal(enc[:len(enc)-32], payload[:len(payload)-32]) {
					t.Fatalf("record %d does not re-encode to its bytes", rec.Seq)
				}
				if !chain.NewHasher().Check(payload) {
					badHash++
				}
				if !first && rec.PrevHash != prev {
					badLink++
				}
				prev, first = rec.Hash, false
			})
			switch v.Name {
			case "modified_event":
				if badHash != 1 {
					t.Fatalf("%d records fail their hash, want exactly 1", badHash)
				}
			case "record_rehashed":
				if badHash != 0 || badLink != 1 {
					t.Fatalf("hash failures %d, link failures %d; want 0 and 1", badHash, badLink)
				}
			case "intact_single", "intact_multi", "intact_restarts", "intact_with_trusted":
				if badHash != 0 || badLink != 0 {
					t.Fatalf("intact log: %d hash and %d link failures", badHash, badLink)
				}
			}
		})
	}
}

// walk feeds every good frame payload of dir's segments, in order, to fn,
// stopping quietly at framing damage (the storage tests cover that).
func walk(t *testing.T, dir string, fn func([]byte)) {
	t.Helper()
	segs, err := storage.ListSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range segs {
		r, err := storage.OpenSegment(filepath.Join(dir, s.Name), i == len(segs)-1)
		if err != nil {
			return
		}
		for {
			p, _, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				r.Close()
				return
			}
			fn(p)
		}
		r.Close()
	}
}
