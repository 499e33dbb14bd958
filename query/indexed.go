package query

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// errIndexBroken is returned by indexedSegment when a record the index
// lists is not where it says; the caller reads the rest of the segment.
var errIndexBroken = errors.New("query: the index lists a record that is not where it says")

// indexable reports whether an index can narrow f: it selects by user,
// entity, service, type or criticality with keys an index can hold. A time
// range or a cursor alone is not narrowed (segments are skipped by time
// without an index).
func indexable(f *Filter) bool {
	switch {
	case f.UserID != "" && index.Indexable("user:"+f.UserID),
		f.Subject != "" && index.Indexable("user:"+f.Subject) && index.Indexable("entity:"+f.Subject),
		f.Entity != "" && index.Indexable("entity:"+f.Entity),
		f.Service != "" && index.Indexable("service:"+f.Service),
		len(f.Types) > 0, f.CriticalOnly:
		return true
	}
	return false
}

// candidates returns the postings of x that f can select, in sequence
// order: the intersection, over each indexable part of f, of the records
// listed under that part's keys. Every record f matches is among them (if
// x is complete); many that are returned may not match (f is applied to
// each record again).
func candidates(f *Filter, x *index.Index) []index.Posting {
	var sets [][]index.Posting
	if k := "user:" + f.UserID; f.UserID != "" && index.Indexable(k) {
		sets = append(sets, x.Lookup(k))
	}
	if k := "entity:" + f.Entity; f.Entity != "" && index.Indexable(k) {
		sets = append(sets, x.Lookup(k))
	}
	if u, e := "user:"+f.Subject, "entity:"+f.Subject; f.Subject != "" && index.Indexable(u) && index.Indexable(e) {
		// A user identifier, or customer_id (an entity key).
		sets = append(sets, union(x, []string{u, e}))
	}
	if k := "service:" + f.Service; f.Service != "" && index.Indexable(k) {
		sets = append(sets, x.Lookup(k))
	}
	if len(f.Types) > 0 {
		var keys []string
		for _, t := range f.Types {
			if prefix, ok := strings.CutSuffix(t, ".*"); ok {
				keys = append(keys, x.KeysWithPrefix("type:"+prefix+".")...)
			} else {
				keys = append(keys, "type:"+t)
			}
		}
		sets = append(sets, union(x, keys))
	}
	if f.CriticalOnly {
		keys := slices.DeleteFunc(x.KeysWithPrefix("type:"), func(k string) bool {
			return !event.IsCritical(strings.TrimPrefix(k, "type:"))
		})
		sets = append(sets, union(x, keys))
	}
	slices.SortFunc(sets, func(a, b []index.Posting) int { return len(a) - len(b) })
	out := sets[0]
	for _, s := range sets[1:] {
		out = intersect(out, s)
	}
	return out
}

// union returns the postings of any of keys, in sequence order, once each.
func union(x *index.Index, keys []string) []index.Posting {
	var out []index.Posting
	for _, k := range keys {
		out = append(out, x.Lookup(k)...)
	}
	slices.SortFunc(out, func(a, b index.Posting) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	return slices.CompactFunc(out, func(a, b index.Posting) bool { return a.Seq == b.Seq })
}

// intersect returns the postings in both a and b (each in sequence order).
func intersect(a, b []index.Posting) []index.Posting {
	var out []index.Posting
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i].Seq < b[j].Seq:
			i++
		case a[i].Seq > b[j].Seq:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// indexedSegment reads the closed segment i at the records its index
// lists for the filter, from sequence number from on. It first
// authenticates the segment with the index's leaf hashes (package verify:
// their root is the root of the segment's final checkpoint, trusted, or
// the segment continues into the next one, authenticated); then each
// listed record is read from the segment, must be the record the index
// names and hash to its leaf, and is matched against the filter like any
// other. A segment where the index lists nothing the filter can select is
// not read at all. It reports whether the query is over. An error that is
// not the query's end (done false) means the index could not be used:
// missing (fs.ErrNotExist), outdated, malformed, stale, leaves that do not
// authenticate the segment, or errIndexBroken part way, in which case
// next is the first sequence number not yet considered, from which the
// caller reads the segment end to end. It counts the segment in
// info.IndexedSegments when it used the index.
func (sc *scan) indexedSegment(i int, from uint64) (done bool, next uint64, err error) {
	s, f, info := sc.segs[i], sc.f, sc.info
	var x *index.Index
	var end *verify.SegmentEnd // authenticated by a prefetch worker, if it did
	if p := sc.pf.take(i); p != nil {
		if p.err != nil {
			return false, 0, p.err
		}
		x, end = p.x, p.end
	} else if x, err = index.Load(sc.dir, s.Name); err != nil {
		return false, 0, err
	}
	r, err := storage.OpenFrames(filepath.Join(sc.dir, s.Name))
	if err != nil {
		return false, 0, fmt.Errorf("query: %w", err)
	}
	defer r.Close()
	if err := x.Bind(r, s); err != nil {
		return false, 0, err
	}
	cands := candidates(f, x)
	if err := x.Err(); err != nil {
		return false, from, fmt.Errorf("%w: %v", errIndexBroken, err) // nothing returned yet: read the whole segment
	}
	lo, _ := slices.BinarySearchFunc(cands, from, func(p index.Posting, seq uint64) int { return cmp.Compare(p.Seq, seq) })
	cands = cands[lo:]
	if f.Before != 0 {
		hi, _ := slices.BinarySearchFunc(cands, f.Before, func(p index.Posting, seq uint64) int { return cmp.Compare(p.Seq, seq) })
		cands, done = cands[:hi], f.Before <= x.FirstSeq+x.Records-1
	}
	if len(cands) == 0 {
		info.IndexedSegments++
		return done, from, nil // nothing here can match: nothing to read, or to authenticate
	}
	if end == nil {
		if end, err = sc.authenticateIndexed(i, x, r); err != nil {
			return false, from, err // nothing returned yet: read the whole segment
		}
	}
	info.RecordsRead += 2 // its first and last records
	if err := sc.linked(i, &end.Start); err != nil {
		return true, from, err
	}
	sc.ends[i] = end
	sc.sealedUpTo(end.NextSeq - 1)
	info.IndexedSegments++
	h := chain.NewHasher()
	next = from
	for n, p := range cands {
		if n%4096 == 0 && sc.ctx.Err() != nil {
			return true, next, sc.ctx.Err()
		}
		info.RecordsRead++
		payload, _, err := r.FrameAt(p.Offset)
		if err != nil {
			info.IndexedSegments--
			return false, next, fmt.Errorf("%w: record %d at offset %d of %s: %v", errIndexBroken, p.Seq, p.Offset, s.Name, err)
		}
		rec, err := chain.Decode(payload)
		if err != nil || rec.Seq != p.Seq || (rec.Kind != chain.KindEvent && rec.Kind != chain.KindSealerEvent) ||
			!h.Check(payload) || chain.LeafHash(rec.Hash) != x.Leaves[p.Seq-x.FirstSeq] {
			// Not the record the authenticated leaves name there: the
			// index points elsewhere, or the segment changed; the full
			// read says which.
			info.IndexedSegments--
			return false, next, fmt.Errorf("%w: record %d at offset %d of %s", errIndexBroken, p.Seq, p.Offset, s.Name)
		}
		if done, err := consider(&rec, f, info, sc.fn); done || err != nil {
			return true, next, err
		}
		next = p.Seq + 1
	}
	return done, next, nil
}
