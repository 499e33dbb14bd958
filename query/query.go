// Package query reads sealed records out of an audit-sealer log with
// filters: by actor, service, event type (dotted name or "prefix.*"),
// entity identifier, time range and criticality. It streams (memory flat in
// the log's size) and returns only records a signed checkpoint covers, so
// that every result can be proved (verify.Prove) against that checkpoint.
//
// A time range skips whole segments by the time of their first records
// (read from the log itself). For a filter by user, entity, service, type
// or criticality, a closed segment with a usable index (package index,
// FORMAT.md §8) is read only at the records its index lists for the
// filter; the active segment, and a closed segment whose index is missing,
// malformed or stale, are read end to end, and Info says how many were.
// The index is never trusted over the log: each listed record is read from
// the segment, checked (frame checksum, sequence number) and matched
// against the filter exactly as a full scan matches it, so an index cannot
// add a result; an index that hides records is found by index.Check
// (audit-sealer index check). With indexes that check accepts, a query
// returns exactly what a full scan returns.
package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/storage"
)

// Filter selects records. Zero fields select everything.
type Filter struct {
	// UserID matches actor.user_id (or attempted_user) exactly.
	UserID string
	// Service matches the service identity the sealer recorded.
	Service string
	// Types are dotted type names, or "prefix.*" for every type that starts
	// with "prefix." (for example "security.*"); any one may match.
	Types []string
	// Entity matches any identifier field of the event exactly: resource_id,
	// pool_id, task_id, customer_id, shard_id, node_id, job_id, worker_id…
	Entity string
	// From and To bound the sealer's receive time, inclusive.
	From, To time.Time
	// CriticalOnly selects the critical event types of events.md.
	CriticalOnly bool
	// Sealer includes the sealer's own audit.* events.
	Sealer bool
	// After skips records up to and including this sequence number (a
	// pagination cursor); 0 starts at the beginning.
	After uint64
	// Before, when not 0, returns only records before this sequence
	// number, and the scan ends there: for a caller that covers the log up
	// to a checkpoint it verified (of size Before), and no further.
	Before uint64
	// Limit stops after this many matches; 0 = no limit.
	Limit int
	// Resume, from the End of an earlier scan of the same log, starts
	// reading there: the segments before its segment, and the frames
	// before its offset, are neither read nor returned (the earlier scan
	// read them), so that a follower (export --follow) reads only what was
	// sealed since. Set After too: it alone says which records were
	// returned already. If the offset no longer fits (past the file, or
	// not the start of the record it names), its segment is read from the
	// start; if its segment is gone, the whole log is read.
	Resume *Position
}

// Position is where a scan of the log can resume: the frame at byte Offset
// of segment Segment, which holds record NextSeq. It follows the last
// checkpoint the scan read, so every record before it was sealed.
type Position struct {
	Segment string `json:"segment"`
	Offset  int64  `json:"offset"`
	NextSeq uint64 `json:"next_seq"`
}

// Match is one record that passed the filter.
type Match struct {
	Seq      uint64          `json:"seq"`
	AuditID  string          `json:"audit_id"`
	Service  string          `json:"service"`
	Type     string          `json:"type"`
	Received time.Time       `json:"received"`
	Critical bool            `json:"critical"`
	Event    json.RawMessage `json:"event"`
	// Proof, when asked for (audit-sealer query --proofs), is the record's
	// inclusion bundle under the log's last checkpoint: audit-verify proof
	// checks it, and that the fields above are the proven record's.
	Proof *chain.InclusionBundle `json:"proof,omitempty"`
}

