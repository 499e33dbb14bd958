package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// maxPending bounds the matches a full read holds while it waits for a
// trusted checkpoint to cover them. The sealer seals every 100 records or
// every second, so a read normally holds the matches between two
// checkpoints; when more wait (a segment signed by a key rotated out,
// which only the next segment authenticates, or a tail the HSM has not
// sealed for a while), the read stops holding them, keeps the leaf hash
// of each later record instead (32 bytes), and once the segment is
// authenticated reads those records again, checking each against its
// leaf. Tests lower it.
var maxPending = 1024

// scan is one Scan: what it authenticated so far, per segment, so that
// each segment is authenticated at most once as a whole (FORMAT.md §8.5).
type scan struct {
	ctx   context.Context
	dir   string
	trust *verify.Trust
	segs  []storage.SegmentInfo
	f     *Filter
	info  *Info
	fn    func(*Match) error

	// ends[i] is the end of closed segment i once authenticated (by this
	// scan's read of it, or to authenticate the segment before it);
	// failed[i] why it could not be.
	ends   []*verify.SegmentEnd
	failed []error
	// active is the segment_start of the active segment, once a trusted
	// checkpoint in it was found to cover it (activeErr if not).
	active    *chain.Record
	activeErr error
	// logID is the log the first segment the scan authenticated belongs
	// to: every other one must belong to it too.
	logID *chain.LogID
	// anchor is the latest trusted checkpoint the scan authenticated in
	// the active segment (finish checks the log's start against it, or
	// against the last closed segment's final checkpoint).
	anchor *chain.Checkpoint
	// pf prepares the segments read through their index ahead of the
	// scan, on other cores; nil if none does.
	pf *prefetcher
}

func newScan(ctx context.Context, dir string, trust *verify.Trust, segs []storage.SegmentInfo, f *Filter, info *Info, fn func(*Match) error) *scan {
	return &scan{ctx: ctx, dir: dir, trust: trust, segs: segs, f: f, info: info, fn: fn,
		ends: make([]*verify.SegmentEnd, len(segs)), failed: make([]error, len(segs))}
}

// isActive reports whether segment i is the log's last one.
func (sc *scan) isActive(i int) bool { return i == len(sc.segs)-1 }

// sameLog checks that a segment belongs to the log of the others the scan
// authenticated.
func (sc *scan) sameLog(i int, start *chain.Record) error {
	if start.Kind != chain.KindSegmentStart {
		return nil // resumed in the segment: its start was checked before
	}
	if sc.logID == nil {
		id := start.LogID
		sc.logID = &id
		return nil
	}
	if start.LogID != *sc.logID {
		seq := start.Seq
		return fmt.Errorf("query: %w", &verify.TamperError{Failure: verify.Failure{Reason: verify.ReasonSegmentForeign, Segment: sc.segs[i].Name,
			Offset: 16, Seq: &seq, Detail: fmt.Sprintf("segment belongs to log %s, not %s", start.LogID, *sc.logID)}})
	}
	return nil
}

// linked checks that segment i's segment_start continues the segment
// before it, when this scan authenticated that one, and belongs to the
// same log.
func (sc *scan) linked(i int, start *chain.Record) error {
	if start.Kind != chain.KindSegmentStart {
		return nil
	}
	if i > 0 {
		if prev := sc.ends[i-1]; prev != nil && prev.Authenticated {
			if err := prev.Link(start, sc.segs[i].Name); err != nil {
				return fmt.Errorf("query: %w", err)
			}
		}
	}
	return sc.sameLog(i, start)
}

// sealedUpTo notes that records below size are sealed.
func (sc *scan) sealedUpTo(size uint64) {
	sc.info.SealedSize = max(sc.info.SealedSize, size)
}

// startOf returns the segment_start of segment i, authenticated: segment
// i is authenticated as a whole (closed), or a trusted checkpoint in it
// covers its start (active). An error wrapping verify.ErrNoAnchor means
// no trusted checkpoint from there on vouches for it.
func (sc *scan) startOf(i int) (*chain.Record, error) {
	if sc.isActive(i) {
		return sc.activeStart()
	}
	end, err := sc.closedEnd(i)
	if err != nil {
		return nil, err
	}
	return &end.Start, nil
}

