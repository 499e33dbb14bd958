package storage

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockFileName is the lock file in the data directory.
const lockFileName = "LOCK"

// file is the seam through which a Log changes segment files: every write,
// sync, chmod, truncate and close of a segment it writes goes through it.
// Production code uses osFile. Tests wrap it (Options.wrapFile) to inject
// failures such as ENOSPC or EIO; nothing else implements it.
type file interface {
	Write(p []byte) (int, error)
	Datasync() error // fdatasync(2): data and the metadata needed to read it back
	Sync() error     // fsync(2): data and all metadata, including the mode
	Chmod(mode os.FileMode) error
	Truncate(size int64) error
	Close() error
}

// osFile is the production file.
type osFile struct{ *os.File }

func (f osFile) Datasync() error { return datasync(f.File) }

// openFile opens a segment for writing through the seam.
func (l *Log) openFile(path string, flag int, perm os.FileMode) (file, error) {
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		return nil, err
	}
	var ff file = osFile{f}
	if l.opts.wrapFile != nil {
		ff = l.opts.wrapFile(filepath.Base(path), ff)
	}
	return ff, nil
}

// syncDir fsyncs the directory dir, making creations, renames and removals
// of its entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("storage: sync directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("storage: sync directory %s: %w", dir, err)
	}
	return nil
}
