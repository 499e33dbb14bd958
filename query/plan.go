package query

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// segmentPlan is what Scan does with one segment.
type segmentPlan int

const (
	readFull    segmentPlan = iota // read end to end
	readIndexed                    // read at the records its index lists (or end to end if it cannot be)
	skipSegment                    // not read: before the cursor or the time range, or read by the scan Resume comes from
	stopScan                       // this segment and all later ones are past Before or after To
)

// plan decides, before reading anything but the segments' first records
// (for a time range), what Scan does with each segment.
func (sc *scan) plan(resumeAt int) []segmentPlan {
	f, segs := sc.f, sc.segs
	out := make([]segmentPlan, len(segs))
	times := map[int]time.Time{}
	firstTime := func(i int) (time.Time, bool) {
		t, ok := times[i]
		if !ok {
			var err error
			if t, err = firstRecordTime(filepath.Join(sc.dir, segs[i].Name)); err != nil {
				return t, false // the segment's own read says what is wrong
			}
			times[i] = t
		}
		return t, true
	}
	for i, s := range segs {
		last := i+1 == len(segs)
		switch {
		case i > 0 && out[i-1] == stopScan:
			out[i] = stopScan
		case i < resumeAt:
			out[i] = skipSegment // read by the scan that gave f.Resume
		case f.Before != 0 && s.FirstSeq >= f.Before:
			out[i] = stopScan // past Before
		case !last && segs[i+1].FirstSeq <= f.After:
			out[i] = skipSegment // the whole segment is before the cursor
		case !f.From.IsZero() && !last && func() bool { t, ok := firstTime(i + 1); return ok && t.Before(f.From) }():
			// A time range skips whole segments by their first records'
			// times, read from the log itself (record times never
			// decrease), so large logs are not read end to end for one
			// period: every record of this one is before From.
			out[i] = skipSegment
		case !f.To.IsZero() && func() bool { t, ok := firstTime(i); return ok && t.After(f.To) }():
			out[i] = stopScan // this segment and all later ones are after To
		case !last && i != resumeAt && indexable(f):
			out[i] = readIndexed
		default:
			out[i] = readFull
		}
	}
	return out
}

// prefetched is a closed segment a prefetch worker prepared for
// indexedSegment: its index loaded, and when the filter may select
// something there and the segment's final checkpoint is a trusted key's,
// the index's leaves authenticated (end). Anything else (no index, a
// segment signed by a key rotated out) is left to indexedSegment.
type prefetched struct {
	x   *index.Index
	err error
	end *verify.SegmentEnd
}

// prefetcher authenticates, on other cores, the closed segments Scan will
// read through their indexes, a few ahead of it: authenticating a segment
// (one SHA-256 per record) costs more than reading what its index lists.
// Scan takes each segment in order; one no worker has started yet, it
// prepares itself, and while it waits for one it prepares the next one no
// one has started, so that every core works on the segments at hand.
type prefetcher struct {
	sc     *scan
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	wake  *sync.Cond
	order []int         // the segments to prepare, in order
	slots map[int]*slot // by segment
	next  int           // the first of order no one has claimed
	taken int           // how many of order Scan has taken
}

// slot is one segment's preparation.
type slot struct {
	claimed bool
	done    chan struct{}
	res     *prefetched
}

// prefetchAhead bounds how many prepared segments wait for Scan (each
// holds its index, leaf hashes included, in memory).
const prefetchAhead = 2

// prefetch starts the workers for the segments plan reads through their
// index; nil when there are fewer than two, one worker (Filter.Workers, or
// one core), or a limit (a page is often done in a segment or two:
// preparing more would be waste).
func (sc *scan) prefetch(plan []segmentPlan) *prefetcher {
	if sc.f.Limit > 0 {
		return nil
	}
	var order []int
	for i, p := range plan {
		if p == readIndexed {
			order = append(order, i)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), 4) - 1 // the scan's core helps
	if sc.f.Workers > 0 {
		workers = sc.f.Workers - 1
	}
	if len(order) < 2 || workers < 1 {
		return nil
	}
	ctx, cancel := context.WithCancel(sc.ctx)
	p := &prefetcher{sc: sc, ctx: ctx, cancel: cancel, order: order, slots: map[int]*slot{}}
	p.wake = sync.NewCond(&p.mu)
	for _, i := range order {
		p.slots[i] = &slot{done: make(chan struct{})}
	}
	sc.pf = p
	for range workers {
		p.wg.Go(p.work)
	}
	return p
}

