package query_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// largeRecords is the number of events of the large log: enough for
// several segments of realistic content, small enough for -race on two
// cores.
const largeRecords = 100_000

// large is the log the tests share, built once: plain has no index files,
// indexed is a copy with the index of every closed segment.
var large struct {
	once           sync.Once
	plain, indexed string
	err            error
}

// removeLarge removes the shared log, from TestMain.
func removeLarge() {
	if large.plain != "" {
		os.RemoveAll(filepath.Dir(large.plain))
	}
}

func buildLarge() error {
	defer func(start time.Time) {
		fmt.Fprintf(os.Stderr, "query: built the shared log of %d events in %v\n", largeRecords, time.Since(start))
	}(time.Now())
	root, err := os.MkdirTemp("", "query-large-")
	if err != nil {
		return err
	}
	large.plain, large.indexed = filepath.Join(root, "plain"), filepath.Join(root, "indexed")
	if _, err := testkit.BuildQueryLog(large.plain, largeRecords, 2<<20); err != nil {
		return err
	}
	if err := testkit.CopyDir(large.plain, large.indexed); err != nil {
		return err
	}
	_, err = index.Update(context.Background(), large.indexed, false)
	return err
}

// largeLog returns the shared log of largeRecords events in about 18
// segments of 2 MB, with or without indexes. Tests must not change it.
func largeLog(t testing.TB, withIndex bool) (string, []storage.SegmentInfo) {
	t.Helper()
	large.once.Do(func() { large.err = buildLarge() })
	if large.err != nil {
		t.Fatal(large.err)
	}
	closed, _ := index.Closed(large.plain)
	if len(closed) < 5 {
		t.Fatalf("%d closed segments, want several", len(closed))
	}
	if withIndex {
		return large.indexed, closed
	}
	return large.plain, closed
}

