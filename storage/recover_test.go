package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is a closed log of 10 frames per segment, for damage tests.
type fixture struct {
	dir      string
	payloads [][]byte // every payload, in order
	segs     []string // segment names
	perSeg   int      // frames per segment
}

func newFixture(t *testing.T, segments int) *fixture {
	t.Helper()
	fx := &fixture{dir: newDir(t), perSeg: 10}
	seq := uint64(1)
	next := func() []byte {
		p := testPayload(seq, 50+int(seq*37)%450)
		fx.payloads = append(fx.payloads, p)
		seq++
		return p
	}
	l, err := Create(fx.dir, Options{}, seq, next())
	if err != nil {
		t.Fatal(err)
	}
	fx.segs = append(fx.segs, l.Segment())
	for s := 0; s < segments; s++ {
		if s > 0 {
			if err := l.Rotate(seq, next()); err != nil {
				t.Fatal(err)
			}
			fx.segs = append(fx.segs, l.Segment())
		}
		for i := 1; i < fx.perSeg; i++ {
			if err := l.Append(next()); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return fx
}

func (fx *fixture) path(i int) string { return filepath.Join(fx.dir, fx.segs[i]) }
func (fx *fixture) last() int         { return len(fx.segs) - 1 }

// read returns the bytes of segment i and the offsets of its frames.
func (fx *fixture) read(t *testing.T, i int) (b []byte, offs []int64) {
	t.Helper()
	offs, _ = frameOffsets(t, fx.path(i))
	b, err := os.ReadFile(fx.path(i))
	if err != nil {
		t.Fatal(err)
	}
	return b, offs
}

// write replaces segment i with b, keeping its mode.
func (fx *fixture) write(t *testing.T, i int, b []byte) {
	t.Helper()
	mode := fileMode(t, fx.path(i))
	if err := os.Chmod(fx.path(i), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fx.path(i), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(fx.path(i), mode); err != nil {
		t.Fatal(err)
	}
}

// tornCase damages the fixture and says what Open must do about it.
type tornCase struct {
	name     string
	segments int
	// damage changes the files and returns the expected Recovery (nil if
	// none), the bytes expected in KeptAs and the number of payloads that
	// survive.
	damage func(t *testing.T, fx *fixture) (want *Recovery, kept []byte, good int)
}

// cutLast truncates the last segment to the offset of its last frame plus
// n and expects that frame to be cut.
func cutLast(n int64) func(t *testing.T, fx *fixture) (*Recovery, []byte, int) {
	return func(t *testing.T, fx *fixture) (*Recovery, []byte, int) {
		b, offs := fx.read(t, fx.last())
		o := offs[len(offs)-1]
		fx.write(t, fx.last(), b[:o+n])
		return &Recovery{Segment: fx.segs[fx.last()], Offset: o, Bytes: n, KeptAs: fx.segs[fx.last()] + ".broken"},
			b[o : o+n], len(fx.payloads) - 1
	}
}

var tornCases = []tornCase{
	{name: "cut inside the header of the last frame", segments: 1, damage: cutLast(5)},
	{name: "cut right after the header of the last frame", segments: 1, damage: cutLast(8)},
	{name: "cut inside the payload of the last frame", segments: 2, damage: cutLast(8 + 3)},
	{name: "cut one byte before the end", segments: 1, damage: func(t *testing.T, fx *fixture) (*Recovery, []byte, int) {
		b, offs := fx.read(t, fx.last())
		return cutLast(int64(len(b))-offs[len(offs)-1]-1)(t, fx)
	}},
	{name: "zeros after the last frame", segments: 1, damage: func(t *testing.T, fx *fixture) (*Recovery, []byte, int) {
		b, _ := fx.read(t, fx.last())
		zeros := make([]byte, 5000)
		fx.write(t, fx.last(), append(b, zeros...))
		return &Recovery{Segment: fx.segs[0], Offset: int64(len(b)), Bytes: 5000, KeptAs: fx.segs[0] + ".broken"}, zeros, len(fx.payloads)
	}},
	{name: "three zero bytes after the last frame", segments: 1, damage: func(t *testing.T, fx *fixture) (*Recovery, []byte, int) {
		b, _ := fx.read(t, fx.last())
		fx.write(t, fx.last(), append(b, 0, 0, 0))
		return &Recovery{Segment: fx.segs[0], Offset: int64(len(b)), Bytes: 3, KeptAs: fx.segs[0] + ".broken"}, []byte{0, 0, 0}, len(fx.payloads)
	}},
	{name: "last two frames zeroed", segments: 2, damage: func(t *testing.T, fx *fixture) (*Recovery, []byte, int) {
		b, offs := fx.read(t, fx.last())
		o := offs[len(offs)-2]
		clear(b[o:])
		fx.write(t, fx.last(), b)
		return &Recovery{Segment: fx.segs[1], Offset: o, Bytes: int64(len(b)) - o, KeptAs: fx.segs[1] + ".broken"}, b[o:], len(fx.payloads) - 2
	}},
	{name: "bad checksum of the last frame ending at EOF", segments: 1, damage: func(t *testing.T, fx *fixture) (*Recovery, []byte, int) {
		b, offs := fx.read(t, fx.last())
		o := offs[len(offs)-1]
		b[len(b)-1] ^= 0x40
		fx.write(t, fx.last(), b)
		return &Recovery{Segment: fx.segs[0], Offset: o, Bytes: int64(len(b)) - o, KeptAs: fx.segs[0] + ".broken"}, b[o:], len(fx.payloads) - 1
	}},
	{name: "bad CRC field of the last frame", segments: 1, damage: func(t *testing.T, fx *fixture) (*Recovery, []byte, int) {
		b, offs := fx.read(t, fx.last())
		o := offs[len(offs)-1]
		b[o+5] ^= 0x01
		fx.write(t, fx.last(), b)
		return &Recovery{Segment: fx.segs[0], Offset: o, Bytes: int64(len(b)) - o, KeptAs: fx.segs[0] + ".broken"}, b[o:], len(fx.payloads) - 1
	}},
	{name: "earlier .broken files are kept", segments: 1, damage: func(t *testing.T, fx *fixture) (*Recovery, []byte, int) {
		for _, n := range []string{".broken", ".1.broken"} {
			if err := os.WriteFile(fx.path(0)+n, []byte("older"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		want, kept, good := cutLast(6)(t, fx)
		want.KeptAs = fx.segs[0] + ".2.broken"
		return want, kept, good
	}},
	{name: "torn segment header", segments: 2, damage: func(t *testing.T, fx *fixture) (*Recovery, []byte, int) {
		b, _ := fx.read(t, 1)
		fx.write(t, 1, b[:7])
		return &Recovery{Segment: fx.segs[1], Offset: 0, Bytes: 7, KeptAs: fx.segs[1] + ".broken", Removed: true}, b[:7], fx.perSeg
	}},
	{name: "empty new segment", segments: 2, damage: func(t *testing.T, fx *fixture) (*Recovery, []byte, int) {
		fx.write(t, 1, nil)
		// Nothing to keep: no file.
		return &Recovery{Segment: fx.segs[1], Offset: 0, Bytes: 0, KeptAs: "", Removed: true}, nil, fx.perSeg
	}},
	{name: "new segment with a torn first frame", segments: 2, damage: func(t *testing.T, fx *fixture) (*Recovery, []byte, int) {
		b, _ := fx.read(t, 1)
		fx.write(t, 1, b[:headerSize+20])
		return &Recovery{Segment: fx.segs[1], Offset: 0, Bytes: headerSize + 20, KeptAs: fx.segs[1] + ".broken", Removed: true}, b[:headerSize+20], fx.perSeg
	}},
	{name: "new segment of zeros", segments: 2, damage: func(t *testing.T, fx *fixture) (*Recovery, []byte, int) {
		zeros := make([]byte, 600)
		fx.write(t, 1, zeros)
		return &Recovery{Segment: fx.segs[1], Offset: 0, Bytes: 600, KeptAs: fx.segs[1] + ".broken", Removed: true}, zeros, fx.perSeg
	}},
	{name: "cut exactly at a frame boundary is not detectable here", segments: 1, damage: func(t *testing.T, fx *fixture) (*Recovery, []byte, int) {
		b, offs := fx.read(t, fx.last())
		fx.write(t, fx.last(), b[:offs[len(offs)-1]])
		return nil, nil, len(fx.payloads) - 1
	}},
}

func TestTornTail(t *testing.T) {
	for _, tc := range tornCases {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, tc.segments)
			want, kept, good := tc.damage(t, fx)

			l, rec, err := Open(fx.dir, Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer l.Close()
			if (rec == nil) != (want == nil) {
				t.Fatalf("Recovery = %+v, want %+v", rec, want)
			}
			if want != nil {
				got := *rec
				got.Notes = nil
				if got.Segment != want.Segment || got.Offset != want.Offset || got.Bytes != want.Bytes ||
					got.KeptAs != want.KeptAs || got.Removed != want.Removed {
					t.Fatalf("Recovery = %+v, want %+v", got, *want)
				}
				if rec.KeptAs == "" {
					if broken := brokenFiles(t, fx.dir); len(broken) != 0 {
						t.Fatalf("nothing was kept, yet there are %q", broken)
					}
				} else {
					b, err := os.ReadFile(filepath.Join(fx.dir, rec.KeptAs))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(b, kept) {
						t.Fatalf("%s holds %d bytes %x, want %d bytes %x", rec.KeptAs, len(b), b, len(kept), kept)
					}
					if m := fileMode(t, filepath.Join(fx.dir, rec.KeptAs)); m != 0o600 {
						t.Errorf("%s has mode %#o, want 0600", rec.KeptAs, m)
					}
				}
				path := filepath.Join(fx.dir, rec.Segment)
				if want.Removed {
					if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
						t.Fatalf("segment %s not removed: %v", rec.Segment, err)
					}
					if l.Segment() != fx.segs[fx.last()-1] {
						t.Fatalf("current segment %s, want %s", l.Segment(), fx.segs[fx.last()-1])
					}
					if len(rec.Notes) != 1 || !strings.Contains(rec.Notes[0], "writable") {
						t.Errorf("notes %q, want one about making %s writable", rec.Notes, l.Segment())
					}
				} else if fi, err := os.Stat(path); err != nil || fi.Size() != want.Offset {
					t.Fatalf("segment %s: size %v (%v), want %d", rec.Segment, fi.Size(), err, want.Offset)
				}
				if !strings.Contains(rec.String(), rec.KeptAs) {
					t.Errorf("Recovery.String() = %q does not name %s", rec.String(), rec.KeptAs)
				}
			}
			if m := fileMode(t, filepath.Join(fx.dir, l.Segment())); m != 0o600 {
				t.Errorf("current segment mode %#o, want 0600", m)
			}

			// A Reader sees exactly the good payloads.
			wantPayloads := fx.payloads[:good]
			equalPayloads(t, readAll(t, fx.dir), wantPayloads)

			// Appending works and lands after them.
			after := testPayload(uint64(good+1), 123)
			if err := l.Append(after); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			equalPayloads(t, readAll(t, fx.dir), append(wantPayloads[:good:good], after))

			// The repair is complete: a second Open finds nothing to do.
			l2, rec2, err := Open(fx.dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			l2.Close()
			if rec2 != nil {
				t.Fatalf("second Open recovered again: %v", rec2)
			}
		})
	}
}

// TestTornGenesis: a crash inside Create leaves a segment without a
// complete frame. Open keeps its bytes, removes it and reports that there
// is no log, so that Create can run again.
func TestTornGenesis(t *testing.T) {
	dir := newDir(t)
	l, err := Create(dir, Options{}, 1, testPayload(1, 100))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	seg := filepath.Join(dir, SegmentName(1))
	if err := os.Truncate(seg, headerSize+50); err != nil {
		t.Fatal(err)
	}
	_, rec, err := Open(dir, Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open: %v, want fs.ErrNotExist", err)
	}
	if rec == nil || !rec.Removed || rec.Bytes != headerSize+50 {
		t.Fatalf("Recovery = %+v, want the segment removed with %d bytes kept", rec, headerSize+50)
	}
	if _, err := os.Stat(seg); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("segment not removed: %v", err)
	}
	l, err = Create(dir, Options{}, 1, testPayload(1, 100))
	if err != nil {
		t.Fatalf("Create after a torn genesis: %v", err)
	}
	l.Close()
	equalPayloads(t, readAll(t, dir), [][]byte{testPayload(1, 100)})
}

// corruptCase damages the fixture and returns the *CorruptError Open must
// report.
type corruptCase struct {
	name     string
	segments int
	damage   func(t *testing.T, fx *fixture) (seg int, off int64, cause error)
}

// damageFrame applies f to the bytes of frame i of segment seg.
func damageFrame(seg, i int, cause error, f func(b []byte, o int64) []byte) func(t *testing.T, fx *fixture) (int, int64, error) {
	return func(t *testing.T, fx *fixture) (int, int64, error) {
		if seg < 0 {
			seg = fx.last()
		}
		b, offs := fx.read(t, seg)
		fx.write(t, seg, f(b, offs[i]))
		return seg, offs[i], cause
	}
}

func setLen(n uint32) func(b []byte, o int64) []byte {
	return func(b []byte, o int64) []byte { binary.BigEndian.PutUint32(b[o:], n); return b }
}

func addLen(d int32) func(b []byte, o int64) []byte {
	return func(b []byte, o int64) []byte {
		binary.BigEndian.PutUint32(b[o:], uint32(int32(binary.BigEndian.Uint32(b[o:]))+d))
		return b
	}
}

func flip(rel int64) func(b []byte, o int64) []byte {
	return func(b []byte, o int64) []byte { b[o+rel] ^= 0x10; return b }
}

func damageHeader(seg int, off int64, cause error, f func(b []byte) []byte) func(t *testing.T, fx *fixture) (int, int64, error) {
	return func(t *testing.T, fx *fixture) (int, int64, error) {
		if seg < 0 {
			seg = fx.last()
		}
		b, _ := fx.read(t, seg)
		fx.write(t, seg, f(b))
		return seg, off, cause
	}
}

var corruptCases = []corruptCase{
	{"flipped payload byte in a middle frame", 1, damageFrame(-1, 4, ErrChecksum, flip(8+10))},
	{"flipped CRC byte in a middle frame", 2, damageFrame(-1, 4, ErrChecksum, flip(6))},
	{"flipped byte in the first frame", 1, damageFrame(-1, 0, ErrChecksum, flip(9))},
	{"middle frame length one short", 1, damageFrame(-1, 4, ErrChecksum, addLen(-1))},
	{"middle frame length one long", 1, damageFrame(-1, 4, ErrChecksum, addLen(1))},
	{"middle frame length zero", 1, damageFrame(-1, 4, ErrBadLength, setLen(0))},
	{"middle frame length above MaxPayload", 1, damageFrame(-1, 4, ErrBadLength, setLen(MaxPayload+1))},
	{"last frame length above MaxPayload, past EOF", 1, damageFrame(-1, 9, ErrBadLength, setLen(0xffffffff))},
	{"bad last frame followed by a nonzero byte", 1, damageFrame(-1, 9, ErrChecksum, func(b []byte, o int64) []byte {
		b[o+9] ^= 1
		return append(b, 1)
	})},
	{"nonzero bytes after the last frame", 1, func(t *testing.T, fx *fixture) (int, int64, error) {
		b, _ := fx.read(t, 0)
		fx.write(t, 0, append(b, 0, 0, 0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9)) // a 4-byte frame with a bad CRC, then a byte
		return 0, int64(len(b)), ErrChecksum
	}},
	{"bad magic", 1, damageHeader(-1, 0, ErrBadHeader, func(b []byte) []byte { b[3] = 'X'; return b })},
	{"bad version", 1, damageHeader(-1, 8, ErrBadHeader, func(b []byte) []byte { b[11] = 2; return b })},
	{"nonzero reserved field", 1, damageHeader(-1, 12, ErrBadHeader, func(b []byte) []byte { b[15] = 1; return b })},
	{"last segment shorter than a header, not a prefix of one", 2, damageHeader(-1, 0, ErrBadHeader, func(b []byte) []byte { return []byte("ASEALSEX") })},
	{"bad magic in an earlier segment", 2, damageHeader(0, 0, ErrBadHeader, func(b []byte) []byte { b[0] = 'a'; return b })},
	{"bad version in an earlier segment", 3, damageHeader(1, 8, ErrBadHeader, func(b []byte) []byte { b[8] = 1; return b })},
	{"earlier segment shorter than a header", 2, damageHeader(0, 0, ErrBadHeader, func(b []byte) []byte { return b[:7] })},
}

func TestCorruption(t *testing.T) {
	for _, tc := range corruptCases {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, tc.segments)
			seg, off, cause := tc.damage(t, fx)
			before := snapshot(t, fx.dir)

			l, rec, err := Open(fx.dir, Options{})
			if err == nil {
				l.Close()
				t.Fatal("Open succeeded")
			}
			if rec != nil {
				t.Errorf("Recovery %+v returned with corruption", rec)
			}
			ce := mustErrAs[*CorruptError](t, err)
			if ce.Segment != fx.segs[seg] || ce.Offset != off {
				t.Fatalf("CorruptError at %s offset %d, want %s offset %d (%v)", ce.Segment, ce.Offset, fx.segs[seg], off, err)
			}
			if !errors.Is(err, ErrCorrupt) || !errors.Is(err, cause) || errors.Is(err, ErrTornTail) {
				t.Fatalf("error %v: want ErrCorrupt and %v", err, cause)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "storage: ") || !strings.Contains(msg, fx.segs[seg]) {
				t.Errorf("message %q", msg)
			}
			if after := snapshot(t, fx.dir); !equalSnapshots(before, after) {
				t.Fatalf("Open changed the directory:\nbefore %v\nafter  %v", keys(before), keys(after))
			}
			// The failed Open released the lock.
			if _, _, err := Open(fx.dir, Options{}); errors.Is(err, ErrLocked) {
				t.Fatal("lock not released after a failed Open")
			}
		})
	}
}