// closedEnd authenticates the closed segment i as a whole, through its
// index if it has a usable one, else by reading it in full, and returns
// its end.
func (sc *scan) closedEnd(i int) (*verify.SegmentEnd, error) {
	if e := sc.ends[i]; e != nil && e.Authenticated && e.Start.Kind == chain.KindSegmentStart {
		return e, nil
	}
	if err := sc.failed[i]; err != nil {
		return nil, err
	}
	end, err := sc.endByIndex(i)
	if err != nil {
		end, err = sc.endByReading(i)
	}
	if err != nil {
		sc.failed[i] = err
		return nil, err
	}
	sc.ends[i] = end
	return end, nil
}

// endByIndex authenticates the closed segment i through the leaf hashes
// of its index, without reading its records. Any error means it could
// not (the segment is then read in full, which says why).
func (sc *scan) endByIndex(i int) (*verify.SegmentEnd, error) {
	x, err := index.Load(sc.dir, sc.segs[i].Name)
	if err != nil {
		return nil, err
	}
	r, err := storage.OpenFrames(filepath.Join(sc.dir, sc.segs[i].Name))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if err := x.Bind(r, sc.segs[i]); err != nil {
		return nil, err
	}
	return sc.authenticateIndexed(i, x, r)
}

// authenticateIndexed authenticates the closed segment i from the leaf
// hashes of its index x, bound to it (r reads it): directly, by its final
// checkpoint, or through the next segment.
func (sc *scan) authenticateIndexed(i int, x *index.Index, r *storage.FrameReader) (*verify.SegmentEnd, error) {
	first, _, err := r.FrameAt(16)
	if err != nil {
		return nil, err
	}
	first = append([]byte(nil), first...)
	last, _, err := r.FrameAt(x.LastOffset)
	if err != nil {
		return nil, err
	}
	end, err := verify.AuthenticateLeaves(sc.trust, sc.segs[i], first, last, x.Leaves)
	if err != nil {
		return nil, err
	}
	if !end.Authenticated {
		next, err := sc.startOf(i + 1)
		if err != nil {
			return nil, err
		}
		if err := end.Through(next, sc.segs[i+1].Name); err != nil {
			return nil, err
		}
	}
	return end, nil
}

// endByReading authenticates the closed segment i by reading it in full,
// without handing anything out.
func (sc *scan) endByReading(i int) (*verify.SegmentEnd, error) {
	sr, err := verify.OpenSegmentReader(sc.dir, sc.segs[i], false, sc.trust, nil, nil)
	if err != nil {
		return nil, err
	}
	defer sr.Close()
	if err := sc.readAll(sr); err != nil {
		return nil, err
	}
	end, err := sr.End()
	if err != nil {
		return nil, err
	}
	return end, sc.through(i, end)
}

// readAll reads sr to its end without handing anything out, so that its
// signatures and chain are checked; it stops when the scan is cancelled.
func (sc *scan) readAll(sr *verify.SegmentReader) error {
	for n := 0; ; n++ {
		if n%4096 == 0 && sc.ctx.Err() != nil {
			return sc.ctx.Err()
		}
		_, _, err := sr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		sc.info.RecordsRead++
	}
}

// through authenticates the closed segment i, whose end is end, through
// the segment after it when no trusted checkpoint covers it.
func (sc *scan) through(i int, end *verify.SegmentEnd) error {
	if end.Authenticated {
		return nil
	}
	next, err := sc.startOf(i + 1)
	switch {
	case errors.Is(err, verify.ErrNoAnchor):
		return end.Unanchored()
	case err != nil:
		return err
	}
	return end.Through(next, sc.segs[i+1].Name)
}

// activeStart returns the segment_start of the active segment once a
// trusted checkpoint in it covers it: it reads the active segment in
// full, without handing anything out (only for a segment before it that
// is authenticated through it).
func (sc *scan) activeStart() (*chain.Record, error) {
	if sc.active != nil || sc.activeErr != nil {
		return sc.active, sc.activeErr
	}
	i := len(sc.segs) - 1
	sc.active, sc.activeErr = func() (*chain.Record, error) {
		sr, err := verify.OpenSegmentReader(sc.dir, sc.segs[i], true, sc.trust, nil, nil)
		if err != nil {
			return nil, err
		}
		defer sr.Close()
		if err := sc.readAll(sr); err != nil {
			return nil, err
		}
		covered, err := sr.Sealed()
		if err != nil {
			return nil, err
		}
		start := *sr.Start()
		if start.Kind != chain.KindSegmentStart || covered <= start.Seq {
			return nil, fmt.Errorf("%w: no checkpoint signed by a key you gave in %s", verify.ErrNoAnchor, sc.segs[i].Name)
		}
		return &start, nil
	}()
	return sc.active, sc.activeErr
}

