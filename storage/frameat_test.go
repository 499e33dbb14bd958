package storage

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestFrameAt: a FrameReader returns each frame at its offset, in any
// order, frames larger than its window included, and refuses an offset
// that does not start a good frame.
func TestFrameAt(t *testing.T) {
	h := fileHeader()
	file := h[:]
	var offs []int64
	var payloads [][]byte
	for i := 0; i < 300; i++ {
		p := testPayload(uint64(i), variedSize(i))
		offs = append(offs, int64(len(file)))
		payloads = append(payloads, p)
		file = appendFrame(file, p)
	}
	path := filepath.Join(t.TempDir(), SegmentName(0))
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := OpenFrames(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	check := func(i int) {
		t.Helper()
		p, end, err := r.FrameAt(offs[i])
		if err != nil || !bytes.Equal(p, payloads[i]) {
			t.Fatalf("frame %d at %d: %v", i, offs[i], err)
		}
		if want := int64(len(file)); i+1 < len(offs) {
			want = offs[i+1]
			if end != want {
				t.Fatalf("frame %d ends at %d, want %d", i, end, want)
			}
		} else if end != want {
			t.Fatalf("last frame ends at %d, want %d", end, want)
		}
	}
	for i := range offs {
		check(i)
	}
	for i := len(offs) - 1; i >= 0; i -= 7 {
		check(i)
	}
	for _, off := range []int64{0, 15, offs[5] + 1, offs[9] + 4, int64(len(file)) - 3, int64(len(file)), -1} {
		if _, _, err := r.FrameAt(off); !errors.Is(err, ErrCorrupt) {
			t.Errorf("offset %d: %v, want a corrupt frame", off, err)
		}
	}
	bad := append([]byte("ASEALSEX"), file[8:]...)
	os.WriteFile(path, bad, 0o600)
	if _, err := OpenFrames(path); !errors.Is(err, ErrBadHeader) {
		t.Fatalf("bad header: %v", err)
	}
}

// TestOpenSegmentAt: a Reader opened at the offset Next reported after a
// frame returns the frames after it, with their offsets; one opened at an
// offset inside a frame reports a bad frame, never a payload; offsets
// outside the frames are refused.
func TestOpenSegmentAt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := Create(dir, Options{}, 0, []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"second", "third", "fourth"} {
		if err := l.Append([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := ListSegments(dir)
	path := filepath.Join(dir, segs[0].Name)
	r, err := OpenSegment(path, true)
	if err != nil {
		t.Fatal(err)
	}
	var offsets []int64
	var payloads []string
	for {
		p, off, err := r.Next()
		if err != nil {
			break
		}
		offsets, payloads = append(offsets, off), append(payloads, string(p))
	}
	r.Close()
	if len(payloads) != 4 {
		t.Fatalf("payloads %q", payloads)
	}
	at, err := OpenSegmentAt(path, true, offsets[2])
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i < 4; i++ {
		p, off, err := at.Next()
		if err != nil || string(p) != payloads[i] || off != offsets[i] {
			t.Fatalf("frame %d: %q at %d, %v; want %q at %d", i, p, off, err, payloads[i], offsets[i])
		}
	}
	if _, _, err := at.Next(); err != io.EOF {
		t.Fatalf("after the last frame: %v", err)
	}
	at.Close()
	mid, err := OpenSegmentAt(path, false, offsets[1]+3)
	if err != nil {
		t.Fatal(err)
	}
	if p, _, err := mid.Next(); err == nil {
		t.Fatalf("a reader opened inside a frame returned %q", p)
	}
	mid.Close()
	for _, off := range []int64{0, headerSize - 1, 1 << 40} {
		if r, err := OpenSegmentAt(path, true, off); err == nil {
			r.Close()
			t.Fatalf("offset %d accepted", off)
		}
	}
}
