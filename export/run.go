package export

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/verify"
)

// Config configures Run.
type Config struct {
	// Dir is the data directory, Trust the keys the read trusts, Filter
	// the records to export (its After, Resume and Limit are Run's).
	Dir    string
	Trust  verify.Trust
	Filter query.Filter
	// Formatter formats the records; Sink receives them.
	Formatter *Formatter
	Sink      Sink
	// CursorFile, when not empty, is the cursor file (Cursor): Run
	// resumes after the position it holds, and writes it before and after
	// every batch.
	CursorFile string
	// Follow keeps Run going, looking for newly sealed records every
	// Poll, until ctx is done.
	Follow bool
	Poll   time.Duration
	// BatchRecords and BatchBytes bound a batch (0: 500 records, 1 MiB):
	// a batch is sent when it is full, and at the end of every read of the
	// log.
	BatchRecords, BatchBytes int
	// Retry is how failed deliveries are retried (DefaultRetry if zero).
	Retry Retry
	// Logf reports progress and failures (to standard error); nil is
	// silent.
	Logf func(format string, args ...any)
}

// Stats say what Run delivered.
type Stats struct {
	Delivered   uint64 // records the sink confirmed
	Batches     int
	Redelivered uint64 // among them, records sent again after an unclean stop or a failed attempt
	Position    uint64 // the cursor's position at the end
}

// Run exports the records of the log that match c.Filter to c.Sink: each
// read of the log is a query.Scan (only sealed records, everything checked
// as audit-verify checks it), whose matches are formatted, gathered in
// batches and delivered one batch at a time. A batch is delivered before
// the scan reads further, so a slow sink slows the reading and nothing is
// dropped; a failed delivery is retried (c.Retry) until the sink confirms
// it, the retries give up (a *GiveUpError) or the failure is permanent
// (ErrPermanent). Run returns nil when ctx is done (SIGTERM), without
// delivering the batch it was gathering.
//
// With a cursor file, Run first checks the cursor against the log
// (CheckCursor) and locks it (ErrCursorBusy), then resumes after its
// position; records of a batch that was in flight when the last run
// stopped are sent again with Redelivered set. Before a batch is sent the
// cursor records it as in flight; once the sink confirms it, the cursor
// moves to its last record. A run stopped at any point, even by SIGKILL,
// therefore neither loses a record nor sends one twice unmarked.
func Run(ctx context.Context, c Config) (*Stats, error) {
	if c.BatchRecords <= 0 {
		c.BatchRecords = 500
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = 1 << 20
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Retry == (Retry{}) {
		c.Retry = DefaultRetry
	}
	logf := c.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	r := &runner{c: c, logf: logf, f: c.Filter, finder: newCheckpointFinder(c.Dir)}
	defer r.finder.close()
	r.f.Limit, r.f.After, r.f.Resume = 0, 0, nil
	if c.CursorFile != "" {
		lock, err := lockCursor(c.CursorFile)
		if err != nil {
			return nil, err
		}
		if lock != nil {
			defer lock.Close()
		}
		cur, err := ReadCursor(c.CursorFile)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			if err := CheckCursor(c.Dir, c.CursorFile, cur); err != nil {
				return nil, err
			}
			r.cur = cur
			r.f.After = cur.Seq
			r.pending = cur.InFlight
			if cur.InFlight != 0 {
				logf("the last export stopped while records %d to %d were being delivered: sending them again, marked redelivered", cur.Seq+1, cur.InFlight)
			}
		}
		if r.cur == nil {
			origin, _, err := logOrigin(c.Dir)
			if err != nil {
				return nil, err
			}
			r.origin = origin
		} else {
			r.origin = r.cur.Origin
		}
	}
	err := r.run(ctx)
	r.stats.Position = r.f.After
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = nil
	}
	return &r.stats, err
}

type runner struct {
	c      Config
	logf   func(string, ...any)
	f      query.Filter
	cur    *Cursor // the cursor as last written or read; nil before the first
	origin string
	// pending is the last record of the batch that was in flight when the
	// last run stopped, until a delivery gets past it: the records up to
	// it are sent marked Redelivered, and the cursor keeps it.
	pending uint64
	finder  *checkpointFinder
	batch   []Record
	bytes   int
	stats   Stats
}

func (r *runner) run(ctx context.Context) error {
	for {
		info, err := query.Scan(ctx, r.c.Dir, r.c.Trust, r.f, func(m *query.Match) error {
			rec, err := r.c.Formatter.record(m)
			if err != nil {
				return err
			}
			rec.Redelivered = m.Seq <= r.pending
			r.batch = append(r.batch, rec)
			r.bytes += len(rec.Line)
			if len(r.batch) >= r.c.BatchRecords || r.bytes >= r.c.BatchBytes {
				return r.flush(ctx)
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if err := r.flush(ctx); err != nil {
			return err
		}
		// Every record below the sealed size was read and, if it matched,
		// delivered: the position moves past the records that did not
		// match, so that a restart does not read them again.
		if info.End != nil && info.SealedSize > 0 && info.SealedSize-1 > r.f.After {
			if err := r.advance(info.SealedSize - 1); err != nil {
				return err
			}
		}
		if !r.c.Follow {
			return nil
		}
		// The next read resumes where this one ended.
		r.f.Resume = info.End
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.c.Poll):
		}
	}
}

// flush delivers the batch, with the cursor marking it in flight until
// the sink confirms it.
func (r *runner) flush(ctx context.Context) error {
	if len(r.batch) == 0 {
		return nil
	}
	last := r.batch[len(r.batch)-1].Seq
	if r.c.CursorFile != "" {
		if err := r.writeCursor(r.f.After, max(last, r.pending)); err != nil {
			return err
		}
	}
	if err := deliver(ctx, r.c.Sink, r.batch, r.c.Retry, r.logf); err != nil {
		return err
	}
	for i := range r.batch {
		if r.batch[i].Redelivered {
			r.stats.Redelivered++
		}
	}
	r.stats.Delivered += uint64(len(r.batch))
	r.stats.Batches++
	clear(r.batch)
	r.batch, r.bytes = r.batch[:0], 0
	if last >= r.pending {
		r.pending = 0 // what was in flight at the last stop is delivered
	}
	return r.advance(last)
}

// advance moves the position to seq, in the cursor file too.
func (r *runner) advance(seq uint64) error {
	r.f.After = seq
	if r.c.CursorFile == "" {
		return nil
	}
	return r.writeCursor(seq, r.pending)
}

// writeCursor writes the cursor at position seq, with the batch up to
// inFlight in flight (0: none).
func (r *runner) writeCursor(seq, inFlight uint64) error {
	cp, err := r.finder.covering(seq)
	if err != nil {
		return fmt.Errorf("export: the checkpoint of record %d for the cursor: %w", seq, err)
	}
	if inFlight <= seq {
		inFlight = 0
	}
	c := &Cursor{Version: 1, Origin: r.origin, Seq: seq, AuditID: auditIDOf(r.origin, seq), Checkpoint: cp, InFlight: inFlight, Written: time.Now().UTC()}
	if err := WriteCursor(r.c.CursorFile, c); err != nil {
		return err
	}
	r.cur = c
	return nil
}

// auditIDOf returns the audit_id of record seq of the log of origin.
func auditIDOf(origin string, seq uint64) string {
	var id chain.LogID
	b, err := hex.DecodeString(strings.TrimPrefix(origin, chain.OriginPrefix))
	if err != nil || len(b) != len(id) {
		return ""
	}
	copy(id[:], b)
	return chain.AuditID(id, seq)
}
