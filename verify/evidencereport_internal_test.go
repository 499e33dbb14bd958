package verify

import "testing"

// TestEvidenceListsBounded: however many exceptions a log holds, the
// report lists at most MaxListed and counts them all; what no record
// authenticates yet waits (bounded too) and counts for nothing.
func TestEvidenceListsBounded(t *testing.T) {
	e := newEvidence(Options{})
	n := 3 * MaxListed
	for i := range n {
		e.note(Exception{Code: "client_dropped", Seq: uint64(i), Count: 2})
	}
	e.promote(uint64(2 * MaxListed))
	if len(e.listed) != MaxListed || e.counts["client_dropped"] != 2*MaxListed || e.comp.ClientDropped != uint64(4*MaxListed) || len(e.pending) != MaxListed {
		t.Fatalf("listed %d, counted %d, dropped %d, pending %d", len(e.listed), e.counts["client_dropped"], e.comp.ClientDropped, len(e.pending))
	}
	for range maxPending {
		e.note(Exception{Code: "events_shed", Seq: uint64(n)})
	}
	if len(e.pending) != maxPending || !e.pendingDropped {
		t.Fatalf("pending %d, dropped %v", len(e.pending), e.pendingDropped)
	}
}
