package storage

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	dir := newDir(t)
	var want [][]byte
	first := testPayload(1, 100)
	want = append(want, first)
	l, err := Create(dir, Options{}, 1, first)
	if err != nil {
		t.Fatal(err)
	}
	seq := uint64(2)
	appendSome := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			p := testPayload(seq, variedSize(int(seq)))
			if err := l.Append(p); err != nil {
				t.Fatal(err)
			}
			p[0] ^= 0xff // Append must have copied the payload
			p[0] ^= 0xff
			want = append(want, p)
			seq++
			if seq%37 == 0 {
				if err := l.Sync(); err != nil {
					t.Fatal(err)
				}
				if l.Buffered() != 0 {
					t.Fatalf("Buffered() = %d after Sync", l.Buffered())
				}
			}
		}
	}
	appendSome(300)
	if l.Buffered() == 0 {
		t.Fatal("Buffered() = 0 with frames appended since the last Sync")
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l, rec, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rec != nil {
		t.Fatalf("Open of a cleanly closed log recovered: %v", rec)
	}
	if got, want := l.Segment(), SegmentName(1); got != want {
		t.Fatalf("Segment() = %s, want %s", got, want)
	}
	appendSome(200)
	if err := l.Close(); err != nil { // Close syncs
		t.Fatal(err)
	}
	equalPayloads(t, readAll(t, dir), want)
}

func TestAppendCopiesPayload(t *testing.T) {
	dir := newDir(t)
	l, err := Create(dir, Options{}, 1, []byte("genesis"))
	if err != nil {
		t.Fatal(err)
	}
	p := []byte("original")
	if err := l.Append(p); err != nil {
		t.Fatal(err)
	}
	copy(p, "modified")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, dir)
	if string(got[1]) != "original" {
		t.Fatalf("payload = %q, want %q", got[1], "original")
	}
}

func TestAppendRejectsBadSize(t *testing.T) {
	dir := newDir(t)
	if _, err := Create(dir, Options{}, 1, nil); err == nil {
		t.Fatal("Create with an empty first payload succeeded")
	}
	l, err := Create(dir, Options{}, 1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, n := range []int{0, MaxPayload + 1} {
		if err := l.Append(make([]byte, n)); err == nil {
			t.Errorf("Append of %d bytes succeeded", n)
		}
	}
	if err := l.Append(make([]byte, MaxPayload)); err != nil {
		t.Errorf("Append of MaxPayload bytes: %v", err)
	}
	if err := l.Sync(); err != nil { // the rejected appends did not poison the log
		t.Fatal(err)
	}
}

// TestGoldenSegment pins the bytes of a freshly created segment (the worked
// example of the package documentation).
func TestGoldenSegment(t *testing.T) {
	dir := newDir(t)
	l, err := Create(dir, Options{}, 1, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "0000000000000001.seg"))
	if err != nil {
		t.Fatal(err)
	}
	want := "41534541 4c534547 00000001 00000000" + // "ASEALSEG", version 1, reserved
		"00000005 3923f9b4 68656c6c6f" // length 5, CRC-32C, "hello"
	if h := hex.EncodeToString(got); h != strings.ReplaceAll(want, " ", "") {
		t.Fatalf("segment bytes\n got %s\nwant %s", h, want)
	}
}

func TestSegmentName(t *testing.T) {
	for _, tc := range []struct {
		seq  uint64
		name string
	}{
		{0, "0000000000000000.seg"},
		{1, "0000000000000001.seg"},
		{100001, "00000000000186a1.seg"},
		{1<<64 - 1, "ffffffffffffffff.seg"},
	} {
		if got := SegmentName(tc.seq); got != tc.name {
			t.Errorf("SegmentName(%d) = %s, want %s", tc.seq, got, tc.name)
		}
		if seq, err := parseSegmentName(tc.name); err != nil || seq != tc.seq {
			t.Errorf("parseSegmentName(%s) = %d, %v", tc.name, seq, err)
		}
	}
}

