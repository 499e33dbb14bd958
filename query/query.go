// Package query reads sealed records out of an audit-sealer log with
// filters: by actor, service, event type (dotted name or "prefix.*"),
// entity identifier, time range and criticality. It streams (memory flat in
// the log's size) and returns only records that a checkpoint it trusts
// covers, so that every result can be proved (verify.Prove) against that
// checkpoint.
//
// # What a result is worth
//
// Scan is given the keys it trusts (verify.Trust: the log's current key,
// or a checkpoint the caller verified) and checks, with package verify,
// everything it reads (FORMAT.md §8.5): a segment read in full is followed
// from its segment_start (record hashes, chain links, sequence numbers,
// audit_ids, every checkpoint against the Merkle tree), and its records are
// handed out once a checkpoint whose signature verifies with a trusted key
// covers them; a closed segment read through its index is first
// authenticated as a whole (the root of its tree state and of the leaf
// hashes its index holds must be the root of its final checkpoint, signed
// by a trusted key), and every record read through the index must hash to
// its leaf. A closed segment signed by a key rotated out since is
// authenticated through the segment after it, toward the end of the log,
// never by the old key. Consecutive segments it authenticates must link
// (sequence numbers, chain, tree state, log). A log that fails a check
// makes Scan fail with an error wrapping a *verify.TamperError (the
// verifier's reason code, segment, offset and sequence number): every
// record it handed out before was authenticated, and none that failed a
// check, or that no trusted checkpoint covers, is ever handed out.
//
// # Indexes and time ranges
//
// A time range skips whole segments by the time of their first records
// (read from the log itself). For a filter by user, entity, service, type
// or criticality, a closed segment with a usable index (package index,
// FORMAT.md §8) is read only at the records its index lists for the
// filter; the active segment, and a closed segment whose index is missing,
// outdated, malformed, stale or whose leaves do not authenticate it, are
// read end to end, and Info says how many were. An index cannot add a
// result (each listed record is checked and matched against the filter
// exactly as a full scan matches it); an index that hides records, like a
// segment's first record time that makes a time range skip it, can only
// hide records: index.Check (audit-sealer index check) and audit-verify
// find those. With indexes that check accepts, a query returns exactly
// what a full scan returns.
package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// Filter selects records. Zero fields select everything.
type Filter struct {
	// UserID matches a user identifier exactly: actor.user_id,
	// attempted_user, subject or requester (index.Identifiers).
	UserID string
	// Subject matches every identity field of the event catalogue
	// exactly, for a data subject's access request (GDPR Art. 15): the
	// user identifiers UserID matches and customer_id (SubjectFields).
	Subject string
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
	// CriticalOnly selects the critical event types of EVENTS.md.
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
	// Workers is how many closed segments read through their index are
	// authenticated at once, the scan's core among them: 0 = as many as
	// there are cores (at most 4), 1 = one at a time, holding one index in
	// memory (the sealer's own queries).
	Workers int
	// Resume, from the End of an earlier scan of the same log in the same
	// process, starts reading there: the segments before its segment, and
	// the frames before its offset, are neither read nor returned (the
	// earlier scan read them), so that a follower (export --follow) reads
	// only what was sealed since. Set After too: it alone says which
	// records were returned already. The End carries the verified state
	// of the chain at its offset, and the read goes on from it, checking
	// that what follows continues it; a Position without that state (one
	// decoded from JSON, or made by hand), or whose segment no longer
	// continues it there (cut back, rewritten), makes its segment read
	// from the start; if its segment is gone, the whole log is read.
	Resume *Position
}

// Position is where a scan of the log can resume: the frame at byte Offset
// of segment Segment, which holds record NextSeq. It follows a trusted
// checkpoint the scan authenticated, so every record before it was
// sealed. In memory it also carries the verified state of the chain there
// (never written out: a Position read back from JSON carries none).
type Position struct {
	Segment string `json:"segment"`
	Offset  int64  `json:"offset"`
	NextSeq uint64 `json:"next_seq"`

	state *verify.ReadState
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
	// inclusion bundle (verify.ProveRecords): under the checkpoint cosigned
	// by witnesses that covers it, with their cosignature lines, when the
	// log holds one, else under the log's last checkpoint. audit-verify
	// proof checks it (with --witness, the cosignatures too), and that the
	// fields above are the proven record's.
	Proof *chain.InclusionBundle `json:"proof,omitempty"`
}

