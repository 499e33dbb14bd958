package sealer_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
)

// gatedSigner is the test key; while armed, each Sign reports that it
// started and then waits for release, as a slow HSM would.
type gatedSigner struct {
	signer.Signer
	armed   atomic.Bool
	started chan struct{}
	release chan struct{}
}

func newGatedSigner() *gatedSigner {
	return &gatedSigner{Signer: testkit.Key("main"), started: make(chan struct{}, 1), release: make(chan struct{})}
}

func (g *gatedSigner) Sign(msg []byte) ([]byte, error) {
	if g.armed.Load() {
		g.started <- struct{}{}
		<-g.release
	}
	return g.Signer.Sign(msg)
}

// waitSigning returns once a Sign has started and waits for release.
func (g *gatedSigner) waitSigning(t *testing.T) {
	t.Helper()
	select {
	case <-g.started:
	case <-time.After(ioTimeout):
		t.Fatal("the writer never started signing")
	}
}

// TestLogKeyIsOffTheAckPath: while the log key signs a checkpoint (a slow
// HSM, held here), durable emits are still written, authenticated by the
// run key's commit and acknowledged; a critical event is acknowledged only
// once a durable checkpoint covers it. The checkpoint lands a few records
// after the commit it covers (FORMAT.md §3.5), and the log verifies.
func TestLogKeyIsOffTheAckPath(t *testing.T) {
	gs := newGatedSigner()
	h := newSealerWith(t, testConfig(t), gs)
	h.run()
	t.Cleanup(func() {
		gs.armed.Store(false)
		close(gs.release)
	})
	a, b := dial(t, h.cfg.Socket), dial(t, h.cfg.Socket)

	mustOK(t, a.do(`{"op":"flush","id":"f"}`)) // the sealer's start-up records are sealed
	gs.armed.Store(true)
	a.send(emitLine("crit", false, authFailure(1))) // critical: needs a checkpoint
	gs.waitSigning(t)
	// The log key is held. Durable emits are acknowledged all the same.
	var durable []uint64
	for i := range 3 {
		r := mustOK(t, b.do(emitLine("d", true, sealVerified(2+i))))
		if !r.Durable || r.Seq == nil || r.Sealed {
			t.Fatalf("durable emit while the log key signs: %s", r.raw)
		}
		durable = append(durable, *r.Seq)
	}
	gs.armed.Store(false)
	gs.release <- struct{}{}
	crit := mustOK(t, a.recv())
	if !crit.Sealed || crit.Seq == nil {
		t.Fatalf("critical event: want sealed, got %s", crit.raw)
	}
	if *crit.Seq >= durable[0] {
		t.Fatalf("critical event is record %d, after the durable ones %v", *crit.Seq, durable)
	}
	h.stopAndVerify()

	// The records: the critical event, the seal-requested commit, the
	// durable events each with their commit, then the checkpoint of the
	// log up to the seal-requested commit.
	recs := readRecords(t, h.cfg.DataDir)
	bySeq := map[uint64]chain.Record{}
	var size, cpSeq uint64 // the first checkpoint that covers the critical event
	for _, r := range recs {
		bySeq[r.Seq] = r
		if r.Kind == chain.KindCheckpoint && r.Seq > *crit.Seq && size == 0 {
			cp, _, _, err := chain.PeekCheckpoint(r.Checkpoint)
			if err != nil {
				t.Fatal(err)
			}
			size, cpSeq = cp.Size, r.Seq
		}
	}
	if size <= *crit.Seq {
		t.Fatalf("no checkpoint covers the critical event %d (first checkpoint after it: record %d, size %d)", *crit.Seq, cpSeq, size)
	}
	flagged := bySeq[size-1]
	if flagged.Kind != chain.KindCommit || flagged.Flags&chain.FlagSealRequested == 0 {
		t.Fatalf("record %d (the last one the checkpoint covers) is a %v with flags %#x, want a seal-requested commit", size-1, flagged.Kind, flagged.Flags)
	}
	if r := bySeq[*crit.Seq]; r.Kind != chain.KindEvent || string(r.Type) != event.TypeAuthFailure {
		t.Fatalf("record %d: %v %s", *crit.Seq, r.Kind, r.Type)
	}
	if cpSeq <= durable[len(durable)-1] {
		t.Fatalf("the checkpoint of size %d is record %d; want it after the durable events %v", size, cpSeq, durable)
	}
}
