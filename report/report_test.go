package report_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/report"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

func setup(t *testing.T, name string) (testkit.Vector, signer.Verifiers) {
	t.Helper()
	vs, err := testkit.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Name == name {
			pem, _ := os.ReadFile(v.KeyFile)
			k, err := signer.ParsePublicKey(pem)
			if err != nil {
				t.Fatal(err)
			}
			return v, signer.Verifiers{k}
		}
	}
	t.Fatalf("no vector %s", name)
	return testkit.Vector{}, nil
}

func countType(t *testing.T, dir, typ string) int {
	n := 0
	if _, err := query.Scan(context.Background(), dir, verify.Trust{Keys: testkit.Keys("main")}, query.Filter{Types: []string{typ}}, func(*query.Match) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSOC2(t *testing.T) {
	v, keys := setup(t, "intact_multi")
	r, err := report.SOC2(context.Background(), report.Options{Dir: v.Dir, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if r.Coverage.Verdict != "intact" || r.Coverage.Checkpoint == nil || r.Coverage.FirstSeq == nil {
		t.Fatalf("coverage %+v", r.Coverage)
	}
	sum := func(m map[string]int) int {
		n := 0
		for _, v := range m {
			n += v
		}
		return n
	}
	if got, want := sum(r.AuthSuccesses), countType(t, v.Dir, "auth.success"); got != want || want == 0 {
		t.Fatalf("auth successes %d, want %d", got, want)
	}
	if got, want := sum(r.AuthFailures), countType(t, v.Dir, "auth.failure"); got != want || want == 0 {
		t.Fatalf("auth failures %d, want %d", got, want)
	}
	if got, want := r.AuthzDenials, countType(t, v.Dir, "authz.denied"); got != want || want == 0 {
		t.Fatalf("denials %d, want %d", got, want)
	}
	if got, want := r.IntegrityChecks["passed"], countType(t, v.Dir, "seal.verified"); got != want || want == 0 {
		t.Fatalf("integrity checks %d, want %d", got, want)
	}
	if n := countType(t, v.Dir, "auth.failure"); r.CriticalEvents.Total != n || len(r.CriticalEvents.Entries) != n || r.CriticalEvents.Truncated {
		t.Fatalf("critical events %+v, want %d", r.CriticalEvents, n)
	}
	var b bytes.Buffer
	if err := r.HTML(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SOC 2 audit trail report", ">intact<", "Authentication failures by service", r.Coverage.Checkpoint.KeyID} {
		if !strings.Contains(b.String(), want) {
			t.Fatalf("HTML lacks %q", want)
		}
	}
}

func TestGDPR(t *testing.T) {
	v, keys := setup(t, "intact_multi")
	r, err := report.GDPR(context.Background(), report.Options{Dir: v.Dir, Keys: keys, Customer: "customer-6"})
	if err != nil {
		t.Fatal(err)
	}
	// The vector's template 6 is data.inference_executed for customer-<i>.
	if r.Inferences != 1 || r.TokensProcessed != 1024 || len(r.ModelsAccessed) != 1 || r.ModelsAccessed[0] != "llama-3-8b" {
		t.Fatalf("gdpr: %+v", r)
	}
	if r.Records.Total != 1 || len(r.Records.Entries) != 1 || r.Coverage.Records < 80 || r.Records.Entries[0].Summary == "" {
		t.Fatalf("records %+v", r.Records)
	}
	var b bytes.Buffer
	if err := r.HTML(&b); err != nil || !strings.Contains(b.String(), "customer-6") {
		t.Fatalf("html: %v", err)
	}
	if _, err := report.GDPR(context.Background(), report.Options{Dir: v.Dir, Keys: keys}); err == nil {
		t.Fatal("a GDPR report without a customer")
	}
}

// TestReportOnTamperedLog: the report says the log did not verify, and
// lists and counts nothing from it (its records are not authenticated).
func TestReportOnTamperedLog(t *testing.T) {
	v, keys := setup(t, "modified_event")
	r, err := report.SOC2(context.Background(), report.Options{Dir: v.Dir, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if r.Coverage.Verdict != "tampered" || r.Coverage.FirstFailure == nil {
		t.Fatalf("coverage of a tampered log: %+v", r.Coverage)
	}
	if r.Coverage.Records != 0 || r.CriticalEvents.Total != 0 || len(r.AuthSuccesses) != 0 {
		t.Fatalf("a tampered log's records were reported: %d in range, %d critical", r.Coverage.Records, r.CriticalEvents.Total)
	}
	var b bytes.Buffer
	r.HTML(&b)
	if !strings.Contains(b.String(), `class="bad">tampered`) {
		t.Fatal("the HTML does not show the failed verification")
	}
}

// TestReportOnRotatedLog: the key was rotated twice since the key the
// report is given; the verification follows the key history, and the
// records of the period are read trusting the checkpoint it verified: every
// record the log holds is counted, as a scan trusting every key counts them.
func TestReportOnRotatedLog(t *testing.T) {
	v, keys := setup(t, "intact_key_rotation")
	r, err := report.SOC2(context.Background(), report.Options{Dir: v.Dir, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if r.Coverage.Verdict != "intact" || r.Coverage.Checkpoint == nil {
		t.Fatalf("coverage %+v", r.Coverage)
	}
	n := 0
	_, err = query.Scan(context.Background(), v.Dir, verify.Trust{Keys: testkit.Keys("main", "second", "third")},
		query.Filter{Sealer: true, Before: r.Coverage.Checkpoint.Size}, func(*query.Match) error { n++; return nil })
	if err != nil || n < 100 || r.Coverage.Records != uint64(n) {
		t.Fatalf("the report counts %d records of %d (%v)", r.Coverage.Records, n, err)
	}
}
