package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
)

// Counter is a monotonic counter kept outside the host's disk, in which the
// ledger anchors checkpoints so that a restored old copy of the log is
// detected: the TPM 2.0 NV counter of package tpm, or a fake in tests.
// Increment returns the new value. Implementations are safe for concurrent
// use and retry transient device errors themselves.
type Counter interface {
	Read(ctx context.Context) (uint64, error)
	Increment(ctx context.Context) (uint64, error)
}

// Errors of the startup anchor check.
var (
	// ErrRollback: the counter is ahead of the log's last anchor and no
	// crash explains it: this log is an old copy.
	ErrRollback = errors.New("ledger: rollback: the log is older than the TPM counter says")
	// ErrAnchorReset: the counter is behind the log's last anchor (the TPM
	// was cleared or the index redefined) or cannot be read.
	ErrAnchorReset = errors.New("ledger: anchor reset: the TPM counter is behind the log")
)

// AnchorError is returned when the records were sealed but the counter
// could not be incremented for the anchor: the log is intact and sealed,
// only not anchored this time. Checkpoint is the seal that was made.
type AnchorError struct {
	Err        error
	Checkpoint *chain.Checkpoint
}

func (e *AnchorError) Error() string { return "ledger: anchor: " + e.Err.Error() }

// Unwrap returns the counter's error.
func (e *AnchorError) Unwrap() error { return e.Err }

// AnchorCheck is what Open found when it compared the log with the counter.
type AnchorCheck struct {
	Status    event.AnchorStatus // provisioned, continuation, crash_recovered, rollback_override or anchor_reset
	Counter   uint64             // the counter's value
	LogAnchor *uint64            // the log's last anchor, if any
	Expected  *uint64            // the value an unfinished increment announced, if any
}

// anchorDue reports whether an anchor is owed (a counter is configured and
// records were written since the last anchor).
func (l *Ledger) anchorDue() bool {
	return l.cfg.Counter != nil && (l.lastAnchor == nil || l.nextSeq > l.lastAnchorSeq+1)
}

// SinceAnchor returns how long ago this process last anchored (zero if it
// has not yet).
func (l *Ledger) SinceAnchor() time.Duration {
	if l.lastAnchorTime.IsZero() {
		return 0
	}
	return time.Since(l.lastAnchorTime)
}

// AnchorsMade returns how many anchored checkpoints this Ledger wrote (each
// one NV write of the counter, except the crash-recovery and override
// anchors, which reuse the counter's value).
func (l *Ledger) AnchorsMade() uint64 { return l.anchorsMade }

// LastAnchor returns the counter value of the last anchored checkpoint.
func (l *Ledger) LastAnchor() *uint64 { return l.lastAnchor }

// sealAnchored seals with an anchored checkpoint, crash-consistently:
//
//  1. append audit.anchor_state{status: increment_intent, counter: last
//     anchor, expected: last anchor + 1}, authenticate it and fdatasync it
//     (Sync; before the run key is named, a checkpoint does both);
//  2. increment the counter;
//  3. seal with a checkpoint whose anchor line carries the new value.
//
// A crash after 2 and before 3 leaves a durable, authenticated intent whose
// expected value equals the counter: Open recognises it (crash_recovered)
// instead of calling it a rollback. If the counter fails, the records are
// still sealed (without an anchor) and an *AnchorError carries that
// checkpoint.
func (l *Ledger) sealAnchored(ctx context.Context) (*chain.Checkpoint, error) {
	if l.failed != nil {
		return nil, l.failed
	}
	var last uint64
	if l.lastAnchor != nil {
		last = *l.lastAnchor
	}
	expected := last + 1
	if _, err := l.appendAnchorState(event.AnchorIncrementIntent, &last, &expected, ""); err != nil {
		return nil, err
	}
	if l.runNamed {
		if err := l.Sync(); err != nil {
			return nil, err
		}
	} else if _, err := l.sealNow(false, nil); err != nil {
		return nil, err
	}
	l.pendingIntent = &intent{counter: last, expected: expected}
	v, err := l.cfg.Counter.Increment(ctx)
	if err != nil {
		cp, serr := l.sealNow(false, nil)
		if serr != nil {
			return nil, errors.Join(fmt.Errorf("ledger: anchor: %w", err), serr)
		}
		return nil, &AnchorError{Err: err, Checkpoint: cp}
	}
	if v != expected {
		// Someone else moved the counter, or a lost reply made us increment
		// twice: say so, so that the jump is explained in the chain.
		if _, err := l.appendAnchorState(event.AnchorContinuation, &v, &expected, "the counter advanced by more than one"); err != nil {
			return nil, err
		}
	}
	return l.sealNow(false, &v)
}