// Info says what a scan covered.
type Info struct {
	Scanned uint64 `json:"scanned"` // event records read from the log and matched against the filter
	// RecordsRead counts every record read from the segment files, of any
	// kind, including those before the After cursor: what the scan cost.
	RecordsRead uint64 `json:"records_read"`
	Matched     int    `json:"matched"`
	SealedSize  uint64 `json:"sealed_size"` // records 0..SealedSize-1 are covered by the last checkpoint the scan read (it stops reading where the query ends)
	More        bool   `json:"more"`        // Limit stopped the scan before the end
	Next        uint64 `json:"next"`        // the last match's seq: with More, the After value for the next page

	// IndexedSegments counts the segments read only at the records their
	// index lists for the filter.
	IndexedSegments int `json:"indexed_segments"`
	// ScannedSegments counts the segments read end to end: the active
	// segment, every segment when the filter has nothing an index can
	// narrow (only a time range, or nothing), and closed segments without
	// a usable index.
	ScannedSegments int `json:"scanned_segments"`
	// UnindexedSegments counts, among ScannedSegments, the closed segments
	// that were read end to end because their index was missing,
	// malformed, stale or failed while it was read, although the filter
	// could have used one (audit-sealer index build writes them).
	UnindexedSegments int `json:"unindexed_segments"`
	// End, when the scan read the active segment to its end, is where a
	// later scan can resume (Filter.Resume); nil otherwise.
	End *Position `json:"end,omitempty"`
	// IndexProblem is the first reason an index present beside its
	// segment was not used (malformed, stale, or pointing at a record it
	// does not hold); empty when there was none.
	IndexProblem string `json:"index_problem,omitempty"`
}

// ErrBadFilter is wrapped by errors about the filter itself.
var ErrBadFilter = errors.New("query: bad filter")

// Check validates a filter.
func (f *Filter) Check() error {
	for _, t := range f.Types {
		if p, ok := strings.CutSuffix(t, ".*"); ok {
			if p == "" || strings.Contains(p, "*") {
				return fmt.Errorf("%w: type pattern %q", ErrBadFilter, t)
			}
			continue
		}
		if event.Category(t) == "" {
			return fmt.Errorf("%w: unknown event type %q", ErrBadFilter, t)
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return fmt.Errorf("%w: the time range ends before it starts", ErrBadFilter)
	}
	if f.Limit < 0 {
		return fmt.Errorf("%w: negative limit", ErrBadFilter)
	}
	return nil
}

// Scan streams the sealed records of the log in dir that match f, in
// sequence order, to fn. Every closed segment ends in a checkpoint, so
// its records are sealed; in the active segment a match is handed to fn
// once a checkpoint after it is read, and the records after the last
// checkpoint (not sealed yet) are left out. Each segment is read at most
// once. It uses the segments' indexes where they are usable (see the package documentation) and never
// writes to dir.
func Scan(ctx context.Context, dir string, f Filter, fn func(*Match) error) (*Info, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	segs, err := storage.ListSegments(dir)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	info := &Info{}
	if len(segs) > 1 {
		// Every closed segment ends in a checkpoint, the one just before
		// the last segment's start record: it covers every record before
		// it. Checkpoints read in the active segment raise this.
		info.SealedSize = segs[len(segs)-1].FirstSeq - 1
	}
	from := uint64(0) // the first sequence number that may be returned
	if f.After != 0 {
		if f.After == math.MaxUint64 {
			return info, nil // nothing comes after it
		}
		from = f.After + 1
	}
	resumeAt := -1
	if f.Resume != nil {
		// The segments before it were read by the scan that gave f.Resume;
		// within it, openAt starts at its offset only if the record there
		// is the one it names. Records are never skipped by f.Resume's
		// sequence number: After alone decides which are returned.
		resumeAt = slices.IndexFunc(segs, func(s storage.SegmentInfo) bool { return s.Name == f.Resume.Segment })
	}
	for i, s := range segs {
		if i < resumeAt {
			continue // read by the scan that gave f.Resume
		}
		if f.Before != 0 && s.FirstSeq >= f.Before {
			break // this segment and all later ones are past Before
		}
		if i+1 < len(segs) && segs[i+1].FirstSeq <= f.After {
			continue // the whole segment is before the cursor
		}
		// A time range skips whole segments by their first records' times,
		// read from the log itself (record times never decrease), so large
		// logs are not read end to end for one period.
		if !f.From.IsZero() && i+1 < len(segs) {
			if next, err := firstRecordTime(filepath.Join(dir, segs[i+1].Name)); err == nil && next.Before(f.From) {
				continue // every record of this segment is before From
			}
		}
		if !f.To.IsZero() {
			if start, err := firstRecordTime(filepath.Join(dir, s.Name)); err == nil && start.After(f.To) {
				break // this segment and all later ones are after To
			}
		}
		segFrom := from
		if i+1 < len(segs) && indexable(&f) {
			done, next, err := indexedSegment(ctx, dir, s, from, &f, info, fn)
			if err == nil || done {
				if done {
					return info, err
				}
				continue
			}
			// No usable index, or it failed part way: read the rest of
			// the segment end to end, after what was already returned.
			info.UnindexedSegments++
			if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, index.ErrOutdated) && info.IndexProblem == "" {
				info.IndexProblem = err.Error()
			}
			segFrom = max(from, next)
		}
		info.ScannedSegments++
		start := Position{Segment: s.Name, NextSeq: s.FirstSeq}
		if i == resumeAt {
			start = *f.Resume
		}
		done, err := scanSegment(ctx, dir, start, i == len(segs)-1, segFrom, &f, info, fn)
		if err != nil || done {
			return info, err
		}
	}
	return info, nil
}

