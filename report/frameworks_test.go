package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/report"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

// criterion returns the criterion id of cs, failing the test if absent.
func criterion(t *testing.T, cs []report.Criterion, id string) report.Criterion {
	t.Helper()
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no criterion %s in %d", id, len(cs))
	return report.Criterion{}
}

// TestFrameworkReports: the SOC 2, PCI DSS and ISO 27001 reports of a log
// with a crash, a shed, a client's drops, an unanchored stretch and a key
// rotation map its records to their criteria, with the exceptions that
// bear on each, and list the times the sealer was not running.
func TestFrameworkReports(t *testing.T) {
	s, err := testkit.BuildSealerLog(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o := report.Options{Dir: s.Dir, Keys: testkit.Keys("main")}

	soc2, err := report.SOC2(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	c := soc2.Coverage
	if c.Verdict != "intact" || c.ReadThrough != report.ReadFromFiles || c.ExceptionCounts[report.ExceptionSealerDown] != 2 {
		t.Fatalf("coverage: %+v", c)
	}
	for _, e := range c.Exceptions {
		if e.Code == report.ExceptionSealerDown && e.Seq != s.UncleanStart && !strings.Contains(e.Detail, "clean stop at record") {
			t.Fatalf("sealer_down %+v", e)
		}
	}
	if !slices.IsSortedFunc(c.Exceptions, func(a, b verify.Exception) int { return int(a.Seq) - int(b.Seq) }) {
		t.Fatal("exceptions out of record order")
	}
	var ids []string
	for _, cr := range soc2.Criteria {
		ids = append(ids, cr.ID)
		if cr.Status == "" || cr.Title == "" || cr.Limits == "" || len(cr.Evidence) == 0 {
			t.Fatalf("criterion %+v", cr)
		}
	}
	for _, id := range []string{"CC6.1", "CC6.2", "CC6.3", "CC7.2", "CC7.3", "CC8.1"} {
		if !slices.Contains(ids, id) {
			t.Fatalf("SOC 2 criteria %v lack %s", ids, id)
		}
	}
	cc72 := criterion(t, soc2.Criteria, "CC7.2")
	if cc72.Status != report.StatusExceptions || cc72.Exceptions["unclean_stop"] != 1 || cc72.Exceptions["events_shed"] != 1 ||
		cc72.Exceptions["unanchored_stretch"] != 1 || cc72.Exceptions[report.ExceptionSealerDown] != 2 {
		t.Fatalf("CC7.2 %+v", cc72)
	}
	if cc81 := criterion(t, soc2.Criteria, "CC8.1"); cc81.Records < 1 || cc81.Status != report.StatusEvidenced {
		t.Fatalf("CC8.1 (the rotation introduced a key) %+v", cc81)
	}
	if cc62 := criterion(t, soc2.Criteria, "CC6.2"); cc62.Records != 0 || cc62.Status != report.StatusNoRecords {
		t.Fatalf("CC6.2 (no token event) %+v", cc62)
	}

	pci, err := report.PCI(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"10.2.1", "10.2.1.1", "10.2.1.2", "10.2.1.3", "10.2.1.4", "10.2.1.5", "10.2.1.6", "10.2.1.7", "10.2.2", "10.3.1", "10.3.2", "10.3.3", "10.3.4", "10.5.1", "10.7.2"} {
		criterion(t, pci.Criteria, id)
	}
	// 3 starts and 2 clean stops; the crash and the two times the sealer
	// was not running.
	if c := criterion(t, pci.Criteria, "10.2.1.6"); c.Records != 5 || c.Status != report.StatusExceptions ||
		c.Exceptions["unclean_stop"] != 1 || c.Exceptions[report.ExceptionSealerDown] != 2 {
		t.Fatalf("10.2.1.6 %+v", c)
	}
	if c := criterion(t, pci.Criteria, "10.3.3"); c.Exceptions["unanchored_stretch"] != 1 || !strings.Contains(strings.Join(c.Evidence, " "), "anchored in a TPM counter") {
		t.Fatalf("10.3.3 %+v", c)
	}
	// The test log records no retention and no [query] settings.
	if c := criterion(t, pci.Criteria, "10.3.1"); c.Status != report.StatusNoRecords {
		t.Fatalf("10.3.1 %+v", c)
	}
	if c := criterion(t, pci.Criteria, "10.5.1"); c.Status != report.StatusNoRecords || !strings.Contains(strings.Join(c.Evidence, " "), "no retention setting") {
		t.Fatalf("10.5.1 %+v", c)
	}
	if pci.Retention.LogDays <= 0 || pci.Retention.LogFirst.IsZero() {
		t.Fatalf("retention %+v", pci.Retention)
	}

	iso, err := report.ISO27001(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"A.8.15 (produced)", "A.8.15 (stored)", "A.8.15 (protected)", "A.8.15 (analysed)", "A.8.17"} {
		criterion(t, iso.Criteria, id)
	}
	total := 0
	for _, n := range iso.RecordsByCategory {
		total += n
	}
	if uint64(total) != iso.Coverage.Records || iso.RecordsByCategory["sealer"] == 0 {
		t.Fatalf("categories %v, records %d", iso.RecordsByCategory, iso.Coverage.Records)
	}

	// Every kind renders as JSON that decodes, and as a page with its
	// criteria and the exceptions table.
	for _, kind := range []string{"soc2", "pci", "iso27001"} {
		r, err := report.Build(ctx, kind, o)
		if err != nil {
			t.Fatal(err)
		}
		js, err := report.Render(r, "json")
		if err != nil || !json.Valid(js) {
			t.Fatalf("%s json: %v", kind, err)
		}
		page, err := report.Render(r, "html")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`id="criteria"`, `id="exceptions-table"`, "sealer_down", "not</strong> recorded", "UTC</time>"} {
			if !bytes.Contains(page, []byte(want)) {
				t.Fatalf("%s page lacks %q", kind, want)
			}
		}
	}
	if _, err := report.Build(ctx, "hipaa", o); err == nil {
		t.Fatal("an unknown kind was built")
	}
	if _, err := report.Render(soc2, "pdf"); err == nil {
		t.Fatal("an unknown format was rendered")
	}
}

// TestCoverageGaps: a period that starts before the log's first record,
// and records appended after the last checkpoint, are exceptions of the
// period (period_before_log, after_checkpoint); a period that ends before
// the checkpoint has no after_checkpoint.
func TestCoverageGaps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: testkit.Key("main"), Dev: true, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	appendOne := func(i int) {
		now := clock.Now()
		ev := &event.SealVerified{Timestamp: now.Add(-time.Millisecond).UTC(), ShardID: "shard-" + string(rune('a'+i)), WorkerID: "worker-gpu-0"}
		body, err := event.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.Append(chain.KindEvent, "worker-gpu-0", ev.EventType(), body, now); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		appendOne(i)
	}
	if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
		t.Fatal(err)
	}
	sealedAt := clock.T
	for i := 3; i < 5; i++ {
		appendOne(i)
	}
	if err := l.Abandon(); err != nil {
		t.Fatal(err)
	}
	o := report.Options{Dir: dir, Keys: testkit.Keys("main"), From: testkit.NewClock().T.Add(-24 * time.Hour)}
	r, err := report.SOC2(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Coverage.ExceptionCounts; n[report.ExceptionBeforeLog] != 1 || n[report.ExceptionAfterCheckpoint] != 1 || r.Coverage.Records != 3 {
		t.Fatalf("exceptions %v, %d records", n, r.Coverage.Records)
	}
	o.To = sealedAt.Add(-time.Hour)
	if r, err = report.SOC2(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if n := r.Coverage.ExceptionCounts; n[report.ExceptionAfterCheckpoint] != 0 {
		t.Fatalf("a period that ends before the checkpoint: %v", n)
	}
}

// TestSummarize: an event's summary names who, what, on what and why,
// leaves hashes out, and is bounded.
func TestSummarize(t *testing.T) {
	s := report.Summarize([]byte(`{"type":"authz.denied","timestamp":"2026-11-02T09:00:00Z","actor":{"user_id":"alice","ip":"203.0.113.7","auth_method":"api_key"},"resource":{"resource_type":"pool","resource_id":"pool-7"},"action":"delete","reason":"insufficient_permissions"}`))
	if s != "user alice (api_key, 203.0.113.7); action delete; resource pool pool-7; reason insufficient_permissions" {
		t.Fatalf("summary %q", s)
	}
	s = report.Summarize([]byte(`{"type":"seal.verification_failed","shard_id":"s","expected_digest":"aa","actual_digest":"bb","worker_id":"w","reason":"` + strings.Repeat("é", 400) + `"}`))
	if strings.Contains(s, "digest") || len(s) > 304 || !strings.HasSuffix(s, "…") || !strings.HasPrefix(s, "reason é") {
		t.Fatalf("summary %q (%d bytes)", s, len(s))
	}
	if report.Summarize([]byte(`not json`)) != "" {
		t.Fatal("a summary of something that is not JSON")
	}
}

// TestHistoryKeys: the holder of the log's current key (the sealer, root
// with its configuration) verifies a rotated log from the root of its key
// history, found among the candidates (the keys on its token); without
// the first key among them the log is unverifiable, and so is a log whose
// last checkpoint another key signed, although its history verifies.
func TestHistoryKeys(t *testing.T) {
	s, err := testkit.BuildSealerLog(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	current, first := testkit.Key("second").Public(), testkit.Key("main").Public()
	keys, err := report.HistoryKeys(s.Dir, current, signer.Verifiers{testkit.Key("attacker").Public(), first})
	if err != nil || len(keys) != 2 || !keys[0].Equal(first) {
		t.Fatalf("history keys %v, %v", keys, err)
	}
	r, err := report.SOC2(ctx, report.Options{Dir: s.Dir, Keys: keys, LastKey: current.ID()})
	if err != nil || r.Coverage.Verdict != "intact" || r.Coverage.Records == 0 {
		t.Fatalf("with the current key's history: %v %+v", err, r.Coverage.FirstFailure)
	}
	// The log does not hold its first key: without it, the current key alone.
	keys, err = report.HistoryKeys(s.Dir, current, nil)
	if err != nil || len(keys) != 1 {
		t.Fatalf("without the first key: %v, %v", keys, err)
	}
	if r, err = report.SOC2(ctx, report.Options{Dir: s.Dir, Keys: keys, LastKey: current.ID()}); err != nil || r.Coverage.Verdict != "unverifiable" {
		t.Fatalf("with the current key alone: %v %s", err, r.Coverage.Verdict)
	}
	keys, _ = report.HistoryKeys(s.Dir, first, nil)
	r, err = report.SOC2(ctx, report.Options{Dir: s.Dir, Keys: keys, LastKey: first.ID()})
	if err != nil || r.Coverage.Verdict != "unverifiable" || r.Coverage.FirstFailure == nil || r.Coverage.Records != 0 {
		t.Fatalf("a log that ends with another key's checkpoint: %v %+v, %d records", err, r.Coverage.FirstFailure, r.Coverage.Records)
	}
}
