package sealer_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// TestAnchoringCadence: with a counter, the sealer anchors under traffic at
// the anchor interval (not per event), at shutdown, and status shows the
// last anchor, its age, the anchors made and the NV write rate.
func TestAnchoringCadence(t *testing.T) {
	cfg := testConfig(t)
	cfg.Seal.AnchorInterval.Duration = 150 * time.Millisecond
	cfg.Seal.Interval.Duration = 20 * time.Millisecond
	ctr := &testkit.Counter{Value: 1000}
	sl, err := sealer.New(cfg, testkit.Key("main"), hclog.NewNullLogger(), sealer.WithCounter(ctr))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, sl: sl}
	h.run()
	c := dial(t, cfg.Socket)
	start := time.Now()
	sent := 0
	for time.Since(start) < 700*time.Millisecond {
		c.emitDurable(sealVerified(sent))
		sent++
	}
	st := c.status()
	if !st.Anchoring || st.LastAnchor == nil || st.AnchorsMade == 0 || st.LastAnchorAgeSeconds == nil || st.NVWritesPerYearEstim <= 0 {
		t.Fatalf("status while anchoring: %+v", st)
	}
	// Anchored at the interval, not per event: at most one per 150 ms (plus
	// slack for the first), far fewer than the events sent.
	if st.AnchorsMade > 8 || uint64(sent) <= st.AnchorsMade*10 {
		t.Fatalf("%d anchors for %d events in 700 ms with a 150 ms interval", st.AnchorsMade, sent)
	}
	before := ctr.Value
	c.close()
	rep := h.stopAndVerify()
	if ctr.Value != before+1 {
		t.Fatalf("counter %d after a clean stop, want %d (one anchor at shutdown)", ctr.Value, before+1)
	}
	if rep.LastAnchor == nil || rep.LastAnchor.Counter != ctr.Value {
		t.Fatalf("the log's last anchor %+v, counter %d", rep.LastAnchor, ctr.Value)
	}
}

// flakyCounter is a counter whose increments fail while failing is set.
type flakyCounter struct {
	testkit.Counter
	failing atomic.Bool
}

func (c *flakyCounter) Increment(ctx context.Context) (uint64, error) {
	if c.failing.Load() {
		return 0, errors.New("tpm: connection refused")
	}
	return c.Counter.Increment(ctx)
}

// TestAnchorFailureInStatus: while the counter fails, the status says since
// when and how many errors, and Degraded makes it the headline; once the
// counter works again both clear (the count stays, it is this process's).
func TestAnchorFailureInStatus(t *testing.T) {
	cfg := testConfig(t)
	cfg.Seal.AnchorInterval.Duration = 30 * time.Millisecond
	cfg.Seal.Interval.Duration = 10 * time.Millisecond
	ctr := &flakyCounter{Counter: testkit.Counter{Value: 7}}
	sl, err := sealer.New(cfg, testkit.Key("main"), hclog.NewNullLogger(), sealer.WithCounter(ctr))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, sl: sl}
	h.run()
	c := dial(t, cfg.Socket)
	ctr.failing.Store(true)
	var st sealer.Status
	eventually(t, "two anchor errors", func() bool {
		c.emitDurable(sealVerified(1))
		st = c.status()
		return st.AnchorErrors >= 2
	})
	if st.AnchorError == "" || st.AnchorFailingSince == nil || time.Since(*st.AnchorFailingSince) > ioTimeout {
		t.Fatalf("status while the counter fails: %+v", st)
	}
	if d := st.Degraded(time.Now()); len(d) != 1 || !strings.HasPrefix(d[0], "tpm anchoring failing for ") || !strings.Contains(d[0], "errors): ") {
		t.Fatalf("degraded: %q", d)
	}
	ctr.failing.Store(false)
	eventually(t, "anchoring to work again", func() bool {
		c.emitDurable(sealVerified(2))
		st = c.status()
		return st.AnchorError == ""
	})
	if st.AnchorFailingSince != nil || st.AnchorErrors < 2 || len(st.Degraded(time.Now())) != 0 {
		t.Fatalf("status once the counter works: %+v", st)
	}
	c.close()
	h.stopAndVerify()
}
