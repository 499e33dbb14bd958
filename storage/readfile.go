package storage

import (
	"bytes"
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
// when it is not a regular file (ErrNotRegular; a FIFO does not block the
// open) or is larger than max bytes (ErrTooLarge). Every file in a data
// directory, and every input an auditor is handed, may have been written
// by someone hostile: a sparse file of a gigabyte must cost a reader
// nothing. A file that grows while it is read is refused too. ReadFileMax
// follows a symbolic link, as a path an auditor names may be one; for a
// file inside a data directory use ReadDataFile.
func ReadFileMax(path string, max int64) ([]byte, error) {
	f, err := openNoBlock(path)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	defer f.Close()
	return readMax(f, path, max)
}

// ReadDataFile is ReadFileMax for a file inside a data directory (an index
// file, the checkpoint file): it also refuses a symbolic link, which it
// never follows (ErrNotRegular).
func ReadDataFile(path string, max int64) ([]byte, error) {
	f, err := openInDir(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readMax(f, path, max)
}

// readMax reads all of f, the open file at path, if it is a regular file
// of at most max bytes.
func readMax(f *os.File, path string, max int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is a %s", ErrNotRegular, path, kindOf(fi.Mode()))
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%w: %s has %d bytes, at most %d are allowed", ErrTooLarge, path, fi.Size(), max)
	}
	// One buffer of the size stat gave (with room to see a file that
	// grew): an index file of a few hundred KiB is read without the
	// copies of a growing buffer.
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	_, err = buf.ReadFrom(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", path, err)
	}
	data := buf.Bytes()
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: %s grew past %d bytes while it was read", ErrTooLarge, path, max)
	}
	return data, nil
}

// OpenDataFile opens a file inside a data directory for reading, as a
// segment or index is read: without following a symbolic link and without
// blocking on a FIFO, and only if it is a regular file (ErrNotRegular).
func OpenDataFile(path string) (*os.File, error) {
	f, err := openNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s", ErrNotRegular, path)
	}
	return f, nil
}
