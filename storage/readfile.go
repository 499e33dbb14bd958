package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge is wrapped by ReadFileMax when a file is larger than the
// caller allows.
var ErrTooLarge = errors.New("storage: file too large")

// ReadFileMax reads a whole small file (a checkpoint, an index, an evidence
// or proof file) that the caller will parse, refusing it before reading
// when it is not a regular file or is larger than max bytes. Every file in
// a data directory, and every input an auditor is handed, may have been
// written by someone hostile: a sparse file of a gigabyte must cost a
// reader nothing. A file that grows while it is read is refused too.
func ReadFileMax(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("storage: %s is not a regular file", path)
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%w: %s has %d bytes, at most %d are allowed", ErrTooLarge, path, fi.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: %s grew past %d bytes while it was read", ErrTooLarge, path, max)
	}
	return data, nil
}
