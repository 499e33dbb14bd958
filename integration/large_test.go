package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/report"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// large is the log of realistic size the tests of this file share, built
// once: 100,000 events (20,000 with -short) of 16 types from 100
// customers, in segments of 4 MiB (1 MiB) and one a day (the clock steps
// 5 s), sealed every 100 records.
var large struct {
	once     sync.Once
	root     string
	dir, key string
	events   int
	segSize  int64
	err      error
}

// largeLog returns the shared large log's data directory and public key;
// tests that change it work on a copy.
func largeLog(t *testing.T) (dir, key string) {
	t.Helper()
	large.once.Do(func() {
		if large.root, large.err = os.MkdirTemp("", "audit-sealer-large-"); large.err != nil {
			return
		}
		n, seg := 100_000, int64(4<<20)
		if testing.Short() {
			n, seg = 20_000, 1<<20
		}
		large.dir, large.events, large.segSize = filepath.Join(large.root, "data"), n, seg
		large.key, large.err = testkit.BuildRealisticLog(large.dir, testkit.RealisticOptions{Events: n, SegmentSize: seg, Step: 5 * time.Second})
	})
	if large.err != nil {
		t.Fatal(large.err)
	}
	if segs, err := storage.ListSegments(large.dir); err != nil || len(segs) < 4 {
		t.Fatalf("the large log has %d segments (%v), want several", len(segs), err)
	}
	return large.dir, large.key
}

// removeLargeLog is called by TestMain after the tests.
func removeLargeLog() {
	if large.root != "" {
		os.RemoveAll(large.root)
	}
}

