package storage

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestReadFileMax(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFileMax(small, 5); err != nil || string(b) != "hello" {
		t.Fatalf("ReadFileMax(5 bytes, max 5) = %q, %v", b, err)
	}
	if _, err := ReadFileMax(small, 4); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadFileMax(5 bytes, max 4) = %v, want ErrTooLarge", err)
	}
	// A sparse file of a gigabyte is refused by its size, without reading it.
	sparse := filepath.Join(dir, "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := ReadFileMax(sparse, 1<<16); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadFileMax(sparse 1 GiB) = %v, want ErrTooLarge", err)
	}
	if _, err := ReadFileMax(dir, 1<<16); err == nil || errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadFileMax(a directory) = %v, want a not-a-regular-file error", err)
	}
	if _, err := ReadFileMax(filepath.Join(dir, "missing"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadFileMax(missing) = %v, want ErrNotExist", err)
	}
}