// writeRotating appends payloads seq..seq+n-1, of size bytes each, rotating
// whenever NeedsRotation says so, and returns the payloads.
func writeRotating(t *testing.T, l *Log, c *clock, seq uint64, n, size int) [][]byte {
	t.Helper()
	var ps [][]byte
	for i := 0; i < n; i++ {
		p := testPayload(seq, size)
		var err error
		if l.NeedsRotation(c.Now()) {
			err = l.Rotate(seq, p)
		} else {
			err = l.Append(p)
		}
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
		seq++
		if i%5 == 0 {
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ps
}

// checkSegments checks names, first sequence numbers and modes of the
// segments of dir and returns them.
func checkSegments(t *testing.T, dir string) []SegmentInfo {
	t.Helper()
	if m := fileMode(t, dir); m != 0o700 {
		t.Errorf("directory mode %#o, want 0700", m)
	}
	segs, err := ListSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range segs {
		if s.Name != SegmentName(s.FirstSeq) {
			t.Errorf("segment %s has FirstSeq %d", s.Name, s.FirstSeq)
		}
		if i > 0 && !(segs[i-1].Name < s.Name && segs[i-1].FirstSeq < s.FirstSeq) {
			t.Errorf("segments %s and %s out of order", segs[i-1].Name, s.Name)
		}
		r, err := OpenSegment(filepath.Join(dir, s.Name), i == len(segs)-1)
		if err != nil {
			t.Fatal(err)
		}
		p, _, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if seq := binary.BigEndian.Uint64(p); seq != s.FirstSeq {
			t.Errorf("segment %s starts with payload %d", s.Name, seq)
		}
		r.Close()
		want := os.FileMode(0o400)
		if i == len(segs)-1 {
			want = 0o600
		}
		if m := fileMode(t, filepath.Join(dir, s.Name)); m != want {
			t.Errorf("segment %s has mode %#o, want %#o", s.Name, m, want)
		}
	}
	return segs
}

func TestRotateBySize(t *testing.T) {
	dir := newDir(t)
	c := &clock{time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	opts := Options{SegmentSize: 4096, Now: c.Now}
	l, err := Create(dir, opts, 1, testPayload(1, 300))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{testPayload(1, 300)}
	want = append(want, writeRotating(t, l, c, 2, 99, 300)...)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs := checkSegments(t, dir)
	if len(segs) < 5 {
		t.Fatalf("%d segments, want at least 5 for 100 frames of 308 bytes at 4096 bytes per segment", len(segs))
	}
	for _, s := range segs[:len(segs)-1] {
		// A segment rotates at the first append that finds it >= SegmentSize.
		if s.Size < 4096 || s.Size >= 4096+308 {
			t.Errorf("closed segment %s has %d bytes, want 4096 to %d", s.Name, s.Size, 4096+308)
		}
	}
	equalPayloads(t, readAll(t, dir), want)

	// Reopen and continue: the last segment is appended to, then rotated.
	l, rec, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rec != nil {
		t.Fatalf("unexpected recovery: %v", rec)
	}
	want = append(want, writeRotating(t, l, c, 101, 50, 300)...)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checkSegments(t, dir)
	equalPayloads(t, readAll(t, dir), want)
}

func TestRotateByDay(t *testing.T) {
	dir := newDir(t)
	c := &clock{time.Date(2025, 3, 1, 23, 59, 0, 0, time.UTC)}
	opts := Options{Now: c.Now}
	l, err := Create(dir, opts, 1, testPayload(1, 20))
	if err != nil {
		t.Fatal(err)
	}
	if l.NeedsRotation(c.t.Add(59 * time.Second)) {
		t.Fatal("NeedsRotation at 23:59:59 of the same UTC day")
	}
	// A local time zone must not matter: 00:30 on March 2 in UTC+2 is still March 1 UTC.
	if l.NeedsRotation(time.Date(2025, 3, 2, 0, 30, 0, 0, time.FixedZone("X", 2*3600))) {
		t.Fatal("NeedsRotation used local time instead of UTC")
	}
	c.t = time.Date(2025, 3, 2, 0, 0, 1, 0, time.UTC)
	if !l.NeedsRotation(c.Now()) {
		t.Fatal("NeedsRotation false on the next UTC day")
	}
	if err := l.Rotate(2, testPayload(2, 20)); err != nil {
		t.Fatal(err)
	}
	if l.NeedsRotation(c.Now()) {
		t.Fatal("NeedsRotation true right after rotation")
	}
	if l.NeedsRotation(c.t.Add(-48 * time.Hour)) {
		t.Fatal("NeedsRotation true for a clock that went back")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs := checkSegments(t, dir)
	if len(segs) != 2 {
		t.Fatalf("%d segments, want 2", len(segs))
	}

	// After a restart the segment's day is its modification time.
	last := filepath.Join(dir, segs[1].Name)
	yesterday := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	if err := os.Chtimes(last, yesterday, yesterday); err != nil {
		t.Fatal(err)
	}
	l, _, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !l.NeedsRotation(c.Now()) {
		t.Fatal("NeedsRotation false for a reopened segment last written yesterday")
	}
	if l.NeedsRotation(yesterday) {
		t.Fatal("NeedsRotation true on the segment's own day")
	}
}

func TestRotateRejectsBadName(t *testing.T) {
	dir := newDir(t)
	l, err := Create(dir, Options{}, 10, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, seq := range []uint64{9, 10} {
		if err := l.Rotate(seq, []byte("y")); err == nil {
			t.Errorf("Rotate(%d) from segment 10 succeeded", seq)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, SegmentName(11)), []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.Rotate(11, []byte("y")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Rotate onto an existing file: %v, want fs.ErrExist", err)
	}
	// None of these poisoned the log.
	if err := l.Rotate(12, []byte("z")); err != nil {
		t.Fatal(err)
	}
	if l.Segment() != SegmentName(12) {
		t.Fatalf("Segment() = %s", l.Segment())
	}
}

func TestCreateRefusesExistingLog(t *testing.T) {
	dir := newDir(t)
	l, err := Create(dir, Options{}, 1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := Create(dir, Options{}, 1, []byte("x")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create: %v, want fs.ErrExist", err)
	}
	if _, _, err := Open(filepath.Join(t.TempDir(), "missing"), Options{}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing directory: %v, want fs.ErrNotExist", err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(empty, Options{}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of an empty directory: %v, want fs.ErrNotExist", err)
	}
	// The failed Open released its lock.
	if l, err := Create(empty, Options{}, 5, []byte("x")); err != nil {
		t.Fatal(err)
	} else {
		l.Close()
	}
}

func TestLock(t *testing.T) {
	dir := newDir(t)
	l, err := Create(dir, Options{}, 1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Open(dir, Options{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if msg := err.Error(); !strings.Contains(msg, filepath.Join(dir, "LOCK")) || !strings.Contains(msg, "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("error %q does not name the lock file and holder pid %d", msg, os.Getpid())
	}
	if _, err := Create(dir, Options{}, 1, []byte("x")); !errors.Is(err, ErrLocked) {
		t.Fatalf("Create while locked: %v, want ErrLocked", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, _, err = Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	l.Close()
}

// TestLockOtherProcess runs this test binary again as a helper process that
// tries to open the log this process holds.
func TestLockOtherProcess(t *testing.T) {
	if dir := os.Getenv("STORAGE_TEST_LOCK_DIR"); dir != "" {
		_, _, err := Open(dir, Options{})
		fmt.Print(err)
		if errors.Is(err, ErrLocked) {
			os.Exit(0)
		}
		os.Exit(3)
	}
	dir := newDir(t)
	l, err := Create(dir, Options{}, 1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockOtherProcess$")
	cmd.Env = append(os.Environ(), "STORAGE_TEST_LOCK_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper process: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("helper's error %q does not name holder pid %d", out, os.Getpid())
	}
	// The helper did not hold the lock: it must not have touched LOCK.
	if b, err := os.ReadFile(filepath.Join(dir, "LOCK")); err != nil || string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("LOCK holds %q (%v) after the helper's attempt, want this process's pid %d", b, err, os.Getpid())
	}
}

func TestInsecurePermissions(t *testing.T) {
	dir := newDir(t)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	_, err := Create(dir, Options{}, 1, []byte("x"))
	if !errors.Is(err, ErrInsecurePermissions) || !strings.Contains(err.Error(), "0750") {
		t.Fatalf("Create in a 0750 directory: %v, want ErrInsecurePermissions naming 0750", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := Create(dir, Options{}, 1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := os.Chmod(dir, 0o705); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, Options{}); !errors.Is(err, ErrInsecurePermissions) || !strings.Contains(err.Error(), "0705") {
		t.Fatalf("Open of a 0705 directory: %v, want ErrInsecurePermissions naming 0705", err)
	}
}

// TestDirectoryOwner: a data directory another uid owns is refused, also
// when this process is root (which could read and write it anyway). Only
// root can give a directory away, so as another user the test skips.
func TestDirectoryOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown a directory to another uid")
	}
	const other = 65534 // nobody
	dir := newDir(t)
	l, err := Create(dir, Options{}, 1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	seg := l.Segment()
	l.Close()
	if err := os.Chown(dir, other, -1); err != nil {
		t.Fatal(err)
	}
	wantErr := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, ErrInsecurePermissions) || !strings.Contains(err.Error(), "uid 65534") || !strings.Contains(err.Error(), "uid 0") {
			t.Fatalf("%s of a directory owned by uid %d: %v, want ErrInsecurePermissions naming uid %d and uid 0", op, other, err, other)
		}
	}
	_, _, err = Open(dir, Options{})
	wantErr("Open", err)
	_, err = DiscardUndurable(dir, seg, headerSize)
	wantErr("DiscardUndurable", err)

	empty := newDir(t)
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(empty, other, -1); err != nil {
		t.Fatal(err)
	}
	_, err = Create(empty, Options{}, 1, []byte("x"))
	wantErr("Create", err)
	if _, err := os.Lstat(filepath.Join(empty, "LOCK")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Create wrote LOCK into a directory it refused: %v", err)
	}

	if err := os.Chown(dir, 0, -1); err != nil {
		t.Fatal(err)
	}
	l, _, err = Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open once the directory is root's again: %v", err)
	}
	l.Close()
}

func TestCreateMakesPrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	l, err := Create(dir, Options{}, 1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if m := fileMode(t, dir); m != 0o700 {
		t.Errorf("directory mode %#o, want 0700", m)
	}
	if m := fileMode(t, filepath.Join(dir, l.Segment())); m != 0o600 {
		t.Errorf("segment mode %#o, want 0600", m)
	}
	if m := fileMode(t, filepath.Join(dir, "LOCK")); m != 0o600 {
		t.Errorf("LOCK mode %#o, want 0600", m)
	}
	if l.Dir() != dir {
		t.Errorf("Dir() = %s, want %s", l.Dir(), dir)
	}
}

func TestClosed(t *testing.T) {
	dir := newDir(t)
	l, err := Create(dir, Options{}, 1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Append": l.Append([]byte("y")),
		"Sync":   l.Sync(),
		"Rotate": l.Rotate(2, []byte("y")),
		"Close":  l.Close(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// TestReadOnlyLastSegment: a last segment left read-only is made writable
// again by Open, which says so in the Recovery.
func TestReadOnlyLastSegment(t *testing.T) {
	dir := newDir(t)
	l, err := Create(dir, Options{}, 1, []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	seg := filepath.Join(dir, SegmentName(1))
	if err := os.Chmod(seg, 0o400); err != nil {
		t.Fatal(err)
	}
	l, rec, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rec == nil || rec.Segment != "" || len(rec.Notes) != 1 || !strings.Contains(rec.Notes[0], "writable") {
		t.Fatalf("Recovery = %+v, want one note about making the segment writable", rec)
	}
	if m := fileMode(t, seg); m != 0o600 {
		t.Fatalf("segment mode %#o after Open, want 0600", m)
	}
	if err := l.Append([]byte("two")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	equalPayloads(t, readAll(t, dir), [][]byte{[]byte("one"), []byte("two")})
}

// TestWritableClosedSegment: Open seals a closed segment that is writable.
func TestWritableClosedSegment(t *testing.T) {
	dir := newDir(t)
	l, err := Create(dir, Options{}, 1, []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Rotate(2, []byte("two")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	first := filepath.Join(dir, SegmentName(1))
	if err := os.Chmod(first, 0o600); err != nil {
		t.Fatal(err)
	}
	l, rec, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if rec == nil || len(rec.Notes) != 1 || !strings.Contains(rec.Notes[0], "sealed") {
		t.Fatalf("Recovery = %+v, want one note about sealing", rec)
	}
	if m := fileMode(t, first); m != 0o400 {
		t.Fatalf("closed segment mode %#o after Open, want 0400", m)
	}
}
