package verify_test

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// segmentLeaves reads a segment's first and last frames and the leaf hash
// of each of its records, as an index holds them.
func segmentLeaves(t *testing.T, dir string, seg storage.SegmentInfo) (first, last []byte, leaves []chain.Hash) {
	t.Helper()
	r, err := storage.OpenSegment(filepath.Join(dir, seg.Name), false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		p, _, err := r.Next()
		if err == io.EOF {
			return first, last, leaves
		}
		if err != nil {
			t.Fatal(err)
		}
		rec, err := chain.Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = append([]byte(nil), p...)
		}
		last = append(last[:0], p...)
		leaves = append(leaves, chain.LeafHash(rec.Hash))
	}
}

// TestAuthenticateLeaves: a closed segment is authenticated by its leaf
// hashes when their root is its final checkpoint's and a trusted key
// signed it (or it is the pinned checkpoint); a changed leaf authenticates
// nothing; a segment signed by a key rotated out is not authenticated by
// its own checkpoint, only through the next segment's tree state, and one
// that does not continue into it fails with unknown_key.
func TestAuthenticateLeaves(t *testing.T) {
	v := vector(t, "intact_key_rotation")
	segs, err := storage.ListSegments(v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	main, third := &verify.Trust{Keys: testkit.Keys("main")}, &verify.Trust{Keys: testkit.Keys("third")}
	seg := segs[1] // signed by main
	first, last, leaves := segmentLeaves(t, v.Dir, seg)
	end, err := verify.AuthenticateLeaves(main, seg, first, last, leaves)
	if err != nil || !end.Authenticated || end.NextSeq != segs[2].FirstSeq {
		t.Fatalf("signed by the trusted key: %+v, %v", end, err)
	}
	cp, _, _, _ := chain.PeekCheckpoint(mustDecode(t, last).Checkpoint)
	pinned := &verify.Trust{Pinned: &verify.Pin{Size: cp.Size, Root: cp.Root}}
	if end, err := verify.AuthenticateLeaves(pinned, seg, first, last, leaves); err != nil || !end.Authenticated {
		t.Fatalf("pinned: %+v, %v", end, err)
	}
	changed := append([]chain.Hash(nil), leaves...)
	changed[3][0] ^= 1
	if _, err := verify.AuthenticateLeaves(main, seg, first, last, changed); err == nil {
		t.Fatal("a changed leaf authenticated the segment")
	}
	// With the current key alone: not by its own checkpoint, but through
	// the segment after it.
	end, err = verify.AuthenticateLeaves(third, seg, first, last, leaves)
	if err != nil || end.Authenticated {
		t.Fatalf("signed by a key rotated out: %+v, %v", end, err)
	}
	next, _, _ := segmentLeaves(t, v.Dir, segs[2])
	if err := end.Through(mustDecodePtr(t, next), segs[2].Name); err != nil || !end.Authenticated {
		t.Fatalf("through the next segment: %v", err)
	}
	end, _ = verify.AuthenticateLeaves(third, seg, first, last, leaves)
	other, _, _ := segmentLeaves(t, v.Dir, segs[3])
	var te *verify.TamperError
	if err := end.Through(mustDecodePtr(t, other), segs[3].Name); !errors.As(err, &te) || te.Failure.Reason != verify.ReasonUnknownKey {
		t.Fatalf("through a segment it does not continue into: %v, want unknown_key", err)
	}
}

func mustDecode(t *testing.T, p []byte) chain.Record {
	t.Helper()
	rec, err := chain.Decode(p)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func mustDecodePtr(t *testing.T, p []byte) *chain.Record {
	rec := mustDecode(t, p)
	return &rec
}

// TestSegmentReaderCoversAndFailsInOrder: reading the last segment of a log
// sealed every 7 events, the reader trusts the records its checkpoints
// cover while checking one signature (the latest's, which covers the
// earlier ones), and fails with bad_signature at the first checkpoint in
// log order whose signature does not verify, before a later failure.
func TestSegmentReaderCoversAndFailsInOrder(t *testing.T) {
	v := vector(t, "intact_multi")
	segs, _ := storage.ListSegments(v.Dir)
	seg := segs[len(segs)-1]
	sr, err := verify.OpenSegmentReader(v.Dir, seg, true, &verify.Trust{Keys: testkit.Keys("main")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	var last uint64
	checkpoints := 0
	for {
		rec, _, err := sr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		last = rec.Seq
		if rec.Kind == chain.KindCheckpoint {
			checkpoints++
		}
	}
	covered, err := sr.Sealed()
	if err != nil || covered != last || checkpoints < 2 {
		t.Fatalf("covered %d (last record %d, %d checkpoints): %v", covered, last, checkpoints, err)
	}
	if err := sr.CheckTail(); err != nil {
		t.Fatal(err)
	}
	if st := sr.State(); st == nil || st.NextSeq() != last+1 || st.Segment() != seg.Name {
		t.Fatalf("state %+v", st)
	}

	bad := vector(t, "checkpoint_bad_signature")
	segs, _ = storage.ListSegments(bad.Dir)
	sr, err = verify.OpenSegmentReader(bad.Dir, segs[len(segs)-1], true, &verify.Trust{Keys: testkit.Keys("main")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	for {
		_, _, err = sr.Next()
		if err != nil {
			break
		}
	}
	var te *verify.TamperError
	if !errors.As(err, &te) || te.Failure.Reason != verify.ReasonBadSignature || !errors.Is(err, verify.ErrTampered) {
		t.Fatalf("%v, want bad_signature", err)
	}
	if _, err := verify.OpenSegmentReader(bad.Dir, segs[0], false, &verify.Trust{}, nil, nil); !errors.Is(err, verify.ErrCannotCheck) {
		t.Fatalf("no trusted key: %v", err)
	}
}
