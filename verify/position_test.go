package verify_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// firstEvent returns the offset and sequence number of the first event record
// of a segment, read with the storage reader.
func firstEvent(t *testing.T, path string) (int64, uint64) {
	t.Helper()
	var off int64 = -1
	var seq uint64
	err := testkit.SegmentRecords(path, false, func(rec chain.Record, at int64) bool {
		if rec.Kind != chain.KindEvent {
			return true
		}
		off, seq = at, rec.Seq
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		t.Fatal("no event in segment")
	}
	return off, seq
}

// TestFailurePosition: the report names the exact segment, offset and
// sequence number of a modified record.
func TestFailurePosition(t *testing.T) {
	v := vector(t, "modified_event")
	segs, err := storage.ListSegments(v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	wantOff, wantSeq := firstEvent(t, filepath.Join(v.Dir, segs[1].Name))
	rep, err := verify.Dir(context.Background(), v.Dir, optionsFor(t, v))
	if err != nil {
		t.Fatal(err)
	}
	f := rep.FirstFailure
	if f == nil || f.Reason != verify.ReasonModified || f.Segment != segs[1].Name || f.Offset != wantOff || f.Seq == nil || *f.Seq != wantSeq {
		t.Fatalf("failure %+v, want modified in %s at offset %d seq %d", f, segs[1].Name, wantOff, wantSeq)
	}
	// Records before the failure were counted, the rest were not.
	if rep.Records != wantSeq {
		t.Fatalf("records checked %d, want %d (all before the failure)", rep.Records, wantSeq)
	}
}
