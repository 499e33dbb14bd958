package storage

import (
	"bytes"
	"errors"
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