// largeCopy returns a copy of the shared indexed log that the test may
// change.
func largeCopy(t testing.TB) string {
	t.Helper()
	src, _ := largeLog(t, true)
	dir := filepath.Join(t.TempDir(), "data")
	if err := testkit.CopyDir(src, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// encoded returns the matches as JSON lines, for exact comparison.
func encoded(ms []*query.Match) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, m := range ms {
		enc.Encode(m)
	}
	return b.Bytes()
}

// filterCase is a filter compared between indexed and full reads;
// selective ones must read far fewer records through the indexes.
type filterCase struct {
	name      string
	f         query.Filter
	selective bool
}

// TestIndexedEqualsScanByIdentifier: on a log of 100,000 events in about
// 18 segments, user and entity filters return exactly the same matches
// through the indexes as by reading every segment, reading far fewer
// records.
func TestIndexedEqualsScanByIdentifier(t *testing.T) {
	compareFilters(t, []filterCase{
		{"user", query.Filter{UserID: "customer-5"}, true},
		{"frequent user of a type", query.Filter{UserID: "admin@example.com", Types: []string{"auth.success"}}, true},
		{"attempted user", query.Filter{UserID: "token:a3f2c1", CriticalOnly: true}, true},
		{"entity", query.Filter{Entity: "pool-7"}, true},
		{"entity shard of a service", query.Filter{Entity: "shard-3", Service: "worker-gpu-0"}, true},
		{"user and type", query.Filter{UserID: "customer-5", Types: []string{"task.submitted"}}, true},
		{"nobody", query.Filter{UserID: "nobody@example.com", Types: []string{"authz.denied"}}, true},
		{"subject", query.Filter{Subject: "customer-5"}, true},
		{"subject of a type", query.Filter{Subject: "customer-7", Types: []string{"data.inference_executed"}}, true},
	})
}

// TestIndexedEqualsScanByTypeAndTime: the same for service, type,
// criticality, time ranges and cursors, and filters no index narrows.
func TestIndexedEqualsScanByTypeAndTime(t *testing.T) {
	plain, _ := largeLog(t, false)
	all, _ := all(t, plain, query.Filter{Types: []string{"seal.verified"}})
	from, to := all[len(all)/3].Received, all[len(all)/2].Received
	compareFilters(t, []filterCase{
		{"service", query.Filter{Service: "worker-gpu-0"}, false},
		{"type", query.Filter{Types: []string{"vram.sealed"}}, true},
		{"type prefix", query.Filter{Types: []string{"auth.*", "pool.created"}}, false},
		{"critical", query.Filter{CriticalOnly: true}, true},
		{"entity in a time range", query.Filter{Entity: "customer-12", From: from, To: to}, true},
		{"service after a cursor", query.Filter{Service: "pool-managerd", After: all[len(all)/2].Seq}, true},
		{"time range only", query.Filter{From: from, To: to}, false},
	})
}

func compareFilters(t *testing.T, cases []filterCase) {
	plain, closed := largeLog(t, false)
	withIndex, _ := largeLog(t, true)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, scan := all(t, plain, tc.f)
			got, info := all(t, withIndex, tc.f)
			if !bytes.Equal(encoded(got), encoded(want)) {
				t.Fatalf("indexed: %d matches, full read: %d; they differ", len(got), len(want))
			}
			one := tc.f
			one.Workers = 1 // no segment authenticated ahead of the scan
			if got1, _ := all(t, withIndex, one); !bytes.Equal(encoded(got1), encoded(want)) {
				t.Fatalf("indexed, one worker: %d matches, full read: %d; they differ", len(got1), len(want))
			}
			if info.Matched != scan.Matched || info.More != scan.More || info.Next != scan.Next || info.SealedSize != scan.SealedSize {
				t.Fatalf("indexed info %+v, full read %+v", info, scan)
			}
			if tc.name != "nobody" && len(want) == 0 {
				t.Fatal("the filter matches nothing; the comparison would prove little")
			}
			if scan.IndexedSegments != 0 {
				t.Fatalf("without index files %d segments were read through an index", scan.IndexedSegments)
			}
			narrowed := tc.f.UserID != "" || tc.f.Subject != "" || tc.f.Entity != "" || tc.f.Service != "" || len(tc.f.Types) > 0 || tc.f.CriticalOnly
			if narrowed {
				if scan.UnindexedSegments == 0 || info.UnindexedSegments != 0 || info.IndexedSegments == 0 ||
					info.IndexedSegments+info.ScannedSegments != scan.ScannedSegments || info.ScannedSegments > 1 {
					t.Fatalf("segments: indexed read %+v, full read %+v (of %d closed)", info, scan, len(closed))
				}
			} else if info.IndexedSegments != 0 || info.ScannedSegments != scan.ScannedSegments {
				t.Fatalf("a filter no index narrows used one: %+v", info)
			}
			if info.Scanned > scan.Scanned || tc.selective && info.Scanned*5 > scan.Scanned {
				t.Fatalf("indexed read %d records, full read %d: want far fewer", info.Scanned, scan.Scanned)
			}
			t.Logf("%d matches; records read: %d indexed, %d full", len(got), info.Scanned, scan.Scanned)
		})
	}
}

// TestIndexedPagination: pages through the indexes join into the full
// read's result.
func TestIndexedPagination(t *testing.T) {
	plain, _ := largeLog(t, false)
	dir, _ := largeLog(t, true)
	want, _ := all(t, plain, query.Filter{UserID: "customer-5"})
	var paged []*query.Match
	f := query.Filter{UserID: "customer-5", Limit: 50}
	for pages := 0; ; pages++ {
		got, info := all(t, dir, f)
		paged = append(paged, got...)
		if info.IndexedSegments == 0 && info.More {
			t.Fatal("a page did not use the indexes")
		}
		if !info.More {
			break
		}
		if pages > len(want) {
			t.Fatal("pagination does not end")
		}
		f.After = info.Next
	}
	if len(want) < 3*50 || !bytes.Equal(encoded(paged), encoded(want)) {
		t.Fatalf("pages hold %d matches, one full read %d", len(paged), len(want))
	}
}

