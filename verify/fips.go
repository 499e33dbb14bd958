package verify

import (
	"fmt"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
)

// ReasonNotFIPS: with Options.RequireFIPS, an authenticated
// audit.sealer_started says that run of the sealer was not in FIPS 140-3
// mode (FORMAT.md §7, FIPSRun.Why). Verdict tampered (exit 1), as for
// software_key: the log breaks the auditor's requirement.
const ReasonNotFIPS Reason = "not_fips"

// FIPSReport lists the FIPS 140-3 state of each run of the sealer, as its
// authenticated audit.sealer_started records it (FORMAT.md §7.1).
type FIPSReport struct {
	// Runs are the first MaxListed runs, in log order; RunsTotal counts
	// them all, FIPSRuns those in FIPS 140-3 mode (FIPSRun.FIPS).
	Runs          []FIPSRun `json:"runs"`
	RunsTotal     int       `json:"runs_total"`
	FIPSRuns      int       `json:"fips_runs"`
	RunsTruncated bool      `json:"runs_truncated,omitempty"`
}

// FIPSRun is one run of the sealer: what its audit.sealer_started says
// about FIPS 140-3.
type FIPSRun struct {
	Seq  uint64    `json:"seq"`  // the audit.sealer_started record
	Time time.Time `json:"time"` // its time
	// FIPS140 is the Go Cryptographic Module's mode: off, on or only; ""
	// when the record states none (a sealer before FIPS support).
	FIPS140 string `json:"fips140"`
	// Module is the module version the sealer was built with (the frozen
	// module GOFIPS140 selected, or latest).
	Module  string `json:"fips140_module,omitempty"`
	KeyKind string `json:"key_kind"`
	// HSMFIPS is what the PKCS#11 token reported (validated,
	// not_validated, unreported); HSMValidation the validation it named.
	HSMFIPS       string `json:"hsm_fips,omitempty"`
	HSMValidation string `json:"hsm_validation,omitempty"`
	// FIPS is set when the run meets --require-fips; Why says why not.
	FIPS bool   `json:"fips"`
	Why  string `json:"why,omitempty"`
}

// fipsRunOf judges one audit.sealer_started: a run is in FIPS 140-3 mode
// when the Go Cryptographic Module ran in FIPS mode (fips140 on or only),
// built from a frozen module version (GOFIPS140, not latest: the toolchain's
// own copy was never submitted for validation), and, when a PKCS#11 token
// signed, the token reported a FIPS 140 validation its key meets. The
// verifier cannot tell which frozen versions hold a CMVP certificate: the
// report names the version for the auditor to compare (docs/fips.md).
func fipsRunOf(ke keyEvent, ss *event.SealerStarted) FIPSRun {
	r := FIPSRun{Seq: ke.seq, Time: time.Unix(0, ke.timeNano).UTC(), FIPS140: string(ss.FIPS140), Module: ss.FIPS140Module,
		KeyKind: string(ss.KeyKind), HSMFIPS: string(ss.HSMFIPS), HSMValidation: ss.HSMValidation}
	switch {
	case ss.FIPS140 == "":
		r.Why = "the record states no FIPS 140-3 mode (a sealer from before FIPS support)"
	case ss.FIPS140 == event.FIPSOff:
		r.Why = "the Go Cryptographic Module was not in FIPS 140-3 mode (fips140 off)"
	case ss.FIPS140Module == "" || ss.FIPS140Module == "latest":
		r.Why = "the sealer was built without GOFIPS140: the Go toolchain's own module (latest), not a frozen module version"
	case ss.KeyKind == event.KeyPKCS11 && ss.HSMFIPS != event.HSMValidated:
		state := string(ss.HSMFIPS)
		if state == "" {
			state = "nothing"
		}
		r.Why = fmt.Sprintf("the PKCS#11 token that signed reported %s about FIPS 140 (hsm_fips), not a validation its key meets", state)
	default:
		r.FIPS = true
	}
	return r
}

// fipsState gathers the runs in log order; a run counts once a trusted
// checkpoint or the last commit authenticates its record (promoteFIPS), as
// the report's exceptions do.
type fipsState struct {
	pending []pendingRun
	dropped bool // pending was full (a tail of unauthenticated starts)
	rep     FIPSReport
	// failure is the first authenticated run not in FIPS 140-3 mode.
	failure *Failure
}

// pendingRun is a run whose record is not authenticated yet, with the
// failure it gives under Options.RequireFIPS (nil for a FIPS run).
type pendingRun struct {
	run  FIPSRun
	fail *Failure
}

// noteRun notes the run an audit.sealer_started record starts.
func (v *run) noteRun(ke keyEvent) {
	ss, ok := ke.sealer.(*event.SealerStarted)
	if !ok {
		return
	}
	if len(v.fips.pending) >= maxPending {
		v.fips.dropped = true
		return
	}
	p := pendingRun{run: fipsRunOf(ke, ss)}
	if !p.run.FIPS {
		seq := ke.seq
		p.fail = &Failure{Reason: ReasonNotFIPS, Segment: ke.segment, Offset: ke.offset, Seq: &seq,
			Detail: fmt.Sprintf("record %d, the audit.sealer_started of the run that started %s, says %s; --require-fips requires every run of the sealer in FIPS 140-3 mode",
				seq, p.run.Time.Format(time.RFC3339), p.run.Why)}
	}
	v.fips.pending = append(v.fips.pending, p)
}

// promoteFIPS counts the runs whose records are now authenticated (before
// authEnd), and, with Options.RequireFIPS, returns the failure of the
// first one not in FIPS 140-3 mode.
func (v *run) promoteFIPS() *Failure {
	f := &v.fips
	kept := f.pending[:0]
	for _, p := range f.pending {
		if p.run.Seq >= v.authEnd {
			kept = append(kept, p)
			continue
		}
		f.rep.RunsTotal++
		if p.run.FIPS {
			f.rep.FIPSRuns++
		} else if f.failure == nil {
			f.failure = p.fail
		}
		if len(f.rep.Runs) < MaxListed {
			f.rep.Runs = append(f.rep.Runs, p.run)
		} else {
			f.rep.RunsTruncated = true
		}
	}
	f.pending = kept
	if v.opts.RequireFIPS {
		return f.failure
	}
	return nil
}

// fipsReport returns the report's FIPS member: every authenticated run.
func (v *run) fipsReport() *FIPSReport {
	v.promoteFIPS()
	rep := v.fips.rep
	rep.Runs = append([]FIPSRun{}, rep.Runs...)
	if v.fips.dropped {
		rep.RunsTruncated = true
	}
	return &rep
}
