package storage

import (
	"errors"
	"fmt"
	"io/fs"
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

// openFile opens a segment for writing through the seam, as openInDir
// does: never through a symbolic link.
func (l *Log) openFile(path string, flag int, perm os.FileMode) (file, error) {
	f, err := openInDir(path, flag, perm)
	if err != nil {
		return nil, err
	}
	var ff file = osFile{f}
	if l.opts.wrapFile != nil {
		ff = l.opts.wrapFile(filepath.Base(path), ff)
	}
	return ff, nil
}

// openInDir opens a file of a data directory as os.OpenFile does, except
// that it refuses, before reading or writing a byte, a symbolic link (it is
// never followed: someone who can write the directory could point it
// anywhere) and anything that is not a regular file (a FIFO or a device is
// opened without blocking, then refused). Its errors carry the package
// prefix; a refusal matches ErrNotRegular, a missing file fs.ErrNotExist.
func openInDir(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := openNoFollow(path, flag, perm)
	if err != nil {
		// O_NOFOLLOW fails with ELOOP on a symbolic link, a directory
		// opened for writing with EISDIR: say what is wrong plainly.
		if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%w: %s is a %s", ErrNotRegular, path, kindOf(fi.Mode()))
		}
		if errors.Is(err, ErrNotRegular) {
			return nil, err
		}
		return nil, fmt.Errorf("storage: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is a %s", ErrNotRegular, path, kindOf(fi.Mode()))
	}
	return f, nil
}

// kindOf names the type of a file that is not a regular file.
func kindOf(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeSymlink != 0:
		return "symbolic link"
	case t&fs.ModeDir != 0:
		return "directory"
	case t&fs.ModeNamedPipe != 0:
		return "named pipe"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeDevice != 0:
		return "device"
	default:
		return "file of type " + t.String()
	}
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