// Info says what a scan covered.
type Info struct {
	Scanned uint64 `json:"scanned"` // event records read from the log and matched against the filter
	// RecordsRead counts every record read from the segment files, of any
	// kind, including those before the After cursor: what the scan cost.
	RecordsRead uint64 `json:"records_read"`
	Matched     int    `json:"matched"`
	SealedSize  uint64 `json:"sealed_size"` // records 0..SealedSize-1 are covered by the last trusted checkpoint the scan authenticated (it stops reading where the query ends)
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
	if f.Workers < 0 {
		return fmt.Errorf("%w: negative workers", ErrBadFilter)
	}
	return nil
}

// Scan streams the sealed records of the log in dir that match f, in
// sequence order, to fn: those that a checkpoint trust trusts covers (see
// the package documentation), checked as they are read. In a segment read
// in full a match is handed to fn once a trusted checkpoint after it
// covers it; the records after the active segment's last trusted
// checkpoint (not sealed yet) are left out. A closed segment read through
// its index is authenticated before any of its records is handed out.
// Each segment is read once, twice for a segment signed by a key rotated
// out (it is authenticated through the next one first). It never writes
// to dir.
//
// A log that fails a check gives an error wrapping a *verify.TamperError;
// one Scan cannot check (no trusted key, an unreadable file) an error
// wrapping verify.ErrCannotCheck.
func Scan(ctx context.Context, dir string, trust verify.Trust, f Filter, fn func(*Match) error) (*Info, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	if len(trust.Keys) == 0 && trust.Pinned == nil {
		return nil, fmt.Errorf("query: %w: no trusted key", verify.ErrCannotCheck)
	}
	segs, err := storage.ListSegments(dir)
	if err != nil {
		return nil, fmt.Errorf("query: %w: %w", verify.ErrCannotCheck, err)
	}
	info := &Info{}
	from := uint64(0) // the first sequence number that may be returned
	if f.After != 0 {
		if f.After == math.MaxUint64 {
			return info, nil // nothing comes after it
		}
		from = f.After + 1
	}
	sc := newScan(ctx, dir, &trust, segs, &f, info, fn)
	resumeAt := -1
	if f.Resume != nil {
		// The segments before it were read by the scan that gave f.Resume;
		// within it, the read resumes at its offset only if the Position
		// carries the chain's state there and the segment still continues
		// it. Records are never skipped by f.Resume's sequence number:
		// After alone decides which are returned.
		resumeAt = slices.IndexFunc(segs, func(s storage.SegmentInfo) bool { return s.Name == f.Resume.Segment })
	}
	plan := sc.plan(resumeAt)
	if pf := sc.prefetch(plan); pf != nil {
		defer pf.stop()
	}
	for i := range segs {
		switch plan[i] {
		case skipSegment:
			continue
		case stopScan:
			return info, nil
		}
		segFrom := from
		if plan[i] == readIndexed {
			done, next, err := sc.indexedSegment(i, from)
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
		var resume *Position
		if i == resumeAt {
			resume = f.Resume
		}
		done, err := sc.fullRead(i, resume, segFrom)
		if err != nil || done {
			return info, err
		}
	}
	return info, sc.finish()
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
	if f.UserID != "" || f.Entity != "" || f.Subject != "" {
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
		if f.Subject != "" && !slices.Contains(users, f.Subject) && !(slices.Contains(entities, f.Subject) && customerID(rec.Event) == f.Subject) {
			return nil, false
		}
	}
	return &Match{Seq: rec.Seq, AuditID: string(rec.AuditID), Service: string(rec.Service), Type: typ, Received: t,
		Critical: critical, Event: json.RawMessage(append([]byte(nil), rec.Event...))}, true
}

// SubjectFields are the identity fields Filter.Subject searches: every
// field of the event catalogue (EVENTS.md) that names a person or an
// account, directly or by a token's fingerprint.
var SubjectFields = []string{"actor.user_id", "attempted_user", "subject", "requester", "customer_id"}

// customerID returns the event's top-level customer_id ("" for none).
func customerID(eventJSON []byte) string {
	var e struct {
		CustomerID any `json:"customer_id"`
	}
	if json.Unmarshal(eventJSON, &e) != nil {
		return ""
	}
	s, _ := e.CustomerID.(string)
	return s
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

// firstRecordTime reads the time of a segment's first record (one small
// read: the frame after the file header).
func firstRecordTime(path string) (time.Time, error) {
	r, err := storage.OpenFrames(path)
	if err != nil {
		return time.Time{}, err
	}
	defer r.Close()
	p, _, err := r.FrameAt(16)
	if err != nil {
		return time.Time{}, err
	}
	rec, err := chain.Decode(p)
	if err != nil {
		return time.Time{}, err
	}
	return rec.Time(), nil
}
