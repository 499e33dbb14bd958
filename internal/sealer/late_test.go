package sealer_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
)

// gatedSigner is the test key; while armed, each Sign reports that it
// started and then waits for release, as a slow HSM keeps the writer
// waiting.
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

// TestLateEventsJoinTheSeal: plain events that reach the writer while it
// signs a checkpoint are appended after that checkpoint and made durable by
// the seal's own fdatasync, so they are acknowledged as soon as that seal
// ends, before the next round; a critical event that arrives meanwhile
// waits for a checkpoint of its own, and the requests behind it keep their
// place.
func TestLateEventsJoinTheSeal(t *testing.T) {
	gs := newGatedSigner()
	h := newSealerWith(t, testConfig(t), gs)
	h.run()
	t.Cleanup(func() {
		gs.armed.Store(false)
		close(gs.release)
	})
	a, b, c := dial(t, h.cfg.Socket), dial(t, h.cfg.Socket), dial(t, h.cfg.Socket)

	mustOK(t, a.do(`{"op":"flush","id":"f"}`)) // the sealer's start-up records are sealed
	gs.armed.Store(true)
	a.send(emitLine("crit", false, authFailure(1))) // critical: the writer seals before the ack
	gs.waitSigning(t)
	b.send(emitLine("late1", true, sealVerified(2)))
	b.send(emitLine("late2", false, sealVerified(3))) // acknowledged on acceptance
	eventually(t, "two events queued", func() bool { return sealer.IntakeLen(h.sl) == 2 })
	c.send(emitLine("crit2", false, authFailure(4)))
	c.send(emitLine("after", true, sealVerified(5))) // behind crit2 on its connection
	eventually(t, "four events queued", func() bool { return sealer.IntakeLen(h.sl) == 4 })

	gs.release <- struct{}{} // the first seal ends; the second one (for crit2) starts and waits
	crit := mustOK(t, a.recv())
	if !crit.Sealed || crit.Seq == nil {
		t.Fatalf("critical event: want sealed, got %s", crit.raw)
	}
	cpSeq := *crit.Seq + 1       // its round held it alone: the checkpoint follows it (checked below)
	late1 := mustOK(t, b.recv()) // replies come in request order
	late2 := mustOK(t, b.recv())
	if late2.ID != "late2" || late1.ID != "late1" || late1.Seq == nil || !late1.Durable {
		t.Fatalf("late replies: %s, %s", late2.raw, late1.raw)
	}
	// late1 was acknowledged as durable while the writer still waits in the
	// second Sign: it shared the first seal's fdatasync.
	if *late1.Seq != cpSeq+1 {
		t.Fatalf("late1 is record %d; want %d, right after the checkpoint %d", *late1.Seq, cpSeq+1, cpSeq)
	}
	gs.waitSigning(t) // the round of crit2 signs
	gs.armed.Store(false)
	gs.release <- struct{}{}
	crit2 := mustOK(t, c.recv())
	after := mustOK(t, c.recv())
	// crit2 was carried to the next round, and "after", queued behind it,
	// joined that round before its seal.
	if crit2.ID != "crit2" || !crit2.Sealed || crit2.Seq == nil || *crit2.Seq != cpSeq+3 {
		t.Fatalf("crit2: want record %d sealed, got %s", cpSeq+3, crit2.raw)
	}
	if after.ID != "after" || after.Seq == nil || *after.Seq != cpSeq+4 {
		t.Fatalf("after: want record %d, got %s", cpSeq+4, after.raw)
	}
	h.stopAndVerify()

	recs := readRecords(t, h.cfg.DataDir)
	kinds := map[uint64]chain.Kind{}
	types := map[uint64]string{}
	for _, r := range recs {
		kinds[r.Seq], types[r.Seq] = r.Kind, string(r.Type)
	}
	want := []struct {
		seq  uint64
		kind chain.Kind
		typ  string
	}{
		{*crit.Seq, chain.KindEvent, event.TypeAuthFailure},
		{cpSeq, chain.KindCheckpoint, ""},
		{cpSeq + 1, chain.KindEvent, event.TypeSealVerified},
		{cpSeq + 2, chain.KindEvent, event.TypeSealVerified},
		{cpSeq + 3, chain.KindEvent, event.TypeAuthFailure},
		{cpSeq + 4, chain.KindEvent, event.TypeSealVerified},
		{cpSeq + 5, chain.KindCheckpoint, ""},
	}
	for _, w := range want {
		if kinds[w.seq] != w.kind || types[w.seq] != w.typ {
			t.Errorf("record %d: %v %q; want %v %q", w.seq, kinds[w.seq], types[w.seq], w.kind, w.typ)
		}
	}
}