// TestBrokenIndexIgnored: an index that is truncated, corrupted, stale
// (describing another content or another segment), or that points at
// records it does not hold, is not used for its segment, and the result
// is still exactly the full read's.
func TestBrokenIndexIgnored(t *testing.T) {
	plain, _ := largeLog(t, false)
	base, closed := largeLog(t, true)
	f := query.Filter{UserID: "customer-5", Types: []string{"authz.denied", "task.submitted"}}
	want, _ := all(t, plain, f)
	seg, other := closed[3], closed[4]
	good, _ := os.ReadFile(index.Path(base, seg.Name))
	x, err := index.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	postings := func() map[string][]index.Posting {
		ps := map[string][]index.Posting{}
		for _, k := range x.Keys() {
			ps[k] = x.Lookup(k)
		}
		return ps
	}
	rewrite := func(hdr index.Index, ps map[string][]index.Posting) []byte {
		y, err := index.New(hdr, ps)
		if err != nil {
			t.Fatal(err)
		}
		return y.Encode()
	}
	otherIndex, _ := os.ReadFile(index.Path(base, other.Name))
	cases := map[string][]byte{
		"truncated":   good[:len(good)-100],
		"corrupted":   append(append(append([]byte(nil), good[:200]...), good[200]^0x40), good[201:]...),
		"empty":       {},
		"other index": otherIndex,
		"stale size":  rewrite(func() index.Index { h := *x; h.Size -= 64; return h }(), postings()),
		"stale hash":  rewrite(func() index.Index { h := *x; h.LastHash[31] ^= 1; return h }(), postings()),
		"misplaced": func() []byte {
			// The third posting of the user names the frame of a later
			// record: the index is bound to its segment, but the record
			// there is not the one it names.
			ps := postings()
			l := ps["user:customer-5"]
			i := slices.IndexFunc(ps["service:worker-gpu-0"], func(p index.Posting) bool { return p.Seq > l[1].Seq })
			if p := ps["service:worker-gpu-0"][i]; p.Seq < l[2].Seq {
				l[1].Offset = p.Offset
			} else {
				t.Fatal("no record between the user's second and third")
			}
			return rewrite(*x, ps)
		}(),
		"posting past the segment": func() []byte {
			// Parse accepts it (it checks the key table); the lookup of
			// the user's postings refuses it.
			ps := postings()
			l := ps["user:customer-5"]
			l[len(l)-1].Offset = x.LastOffset + 1
			return rewrite(*x, ps)
		}(),
		"not a frame": func() []byte {
			ps := postings()
			l := ps["user:customer-5"]
			l[1].Offset++
			return rewrite(*x, ps)
		}(),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := testkit.CopyDir(base, dir); err != nil {
				t.Fatal(err)
			}
			os.Remove(index.Path(dir, seg.Name))
			if err := os.WriteFile(index.Path(dir, seg.Name), b, 0o400); err != nil {
				t.Fatal(err)
			}
			got, info := all(t, dir, f)
			if !bytes.Equal(encoded(got), encoded(want)) {
				t.Fatalf("%d matches, the full read has %d", len(got), len(want))
			}
			if info.UnindexedSegments != 1 || info.IndexedSegments != len(closed)-1 || info.IndexProblem == "" {
				t.Fatalf("info %+v: want exactly the broken index ignored, and said", info)
			}
			t.Logf("%s", info.IndexProblem)
		})
	}
	t.Run("missing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		testkit.CopyDir(base, dir)
		os.Remove(index.Path(dir, seg.Name))
		got, info := all(t, dir, f)
		if !bytes.Equal(encoded(got), encoded(want)) || info.UnindexedSegments != 1 || info.IndexProblem != "" {
			t.Fatalf("%d matches of %d, info %+v", len(got), len(want), info)
		}
	})
}