// work prepares segments, in order, at most prefetchAhead ahead of Scan.
func (p *prefetcher) work() {
	for {
		p.mu.Lock()
		for p.ctx.Err() == nil && p.next < len(p.order) && p.next >= p.taken+prefetchAhead {
			p.wake.Wait()
		}
		if p.ctx.Err() != nil || p.next == len(p.order) {
			p.mu.Unlock()
			return
		}
		i := p.order[p.next]
		p.next++
		s := p.slots[i]
		s.claimed = true
		p.mu.Unlock()
		s.res = p.sc.prepare(i)
		close(s.done)
	}
}

// take returns what a worker prepared for segment i, waiting for it, or
// nil when no worker had started it (Scan then does it itself).
func (p *prefetcher) take(i int) *prefetched {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	s, ok := p.slots[i]
	if !ok {
		p.mu.Unlock()
		return nil
	}
	delete(p.slots, i)
	claimed := s.claimed
	if !claimed {
		s.claimed = true
		// The workers go on after it.
		for p.next < len(p.order) && !p.slotFree(p.order[p.next]) {
			p.next++
		}
	}
	p.taken++
	p.wake.Broadcast()
	p.mu.Unlock()
	if !claimed {
		return nil
	}
	for {
		select {
		case <-s.done:
			return s.res
		default:
		}
		// While a worker prepares it, prepare the next one no one has
		// started: Scan's core works too.
		p.mu.Lock()
		if p.ctx.Err() != nil || p.next == len(p.order) || p.next >= p.taken+prefetchAhead {
			p.mu.Unlock()
			break
		}
		j := p.order[p.next]
		p.next++
		t := p.slots[j]
		t.claimed = true
		p.mu.Unlock()
		t.res = p.sc.prepare(j)
		close(t.done)
	}
	select {
	case <-s.done:
		return s.res
	case <-p.ctx.Done():
		return nil
	}
}

// slotFree reports whether segment i still waits for a worker (with mu
// held).
func (p *prefetcher) slotFree(i int) bool {
	s, ok := p.slots[i]
	return ok && !s.claimed
}

// stop ends the workers and waits for them.
func (p *prefetcher) stop() {
	p.cancel()
	p.mu.Lock()
	p.wake.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

// prepare loads the index of the closed segment i and, when the filter
// may select something there, authenticates it directly (its final
// checkpoint a trusted key's). It touches nothing of the scan but what
// it only reads.
func (sc *scan) prepare(i int) *prefetched {
	x, err := index.Load(sc.dir, sc.segs[i].Name)
	if err != nil {
		return &prefetched{err: err}
	}
	r, err := storage.OpenFrames(filepath.Join(sc.dir, sc.segs[i].Name))
	if err != nil {
		return &prefetched{x: x}
	}
	defer r.Close()
	if x.Bind(r, sc.segs[i]) != nil {
		return &prefetched{x: x}
	}
	if cands := candidates(sc.f, x); len(cands) == 0 || x.Err() != nil {
		return &prefetched{x: x}
	}
	first, _, err := r.FrameAt(16)
	if err != nil {
		return &prefetched{x: x}
	}
	first = append([]byte(nil), first...)
	last, _, err := r.FrameAt(x.LastOffset)
	if err != nil {
		return &prefetched{x: x}
	}
	end, err := verify.AuthenticateLeaves(sc.trust, sc.segs[i], first, last, x.Leaves)
	if err != nil || !end.Authenticated {
		return &prefetched{x: x}
	}
	return &prefetched{x: x, end: end}
}
