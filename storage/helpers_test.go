package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testPayload returns a deterministic payload of size bytes for sequence
// number seq; payloads of 8 bytes or more start with seq, big-endian.
func testPayload(seq uint64, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(seq*31 + uint64(i)*7)
	}
	if size >= 8 {
		binary.BigEndian.PutUint64(b, seq)
	}
	return b
}

// variedSize gives payload sizes from 1 byte to MaxPayload.
func variedSize(i int) int {
	switch {
	case i%97 == 50:
		return MaxPayload
	case i%13 == 0:
		return 1
	default:
		return 8 + (i*7919)%3000
	}
}

// newDir returns a path for a data directory that does not exist yet.
func newDir(t testing.TB) string {
	return filepath.Join(t.TempDir(), "log")
}

// readAll reads every payload of every segment in dir with ListSegments
// and Reader, treating the last segment as last, and fails on any error.
func readAll(t testing.TB, dir string) [][]byte {
	t.Helper()
	segs, err := ListSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var all [][]byte
	for i, s := range segs {
		r, err := OpenSegment(filepath.Join(dir, s.Name), i == len(segs)-1)
		if err != nil {
			t.Fatalf("OpenSegment(%s): %v", s.Name, err)
		}
		for {
			p, _, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("segment %s: %v", s.Name, err)
			}
			all = append(all, bytes.Clone(p))
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return all
}

// frameOffsets returns the offset of every frame in the segment at path,
// and the end of the last one.
func frameOffsets(t testing.TB, path string) (offs []int64, end int64) {
	t.Helper()
	r, err := OpenSegment(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		_, off, err := r.Next()
		if err == io.EOF {
			return offs, off
		}
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
}

// equalPayloads fails the test unless got and want hold the same payloads.
func equalPayloads(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d payloads, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("payload %d differs: got %d bytes, want %d bytes", i, len(got[i]), len(want[i]))
		}
	}
}

// fileMode returns the permission bits of path.
func fileMode(t testing.TB, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// snapshot returns the name, mode and contents of every file in dir except
// LOCK, to check that an operation changed nothing.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string)
	for _, e := range ents {
		if e.Name() == lockFileName {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = fileMode(t, path).String() + "\n" + string(b)
	}
	return m
}

// clock is a settable fake clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// mustErrAs fails unless err is (or wraps) a *T and returns it.
func mustErrAs[T error](t testing.TB, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error %v (%T) is not a %T", err, err, target)
	}
	return target
}

// brokenFiles returns the names of the *.broken files in dir.
func brokenFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.broken"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}