// TestHiddenRecordFoundByCheck: an index that omits a record is bound to
// its segment, so a query trusts it and misses the record (the reason
// audit-sealer index check exists); the check names it.
func TestHiddenRecordFoundByCheck(t *testing.T) {
	plain, closed := largeLog(t, false)
	dir := largeCopy(t)
	f := query.Filter{Entity: "pool-7", Types: []string{"authz.denied"}}
	want, _ := all(t, plain, f)
	seg := closed[2]
	x, _ := index.Load(dir, seg.Name)
	ps := map[string][]index.Posting{}
	for _, k := range x.Keys() {
		ps[k] = x.Lookup(k)
	}
	hidden := ps["entity:pool-7"][5].Seq
	ps["entity:pool-7"] = slices.Delete(ps["entity:pool-7"], 5, 6)
	y, err := index.New(*x, ps)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(index.Path(dir, seg.Name))
	os.WriteFile(index.Path(dir, seg.Name), y.Encode(), 0o400)
	got, _ := all(t, dir, f)
	if len(got) != len(want)-1 || slices.ContainsFunc(got, func(m *query.Match) bool { return m.Seq == hidden }) {
		t.Fatalf("%d matches of %d: the test does not hide record %d", len(got), len(want), hidden)
	}
	res, ok, err := index.CheckAll(context.Background(), dir)
	if err != nil || ok {
		t.Fatalf("check: ok %v, %v", ok, err)
	}
	bad := slices.IndexFunc(res, func(r index.Result) bool { return r.Status != "ok" })
	if res[bad].Segment != seg.Name || res[bad].Status != "mismatch" || slices.ContainsFunc(res[bad+1:], func(r index.Result) bool { return r.Status != "ok" }) {
		t.Fatalf("check results %+v, want only %s mismatched", res, seg.Name)
	}
	if err := index.Check(context.Background(), dir, seg); !errors.Is(err, index.ErrMismatch) {
		t.Fatal(err)
	}
}

// TestBefore: a scan bounded by Before returns exactly the unbounded
// scan's matches before it, with and without indexes, for bounds inside a
// closed segment, at a segment's first record, inside the active segment
// and past the log; it stops reading there.
func TestBefore(t *testing.T) {
	plain, closed := largeLog(t, false)
	withIndex, _ := largeLog(t, true)
	f := query.Filter{Types: []string{"auth.*"}, Sealer: true}
	want, full := all(t, plain, f)
	if len(want) < 100 {
		t.Fatalf("%d matches; the comparison would prove little", len(want))
	}
	bounds := []uint64{1, closed[2].FirstSeq + 17, closed[4].FirstSeq, want[len(want)-3].Seq, full.SealedSize, full.SealedSize + 1, 1 << 40}
	for _, before := range bounds {
		var expect []*query.Match
		for _, m := range want {
			if m.Seq < before {
				expect = append(expect, m)
			}
		}
		for _, dir := range []string{plain, withIndex} {
			g := f
			g.Before = before
			got, info := all(t, dir, g)
			if !bytes.Equal(encoded(got), encoded(expect)) {
				t.Fatalf("before %d (%s): %d matches, want %d", before, filepath.Base(dir), len(got), len(expect))
			}
			if before <= closed[4].FirstSeq && info.RecordsRead >= full.RecordsRead/2 {
				t.Fatalf("before %d (%s): read %d records of %d; the scan did not stop", before, filepath.Base(dir), info.RecordsRead, full.RecordsRead)
			}
		}
	}
}