func scanSegment(ctx context.Context, dir string, start Position, active bool, from uint64, f *Filter, info *Info, fn func(*Match) error) (bool, error) {
	path := filepath.Join(dir, start.Segment)
	r, err := openAt(path, active, start)
	if err != nil {
		return false, fmt.Errorf("query: %w", err)
	}
	defer func() { r.Close() }()
	// In the active segment, the records after its last checkpoint are not
	// sealed yet. Its matches wait here until a checkpoint covers them, and
	// those none covers are dropped at the end: one read of the segment,
	// where finding its last checkpoint first would read it twice. The wait
	// holds at most the matches between two checkpoints (the sealer seals
	// every 100 records or every second by default).
	var pending []*Match
	end := Position{Segment: start.Segment, Offset: r.Offset(), NextSeq: start.NextSeq}
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return true, ctx.Err()
		}
		p, _, err := r.Next()
		if err == io.EOF {
			if active {
				info.End = &end
			}
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("query: %w", err)
		}
		info.RecordsRead++
		rec, err := chain.Decode(p)
		if err != nil {
			return false, fmt.Errorf("query: %w", err)
		}
		if f.Before != 0 && rec.Seq >= f.Before && len(pending) == 0 {
			return true, nil // past Before, and no match waits for a checkpoint
		}
		if rec.Kind == chain.KindCheckpoint {
			// It covers the records before its tree size: all those before
			// it, or those up to the commit it seals (FORMAT.md §3.5).
			cp, _, _, err := chain.PeekCheckpoint(rec.Checkpoint)
			if err != nil {
				return false, fmt.Errorf("query: checkpoint record %d: %w", rec.Seq, err)
			}
			info.SealedSize = max(info.SealedSize, cp.Size)
			kept := pending[:0]
			for _, m := range pending {
				if m.Seq >= cp.Size {
					kept = append(kept, m)
					continue
				}
				if done, err := emit(m, f, info, fn); done || err != nil {
					return true, err
				}
			}
			clear(pending[len(kept):])
			pending = kept
			if len(pending) == 0 && cp.Size == rec.Seq {
				end = Position{Segment: start.Segment, Offset: r.Offset(), NextSeq: rec.Seq + 1}
			}
			continue
		}
		if rec.Seq < from || (f.Before != 0 && rec.Seq >= f.Before) || (rec.Kind != chain.KindEvent && rec.Kind != chain.KindSealerEvent) {
			continue
		}
		info.Scanned++
		m, ok := match(&rec, f)
		if !ok {
			continue
		}
		if active {
			pending = append(pending, m)
		} else if done, err := emit(m, f, info, fn); done || err != nil {
			return true, err
		}
	}
}