func (l *Ledger) appendAnchorState(status event.AnchorStatus, counter, expected *uint64, details string) (uint64, error) {
	ev := &event.AnchorState{Timestamp: l.cfg.Now().UTC(), Status: status, Details: details}
	if counter != nil {
		v := *counter
		ev.Counter = &v
	}
	if expected != nil {
		v := *expected
		ev.Expected = &v
	}
	return l.AppendSealerEvent(ev)
}

// anchorFacts is the anchor state that authenticated records hold: the last
// anchored checkpoint, and an increment_intent after it.
type anchorFacts struct {
	last    *uint64
	lastSeq uint64
	intent  *intent
}

// checkpoint takes a checkpoint record at seq.
func (a *anchorFacts) checkpoint(seq uint64, cp *chain.Checkpoint) {
	if cp.Anchor != nil {
		v := *cp.Anchor
		a.last, a.lastSeq, a.intent = &v, seq, nil
	}
}

// state takes an audit.anchor_state record (whose schema the caller
// checked): an increment_intent announces the increment to come.
func (a *anchorFacts) state(seq uint64, body []byte) {
	ev, err := event.Decode(body, event.DecodeOptions{AllowSealerEvents: true, Now: time.Now().Add(100 * 365 * 24 * time.Hour)})
	if err != nil {
		return
	}
	st, ok := ev.(*event.AnchorState)
	if ok && st.Status == event.AnchorIncrementIntent && st.Counter != nil && st.Expected != nil {
		a.intent = &intent{counter: *st.Counter, expected: *st.Expected}
	}
}

// checkAnchor compares the log's last anchor with the counter (Open calls
// it when a counter is configured), records the outcome in the chain, and
// refuses a rollback or an anchor reset unless the operator accepted it.
// Every record it relies on is authenticated (loadTail cut the rest).
func (l *Ledger) checkAnchor(ctx context.Context) (*AnchorCheck, error) {
	tpm, err := l.cfg.Counter.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: the counter cannot be read: %v", ErrAnchorReset, err)
	}
	chk := &AnchorCheck{Counter: tpm, LogAnchor: l.lastAnchor}
	if in := l.pendingIntent; in != nil {
		e := in.expected
		chk.Expected = &e
	}
	anchorAt := func(v uint64) error {
		_, err := l.sealNow(true, &v)
		return err
	}
	switch {
	case l.lastAnchor == nil:
		// A log that was never anchored: the first anchored checkpoint
		// follows the next increment.
		chk.Status = event.AnchorProvisioned
		_, err = l.appendAnchorState(chk.Status, &tpm, nil, "first anchor of this log")
	case tpm == *l.lastAnchor:
		chk.Status = event.AnchorContinuation
		details := ""
		if l.pendingIntent != nil {
			details = "an announced increment did not happen before the sealer stopped"
		}
		_, err = l.appendAnchorState(chk.Status, &tpm, l.lastAnchor, details)
	case tpm == *l.lastAnchor+1 && l.pendingIntent != nil && l.pendingIntent.counter == *l.lastAnchor && l.pendingIntent.expected == tpm:
		// A crash between the increment and the anchored checkpoint: the
		// authenticated intent announced exactly this value.
		chk.Status = event.AnchorCrashRecovered
		if _, err = l.appendAnchorState(chk.Status, &tpm, &l.pendingIntent.expected, "the sealer stopped between incrementing the counter and writing the anchored checkpoint"); err == nil {
			err = anchorAt(tpm)
		}
	case tpm > *l.lastAnchor:
		if !l.cfg.AcceptRollback {
			return chk, fmt.Errorf("%w: the log's last anchor is counter %d but the TPM counter is %d; refusing to start (an operator who knows why can accept it explicitly; that is recorded)", ErrRollback, *l.lastAnchor, tpm)
		}
		chk.Status = event.AnchorRollbackOverride
		if _, err = l.appendAnchorState(chk.Status, &tpm, l.lastAnchor, "the operator accepted a log older than the TPM counter"); err == nil {
			err = anchorAt(tpm)
		}
	default: // tpm < last anchor
		if !l.cfg.AcceptAnchorReset {
			return chk, fmt.Errorf("%w: the log's last anchor is counter %d but the TPM counter is %d (TPM cleared or index redefined); refusing to start", ErrAnchorReset, *l.lastAnchor, tpm)
		}
		chk.Status = event.AnchorReset
		if _, err = l.appendAnchorState(chk.Status, &tpm, l.lastAnchor, "the operator accepted a TPM counter behind the log"); err == nil {
			err = anchorAt(tpm)
		}
	}
	if err != nil {
		return chk, err
	}
	if err := l.Sync(); err != nil {
		return chk, err
	}
	return chk, nil
}