// replayState is the part of a full read whose matches were not held
// (more than maxPending waited): the records from seq on, at offset off,
// whose leaf hashes are kept, read again once they are authenticated.
type replayState struct {
	seq    uint64
	off    int64
	leaves []chain.Hash
}

// fullRead reads segment i in full (from the Position resume when it
// carries a state of this segment), checking every record (package
// verify), and hands the matches from sequence number from on to fn once
// a trusted checkpoint covers them; a closed segment is authenticated as a
// whole at its end (its final checkpoint, or through the next segment).
// It reports whether the query is over.
func (sc *scan) fullRead(i int, resume *Position, from uint64) (bool, error) {
	seg, active, f := sc.segs[i], sc.isActive(i), sc.f
	var state *verify.ReadState
	if resume != nil {
		state = resume.state
	}
	var inherit []byte
	if i > 0 && sc.ends[i-1] != nil && sc.ends[i-1].Authenticated {
		inherit = sc.ends[i-1].RunKey
	}
	sr, err := verify.OpenSegmentReader(sc.dir, seg, active, sc.trust, state, inherit)
	if err != nil {
		return false, fmt.Errorf("query: %w", err)
	}
	defer sr.Close()
	var pending []*Match
	var replay *replayState
	// release hands the pending matches below covered to fn.
	release := func(covered uint64) (bool, error) {
		n := 0
		for ; n < len(pending) && pending[n].Seq < covered; n++ {
			if done, err := emit(pending[n], f, sc.info, sc.fn); done || err != nil {
				return true, err
			}
		}
		pending = append(pending[:0], pending[n:]...)
		return false, nil
	}
	pastBefore := false
	for n := 0; ; n++ {
		if n%4096 == 0 && sc.ctx.Err() != nil {
			return true, sc.ctx.Err()
		}
		rec, _, err := sr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, fmt.Errorf("query: %w", err)
		}
		sc.info.RecordsRead++
		if rec.Kind == chain.KindSegmentStart {
			if err := sc.linked(i, rec); err != nil {
				return false, err
			}
		}
		if replay != nil {
			replay.leaves = append(replay.leaves, chain.LeafHash(rec.Hash))
		}
		if f.Before != 0 && rec.Seq >= f.Before {
			pastBefore = true
		}
		// A checkpoint: check its signature now (not only at the end of
		// the segment) if what waits is many, or enough for the page, or
		// all before Before.
		enough := f.Limit > 0 && sc.info.Matched+len(pending) > f.Limit
		if rec.Kind == chain.KindCheckpoint && len(pending) > 0 && (len(pending) >= maxPending || pastBefore || enough) {
			covered, err := sr.Sealed()
			if err != nil {
				return false, fmt.Errorf("query: %w", err)
			}
			sc.sealedUpTo(covered)
			if done, err := release(covered); done || err != nil {
				return true, err
			}
			if len(pending) >= maxPending && replay == nil {
				// Nothing trusted covers them yet: hold no more matches,
				// keep the leaf hashes of the records after this one.
				replay = &replayState{seq: rec.Seq + 1, off: sr.Offset()}
			}
		}
		if pastBefore && len(pending) == 0 && replay == nil {
			return true, nil // past Before, and no match waits for a checkpoint
		}
		if rec.Seq < from || (f.Before != 0 && rec.Seq >= f.Before) || (rec.Kind != chain.KindEvent && rec.Kind != chain.KindSealerEvent) {
			continue
		}
		sc.info.Scanned++
		m, ok := match(rec, f)
		if !ok || replay != nil {
			continue // no match, or one the replay hands out
		}
		pending = append(pending, m)
	}
	// The end of the segment: what covers the records read.
	var covered uint64
	if active {
		if err := sr.CheckTail(); err != nil {
			return false, fmt.Errorf("query: %w", err)
		}
		if covered, err = sr.Sealed(); err != nil {
			return false, fmt.Errorf("query: %w", err)
		}
		if cp, _ := sr.Anchor(); cp != nil {
			sc.anchor = cp
		}
		end := Position{Segment: seg.Name, Offset: 16, NextSeq: seg.FirstSeq}
		if st := sr.State(); st != nil {
			end = Position{Segment: seg.Name, Offset: st.Offset(), NextSeq: st.NextSeq(), state: st}
		}
		sc.info.End = &end
	} else {
		end, err := sr.End()
		if err == nil {
			err = sc.through(i, end)
		}
		if err != nil {
			return false, fmt.Errorf("query: %w", err)
		}
		sc.ends[i] = end
		covered = end.NextSeq
		sc.sealedUpTo(covered - 1) // the final checkpoint covers the records before it
	}
	if active {
		sc.sealedUpTo(covered)
	}
	if done, err := release(covered); done || err != nil {
		return true, err
	}
	if replay != nil {
		return sc.replay(i, active, replay, from, covered)
	}
	return false, nil
}

