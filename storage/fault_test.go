package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// faults injects failures into the segment files of a Log through the file
// seam (Options.wrapFile).
type faults struct {
	mu       sync.Mutex
	writeErr error // Write writes partial bytes, then fails with writeErr
	partial  int
	syncErr  error // Datasync and Sync fail with syncErr
}

func (fl *faults) set(f func(fl *faults)) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	f(fl)
}

func (fl *faults) wrap(name string, f file) file { return &faultyFile{file: f, faults: fl} }

type faultyFile struct {
	file
	faults *faults
}

func (f *faultyFile) Write(p []byte) (int, error) {
	f.faults.mu.Lock()
	err, partial := f.faults.writeErr, f.faults.partial
	f.faults.mu.Unlock()
	if err == nil {
		return f.file.Write(p)
	}
	n, werr := f.file.Write(p[:min(partial, len(p))])
	if werr != nil {
		return n, werr
	}
	return n, err
}

func (f *faultyFile) Datasync() error {
	f.faults.mu.Lock()
	err := f.faults.syncErr
	f.faults.mu.Unlock()
	if err != nil {
		return err
	}
	return f.file.Datasync()
}

func (f *faultyFile) Sync() error {
	f.faults.mu.Lock()
	err := f.faults.syncErr
	f.faults.mu.Unlock()
	if err != nil {
		return err
	}
	return f.file.Sync()
}

// checkPoisoned checks that every later call returns first, and that Close
// releases the lock anyway.
func checkPoisoned(t *testing.T, l *Log, first error) {
	t.Helper()
	for name, err := range map[string]error{
		"Append": l.Append([]byte("more")),
		"Sync":   l.Sync(),
		"Rotate": l.Rotate(1000, []byte("next")),
		"Sync 2": l.Sync(),
		"Close":  l.Close(),
		"Close2": l.Close(),
	} {
		if err != first {
			t.Errorf("%s on a poisoned log returned %v, want %v", name, err, first)
		}
	}
	lock, err := lockDir(l.Dir()) // not Open: that would repair what the test inspects next
	if err != nil {
		t.Fatalf("Close of a poisoned log did not release the lock: %v", err)
	}
	lock.Close()
}

