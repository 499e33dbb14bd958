package report

import (
	"fmt"
	"time"

	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/verify"
)

// The exceptions a report adds to the verification's (verify.Exception
// codes; FORMAT.md §7 lists the verifier's): what only the reading of a
// period shows.
const (
	// ExceptionSealerDown: the sealer was not running between the end of
	// one run (its clean stop, or its last record before a start without
	// one) and the next start; events sent meanwhile were refused.
	ExceptionSealerDown = "sealer_down"
	// ExceptionBeforeLog: the period starts before the log's first
	// record (the log began later, or retention deleted what came
	// before): the log covers nothing of it before that record.
	ExceptionBeforeLog = "period_before_log"
	// ExceptionAfterCheckpoint: records of the period were appended after
	// the checkpoint the verification ended on; no verified checkpoint
	// covers them, and the report leaves them out.
	ExceptionAfterCheckpoint = "after_checkpoint"
)

// downtime is the exception for the time between the end of a run and
// the start m.
func downtime(e *runEnd, m *query.Match) verify.Exception {
	d := m.Received.Sub(e.at)
	how := fmt.Sprintf("its clean stop at record %d", e.seq)
	if !e.stopped {
		how = fmt.Sprintf("its last record %d (the run did not stop cleanly)", e.seq)
	}
	return verify.Exception{Code: ExceptionSealerDown, Seq: m.Seq, Time: m.Received,
		Detail: fmt.Sprintf("the sealer was not running for %s, from %s (%s) to its start at record %d: events sent meanwhile were refused, or held and perhaps dropped by their clients (client_dropped)",
			d.Round(time.Second), e.at.UTC().Format(time.RFC3339), how, m.Seq)}
}

// coverageGaps are the parts of the period the verified log does not
// cover: before its first record, and the unsealed records after its
// verified checkpoint.
func coverageGaps(c *Coverage, unsealed uint64) []verify.Exception {
	var out []verify.Exception
	p := c.LogPeriod
	if p == nil {
		return nil
	}
	if !c.From.IsZero() && c.From.Before(p.FirstTime) {
		why := "the log began then"
		if p.PrunedBefore > 0 {
			why = fmt.Sprintf("retention deleted records 0 to %d", p.PrunedBefore-1)
		}
		out = append(out, verify.Exception{Code: ExceptionBeforeLog, Seq: p.FirstSeq, Time: p.FirstTime,
			Detail: fmt.Sprintf("the period starts at %s, but the log's first record (%d) is of %s (%s): nothing before it is covered",
				c.From.UTC().Format(time.RFC3339), p.FirstSeq, p.FirstTime.UTC().Format(time.RFC3339), why)})
	}
	if cp := c.Checkpoint; cp != nil && c.Verdict != string(verify.Tampered) && unsealed > 0 && (c.To.IsZero() || c.To.After(cp.Time)) {
		out = append(out, verify.Exception{Code: ExceptionAfterCheckpoint, Seq: cp.Size, Time: cp.Time, Count: unsealed,
			Detail: fmt.Sprintf("%d records were appended after the verified checkpoint of size %d (%s) and are not in this report: no checkpoint covered them yet",
				unsealed, cp.Size, cp.Time.UTC().Format(time.RFC3339))})
	}
	return out
}
