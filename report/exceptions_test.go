package report_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/report"
)

// TestSOC2Exceptions: a SOC 2 report carries the verification's evidence:
// the key history, the sealer's runs and the exceptions of its period (by
// record time), in JSON and in the page.
func TestSOC2Exceptions(t *testing.T) {
	s, err := testkit.BuildSealerLog(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := report.Options{Dir: s.Dir, Keys: testkit.Keys("main")}
	r, err := report.SOC2(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Coverage
	if c.Verdict != "intact" || len(c.KeyHistory) != 2 || c.Completeness == nil || c.Completeness.UncleanStops != 1 ||
		c.ExceptionCounts["unclean_stop"] != 1 || c.ExceptionCounts["events_shed"] != 1 || c.LogPeriod == nil {
		t.Fatalf("coverage %+v", c)
	}
	var page bytes.Buffer
	if err := r.HTML(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), "Exceptions in the period") || !strings.Contains(page.String(), "unclean_stop") {
		t.Fatal("the page lists no exceptions")
	}
	// A period that ends before the crash holds none of its exceptions.
	o.To = testkit.NewClock().T.Add(time.Millisecond)
	if r, err = report.SOC2(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if n := r.Coverage.ExceptionCounts["unclean_stop"]; n != 0 {
		t.Fatalf("unclean_stop outside the period: %d", n)
	}
}