// TestProveLargeLog: on a log of 100,000 events (20,000 with -short) in many
// segments, audit-sealer prove --seq writes a bundle that audit-verify proof
// accepts for the records on both sides of segment boundaries and for
// the last sealed record; a bundle whose record was altered is refused,
// and a record the last checkpoint does not cover cannot be proved.
func TestProveLargeLog(t *testing.T) {
	dir, key := largeLog(t)
	segs, err := storage.ListSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A scan to the end reads the last checkpoint (a scan that stops early
	// reports the last one it read).
	info, err := query.Scan(context.Background(), dir, verify.Trust{Keys: testkit.Keys("main")}, query.Filter{Types: []string{"audit.*"}, Sealer: true}, func(*query.Match) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	last := info.SealedSize - 1
	if last < uint64(large.events) {
		t.Fatalf("sealed size %d for %d events", info.SealedSize, large.events)
	}
	seqs := map[uint64]bool{0: true, last: true, last - 1: true}
	// Each prove reads the log through; the first three boundaries and the
	// last three are enough to cover early, late and day-change rotations.
	for i, s := range segs {
		if i > 0 && (i <= 3 || i >= len(segs)-3) {
			seqs[s.FirstSeq-1], seqs[s.FirstSeq] = true, true
		}
	}
	out := t.TempDir()
	proved := 0
	for seq := range seqs {
		bundle := filepath.Join(out, strconv.FormatUint(seq, 10)+".json")
		if b, err := exec.Command(filepath.Join(bin, "audit-sealer"), "prove", "--data-dir", dir, "--seq", strconv.FormatUint(seq, 10), "--out", bundle).CombinedOutput(); err != nil {
			t.Fatalf("prove --seq %d: %v\n%s", seq, err, b)
		}
		code, rep := auditVerifyArgs(t, "proof", "--key", key, "--json", bundle)
		if code != 0 || rep["verdict"] != "valid" || rep["seq"] != float64(seq) {
			t.Fatalf("audit-verify proof of record %d: exit %d, %v", seq, code, rep)
		}
		if cp, _ := rep["checkpoint"].(map[string]any); cp == nil || cp["size"] != float64(info.SealedSize) {
			t.Fatalf("record %d: proved under checkpoint %v, want the last one (size %d)", seq, rep["checkpoint"], info.SealedSize)
		}
		proved++
	}
	t.Logf("%d records proved, %d segments, sealed size %d", proved, len(segs), info.SealedSize)

	// An altered record does not verify.
	bundle := filepath.Join(out, strconv.FormatUint(segs[1].FirstSeq, 10)+".json")
	var b map[string]any
	data, _ := os.ReadFile(bundle)
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	rec, err := base64.StdEncoding.DecodeString(b["record"].(string))
	if err != nil {
		t.Fatal(err)
	}
	rec[len(rec)-2] ^= 1
	b["record"] = base64.StdEncoding.EncodeToString(rec)
	data, _ = json.Marshal(b)
	altered := filepath.Join(out, "altered.json")
	os.WriteFile(altered, data, 0o600)
	if code, rep := auditVerifyArgs(t, "proof", "--key", key, "--json", altered); code == 0 || rep["verdict"] == "valid" {
		t.Fatalf("an altered record was accepted: exit %d, %v", code, rep)
	}

	// The checkpoint record itself, at the sealed size, is not covered.
	if b, err := exec.Command(filepath.Join(bin, "audit-sealer"), "prove", "--data-dir", dir, "--seq", strconv.FormatUint(info.SealedSize, 10)).CombinedOutput(); err == nil {
		t.Fatalf("prove --seq %d (not covered by the last checkpoint) succeeded:\n%s", info.SealedSize, b)
	}
}

// segmentStart returns the time of a segment's first record.
func segmentStart(t *testing.T, path string) time.Time {
	t.Helper()
	r, err := storage.OpenSegment(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, _, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := chain.Decode(p)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Time()
}

// TestRetentionLargeLog: on a copy of the large log, retention with a
// cut-off just after the start of the middle segment deletes exactly the
// segments before it (whole segments, a prefix), records and seals the
// deletion, and audit-verify accepts the pruned log as intact, pruned
// before the first kept record; deleting one more segment by hand is
// refused.
func TestRetentionLargeLog(t *testing.T) {
	src, key := largeLog(t)
	dir := filepath.Join(t.TempDir(), "data")
	if err := testkit.CopyDir(src, dir); err != nil {
		t.Fatal(err)
	}
	segs, err := storage.ListSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	k := len(segs) / 2
	cutoff := segmentStart(t, filepath.Join(dir, segs[k].Name)).Add(time.Millisecond)
	// The sealer prunes 30 days after the cut-off: every deleted record is
	// older than the retention period, as audit-verify checks.
	clock := &testkit.Clock{T: cutoff.Add(30 * 24 * time.Hour), Step: time.Millisecond}
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: testkit.Key("main"), Dev: true, SegmentSize: large.segSize, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Prune(cutoff, 30, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if len(res.Segments) != k || res.FirstSeq != 0 || res.LastSeq != segs[k].FirstSeq-1 {
		t.Fatalf("pruned %d segments, records %d-%d; want the %d before %s (records 0-%d)", len(res.Segments), res.FirstSeq, res.LastSeq, k, segs[k].Name, segs[k].FirstSeq-1)
	}
	for i, name := range res.Segments {
		if name != segs[i].Name {
			t.Fatalf("pruned %v, want the first %d segments", res.Segments, k)
		}
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Fatalf("%s is still there: %v", name, err)
		}
	}
	after, err := storage.ListSegments(dir)
	if err != nil || len(after) < len(segs)-k || after[0].Name != segs[k].Name {
		t.Fatalf("segments after pruning: %v (%v)", after, err)
	}
	code, rep := auditVerify(t, key, dir)
	if code != 0 || rep["verdict"] != "intact" || rep["pruned_before"] != float64(res.LastSeq+1) {
		t.Fatalf("audit-verify on the pruned log: exit %d, verdict %v, pruned_before %v (want %d), first failure %v",
			code, rep["verdict"], rep["pruned_before"], res.LastSeq+1, rep["first_failure"])
	}
	t.Logf("pruned %d of %d segments (records 0-%d), recorded at %d, sealed at %d", k, len(segs), res.LastSeq, res.Recorded, res.Sealed)

	// A segment deleted by hand after the pruned prefix is not retention.
	os.Remove(filepath.Join(dir, after[0].Name))
	if code, rep := auditVerify(t, key, dir); code == 0 || rep["verdict"] == "intact" {
		t.Fatalf("a segment deleted by hand: exit %d, verdict %v", code, rep["verdict"])
	}
}

// TestReportsLargeLog: the SOC 2 report over the whole large log and the
// GDPR report of one customer over a middle period, made by audit-sealer
// report, count what a direct scan of the log counts.
func TestReportsLargeLog(t *testing.T) {
	dir, key := largeLog(t)
	segs, err := storage.ListSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	from := segmentStart(t, filepath.Join(dir, segs[1].Name))
	to := segmentStart(t, filepath.Join(dir, segs[len(segs)-2].Name))
	customer := testkit.RealisticCustomer(42)

	// The direct scan: every sealed record, the sealer's own included.
	soc2 := map[string]int{}
	var records, inPeriod int
	gdpr := map[string]int{}
	var tokens uint64
	if _, err := query.Scan(context.Background(), dir, verify.Trust{Keys: testkit.Keys("main")}, query.Filter{Sealer: true}, func(m *query.Match) error {
		records++
		switch {
		case m.Type == "auth.success" || m.Type == "auth.failure":
			soc2[m.Type+"/"+m.Service]++
		case m.Type == "seal.verification_failed" || m.Type == "security.integrity_violation":
			soc2["integrity failed"]++
		}
		soc2[m.Type]++
		if m.Critical {
			soc2["critical"]++
		}
		if m.Received.Before(from) || m.Received.After(to) {
			return nil
		}
		inPeriod++
		var f struct {
			CustomerID      string `json:"customer_id"`
			TokensProcessed uint64 `json:"tokens_processed"`
		}
		if json.Unmarshal(m.Event, &f); f.CustomerID == customer {
			gdpr[m.Type]++
			gdpr["records"]++
			tokens += f.TokensProcessed
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if gdpr["records"] == 0 || soc2["auth.failure"] == 0 || soc2["security.integrity_violation"] == 0 {
		t.Fatalf("the large log lacks what the reports count: %v %v", soc2, gdpr)
	}

	run := func(args ...string) map[string]any {
		t.Helper()
		out, err := exec.Command(filepath.Join(bin, "audit-sealer"), append([]string{"report"}, args...)...).Output()
		if err != nil {
			t.Fatalf("report %v: %v", args, err)
		}
		var r map[string]any
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("report %v: %v", args, err)
		}
		if cov := r["coverage"].(map[string]any); cov["verdict"] != "intact" {
			t.Fatalf("report %v: coverage %v", args, cov)
		}
		return r
	}
	eq := func(what string, got any, want int) {
		t.Helper()
		if got != float64(want) {
			t.Errorf("%s: the report says %v, a direct scan counts %d", what, got, want)
		}
	}
	// count reads a report list ({"total","entries","truncated"}): its
	// total, after checking that it lists min(total, report.MaxListed)
	// entries and says whether it left some out.
	count := func(v any) int {
		l, _ := v.(map[string]any)
		total, _ := l["total"].(float64)
		entries, _ := l["entries"].([]any)
		if want := min(int(total), report.MaxListed); len(entries) != want || l["truncated"] != (int(total) > report.MaxListed) {
			t.Errorf("a report list of %v lists %d entries, truncated %v", total, len(entries), l["truncated"])
		}
		return int(total)
	}
	sum := func(v any) float64 {
		var n float64
		for _, x := range v.(map[string]any) {
			n += x.(float64)
		}
		return n
	}

	s := run("soc2", "--data-dir", dir, "--key", key, "--format", "json")
	eq("records in range", s["coverage"].(map[string]any)["records_in_range"], records)
	succ, fail := s["authentication_successes_by_service"].(map[string]any), s["authentication_failures_by_service"].(map[string]any)
	for _, svc := range []string{"queen-rbee", "pool-managerd"} {
		eq("auth successes of "+svc, succ[svc], soc2["auth.success/"+svc])
	}
	eq("auth failures of queen-rbee", fail["queen-rbee"], soc2["auth.failure/queen-rbee"])
	eq("auth successes, all services", sum(succ), soc2["auth.success"])
	eq("authorization denials", s["authorization_denials"], soc2["authz.denied"])
	inc := s["security_incidents_by_kind"].(map[string]any)
	eq("rate limits", inc["security.rate_limit_exceeded"], soc2["security.rate_limit_exceeded"])
	eq("integrity violations", inc["security.integrity_violation"], soc2["security.integrity_violation"])
	checks := s["integrity_checks_by_result"].(map[string]any)
	eq("integrity checks passed", checks["passed"], soc2["seal.verified"])
	eq("integrity checks failed", checks["failed"], soc2["integrity failed"])
	if got := count(s["critical_events"]); got != soc2["critical"] {
		t.Errorf("critical events: the report lists %d, a direct scan counts %d", got, soc2["critical"])
	}

	g := run("gdpr", "--data-dir", dir, "--key", key, "--customer", customer,
		"--from", from.Format(time.RFC3339Nano), "--to", to.Format(time.RFC3339Nano), "--format", "json")
	eq("gdpr: records in range (every record of the period)", g["coverage"].(map[string]any)["records_in_range"], inPeriod)
	eq("inferences", g["inferences"], gdpr["data.inference_executed"])
	if g["tokens_processed"] != float64(tokens) {
		t.Errorf("tokens processed: the report says %v, a direct scan counts %d", g["tokens_processed"], tokens)
	}
	for field, typ := range map[string]string{"exports": "compliance.gdpr_data_export", "deletions": "data.deleted",
		"erasure_requests": "compliance.gdpr_right_to_erasure", "access_requests": "compliance.gdpr_data_access_request"} {
		if got := count(g[field]); got != gdpr[typ] {
			t.Errorf("%s: the report lists %d, a direct scan counts %d", field, got, gdpr[typ])
		}
	}
	if count(g["records"]) != gdpr["records"] {
		t.Errorf("gdpr records: the report lists %d, a direct scan counts %d", count(g["records"]), gdpr["records"])
	}
	t.Logf("soc2 over %d records; gdpr of %s from %s to %s: %d records, %v", records, customer, from.Format(time.RFC3339), to.Format(time.RFC3339), gdpr["records"], gdpr)
}