// rewriteIndex replaces the index of seg in dir by the one edit makes of
// it (header, leaves and postings), as a disk writer can.
func rewriteIndex(t *testing.T, dir string, seg storage.SegmentInfo, edit func(hdr *index.Index, ps map[string][]index.Posting)) {
	t.Helper()
	x, err := index.Load(dir, seg.Name)
	if err != nil {
		t.Fatal(err)
	}
	ps := map[string][]index.Posting{}
	for _, k := range x.Keys() {
		ps[k] = x.Lookup(k)
	}
	hdr := *x
	hdr.Leaves = slices.Clone(x.Leaves)
	edit(&hdr, ps)
	y, err := index.New(hdr, ps)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(index.Path(dir, seg.Name))
	if err := os.WriteFile(index.Path(dir, seg.Name), y.Encode(), 0o400); err != nil {
		t.Fatal(err)
	}
}

// TestRewrittenIndexAddsNothing: an index rewritten by someone without
// the key can hide records (the reason audit-sealer index check exists)
// but never add one or change one: postings added under the filter's key
// (to records that do not match, or to other frames), and changed leaf
// hashes (which then authenticate nothing: the segment is read in full),
// leave the result exactly the full read's.
func TestRewrittenIndexAddsNothing(t *testing.T) {
	plain, closed := largeLog(t, false)
	f := query.Filter{UserID: "customer-5"}
	want, _ := all(t, plain, f)
	seg := closed[3]
	for name, tc := range map[string]struct {
		edit       func(hdr *index.Index, ps map[string][]index.Posting)
		unindexed  int
		subsetOnly bool
	}{
		"postings added": {edit: func(_ *index.Index, ps map[string][]index.Posting) {
			// Every record of another user listed under customer-5.
			ps["user:customer-5"] = union(ps["user:customer-5"], ps["user:customer-6"])
		}},
		"leaf of a listed record changed": {unindexed: 1, edit: func(hdr *index.Index, ps map[string][]index.Posting) {
			p := ps["user:customer-5"][0]
			hdr.Leaves[p.Seq-hdr.FirstSeq][5] ^= 1
		}},
		"leaves of another segment": {unindexed: 1, edit: func(hdr *index.Index, _ map[string][]index.Posting) {
			other, err := index.Load(plain+"/../indexed", closed[4].Name)
			if err != nil {
				t.Fatal(err)
			}
			copy(hdr.Leaves, other.Leaves)
		}},
		"postings hidden": {subsetOnly: true, edit: func(_ *index.Index, ps map[string][]index.Posting) {
			ps["user:customer-5"] = ps["user:customer-5"][:1]
		}},
	} {
		t.Run(name, func(t *testing.T) {
			dir := largeCopy(t)
			rewriteIndex(t, dir, seg, tc.edit)
			got, info := all(t, dir, f)
			if tc.subsetOnly {
				for _, m := range got {
					if !slices.ContainsFunc(want, func(w *query.Match) bool { return bytes.Equal(encoded([]*query.Match{w}), encoded([]*query.Match{m})) }) {
						t.Fatalf("record %d returned, which a full read does not return", m.Seq)
					}
				}
				if len(got) >= len(want) {
					t.Fatalf("%d of %d: the test hides nothing", len(got), len(want))
				}
				return
			}
			if !bytes.Equal(encoded(got), encoded(want)) {
				t.Fatalf("%d matches, the full read has %d", len(got), len(want))
			}
			if info.UnindexedSegments != tc.unindexed || tc.unindexed > 0 && info.IndexProblem == "" {
				t.Fatalf("info %+v", info)
			}
			t.Logf("%s", info.IndexProblem)
		})
	}
}

// union returns the postings of a and b in sequence order, once each.
func union(a, b []index.Posting) []index.Posting {
	out := append(slices.Clone(a), b...)
	slices.SortFunc(out, func(x, y index.Posting) int { return int(x.Seq) - int(y.Seq) })
	return slices.CompactFunc(out, func(x, y index.Posting) bool { return x.Seq == y.Seq })
}

