package index_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/storage"
)

// smallLog builds a log of a few segments with every closed one indexed.
func smallLog(t testing.TB) (string, []storage.SegmentInfo) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := testkit.BuildQueryLog(dir, 3000, 64<<10); err != nil {
		t.Fatal(err)
	}
	res, err := index.Update(context.Background(), dir, false)
	if err != nil {
		t.Fatal(err)
	}
	closed, _ := index.Closed(dir)
	if len(closed) < 3 || len(res) != len(closed) {
		t.Fatalf("%d closed segments, %d results: want at least 3 segments, each indexed", len(closed), len(res))
	}
	return dir, closed
}

// postingsOf reads the segment at path end to end and lists each record
// under each of its keys, as an index must: the reference the tests compare
// built indexes with.
func postingsOf(t *testing.T, path string) map[string][]index.Posting {
	t.Helper()
	want := map[string][]index.Posting{}
	err := testkit.SegmentRecords(path, false, func(rec chain.Record, off int64) bool {
		for _, k := range index.Keys(&rec) {
			want[k] = append(want[k], index.Posting{Seq: rec.Seq, Offset: off})
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// TestIndexListsEveryRecord: every event record of a segment is listed
// under each of its keys, at its frame's offset, and under no other key.
func TestIndexListsEveryRecord(t *testing.T) {
	dir, closed := smallLog(t)
	for _, s := range closed {
		x, err := index.Usable(dir, s)
		if err != nil {
			t.Fatal(err)
		}
		want := postingsOf(t, filepath.Join(dir, s.Name))
		if got := x.Keys(); !slices.Equal(got, sortedKeys(want)) {
			t.Fatalf("%s: keys %v, want %v", s.Name, got, sortedKeys(want))
		}
		for k, ps := range want {
			if got := x.Lookup(k); !slices.Equal(got, ps) {
				t.Fatalf("%s: key %s lists %v, want %v", s.Name, k, got, ps)
			}
		}
		if len(want["user:admin@example.com"]) == 0 || len(want["entity:pool-7"]) == 0 {
			t.Fatalf("%s: the mix has no admin or pool-7 records", s.Name)
		}
		// One leaf hash per record, in order: the record hash's.
		var leaves []chain.Hash
		testkit.SegmentRecords(filepath.Join(dir, s.Name), false, func(rec chain.Record, _ int64) bool {
			leaves = append(leaves, chain.LeafHash(rec.Hash))
			return true
		})
		if !slices.Equal(x.Leaves, leaves) || uint64(len(leaves)) != x.Records {
			t.Fatalf("%s: %d leaf hashes for %d records, or not the records'", s.Name, len(x.Leaves), len(leaves))
		}
		if err := index.Check(context.Background(), dir, s); err != nil {
			t.Fatalf("%s: check of a fresh index: %v", s.Name, err)
		}
	}
}

func sortedKeys(m map[string][]index.Posting) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// withPostings rewrites the index of seg with edit applied to its postings.
func withPostings(t *testing.T, dir string, seg storage.SegmentInfo, edit func(hdr *index.Index, ps map[string][]index.Posting)) {
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
	edit(&hdr, ps)
	y, err := index.New(hdr, ps)
	if err != nil {
		t.Fatal(err)
	}
	// Written in place of seg's index, whatever segment it names.
	os.Remove(index.Path(dir, seg.Name))
	if err := os.WriteFile(index.Path(dir, seg.Name), y.Encode(), 0o400); err != nil {
		t.Fatal(err)
	}
}

// TestCheckFindsOmission: an index that hides one record is still bound to
// its segment (a query would use it), and Check names the record.
func TestCheckFindsOmission(t *testing.T) {
	dir, closed := smallLog(t)
	seg := closed[1]
	var hidden uint64
	withPostings(t, dir, seg, func(_ *index.Index, ps map[string][]index.Posting) {
		l := ps["user:admin@example.com"]
		hidden = l[len(l)/2].Seq
		ps["user:admin@example.com"] = slices.Delete(l, len(l)/2, len(l)/2+1)
	})
	if _, err := index.Usable(dir, seg); err != nil {
		t.Fatalf("the tampered index should still be bound to its segment: %v", err)
	}
	err := index.Check(context.Background(), dir, seg)
	if !errors.Is(err, index.ErrMismatch) || !strings.Contains(err.Error(), "user:admin@example.com") {
		t.Fatalf("check: %v, want a mismatch naming the key", err)
	}
	res, ok, err := index.CheckAll(context.Background(), dir)
	if err != nil || ok {
		t.Fatalf("CheckAll: ok %v, %v", ok, err)
	}
	for _, r := range res {
		if want := map[bool]string{true: "mismatch", false: "ok"}[r.Segment == seg.Name]; r.Status != want {
			t.Fatalf("CheckAll: %s is %s, want %s", r.Segment, r.Status, want)
		}
	}
	t.Logf("hid record %d: %v", hidden, err)
	// An index listing a record under a key it does not hold is found too.
	withPostings(t, dir, seg, func(_ *index.Index, ps map[string][]index.Posting) {
		ps["user:nobody"] = ps["type:auth.success"][:1]
	})
	if err := index.Check(context.Background(), dir, seg); !errors.Is(err, index.ErrMismatch) {
		t.Fatalf("check of an index with an extra key: %v", err)
	}
}

// TestCheckFindsChangedLeaf: an index whose leaf hash of one record is
// not the record's is still bound to its segment (Bind does not read the
// leaves; a reader checks them against the segment's checkpoint), and
// Check names the record.
func TestCheckFindsChangedLeaf(t *testing.T) {
	dir, closed := smallLog(t)
	seg := closed[1]
	withPostings(t, dir, seg, func(hdr *index.Index, _ map[string][]index.Posting) {
		hdr.Leaves = slices.Clone(hdr.Leaves)
		hdr.Leaves[7][0] ^= 1
	})
	if _, err := index.Usable(dir, seg); err != nil {
		t.Fatalf("the changed index should still be bound to its segment: %v", err)
	}
	err := index.Check(context.Background(), dir, seg)
	if want := fmt.Sprintf("leaf hash of record %d", seg.FirstSeq+7); !errors.Is(err, index.ErrMismatch) || !strings.Contains(err.Error(), want) {
		t.Fatalf("check: %v, want a mismatch naming %q", err, want)
	}
}

// encodeV1 returns x as a file of index version 1: no leaf hashes.
func encodeV1(x *index.Index) []byte {
	b := x.Encode()
	b = b[:len(b)-4-len(x.Leaves)*chain.HashSize]
	binary.BigEndian.PutUint32(b[8:12], 1)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// TestVersion1Outdated: an index file of version 1 (no leaf hashes) is
// outdated: readers treat it as missing, CheckAll lists it as outdated,
// and Update rewrites it as version 2.
func TestVersion1Outdated(t *testing.T) {
	dir, closed := smallLog(t)
	seg := closed[0]
	good, _ := os.ReadFile(index.Path(dir, seg.Name))
	x, err := index.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(index.Path(dir, seg.Name))
	if err := os.WriteFile(index.Path(dir, seg.Name), encodeV1(x), 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := index.Usable(dir, seg); !errors.Is(err, index.ErrOutdated) || errors.Is(err, index.ErrMalformed) {
		t.Fatalf("Usable of a version 1 index: %v, want ErrOutdated", err)
	}
	res, ok, err := index.CheckAll(context.Background(), dir)
	if err != nil || ok || res[0].Status != "outdated" {
		t.Fatalf("CheckAll: %+v, ok %v, %v", res, ok, err)
	}
	if res, err := index.Update(context.Background(), dir, false); err != nil || res[0].Status != "built" || res[1].Status != "ok" {
		t.Fatalf("Update: %+v, %v", res, err)
	}
	if b, _ := os.ReadFile(index.Path(dir, seg.Name)); !bytes.Equal(b, good) {
		t.Fatal("Update did not rewrite the version 1 index as version 2")
	}
}

// TestStaleAndMalformed: an index that does not describe its segment as it
// is, or that is damaged, is refused with the error that says which.
func TestStaleAndMalformed(t *testing.T) {
	dir, closed := smallLog(t)
	seg := closed[0]
	good, _ := os.ReadFile(index.Path(dir, seg.Name))
	restore := func() {
		os.Remove(index.Path(dir, seg.Name))
		if err := os.WriteFile(index.Path(dir, seg.Name), good, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stale := map[string]func(hdr *index.Index, ps map[string][]index.Posting){
		"size":      func(h *index.Index, _ map[string][]index.Posting) { h.Size++ },
		"last hash": func(h *index.Index, _ map[string][]index.Posting) { h.LastHash[0] ^= 1 },
		"records":   func(h *index.Index, _ map[string][]index.Posting) { h.Records++ },
		"name":      func(h *index.Index, _ map[string][]index.Posting) { h.Segment = closed[1].Name },
		"last offset": func(h *index.Index, ps map[string][]index.Posting) {
			h.LastOffset = 0 // a good frame (an event's), but not the last one
			for _, l := range ps {
				h.LastOffset = max(h.LastOffset, l[len(l)-1].Offset)
			}
		},
	}
	for name, edit := range stale {
		restore()
		withPostings(t, dir, seg, edit)
		if _, err := index.Usable(dir, seg); !errors.Is(err, index.ErrStale) {
			t.Errorf("%s: %v, want ErrStale", name, err)
		}
	}
	damaged := map[string][]byte{
		"truncated":    good[:len(good)/2],
		"flipped byte": append(append([]byte(nil), good[:40]...), append([]byte{good[40] ^ 0x10}, good[41:]...)...),
		"empty":        {},
		"other magic":  append([]byte("ASEALSEG"), good[8:]...),
	}
	for name, b := range damaged {
		os.Remove(index.Path(dir, seg.Name))
		os.WriteFile(index.Path(dir, seg.Name), b, 0o600)
		if _, err := index.Usable(dir, seg); !errors.Is(err, index.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	os.Remove(index.Path(dir, seg.Name))
	if _, err := index.Usable(dir, seg); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v, want fs.ErrNotExist", err)
	}
	// Update writes what is missing and leaves good indexes alone.
	res, err := index.Update(context.Background(), dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != "built" || res[1].Status != "ok" {
		t.Fatalf("update: %+v", res)
	}
	if b, _ := os.ReadFile(index.Path(dir, seg.Name)); !bytes.Equal(b, good) {
		t.Fatal("the rebuilt index differs from the first one: building is not deterministic")
	}
	if fi, _ := os.Stat(index.Path(dir, seg.Name)); fi.Mode().Perm() != 0o400 {
		t.Fatalf("index file mode %v, want 0400", fi.Mode().Perm())
	}
	// An index whose segment is gone is removed; other files are not.
	orphan, other := filepath.Join(dir, "00000000deadbeef.idx"), filepath.Join(dir, "notes.idx")
	os.WriteFile(orphan, good, 0o400)
	os.WriteFile(other, good, 0o400)
	if _, err := index.Update(context.Background(), dir, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphan); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("orphan index: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("a file that is not an index was removed: %v", err)
	}
}

// FuzzParse: Parse never panics, and whatever it accepts encodes back to
// the same bytes (one encoding per index) and answers lookups.
func FuzzParse(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "data")
	if _, err := testkit.BuildQueryLog(dir, 200, 8<<10); err != nil {
		f.Fatal(err)
	}
	closed, _ := index.Closed(dir)
	x, err := index.Build(context.Background(), filepath.Join(dir, closed[0].Name))
	if err != nil {
		f.Fatal(err)
	}
	good := x.Encode()
	f.Add(good)
	small, _ := index.New(index.Index{Segment: "0000000000000000.seg", Records: 3, Size: 400, LastOffset: 300},
		map[string][]index.Posting{"type:auth.success": {{Seq: 1, Offset: 100}, {Seq: 2, Offset: 200}}, "user:a": {{Seq: 2, Offset: 200}}})
	f.Add(small.Encode())
	f.Add(good[:len(good)-1])
	f.Add(encodeV1(x))
	f.Add([]byte("ASEALIDX"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parse(t, b)
		// Most mutations break the checksum; the same bytes with a good
		// checksum reach the rest of the parser.
		if len(b) >= 4 {
			fixed := append([]byte(nil), b[:len(b)-4]...)
			parse(t, binary.BigEndian.AppendUint32(fixed, crc32.Checksum(fixed, crc32.MakeTable(crc32.Castagnoli))))
		}
	})
}

// parse checks one input of FuzzParse.
func parse(t *testing.T, b []byte) {
	x, err := index.Parse(b)
	if err != nil {
		if !errors.Is(err, index.ErrMalformed) && !errors.Is(err, index.ErrOutdated) {
			t.Fatalf("error %v matches neither ErrMalformed nor ErrOutdated", err)
		}
		return
	}
	if !bytes.Equal(x.Encode(), b) {
		t.Fatal("an accepted file does not encode back to the same bytes")
	}
	if uint64(len(x.Leaves)) != x.Records {
		t.Fatalf("%d leaf hashes for %d records", len(x.Leaves), x.Records)
	}
	// Parse checks the key table; Lookup checks each list of postings: a
	// list it returns lies inside the segment, in order, and one it
	// refuses marks the index damaged.
	for _, k := range x.Keys() {
		ps := x.Lookup(k)
		if ps == nil {
			if x.Err() == nil || !errors.Is(x.Err(), index.ErrMalformed) {
				t.Fatalf("key %s: no postings, and the index does not say it is damaged (%v)", k, x.Err())
			}
			continue
		}
		if ps[0].Seq < x.FirstSeq || ps[len(ps)-1].Offset > x.LastOffset || ps[len(ps)-1].Seq >= x.FirstSeq+x.Records {
			t.Fatalf("key %s: postings %v outside the segment", k, ps)
		}
		for i := 1; i < len(ps); i++ {
			if ps[i].Seq <= ps[i-1].Seq || ps[i].Offset <= ps[i-1].Offset {
				t.Fatalf("key %s: postings %v out of order", k, ps)
			}
		}
	}
}

// TestMalformedPostingsFoundOnLookup: a list of postings that leaves the
// segment is accepted by Parse (which checks the key table only), and
// refused by Lookup, which marks the index damaged; other keys still read.
func TestMalformedPostingsFoundOnLookup(t *testing.T) {
	x, err := index.New(index.Index{Segment: "0000000000000000.seg", Records: 3, Size: 400, LastOffset: 300},
		map[string][]index.Posting{"type:auth.success": {{Seq: 1, Offset: 100}, {Seq: 2, Offset: 350}}, "user:a": {{Seq: 2, Offset: 200}}})
	if err != nil {
		t.Fatal(err)
	}
	if ps := x.Lookup("user:a"); len(ps) != 1 || x.Err() != nil {
		t.Fatalf("a good list: %v, %v", ps, x.Err())
	}
	if ps := x.Lookup("type:auth.success"); ps != nil || !errors.Is(x.Err(), index.ErrMalformed) {
		t.Fatalf("a posting past the last frame: %v, damaged %v", ps, x.Err())
	}
}

// TestBuildManyKeys: on a segment of thousands of keys (two new ones a
// record, so that Build's key table grows many times), Build lists every
// record under exactly its Keys.
func TestBuildManyKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := testkit.BuildLargeLog(dir, 3000, 1<<30); err != nil {
		t.Fatal(err)
	}
	segs, err := storage.ListSegments(dir)
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments %v, %v: want one", segs, err)
	}
	path := filepath.Join(dir, segs[0].Name)
	x, err := index.Build(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	want := postingsOf(t, path)
	if len(want) < 6000 {
		t.Fatalf("%d keys, want at least 6000", len(want))
	}
	if got := x.Keys(); !slices.Equal(got, sortedKeys(want)) {
		t.Fatalf("%d keys, want %d", len(got), len(want))
	}
	for k, ps := range want {
		if got := x.Lookup(k); !slices.Equal(got, ps) {
			t.Fatalf("key %s lists %v, want %v", k, got, ps)
		}
	}
	if _, err := index.Parse(x.Encode()); err != nil {
		t.Fatal(err)
	}
}

// TestWriteToFailure: WriteTo writes the index in pieces no larger than
// its buffer, and stops at the first write that fails, returning that
// error and the bytes the writer took.
func TestWriteToFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := testkit.BuildLargeLog(dir, 3000, 1<<30); err != nil {
		t.Fatal(err)
	}
	segs, err := storage.ListSegments(dir)
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments %v, %v: want one", segs, err)
	}
	x, err := index.Build(context.Background(), filepath.Join(dir, segs[0].Name))
	if err != nil {
		t.Fatal(err)
	}
	whole := x.Encode()
	if len(whole) < 4*64<<10 {
		t.Fatalf("index of %d bytes: too small to be written in several pieces", len(whole))
	}
	w := &failingWriter{room: len(whole) / 2}
	n, err := x.WriteTo(w)
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("WriteTo: %v, want the writer's error", err)
	}
	if n != int64(w.buf.Len()) || n > int64(len(whole)/2) || !bytes.Equal(w.buf.Bytes(), whole[:n]) {
		t.Fatalf("WriteTo reported %d bytes, the writer took %d (of room %d), want the first bytes of the file", n, w.buf.Len(), w.room)
	}
	if w.largest > 64<<10 {
		t.Fatalf("a write of %d bytes, want at most the 64 KiB buffer", w.largest)
	}
}

var errDiskFull = errors.New("disk full")

// failingWriter takes room bytes, then fails.
type failingWriter struct {
	buf     bytes.Buffer
	room    int
	largest int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.largest = max(w.largest, len(p))
	if left := w.room - w.buf.Len(); len(p) > left {
		w.buf.Write(p[:left])
		return left, errDiskFull
	}
	return w.buf.Write(p)
}

// TestUpdateRemovesStaleTempFiles: a temporary index file older than an
// hour (a crash during Write) is removed by Update; a recent one (a Write
// in progress) and files of other names are left alone.
func TestUpdateRemovesStaleTempFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := testkit.BuildQueryLog(dir, 300, 8<<10); err != nil {
		t.Fatal(err)
	}
	closed, err := index.Closed(dir)
	if err != nil || len(closed) == 0 {
		t.Fatalf("closed segments: %v, %v", closed, err)
	}
	name := index.FileName(closed[0].Name)
	old := filepath.Join(dir, "."+name+".123456.tmp")
	fresh := filepath.Join(dir, "."+name+".654321.tmp")
	other := filepath.Join(dir, ".notes.tmp")
	for _, p := range []string{old, fresh, other} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * time.Hour)
	for _, p := range []string{old, other} {
		if err := os.Chtimes(p, long, long); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := index.Update(context.Background(), dir, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a stale temporary index file survived: %v", err)
	}
	for _, p := range []string{fresh, other} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s was removed: %v", filepath.Base(p), err)
		}
	}
}

// TestLoadRefusesPlantedFile: an index file larger than any index of its
// segment can be (a sparse gigabyte) is refused before it is read, and a
// symbolic link is never followed; Update replaces either with the index
// built from the segment.
func TestLoadRefusesPlantedFile(t *testing.T) {
	dir, closed := smallLog(t)
	seg := closed[0]
	path := index.Path(dir, seg.Name)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	os.Remove(path)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := index.Load(dir, seg.Name); !errors.Is(err, index.ErrMalformed) || !errors.Is(err, storage.ErrTooLarge) {
		t.Fatalf("Load of a sparse 1 GiB index: %v, want ErrMalformed and storage.ErrTooLarge", err)
	}
	if _, err := index.Usable(dir, seg); !errors.Is(err, storage.ErrTooLarge) {
		t.Fatalf("Usable with a sparse 1 GiB index: %v, want storage.ErrTooLarge", err)
	}
	if res, err := index.Update(context.Background(), dir, false); err != nil || res[0].Status != "built" {
		t.Fatalf("Update over a sparse 1 GiB index: %+v, %v", res, err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, good) {
		t.Fatal("Update did not rebuild the index")
	}

	outside := filepath.Join(t.TempDir(), "outside.idx")
	if err := os.WriteFile(outside, good, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	if err := os.Symlink(outside, path); err != nil {
		t.Fatal(err)
	}
	if _, err := index.Load(dir, seg.Name); !errors.Is(err, storage.ErrNotRegular) {
		t.Fatalf("Load of a symlinked index: %v, want storage.ErrNotRegular", err)
	}
	if res, err := index.Update(context.Background(), dir, false); err != nil || res[0].Status != "built" {
		t.Fatalf("Update over a symlinked index: %+v, %v", res, err)
	}
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("after Update the index is %v (%v), want a regular file", fi.Mode(), err)
	}
	if b, err := os.ReadFile(outside); err != nil || !bytes.Equal(b, good) {
		t.Fatalf("the link's target changed: %v", err)
	}
}

// TestIndexSizeBound: the index of a segment built to give as many keys
// per byte as it can (events of nothing but short, distinct "*_id"
// members) stays within the bound Load enforces, 4 × the segment's size
// plus 4096 bytes, and loads.
func TestIndexSizeBound(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var payloads [][]byte
	id := 0
	short := func() string { // distinct values of 1 to 3 bytes
		id++
		const digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		var b []byte
		for n := id; n > 0; n /= len(digits) {
			b = append(b, digits[n%len(digits)])
		}
		return string(b)
	}
	for seq := uint64(0); seq < 300; seq++ {
		var js strings.Builder
		js.WriteByte('{')
		for m := range 200 {
			if m > 0 {
				js.WriteByte(',')
			}
			fmt.Fprintf(&js, `"%c%c_id":"%s"`, 'a'+m/26, 'a'+m%26, short())
		}
		js.WriteByte('}')
		rec := chain.Record{Kind: chain.KindEvent, Seq: seq, Service: []byte(short()), AuditID: []byte("x"), Type: []byte(short()), Event: []byte(js.String())}
		p, err := rec.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, p)
	}
	l, err := storage.Create(dir, storage.Options{}, 0, payloads[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range payloads[1:] {
		if err := l.Append(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := storage.ListSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	x, err := index.Build(context.Background(), filepath.Join(dir, segs[0].Name))
	if err != nil {
		t.Fatal(err)
	}
	size, max := int64(len(x.Encode())), 4*segs[0].Size+4096
	t.Logf("segment %d bytes, index %d bytes (%.2f×), bound %d", segs[0].Size, size, float64(size)/float64(segs[0].Size), max)
	if size > max {
		t.Fatalf("an index of %d bytes for a segment of %d: over the bound %d", size, segs[0].Size, max)
	}
	if err := index.Write(dir, x); err != nil {
		t.Fatal(err)
	}
	if _, err := index.Load(dir, segs[0].Name); err != nil {
		t.Fatalf("Load of a legitimate index: %v", err)
	}
}
