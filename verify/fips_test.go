package verify_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

// fipsStart is a FIPS 140-3 run's audit.sealer_started: the frozen Go
// module in fips140=only mode, with a validated HSM key.
func fipsStart() event.SealerStarted {
	return event.SealerStarted{Version: "test", Mode: event.ModeProduction, KeyID: testkit.Key("main").Public().ID(),
		KeyKind: event.KeyPKCS11, Algorithm: event.AlgEd25519, FIPS140: event.FIPSOnly, FIPS140Module: "v1.0.0-c2097c7c",
		HSMFIPS: event.HSMValidated, HSMValidation: "NIST CMVP certificate 4711, FIPS 140-3 level 3"}
}

// fipsLog writes a log with one run of the sealer per start: each records
// its audit.sealer_started, seals it, and stops cleanly. It returns the
// data directory and the seq of each start.
func fipsLog(t *testing.T, starts ...event.SealerStarted) (string, []uint64) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	clock := testkit.NewClock()
	var seqs []uint64
	for _, st := range starts {
		l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: testkit.Key("main"), Dev: true, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		st.Timestamp = clock.T.UTC()
		seq, err := l.AppendSealerEvent(&st)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
		if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.AppendSealerEvent(&event.SealerStopped{Timestamp: clock.T.UTC(), Reason: "signal", Records: 1}); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		clock.T = clock.T.Add(time.Minute)
	}
	return dir, seqs
}

// TestRequireFIPS: with RequireFIPS a log whose every run says FIPS 140-3
// mode is intact; a run that says otherwise (the Go module off, the
// toolchain's own module, an HSM that reported no validation, or a record
// from before FIPS support) fails with not_fips at its audit.sealer_started,
// verdict tampered; without RequireFIPS the same log is intact and the
// report lists every run with its state and why it is not FIPS.
func TestRequireFIPS(t *testing.T) {
	opts := verify.Options{Keys: signer.Verifiers{testkit.Key("main").Public()}, RequireFIPS: true}
	software := fipsStart()
	software.KeyKind, software.HSMFIPS, software.HSMValidation = event.KeySoftware, "", ""
	dir, _ := fipsLog(t, fipsStart(), software)
	rep := check(t, dir, opts)
	if rep.Verdict != verify.Intact || rep.FIPS == nil || rep.FIPS.RunsTotal != 2 || rep.FIPS.FIPSRuns != 2 || len(rep.FIPS.Runs) != 2 {
		t.Fatalf("every run in FIPS mode: %+v %+v", rep.FirstFailure, rep.FIPS)
	}
	if r := rep.FIPS.Runs[0]; !r.FIPS || r.FIPS140 != "only" || r.Module != "v1.0.0-c2097c7c" || r.HSMFIPS != "validated" || r.KeyKind != "pkcs11" || r.Why != "" {
		t.Errorf("first run %+v", r)
	}

	for _, tc := range []struct {
		name string
		edit func(*event.SealerStarted)
		why  string
	}{
		{"go module off", func(s *event.SealerStarted) { s.FIPS140 = event.FIPSOff }, "not in FIPS 140-3 mode"},
		{"toolchain module", func(s *event.SealerStarted) { s.FIPS140Module = "latest" }, "without GOFIPS140"},
		{"hsm unreported", func(s *event.SealerStarted) { s.HSMFIPS, s.HSMValidation = event.HSMUnreported, "" }, "reported unreported"},
		{"hsm not validated", func(s *event.SealerStarted) { s.HSMFIPS = event.HSMNotValidated }, "reported not_validated"},
		{"hsm says nothing", func(s *event.SealerStarted) { s.HSMFIPS = "" }, "reported nothing"},
		{"before FIPS support", func(s *event.SealerStarted) {
			*s = event.SealerStarted{Version: s.Version, Mode: s.Mode, KeyID: s.KeyID, KeyKind: s.KeyKind, Algorithm: s.Algorithm}
		}, "states no FIPS 140-3 mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := fipsStart()
			tc.edit(&bad)
			dir, seqs := fipsLog(t, fipsStart(), bad, fipsStart())
			rep := check(t, dir, opts)
			f := rep.FirstFailure
			if rep.Verdict != verify.Tampered || rep.Verdict.ExitCode() != 1 || f == nil || f.Reason != verify.ReasonNotFIPS || f.Seq == nil || *f.Seq != seqs[1] ||
				!strings.Contains(f.Detail, tc.why) || !strings.Contains(f.Detail, "--require-fips") {
				t.Fatalf("the second run: %s, %+v; want not_fips at record %d saying %q", rep.Verdict, f, seqs[1], tc.why)
			}
			o := opts
			o.RequireFIPS = false
			rep = check(t, dir, o)
			if rep.Verdict != verify.Intact || rep.FIPS.RunsTotal != 3 || rep.FIPS.FIPSRuns != 2 {
				t.Fatalf("without --require-fips: %s %+v %+v", rep.Verdict, rep.FirstFailure, rep.FIPS)
			}
			if r := rep.FIPS.Runs[1]; r.FIPS || r.Seq != seqs[1] || !strings.Contains(r.Why, tc.why) {
				t.Errorf("the report's second run %+v", r)
			}
		})
	}
}

// TestRequireFIPSUnauthenticatedStart: a non-FIPS audit.sealer_started that
// nothing authenticates (appended by someone without the keys) proves
// nothing either way: the verdict is the unauthenticated tail, never
// not_fips, and the report does not count the run.
func TestRequireFIPSUnauthenticatedStart(t *testing.T) {
	dir, _ := fipsLog(t, fipsStart())
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: testkit.Key("main"), Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	bad := fipsStart()
	bad.FIPS140, bad.Timestamp = event.FIPSOff, time.Now().UTC()
	if _, err := l.AppendSealerEvent(&bad); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.Abandon()
	rep := check(t, dir, verify.Options{Keys: signer.Verifiers{testkit.Key("main").Public()}, RequireFIPS: true})
	if reasonOf(rep) != verify.ReasonUnauthenticatedTail || rep.FIPS == nil || rep.FIPS.RunsTotal != 1 || rep.FIPS.FIPSRuns != 1 {
		t.Fatalf("an unauthenticated non-FIPS start: %+v %+v", rep.FirstFailure, rep.FIPS)
	}
}
