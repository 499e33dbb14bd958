package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// TestRequireFIPS: --require-fips fails a log whose runs recorded no FIPS
// 140-3 mode (not_fips, exit 1); every format lists each run with its
// state, and the report names the verifier's own module and mode.
func TestRequireFIPS(t *testing.T) {
	s, err := testkit.BuildSealerLog(t.TempDir()) // three runs, written before FIPS support
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI("--key", s.KeyFile, "--require-fips", "--json", s.Dir)
	var rep struct {
		Verifier struct {
			FIPS140       string `json:"fips140"`
			FIPS140Module string `json:"fips140_module"`
		} `json:"verifier"`
		Inputs struct {
			RequireFIPS bool `json:"require_fips"`
		} `json:"inputs"`
		Verdict      string `json:"verdict"`
		FirstFailure struct {
			Reason string  `json:"reason"`
			Seq    *uint64 `json:"seq"`
			Detail string  `json:"detail"`
		} `json:"first_failure"`
		FIPS struct {
			RunsTotal int `json:"runs_total"`
			FIPSRuns  int `json:"fips_runs"`
			Runs      []struct {
				Seq  uint64 `json:"seq"`
				FIPS bool   `json:"fips"`
				Why  string `json:"why"`
			} `json:"runs"`
		} `json:"fips"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not one JSON document: %v\n%s%s", err, out, stderr)
	}
	b := buildinfo.Read()
	if code != 1 || rep.Verdict != "tampered" || rep.FirstFailure.Reason != "not_fips" || rep.FirstFailure.Seq == nil || !rep.Inputs.RequireFIPS ||
		!strings.Contains(rep.FirstFailure.Detail, "states no FIPS 140-3 mode") || rep.Verifier.FIPS140 != buildinfo.FIPSMode() || rep.Verifier.FIPS140Module != b.FIPS140Module {
		t.Fatalf("--require-fips on a log from before FIPS support: exit %d\n%s", code, out)
	}
	// The report stops at the failure: the first run is listed, not FIPS.
	if rep.FIPS.RunsTotal < 1 || rep.FIPS.FIPSRuns != 0 || rep.FIPS.Runs[0].FIPS || rep.FIPS.Runs[0].Seq != *rep.FirstFailure.Seq {
		t.Fatalf("fips member %+v", rep.FIPS)
	}

	// Without the flag: intact, and every run is listed as not FIPS.
	code, out, _ = runCLI("--key", s.KeyFile, s.Dir)
	for _, want := range []string{"FIPS 140-3: 0 of 3 sealer runs in FIPS 140-3 mode; verified by audit-verify in mode " + buildinfo.FIPSMode(),
		"fips run: started at record ", "fips140 not recorded", "NOT FIPS: the record states no FIPS 140-3 mode"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("text output lacks %q: exit %d\n%s", want, code, out)
		}
	}
	if n := strings.Count(out, "fips run: "); n != 3 {
		t.Errorf("%d run lines, want 3:\n%s", n, out)
	}
	code, out, _ = runCLI("--key", s.KeyFile, "--format", "html", s.Dir)
	for _, want := range []string{"<h2>FIPS 140-3</h2>", `<table id="fips">`, "0 of 3 runs of the sealer in FIPS 140-3 mode", "not recorded", "Does not show that those module versions"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("HTML lacks %q: exit %d", want, code)
		}
	}
}
