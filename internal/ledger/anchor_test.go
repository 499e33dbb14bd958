package ledger_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/verify"
)

// fakeCounter is a monotonic counter in memory; beforeIncrement, if set,
// runs just before each increment (to take a crash image of the log).
type fakeCounter struct {
	mu              sync.Mutex
	value           uint64
	beforeIncrement func()
	afterIncrement  func()
}

func (c *fakeCounter) Read(context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value, nil
}

func (c *fakeCounter) Increment(context.Context) (uint64, error) {
	if c.beforeIncrement != nil {
		c.beforeIncrement()
	}
	c.mu.Lock()
	c.value++
	v := c.value
	c.mu.Unlock()
	if c.afterIncrement != nil {
		c.afterIncrement()
	}
	return v, nil
}

func anchored(t *testing.T, dir string, clock *testkit.Clock, c ledger.Counter) ledger.Config {
	cfg := config(t, dir, clock)
	cfg.Counter, cfg.AnchorIndex = c, 0x01500100
	return cfg
}

func TestAnchorContinuationAndCrashRecovery(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	ctr := &fakeCounter{value: 41}
	l, info, err := ledger.Open(anchored(t, dir, clock, ctr))
	if err != nil {
		t.Fatal(err)
	}
	if info.Anchor == nil || info.Anchor.Status != event.AnchorProvisioned {
		t.Fatalf("new log: %+v", info.Anchor)
	}
	appendN(t, l, clock, 0, 3)
	if _, err := l.Seal(context.Background(), ledger.SealOptions{Anchor: true}); err != nil {
		t.Fatal(err)
	}
	if got := l.LastAnchor(); got == nil || *got != 42 {
		t.Fatalf("last anchor %v, want 42", got)
	}
	appendN(t, l, clock, 3, 2)
	if err := l.Close(); err != nil { // anchors at close
		t.Fatal(err)
	}
	if ctr.value != 43 {
		t.Fatalf("counter %d after close, want 43", ctr.value)
	}

	// Restart: continuation.
	l, info, err = ledger.Open(anchored(t, dir, clock, ctr))
	if err != nil {
		t.Fatal(err)
	}
	if info.Anchor.Status != event.AnchorContinuation {
		t.Fatalf("restart: %+v", info.Anchor)
	}
	// A crash between the increment and the anchored checkpoint: the crash
	// image is taken right after the counter moved.
	crash := filepath.Join(t.TempDir(), "crash")
	ctr.afterIncrement = func() {
		if err := testkit.CopyDir(dir, crash); err != nil {
			t.Error(err)
		}
	}
	appendN(t, l, clock, 5, 2)
	if _, err := l.Seal(context.Background(), ledger.SealOptions{Anchor: true}); err != nil {
		t.Fatal(err)
	}
	ctr.afterIncrement = nil
	l.Close()
	// The crash image is what the disk held: it restarts and recognises the crash.
	crashCtr := &fakeCounter{value: 44} // the counter had moved to 44
	l, info, err = ledger.Open(anchored(t, crash, clock, crashCtr))
	if err != nil {
		t.Fatalf("restart after a crash between increment and checkpoint: %v", err)
	}
	if info.Anchor.Status != event.AnchorCrashRecovered || info.Anchor.Counter != 44 {
		t.Fatalf("crash restart: %+v", info.Anchor)
	}
	if got := l.LastAnchor(); got == nil || *got != 44 {
		t.Fatalf("after crash recovery the log anchors at %v, want 44", got)
	}
	l.Close()
	for _, d := range []string{dir, crash} {
		if rep := verifyDir(t, d); rep.Verdict != verify.Intact {
			t.Fatalf("%s: %s %v", d, rep.Verdict, rep.FirstFailure)
		}
	}
}

func TestAnchorRollbackAndReset(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	ctr := &fakeCounter{value: 7}
	l, _, err := ledger.Open(anchored(t, dir, clock, ctr))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, clock, 0, 2)
	l.Close()
	old := filepath.Join(t.TempDir(), "old")
	if err := testkit.CopyDir(dir, old); err != nil {
		t.Fatal(err)
	}
	l, _, err = ledger.Open(anchored(t, dir, clock, ctr))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, clock, 2, 2)
	l.Close()

	// The old copy is restored: the counter is ahead of it.
	cfg := anchored(t, old, clock, ctr)
	if _, _, err := ledger.Open(cfg); !errors.Is(err, ledger.ErrRollback) {
		t.Fatalf("old copy: %v, want ErrRollback", err)
	}
	cfg.AcceptRollback = true
	l, info, err := ledger.Open(cfg)
	if err != nil || info.Anchor.Status != event.AnchorRollbackOverride {
		t.Fatalf("accepted rollback: %v %+v", err, info)
	}
	l.Close()

	// The TPM was cleared: a new counter starts lower than the log.
	low := &fakeCounter{value: 1}
	cfg = anchored(t, dir, clock, low)
	if _, _, err := ledger.Open(cfg); !errors.Is(err, ledger.ErrAnchorReset) {
		t.Fatalf("counter behind the log: %v, want ErrAnchorReset", err)
	}
	cfg.AcceptAnchorReset = true
	l, info, err = ledger.Open(cfg)
	if err != nil || info.Anchor.Status != event.AnchorReset {
		t.Fatalf("accepted reset: %v %+v", err, info)
	}
	l.Close()
	for _, d := range []string{dir, old} {
		if rep := verifyDir(t, d); rep.Verdict != verify.Intact {
			t.Fatalf("%s: %s %v", d, rep.Verdict, rep.FirstFailure)
		}
	}
}

// failingIncrements reads a counter but cannot increment it, as a TPM that
// refuses NV writes for a while.
type failingIncrements struct{ *fakeCounter }

func (f failingIncrements) Increment(context.Context) (uint64, error) {
	return 0, errors.New("tpm: NV write refused")
}

// TestRollbackDetectedWhenRecentSegmentsHoldNoAnchor: the counter could not
// be incremented while the log rotated through several segments, so its
// last anchor lies far back. A copy restored from then is still recognised
// as older than the counter: the start looks back until it finds the last
// anchor, never taking the log for one that was never anchored.
func TestRollbackDetectedWhenRecentSegmentsHoldNoAnchor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	ctr := &fakeCounter{value: 10}
	cfg := anchored(t, dir, clock, ctr)
	cfg.SegmentSize = 4000
	l, _, err := ledger.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Seal(context.Background(), ledger.SealOptions{Anchor: true}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// A run whose counter refuses increments: every rotation seals
	// without an anchor.
	cfg.Counter = failingIncrements{ctr}
	l, _, err = ledger.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 60; i++ {
		appendN(t, l, clock, i, 1)
		// The anchor of each closing checkpoint fails; the segment closes
		// all the same.
		var anchorErr *ledger.AnchorError
		if _, err := l.RotateIfDue(); err != nil && !errors.As(err, &anchorErr) {
			t.Fatal(err)
		}
	}
	l.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 5 {
		t.Fatalf("%d segments; the test needs the last anchor at least four segments back", len(segs))
	}
	old := filepath.Join(t.TempDir(), "old")
	if err := testkit.CopyDir(dir, old); err != nil {
		t.Fatal(err)
	}
	// The counter works again and the live log anchors past the copy.
	cfg.Counter = ctr
	l, _, err = ledger.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Seal(context.Background(), ledger.SealOptions{Anchor: true}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	oldCfg := anchored(t, old, clock, ctr)
	if _, _, err := ledger.Open(oldCfg); !errors.Is(err, ledger.ErrRollback) {
		t.Fatalf("opening the old copy: %v; want ErrRollback", err)
	}
}
