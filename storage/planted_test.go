//go:build unix

package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// plantSymlink moves segment i of fx out of the data directory, appends
// extra to the moved file (a torn tail, so that a sealer following the
// link would cut it) and leaves a symbolic link to it under the segment's
// name. It returns the moved file's path and its content.
func plantSymlink(t *testing.T, fx *fixture, i int, extra []byte, mode os.FileMode) (string, []byte) {
	t.Helper()
	b, _ := fx.read(t, i)
	b = append(b, extra...)
	outside := filepath.Join(t.TempDir(), fx.segs[i])
	if err := os.WriteFile(outside, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(outside, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(fx.path(i)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, fx.path(i)); err != nil {
		t.Fatal(err)
	}
	return outside, b
}

// checkUntouched fails unless path still holds want with mode perm.
func checkUntouched(t *testing.T, path string, want []byte, perm os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(b, want) {
		t.Fatalf("%s: %d bytes (%v), want its %d bytes untouched", path, len(b), err, len(want))
	}
	if m := fileMode(t, path); m != perm {
		t.Fatalf("%s: mode %#o, want it untouched (%#o)", path, m, perm)
	}
}

// TestSymlinkedSegment: someone who can write the data directory replaces
// a segment with a symbolic link to a file elsewhere. Nothing follows it:
// not the writer (which would append to it, cut its torn tail or chmod it),
// not the readers.
func TestSymlinkedSegment(t *testing.T) {
	t.Run("last", func(t *testing.T) {
		fx := newFixture(t, 2)
		outside, content := plantSymlink(t, fx, 1, []byte{0, 0, 0, 9, 1, 2}, 0o400)
		if _, _, err := Open(fx.dir, Options{}); !errors.Is(err, ErrNotRegular) {
			t.Fatalf("Open with a symlinked last segment: %v, want ErrNotRegular", err)
		}
		checkUntouched(t, outside, content, 0o400)
		if _, err := DiscardUndurable(fx.dir, fx.segs[1], int64(len(content))-6); !errors.Is(err, ErrNotRegular) {
			t.Fatalf("DiscardUndurable of a symlinked segment: %v, want ErrNotRegular", err)
		}
		checkUntouched(t, outside, content, 0o400)
		for name, err := range map[string]error{
			"ListSegments": func() error { _, err := ListSegments(fx.dir); return err }(),
			"OpenSegment":  func() error { _, err := OpenSegment(fx.path(1), true); return err }(),
			"OpenFrames":   func() error { _, err := OpenFrames(fx.path(1)); return err }(),
		} {
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("%s of a symlinked segment: %v, want ErrNotRegular", name, err)
			}
		}
	})
	t.Run("closed", func(t *testing.T) {
		// A writable closed segment is sealed (0400) by Open: never
		// through a link.
		fx := newFixture(t, 2)
		outside, content := plantSymlink(t, fx, 0, nil, 0o600)
		if _, _, err := Open(fx.dir, Options{}); !errors.Is(err, ErrNotRegular) {
			t.Fatalf("Open with a symlinked closed segment: %v, want ErrNotRegular", err)
		}
		checkUntouched(t, outside, content, 0o600)
	})
}

// TestFIFOSegment: a FIFO named like a segment is refused without blocking
// the reader (opening a FIFO for reading waits for a writer).
func TestFIFOSegment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SegmentName(1))
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func() error{
		"OpenSegment": func() error { _, err := OpenSegment(path, true); return err },
		"OpenFrames":  func() error { _, err := OpenFrames(path); return err },
	} {
		done := make(chan error, 1)
		go func() { done <- open() }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("%s of a FIFO: %v, want ErrNotRegular", name, err)
			}
		case <-time.After(5 * time.Second):
			// Unblock the open so that the goroutine ends.
			if f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
			t.Errorf("%s of a FIFO blocked", name)
		}
	}
}

// TestReadFilePlanted: ReadFileMax and ReadDataFile refuse a FIFO without
// blocking; ReadDataFile also refuses a symbolic link, which ReadFileMax
// (for paths an auditor names) follows.
func TestReadFilePlanted(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "checkpoint")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, []byte("elsewhere"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "0000000000000001.idx")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for name, read := range map[string]func(string, int64) ([]byte, error){"ReadFileMax": ReadFileMax, "ReadDataFile": ReadDataFile} {
		done := make(chan error, 1)
		go func() { _, err := read(fifo, 1<<16); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("%s of a FIFO: %v, want ErrNotRegular", name, err)
			}
		case <-time.After(5 * time.Second):
			if f, err := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
			t.Errorf("%s of a FIFO blocked", name)
		}
	}
	if _, err := ReadDataFile(link, 1<<16); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadDataFile of a symbolic link: %v, want ErrNotRegular", err)
	}
	if b, err := ReadFileMax(link, 1<<16); err != nil || string(b) != "elsewhere" {
		t.Errorf("ReadFileMax of a symbolic link: %q, %v, want the target's content", b, err)
	}
}