func equalSnapshots(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestCorruptEarlierSegment: damage in a segment that is not the last one
// is always corruption for a Reader, even where the same bytes at the end
// of the last segment would be a torn tail. Open does not scan earlier
// segments, so it does not see it.
func TestCorruptEarlierSegment(t *testing.T) {
	cases := []struct {
		name  string
		f     func(b []byte, offs []int64) ([]byte, int64)
		cause error
		torn  bool // a torn tail if the segment were the last
	}{
		{"flipped payload byte in a middle frame", func(b []byte, offs []int64) ([]byte, int64) {
			b[offs[4]+20] ^= 1
			return b, offs[4]
		}, ErrChecksum, false},
		{"cut inside the last frame's payload", func(b []byte, offs []int64) ([]byte, int64) {
			return b[:offs[9]+12], offs[9]
		}, ErrTruncated, true},
		{"cut inside the last frame's header", func(b []byte, offs []int64) ([]byte, int64) {
			return b[:offs[9]+3], offs[9]
		}, ErrTruncated, true},
		{"zeros after the last frame", func(b []byte, offs []int64) ([]byte, int64) {
			return append(b, make([]byte, 100)...), int64(len(b))
		}, ErrBadLength, true},
		{"bad checksum of the last frame", func(b []byte, offs []int64) ([]byte, int64) {
			b[len(b)-1] ^= 1
			return b, offs[9]
		}, ErrChecksum, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, 2)
			b, offs := fx.read(t, 0)
			b, off := tc.f(b, offs)
			fx.write(t, 0, b)

			for _, isLast := range []bool{false, true} {
				r, err := OpenSegment(fx.path(0), isLast)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for err == nil {
					_, _, err = r.Next()
					n++
				}
				r.Close()
				if isLast && tc.torn {
					tt := mustErrAs[*TornTailError](t, err)
					if tt.Offset != off || !errors.Is(err, ErrTornTail) || errors.Is(err, ErrCorrupt) {
						t.Fatalf("as last segment: %v, want torn tail at %d", err, off)
					}
					continue
				}
				ce := mustErrAs[*CorruptError](t, err)
				if ce.Segment != fx.segs[0] || ce.Offset != off || !errors.Is(err, tc.cause) || errors.Is(err, ErrTornTail) {
					t.Fatalf("isLast=%v: %v, want corruption at %s offset %d: %v", isLast, err, fx.segs[0], off, tc.cause)
				}
				// Errors are sticky.
				if _, _, err2 := r.Next(); err2 != err {
					t.Fatalf("second Next after an error returned %v", err2)
				}
			}

			l, _, err := Open(fx.dir, Options{})
			if err != nil {
				t.Fatalf("Open scanned an earlier segment: %v", err)
			}
			l.Close()
		})
	}
}