func TestSyncWriteError(t *testing.T) {
	fl := &faults{}
	dir := newDir(t)
	l, err := Create(dir, Options{wrapFile: fl.wrap}, 1, testPayload(1, 300))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{testPayload(1, 300)}
	for i := uint64(2); i <= 10; i++ {
		want = append(want, testPayload(i, 300))
		if err := l.Append(want[len(want)-1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}

	fl.set(func(fl *faults) { fl.writeErr, fl.partial = syscall.ENOSPC, 100 })
	for i := uint64(11); i <= 15; i++ {
		if err := l.Append(testPayload(i, 300)); err != nil {
			t.Fatal(err)
		}
	}
	err = l.Sync()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Sync: %v, want ENOSPC", err)
	}
	fl.set(func(fl *faults) { fl.writeErr = nil }) // the disk has room again: the log stays poisoned
	checkPoisoned(t, l, err)

	// The 100 bytes that reached the file are a torn tail.
	l, rec, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if rec == nil || rec.Bytes != 100 {
		t.Fatalf("Recovery = %+v, want 100 torn bytes cut", rec)
	}
	equalPayloads(t, readAll(t, dir), want)
}

func TestSyncFsyncError(t *testing.T) {
	fl := &faults{}
	dir := newDir(t)
	l, err := Create(dir, Options{wrapFile: fl.wrap}, 1, []byte("genesis"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append([]byte("one")); err != nil {
		t.Fatal(err)
	}
	fl.set(func(fl *faults) { fl.syncErr = syscall.EIO })
	err = l.Sync()
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync: %v, want EIO", err)
	}
	fl.set(func(fl *faults) { fl.syncErr = nil }) // a retried fsync may succeed, but proves nothing
	checkPoisoned(t, l, err)
}

// TestCloseSyncError: Close must not report success when its final sync
// fails.
func TestCloseSyncError(t *testing.T) {
	fl := &faults{}
	l, err := Create(newDir(t), Options{wrapFile: fl.wrap}, 1, []byte("genesis"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append([]byte("one")); err != nil {
		t.Fatal(err)
	}
	fl.set(func(fl *faults) { fl.syncErr = syscall.EIO })
	err = l.Close()
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("Close: %v, want EIO", err)
	}
	if err2 := l.Append([]byte("x")); err2 != err {
		t.Fatalf("Append after failed Close: %v, want %v", err2, err)
	}
}

// TestRotateCreateError: the next segment cannot be written. The log is
// poisoned; Open then removes the partial segment and appends to the
// previous one again.
func TestRotateCreateError(t *testing.T) {
	fl := &faults{}
	dir := newDir(t)
	l, err := Create(dir, Options{wrapFile: fl.wrap}, 1, testPayload(1, 50))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{testPayload(1, 50), testPayload(2, 50)}
	if err := l.Append(want[1]); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	// Rotate's seal writes nothing (the buffer is empty); the new segment's
	// first write fails after 10 bytes.
	fl.set(func(fl *faults) { fl.writeErr, fl.partial = syscall.EIO, 10 })
	err = l.Rotate(3, testPayload(3, 50))
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("Rotate: %v, want EIO", err)
	}
	fl.set(func(fl *faults) { fl.writeErr = nil })
	if m := fileMode(t, filepath.Join(dir, SegmentName(1))); m != 0o400 {
		t.Fatalf("sealed segment has mode %#o, want 0400", m)
	}
	checkPoisoned(t, l, err)

	l, rec, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rec == nil || !rec.Removed || rec.Segment != SegmentName(3) || rec.Bytes != 10 {
		t.Fatalf("Recovery = %+v, want %s removed with 10 bytes kept", rec, SegmentName(3))
	}
	if l.Segment() != SegmentName(1) {
		t.Fatalf("current segment %s, want %s", l.Segment(), SegmentName(1))
	}
	want = append(want, testPayload(3, 50))
	if err := l.Append(want[2]); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	equalPayloads(t, readAll(t, dir), want)
}

// TestCreateWriteError: a failed Create leaves no segment behind.
func TestCreateWriteError(t *testing.T) {
	fl := &faults{writeErr: syscall.ENOSPC, partial: 5}
	dir := newDir(t)
	if _, err := Create(dir, Options{wrapFile: fl.wrap}, 1, []byte("genesis")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Create: %v, want ENOSPC", err)
	}
	if _, err := os.Stat(filepath.Join(dir, SegmentName(1))); !os.IsNotExist(err) {
		t.Fatalf("partial segment left behind: %v", err)
	}
	l, err := Create(dir, Options{}, 1, []byte("genesis"))
	if err != nil {
		t.Fatalf("Create after a failed Create: %v", err)
	}
	l.Close()
}

// TestConcurrentAppendSync: appends from several goroutines while others
// sync; every payload appended before the final Close is read back once.
func TestConcurrentAppendSync(t *testing.T) {
	dir := newDir(t)
	l, err := Create(dir, Options{}, 1, []byte("genesis"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	const writers, each = 4, 500
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := l.Append(testPayload(uint64(w*each+i), 64)); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					if err := l.Sync(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, dir)
	if len(got) != 1+writers*each {
		t.Fatalf("read %d payloads, want %d", len(got), 1+writers*each)
	}
	seen := make(map[string]bool)
	for _, p := range got[1:] {
		if seen[string(p)] {
			t.Fatal("payload read twice")
		}
		seen[string(p)] = true
	}
}

// undurableLog makes a log whose last Sync wrote 5 frames and then failed
// in fdatasync, and returns its directory, the segment, the durable offset
// and the segment's size (the bytes after the durable offset must be cut).
func undurableLog(t *testing.T) (dir, seg string, durable, size int64) {
	t.Helper()
	fl := &faults{}
	dir = newDir(t)
	l, err := Create(dir, Options{wrapFile: fl.wrap}, 1, testPayload(1, 300))
	if err != nil {
		t.Fatal(err)
	}
	fl.set(func(fl *faults) { fl.syncErr = syscall.EIO })
	for i := uint64(2); i <= 6; i++ {
		if err := l.Append(testPayload(i, 300)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync: %v, want EIO", err)
	}
	seg, durable = l.Durable()
	l.Close()
	fi, err := os.Stat(filepath.Join(dir, seg))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() <= durable {
		t.Fatalf("segment of %d bytes, durable offset %d: nothing to cut", fi.Size(), durable)
	}
	return dir, seg, durable, fi.Size()
}

// TestDiscardUndurableDiskFull: the sealer retries DiscardUndurable every
// second while the disk is full. A copy that fails leaves no file behind
// and cuts nothing; once there is room, one file keeps the bytes, and a
// retry with nothing left to cut leaves no other.
func TestDiscardUndurableDiskFull(t *testing.T) {
	for _, fail := range []struct {
		name string
		set  func(fl *faults)
	}{
		{"write", func(fl *faults) { fl.writeErr, fl.partial = syscall.ENOSPC, 10 }},
		{"fsync", func(fl *faults) { fl.syncErr = syscall.ENOSPC }},
	} {
		t.Run(fail.name, func(t *testing.T) {
			dir, seg, durable, size := undurableLog(t)
			full := &faults{}
			full.set(fail.set)
			for range 100 {
				_, err := discardUndurable(dir, seg, durable, full.wrap)
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("DiscardUndurable on a full disk: %v, want ENOSPC", err)
				}
			}
			if broken := brokenFiles(t, dir); len(broken) != 0 {
				t.Fatalf("failed copies left %d files behind, such as %q", len(broken), broken[0])
			}
			if fi, err := os.Stat(filepath.Join(dir, seg)); err != nil || fi.Size() != size {
				t.Fatalf("segment cut although its bytes were not kept: %v, %v", fi.Size(), err)
			}

			full.set(func(fl *faults) { fl.writeErr, fl.partial, fl.syncErr = nil, 0, nil })
			rec, err := discardUndurable(dir, seg, durable, full.wrap)
			if err != nil {
				t.Fatal(err)
			}
			if rec == nil || rec.KeptAs != seg+".broken" || rec.Bytes != size-durable {
				t.Fatalf("Recovery = %+v, want %d bytes kept as %s.broken", rec, size-durable, seg)
			}
			if fi, err := os.Stat(filepath.Join(dir, rec.KeptAs)); err != nil || fi.Size() != size-durable {
				t.Fatalf("%s: %v, want %d bytes", rec.KeptAs, err, size-durable)
			}
			for range 3 {
				if rec, err := DiscardUndurable(dir, seg, durable); rec != nil || err != nil {
					t.Fatalf("DiscardUndurable with nothing to cut: %+v, %v", rec, err)
				}
			}
			if broken := brokenFiles(t, dir); len(broken) != 1 {
				t.Fatalf("files kept aside: %q, want only %s.broken", broken, seg)
			}
			l, _, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
		})
	}
}

// TestBrokenFilesBound: with the 64 names <segment>.broken and
// <segment>.1.broken to <segment>.63.broken taken, neither
// DiscardUndurable nor Open cuts anything; once one is free again, it is
// used.
func TestBrokenFilesBound(t *testing.T) {
	dir, seg, durable, size := undurableLog(t)
	for n := 0; n < 64; n++ {
		name := seg + ".broken"
		if n > 0 {
			name = fmt.Sprintf("%s.%d.broken", seg, n)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte("earlier"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := DiscardUndurable(dir, seg, durable); !errors.Is(err, ErrTooManyBroken) {
		t.Fatalf("DiscardUndurable with 64 .broken files: %v, want ErrTooManyBroken", err)
	}
	// Open finds the same bytes as a torn tail (the last frame's fdatasync
	// failed, but the bytes are whole: make them torn).
	if err := os.Truncate(filepath.Join(dir, seg), size-1); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	if _, _, err := Open(dir, Options{}); !errors.Is(err, ErrTooManyBroken) {
		t.Fatalf("Open with a torn tail and 64 .broken files: %v, want ErrTooManyBroken", err)
	}
	if after := snapshot(t, dir); !equalSnapshots(before, after) {
		t.Fatalf("refused, yet the directory changed: %q", keys(after))
	}
	if err := os.Remove(filepath.Join(dir, seg+".17.broken")); err != nil {
		t.Fatal(err)
	}
	rec, err := DiscardUndurable(dir, seg, durable)
	if err != nil || rec == nil || rec.KeptAs != seg+".17.broken" {
		t.Fatalf("DiscardUndurable with a free name: %+v, %v, want the bytes kept as %s.17.broken", rec, err, seg)
	}
}
