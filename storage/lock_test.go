//go:build unix

package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLockRefusesPlantedFile: someone who can write the data directory
// replaces LOCK with a symbolic link or a hard link to a file elsewhere,
// or with a FIFO. Create and Open refuse it and write nothing through it.
func TestLockRefusesPlantedFile(t *testing.T) {
	const precious = "precious content\n"
	tests := []struct {
		name  string
		plant func(t *testing.T, lock, outside string)
	}{
		{"symbolic link", func(t *testing.T, lock, outside string) {
			if err := os.Symlink(outside, lock); err != nil {
				t.Fatal(err)
			}
		}},
		{"dangling symbolic link", func(t *testing.T, lock, outside string) {
			if err := os.Remove(outside); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, lock); err != nil {
				t.Fatal(err)
			}
		}},
		{"hard link", func(t *testing.T, lock, outside string) {
			if err := os.Link(outside, lock); err != nil {
				t.Fatal(err)
			}
		}},
		{"fifo", func(t *testing.T, lock, outside string) {
			if err := unix.Mkfifo(lock, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory", func(t *testing.T, lock, outside string) {
			if err := os.Mkdir(lock, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		for _, op := range []string{"Create", "Open"} {
			t.Run(tc.name+"/"+op, func(t *testing.T) {
				dir := newDir(t)
				if op == "Open" {
					l, err := Create(dir, Options{}, 1, []byte("x"))
					if err != nil {
						t.Fatal(err)
					}
					l.Close()
				} else if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				lock := filepath.Join(dir, lockFileName)
				os.Remove(lock)
				outside := filepath.Join(t.TempDir(), "outside")
				if err := os.WriteFile(outside, []byte(precious), 0o600); err != nil {
					t.Fatal(err)
				}
				tc.plant(t, lock, outside)

				var err error
				if op == "Create" {
					var l *Log
					if l, err = Create(dir, Options{}, 1, []byte("x")); err == nil {
						l.Close()
					}
				} else {
					var l *Log
					if l, _, err = Open(dir, Options{}); err == nil {
						l.Close()
					}
				}
				if !errors.Is(err, ErrNotRegular) {
					t.Fatalf("%s with a planted LOCK (%s): %v, want ErrNotRegular", op, tc.name, err)
				}
				b, rerr := os.ReadFile(outside)
				switch {
				case tc.name == "dangling symbolic link":
					if !errors.Is(rerr, os.ErrNotExist) {
						t.Fatalf("the target of the dangling LOCK link was created: %q, %v", b, rerr)
					}
				case rerr != nil || string(b) != precious:
					t.Fatalf("the file outside holds %q (%v), want it untouched: %q", b, rerr, precious)
				}
			})
		}
	}
}

// TestLockKeepsHolderPID: a process that finds the directory locked reads
// the holder's PID and leaves LOCK as it is.
func TestLockKeepsHolderPID(t *testing.T) {
	dir := newDir(t)
	l, err := Create(dir, Options{}, 1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lock := filepath.Join(dir, lockFileName)
	want := strconv.Itoa(os.Getpid()) + "\n"
	for range 3 {
		if _, _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
			t.Fatalf("second Open: %v, want ErrLocked", err)
		}
		if _, err := DiscardUndurable(dir, l.Segment(), 0); !errors.Is(err, ErrLocked) {
			t.Fatalf("DiscardUndurable while locked: %v, want ErrLocked", err)
		}
		if b, err := os.ReadFile(lock); err != nil || string(b) != want {
			t.Fatalf("LOCK holds %q (%v) after a failed attempt, want the holder's pid %q", b, err, want)
		}
	}
}
