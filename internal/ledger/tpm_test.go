package ledger_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/tpm"
	"github.com/audit-sealer/audit-sealer/tpm/swtpmtest"
	"github.com/audit-sealer/audit-sealer/verify"
)

// crashAfterIncrement is the real TPM counter, plus a crash image of the
// log taken right after each increment: what the disk held if the sealer
// died between the increment and the anchored checkpoint.
type crashAfterIncrement struct {
	*tpm.Counter
	dir, image string
	t          *testing.T
}

func (c *crashAfterIncrement) Increment(ctx context.Context) (uint64, error) {
	v, err := c.Counter.Increment(ctx)
	if err == nil && c.image != "" {
		if err := testkit.CopyDir(c.dir, c.image); err != nil {
			c.t.Error(err)
		}
		c.image = "" // one image
	}
	return v, err
}

// TestCrashBetweenIncrementAndCheckpointOnSwtpm: with a real TPM counter, a
// sealer that died after incrementing and before writing the anchored
// checkpoint restarts, recognises the crash (crash_recovered), anchors at
// the counter's value and the log verifies; it is never called a rollback.
func TestCrashBetweenIncrementAndCheckpointOnSwtpm(t *testing.T) {
	tr, _ := swtpmtest.Start(t, "")
	ctr, _ := swtpmtest.Counter(t, tr)
	dir := filepath.Join(t.TempDir(), "log")
	image := filepath.Join(t.TempDir(), "crash-image")
	wrapped := &crashAfterIncrement{Counter: ctr, dir: dir, t: t}
	clock := testkit.NewClock()
	cfg := config(t, dir, clock)
	cfg.Counter, cfg.AnchorIndex = wrapped, ctr.Index()
	l, _, err := ledger.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, clock, 0, 3)
	if _, err := l.Seal(context.Background(), ledger.SealOptions{Anchor: true}); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, clock, 3, 3)
	wrapped.image = image
	if _, err := l.Seal(context.Background(), ledger.SealOptions{Anchor: true}); err != nil { // the crash image is taken inside
		t.Fatal(err)
	}
	l.Abandon() // the live log is discarded: the crash image is what survived

	v, err := ctr.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg = config(t, image, clock)
	cfg.Counter, cfg.AnchorIndex = ctr, ctr.Index()
	l, info, err := ledger.Open(cfg)
	if err != nil {
		t.Fatalf("restart from the crash image: %v", err)
	}
	if info.Anchor.Status != event.AnchorCrashRecovered || info.Anchor.Counter != v {
		t.Fatalf("restart: %+v, counter %d", info.Anchor, v)
	}
	appendN(t, l, clock, 6, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep := verifyDir(t, image)
	if rep.Verdict != verify.Intact || rep.LastAnchor == nil {
		t.Fatalf("%s %v %+v", rep.Verdict, rep.FirstFailure, rep.LastAnchor)
	}
	if now, _ := ctr.Read(context.Background()); rep.LastAnchor.Counter != now {
		t.Fatalf("last anchor %d, TPM counter %d", rep.LastAnchor.Counter, now)
	}
}