// replay reads again the records of segment i from rp.seq on, below
// covered, now authenticated (their leaf hashes are rp.leaves), and hands
// their matches to fn: each must be the record whose leaf it kept.
func (sc *scan) replay(i int, active bool, rp *replayState, from, covered uint64) (bool, error) {
	seg := sc.segs[i]
	r, err := storage.OpenSegmentAt(filepath.Join(sc.dir, seg.Name), active, rp.off)
	if err != nil {
		return false, fmt.Errorf("query: %w: %w", verify.ErrCannotCheck, err)
	}
	defer r.Close()
	h := chain.NewHasher()
	for k, seq := 0, rp.seq; seq < covered && k < len(rp.leaves); k, seq = k+1, seq+1 {
		if k%4096 == 0 && sc.ctx.Err() != nil {
			return true, sc.ctx.Err()
		}
		p, off, err := r.Next()
		var rec chain.Record
		if err == nil {
			rec, err = chain.Decode(p)
		}
		if err != nil || rec.Seq != seq || !h.Check(p) || chain.LeafHash(rec.Hash) != rp.leaves[k] {
			return false, fmt.Errorf("query: %w", &verify.TamperError{Failure: verify.Failure{Reason: verify.ReasonModified, Segment: seg.Name, Offset: off, Seq: &seq,
				Detail: fmt.Sprintf("record %d changed while the segment was read", seq)}})
		}
		sc.info.RecordsRead++
		if rec.Seq < from || (sc.f.Before != 0 && rec.Seq >= sc.f.Before) || (rec.Kind != chain.KindEvent && rec.Kind != chain.KindSealerEvent) {
			continue
		}
		if m, ok := match(&rec, sc.f); ok {
			if done, err := emit(m, sc.f, sc.info, sc.fn); done || err != nil {
				return true, err
			}
		}
	}
	return false, nil
}

// finish runs the checks of a scan that read the log to its end: the
// log's first segment must hold the first record that the last trusted
// checkpoint names (its start line), or start before it (a prune the
// sealer was interrupted in).
func (sc *scan) finish() error {
	cp := sc.anchor
	if cp == nil && len(sc.segs) > 1 {
		if e := sc.ends[len(sc.segs)-2]; e != nil && e.Authenticated {
			cp = e.Last
		}
	}
	if cp == nil || cp.Start == nil || len(sc.segs) == 0 {
		return nil
	}
	first := sc.segs[0]
	var rec chain.Record
	if e := sc.ends[0]; e != nil && e.Start.Kind == chain.KindSegmentStart {
		rec = e.Start
	} else {
		r, err := storage.OpenSegment(filepath.Join(sc.dir, first.Name), len(sc.segs) == 1)
		if err != nil {
			return nil // the segment's own read reports it
		}
		defer r.Close()
		p, _, err := r.Next()
		if err != nil {
			return nil
		}
		if rec, err = chain.Decode(p); err != nil || !chain.NewHasher().Check(p) {
			return nil
		}
	}
	if err := verify.CheckLogStart(cp, first, &rec); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return nil
}