// TestChangedClosedSegmentThroughIndex: a record of a closed segment
// changed on disk (its frame checksum fixed), whether it keeps its old
// stored hash under the index built before, or is rehashed and the index
// rebuilt to match, fails a query that reads it through the index with
// the verifier's reason code, and the changed record is never returned:
// what is returned is each the genuine record (a record read through the
// index is handed out only once it hashes to its leaf, authenticated by
// the segment's signed checkpoint).
func TestChangedClosedSegmentThroughIndex(t *testing.T) {
	plain, closed := largeLog(t, false)
	seg := closed[2]
	f := query.Filter{Entity: "pool-7", Types: []string{"authz.denied"}}
	want, _ := all(t, plain, f)
	for _, tc := range []struct {
		name    string
		rehash  bool
		rebuild bool
		want    verify.Reason
	}{
		{"old hash, index of before", false, false, verify.ReasonModified},
		{"rehashed, index rebuilt", true, true, verify.ReasonChainBroken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := largeCopy(t)
			x, err := index.Load(dir, seg.Name)
			if err != nil {
				t.Fatal(err)
			}
			target := x.Lookup("entity:pool-7")[3].Seq
			err = testkit.EditRecord(dir, target, tc.rehash, func(rec *chain.Record) {
				rec.Event = bytes.Replace(rec.Event, []byte(`"delete"`), []byte(`"create"`), 1)
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.rebuild {
				os.Remove(index.Path(dir, seg.Name))
				y, err := index.Build(context.Background(), filepath.Join(dir, seg.Name))
				if err != nil {
					t.Fatal(err)
				}
				if err := index.Write(dir, y); err != nil {
					t.Fatal(err)
				}
			}
			var got []*query.Match
			_, err = query.Scan(context.Background(), dir, mainTrust, f, func(m *query.Match) error { got = append(got, m); return nil })
			var te *verify.TamperError
			if !errors.As(err, &te) || te.Failure.Reason != tc.want || te.Failure.Segment != seg.Name {
				t.Fatalf("%v, want %s in %s", err, tc.want, seg.Name)
			}
			for i, m := range got {
				if m.Seq >= target || !bytes.Equal(encoded(got[i:i+1]), encoded(want[i:i+1])) {
					t.Fatalf("returned record %d, which is not the genuine one, or comes at or after the changed record %d", m.Seq, target)
				}
			}
			t.Logf("%d genuine records before it; %v", len(got), err)
		})
	}
}

// TestVersion1IndexIgnored: an index of version 1 (no leaf hashes) is
// treated as missing: its segment is read in full, without a warning, and
// index.Update rewrites it, after which the query uses it again.
func TestVersion1IndexIgnored(t *testing.T) {
	plain, closed := largeLog(t, false)
	dir := largeCopy(t)
	f := query.Filter{UserID: "customer-5"}
	want, _ := all(t, plain, f)
	seg := closed[1]
	x, err := index.Load(dir, seg.Name)
	if err != nil {
		t.Fatal(err)
	}
	b := x.Encode()
	b = b[:len(b)-4-len(x.Leaves)*chain.HashSize]
	binary.BigEndian.PutUint32(b[8:12], 1)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	os.Remove(index.Path(dir, seg.Name))
	if err := os.WriteFile(index.Path(dir, seg.Name), b, 0o400); err != nil {
		t.Fatal(err)
	}
	got, info := all(t, dir, f)
	if !bytes.Equal(encoded(got), encoded(want)) || info.UnindexedSegments != 1 || info.IndexProblem != "" {
		t.Fatalf("with a version 1 index: %d of %d matches, %+v", len(got), len(want), info)
	}
	res, err := index.Update(context.Background(), dir, false)
	if err != nil || res[1].Status != "built" {
		t.Fatalf("update: %+v, %v", res, err)
	}
	got, info = all(t, dir, f)
	if !bytes.Equal(encoded(got), encoded(want)) || info.UnindexedSegments != 0 || info.IndexedSegments != len(closed) {
		t.Fatalf("after the update: %d of %d matches, %+v", len(got), len(want), info)
	}
}