// openAt opens the segment at path positioned at start, when start is a
// resume position that still fits (its frame holds record start.NextSeq);
// otherwise, at the segment's first frame.
func openAt(path string, active bool, start Position) (*storage.Reader, error) {
	if start.Offset > 0 {
		if r, err := storage.OpenSegmentAt(path, active, start.Offset); err == nil {
			if r.Offset() == r.Size() {
				return r, nil // nothing appended since
			}
			if p, _, err := r.Next(); err == nil {
				if rec, err := chain.Decode(p); err == nil && rec.Seq == start.NextSeq {
					r.Close()
					return storage.OpenSegmentAt(path, active, start.Offset)
				}
			}
			r.Close()
		}
	}
	return storage.OpenSegment(path, active)
}

// consider matches one event record read from the log against f and
// passes a match to fn. It reports whether the scan is over (Limit
// reached, or fn failed).
func consider(rec *chain.Record, f *Filter, info *Info, fn func(*Match) error) (bool, error) {
	info.Scanned++
	m, ok := match(rec, f)
	if !ok {
		return false, nil
	}
	return emit(m, f, info, fn)
}

// emit hands a sealed match to fn, unless the limit is reached: then it
// notes that there is more and reports the query over.
func emit(m *Match, f *Filter, info *Info, fn func(*Match) error) (bool, error) {
	if f.Limit > 0 && info.Matched == f.Limit {
		info.More = true
		return true, nil
	}
	info.Matched++
	info.Next = m.Seq
	if err := fn(m); err != nil {
		return true, err
	}
	return false, nil
}

func match(rec *chain.Record, f *Filter) (*Match, bool) {
	typ := string(rec.Type)
	if rec.Kind == chain.KindSealerEvent && !f.Sealer {
		return nil, false
	}
	t := rec.Time()
	if (!f.From.IsZero() && t.Before(f.From)) || (!f.To.IsZero() && t.After(f.To)) {
		return nil, false
	}
	if f.Service != "" && string(rec.Service) != f.Service {
		return nil, false
	}
	critical := event.IsCritical(typ)
	if f.CriticalOnly && !critical {
		return nil, false
	}
	if len(f.Types) > 0 && !typeMatches(typ, f.Types) {
		return nil, false
	}
	if f.UserID != "" || f.Entity != "" {
		// The same identifiers an index lists the record under.
		users, entities, ok := index.Identifiers(rec.Event)
		if !ok {
			return nil, false
		}
		if f.UserID != "" && !slices.Contains(users, f.UserID) {
			return nil, false
		}
		if f.Entity != "" && !slices.Contains(entities, f.Entity) {
			return nil, false
		}
	}
	return &Match{Seq: rec.Seq, AuditID: string(rec.AuditID), Service: string(rec.Service), Type: typ, Received: t,
		Critical: critical, Event: json.RawMessage(append([]byte(nil), rec.Event...))}, true
}

func typeMatches(typ string, patterns []string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, ".*"); ok {
			if strings.HasPrefix(typ, prefix+".") {
				return true
			}
		} else if p == typ {
			return true
		}
	}
	return false
}

// firstRecordTime reads the time of a segment's first record.
func firstRecordTime(path string) (time.Time, error) {
	r, err := storage.OpenSegment(path, false)
	if err != nil {
		return time.Time{}, err
	}
	defer r.Close()
	p, _, err := r.Next()
	if err != nil {
		return time.Time{}, err
	}
	rec, err := chain.Decode(p)
	if err != nil {
		return time.Time{}, err
	}
	return rec.Time(), nil
}