func TestListSegments(t *testing.T) {
	dir := newDir(t)
	l, err := Create(dir, Options{}, 0x10, []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Rotate(0x100, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := l.Rotate(0x2000, []byte("c")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	for _, name := range []string{"0000000000000010.seg.broken", "0000000000000010.seg.1.broken", "x.seg.tmp", "checkpoint", "keys", "VERSION"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("ignored"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	segs, err := ListSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []SegmentInfo{{"0000000000000010.seg", 0x10, headerSize + 9}, {"0000000000000100.seg", 0x100, headerSize + 9}, {"0000000000002000.seg", 0x2000, headerSize + 9}}
	if len(segs) != len(want) {
		t.Fatalf("ListSegments = %+v, want %+v", segs, want)
	}
	for i := range want {
		if segs[i] != want[i] {
			t.Fatalf("ListSegments = %+v, want %+v", segs, want)
		}
	}

	for _, bad := range []string{"00000000000000AB.seg", "00000000000001.seg", "000000000000000001.seg", "LOCK.seg", ".seg", "000000000000000g.seg"} {
		t.Run(bad, func(t *testing.T) {
			path := filepath.Join(dir, bad)
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(path)
			_, err := ListSegments(dir)
			if err == nil || !strings.Contains(err.Error(), bad) {
				t.Fatalf("ListSegments with %s: %v, want an error naming it", bad, err)
			}
		})
	}
	if err := os.Mkdir(filepath.Join(dir, SegmentName(0x3000)), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := ListSegments(dir); err == nil {
		t.Fatal("ListSegments accepted a directory named like a segment")
	}
}

func TestReaderOffsetsAndEOF(t *testing.T) {
	fx := newFixture(t, 1)
	r, err := OpenSegment(fx.path(0), true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := int64(headerSize)
	for i := 0; ; i++ {
		p, off, err := r.Next()
		if err == io.EOF {
			if i != len(fx.payloads) || off != want {
				t.Fatalf("EOF after %d frames at %d, want %d frames, offset %d", i, off, len(fx.payloads), want)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if off != want || !bytes.Equal(p, fx.payloads[i]) {
			t.Fatalf("frame %d at %d, want %d", i, off, want)
		}
		want += frameHeaderSize + int64(len(p))
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next after EOF: %v", err)
	}
}

// TestTornGroupCommit: a crash during a group commit can leave a frame half
// written with the rest of the write as zeros; that is a torn tail, kept
// aside and cut, not corruption.
func TestTornGroupCommit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	l, err := Create(dir, Options{}, 0, []byte("genesis"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		l.Append(bytes.Repeat([]byte{byte('a' + i)}, 100))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	p := filepath.Join(dir, SegmentName(0))
	data, _ := os.ReadFile(p)
	good := len(data)
	// The next write: three frames, of which the first is half written and
	// the rest never reached the disk (zeros).
	var next []byte
	for i := 0; i < 3; i++ {
		next = appendFrame(next, bytes.Repeat([]byte{'z'}, 100))
	}
	for i := 60; i < len(next); i++ {
		next[i] = 0
	}
	os.WriteFile(p, append(data, next...), 0o600)
	l, rec, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer l.Close()
	if rec == nil || rec.Offset != int64(good) || rec.Bytes != int64(len(next)) {
		t.Fatalf("recovery %+v, want the %d bytes at offset %d cut", rec, len(next), good)
	}
}
